"""Convert the musicnn 0.1.0 wheel's VGG checkpoints (MSD_vgg, MTT_vgg) to PyTorch state_dicts (no TensorFlow).

For measurement only (docs/musicnn-vgg.md): the weights are written to /tmp by default, never into models/.

    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn_whl
    mkdir -p /tmp/mn && unzip -oq /tmp/musicnn_whl/musicnn-0.1.0-py3-none-any.whl -d /tmp/mn
    python tools/convert_musicnn_vgg.py --wheel-dir /tmp/mn --out /tmp/musicnn_vgg

Writes OUT/msd_vgg.pt and OUT/mtt_vgg.pt.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch
from convert_musicnn import _labels_from_wheel, state_from_arrays  # same folder; run as a script
from tf_checkpoint import Checkpoint

from music_reclass_gui.inference.networks.musicnn_vgg import MusicnnVgg

# name -> (checkpoint folder in the wheel, labels variable in configuration.py, output file)
SOURCES = {
    "msd-vgg": ("MSD_vgg", "MSD_LABELS", "msd_vgg.pt"),
    "mtt-vgg": ("MTT_vgg", "MTT_LABELS", "mtt_vgg.pt"),
}
# models.vgg creates: batch_normalization (input), then per block iCNN + batch_normalization_i, then dense.
N_BLOCKS = 5


def convert_state(ckpt: Checkpoint, model: MusicnnVgg) -> dict[str, torch.Tensor]:
    """TF variables -> the model's state_dict; every shape checked, every non-optimizer variable used."""
    arrays: dict[str, np.ndarray] = {}
    used: set[str] = set()

    def take(name: str) -> np.ndarray:
        used.add(name)
        return ckpt.tensor(name)

    def bn(tf: str) -> dict[str, np.ndarray]:  # TF batch_normalization -> torch BatchNorm2d
        names = {
            "weight": "gamma",
            "bias": "beta",
            "running_mean": "moving_mean",
            "running_var": "moving_variance",
        }
        return {n: take(f"{tf}/{v}") for n, v in names.items()}

    for n, v in bn("batch_normalization").items():
        arrays[f"input_bn.{n}"] = v
    for i in range(N_BLOCKS):
        k = take(f"{i + 1}CNN/kernel")  # (kh=time, kw=mel, in, out) -> torch (out, in, kh, kw)
        arrays[f"blocks.{i}.conv.weight"] = k.transpose(3, 2, 0, 1)
        arrays[f"blocks.{i}.conv.bias"] = take(f"{i + 1}CNN/bias")
        for n, v in bn(f"batch_normalization_{i + 1}").items():
            arrays[f"blocks.{i}.bn.{n}"] = v
    arrays["out.weight"] = take("dense/kernel").T  # (256, 50) -> (50, 256); rows in TF's flatten order
    arrays["out.bias"] = take("dense/bias")
    left = [
        n
        for n in ckpt.names()
        if n not in used and not n.endswith(("/Adam", "/Adam_1")) and "_power" not in n
    ]
    if left:
        raise SystemExit(f"checkpoint variables not mapped: {left}")
    return state_from_arrays(arrays, model)


def convert(pkg: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (folder, var, filename) in SOURCES.items():
        labels = _labels_from_wheel(pkg, var)
        ckpt = Checkpoint(str(pkg / folder) + "/")  # empty file prefix, as for the musicnn checkpoints
        model = MusicnnVgg(labels, name=name)
        state = convert_state(ckpt, model)
        model.load_state_dict(state)  # strict
        torch.save(state, out_dir / filename)
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n_params} parameters -> {out_dir / filename}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--wheel-dir", type=Path, required=True, help="unpacked wheel (folder holding musicnn/)"
    )
    parser.add_argument("--out", type=Path, default=Path("/tmp/musicnn_vgg"), help="output folder")
    args = parser.parse_args(argv)
    root = args.wheel_dir
    pkg = root if (root / "configuration.py").is_file() else root / "musicnn"
    convert(pkg, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
