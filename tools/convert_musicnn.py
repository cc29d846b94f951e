"""Convert the musicnn 0.1.0 wheel's TF1 checkpoints into PyTorch weights + model cards (no TensorFlow).

    pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn_whl
    python tools/convert_musicnn.py --wheel /tmp/musicnn_whl/musicnn-0.1.0-py3-none-any.whl --out models/
    # or, from an unpacked wheel:  --wheel-dir /path/to/unpacked   (the folder holding musicnn/)

Writes models/msd_musicnn.pt, models/mtt_musicnn.pt (torch state_dicts), models/msd-musicnn.json,
models/mtt-musicnn.json (model cards) and models/LICENSE-musicnn.txt (the wheel's ISC notice).
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch
from tf_checkpoint import Checkpoint  # same folder; run as a script

from music_reclass_gui.inference import frontend as fe
from music_reclass_gui.inference.networks.musicnn import MODELS, MusicnnTagger

# model name -> (checkpoint folder in the wheel, labels variable in configuration.py, card facts)
SOURCES = {
    "mtt-musicnn": (
        "MTT_musicnn",
        "MTT_LABELS",
        "MagnaTagATune (MTT), top-50 tags, musicnn's train split",
        "musicnn trained on MagnaTagATune: 50 tags (instruments, moods, some genres such as techno, "
        "classical, rock, pop, dance, metal, country).",
    ),
    "msd-musicnn": (
        "MSD_musicnn",
        "MSD_LABELS",
        "Million Song Dataset audio with last.fm top-50 tags (about 30 of them genres)",
        "musicnn trained on the Million Song Dataset: last.fm top-50 tags, about 30 of them genres "
        "(rock, pop, electronic, jazz, Hip-Hop, ...), plus decades, moods and instruments.",
    ),
}

# torch prefix -> (TF conv/dense layer, TF batch-norm layer); creation order of musicnn's models.py.
LAYERS = {
    "timbral.0": ("conv2d", "batch_normalization_1"),  # 7x38 timbral
    "timbral.1": ("conv2d_1", "batch_normalization_2"),  # 7x67 timbral
    "temporal.0": ("conv2d_2", "batch_normalization_3"),  # 128x1 temporal
    "temporal.1": ("conv2d_3", "batch_normalization_4"),  # 64x1
    "temporal.2": ("conv2d_4", "batch_normalization_5"),  # 32x1
    "mid.0": ("conv2d_5", "batch_normalization_6"),  # 7x561
    "mid.1": ("conv2d_6", "batch_normalization_7"),  # 7x64
    "mid.2": ("conv2d_7", "batch_normalization_8"),  # 7x64
}
BN_ONLY = {
    "input_bn": "batch_normalization",
    "pool_bn": "batch_normalization_9",
    "dense_bn": "batch_normalization_10",
}
DENSE = {"dense": "dense", "out": "dense_1"}


def _bn(ckpt: Checkpoint, tf: str) -> dict[str, np.ndarray]:
    return {
        "weight": ckpt.tensor(f"{tf}/gamma"),
        "bias": ckpt.tensor(f"{tf}/beta"),
        "running_mean": ckpt.tensor(f"{tf}/moving_mean"),
        "running_var": ckpt.tensor(f"{tf}/moving_variance"),
    }


def convert_state(ckpt: Checkpoint, model: MusicnnTagger) -> dict[str, torch.Tensor]:
    """TF variables -> this model's state_dict, checking every shape."""
    arrays: dict[str, np.ndarray] = {}
    for prefix, (conv, bn) in LAYERS.items():
        k = ckpt.tensor(f"{conv}/kernel")  # TF conv2d kernel (kh, kw, in=1, out)
        # mid-end: Conv1d (out, in=kw, kh); front end: Conv2d (out, in, kh, kw)
        w = k[:, :, 0, :].transpose(2, 1, 0) if prefix.startswith("mid") else k.transpose(3, 2, 0, 1)
        arrays[f"{prefix}.conv.weight"] = w
        arrays[f"{prefix}.conv.bias"] = ckpt.tensor(f"{conv}/bias")
        arrays.update({f"{prefix}.bn.{n}": v for n, v in _bn(ckpt, bn).items()})
    for prefix, bn in BN_ONLY.items():
        arrays.update({f"{prefix}.{n}": v for n, v in _bn(ckpt, bn).items()})
    for prefix, tf in DENSE.items():
        arrays[f"{prefix}.weight"] = ckpt.tensor(f"{tf}/kernel").T  # (in, out) -> (out, in)
        arrays[f"{prefix}.bias"] = ckpt.tensor(f"{tf}/bias")
    return state_from_arrays(arrays, model)


def state_from_arrays(arrays: dict[str, np.ndarray], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's state_dict from converted arrays: every array a parameter, every parameter given, every
    shape equal (batch-norm counters zero); a mismatch stops the conversion naming the tensor."""
    state = model.state_dict()
    unused = set(arrays) - set(state)
    if unused:
        raise SystemExit(f"converter bug: {sorted(unused)} are not parameters of {type(model).__name__}")
    out: dict[str, torch.Tensor] = {}
    for key, ref in state.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.zeros_like(ref)
            continue
        if key not in arrays:
            raise SystemExit(f"checkpoint has nothing for {key}")
        t = torch.from_numpy(np.ascontiguousarray(arrays[key], dtype=np.float32))
        if t.shape != ref.shape:
            raise SystemExit(f"{key}: checkpoint shape {tuple(t.shape)} != model shape {tuple(ref.shape)}")
        out[key] = t
    return out


def _labels_from_wheel(pkg: Path, var: str) -> list[str]:
    """Read a label list from the wheel's configuration.py without importing it (it needs TF)."""
    tree = ast.parse((pkg / "configuration.py").read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == var for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise SystemExit(f"{var} not found in {pkg / 'configuration.py'}")


def _metrics(result_file: Path) -> dict[str, float]:
    """Published test-set scores from the wheel's experiment.result (ROC-AUC first, then PR-AUC)."""
    nums = [float(x) for x in re.findall(r"AUC:\s*([0-9.]+)", result_file.read_text(encoding="utf-8"))]
    return {"roc_auc": round(nums[0], 4), "pr_auc": round(nums[1], 4)} if len(nums) >= 2 else {}


def card(
    name: str, labels: list[str], pkg: Path, folder: str, training: str, description: str, reproduce: str
) -> dict:
    metrics = _metrics(pkg / folder / "experiment.result")
    return {
        "name": name,
        "kind": "musicnn",
        "labels": labels,
        "weights": MODELS[name][1],
        "description": description
        + " Outputs independent sigmoid tag probabilities per 3 s patch (a track's score is the mean over"
        " patches) and a 200-d penultimate embedding. Ported to PyTorch from the TF1 checkpoint.",
        "source": "musicnn 0.1.0 (Pons & Serra 2019, https://github.com/jordipons/musicnn), "
        f"PyPI wheel, checkpoint musicnn/{folder}/",
        "licence": "ISC",
        "licence_file": "LICENSE-musicnn.txt",
        "preprocessing": {
            "sample_rate": fe.SAMPLE_RATE,
            "mono": True,
            "n_fft": fe.N_FFT,
            "hop_length": fe.HOP_LENGTH,
            "window": "hann (periodic)",
            "center": True,
            "pad_mode": fe.PAD_MODE,
            "n_mels": fe.N_MELS,
            "mel_filters": "librosa.filters.mel defaults (Slaney scale, Slaney norm, fmin 0, fmax 8000)",
            "power": 2.0,
            "log": "log10(1 + 10000 * mel), float32",
            "patch_frames": fe.PATCH_FRAMES,
            "patch_seconds": 3.0,
            "patching": "non-overlapping patches from the start; tail shorter than a patch dropped; "
            "input shorter than one patch is repeat-padded",
            "aggregation": "mean of per-patch sigmoid outputs",
        },
        "training_data": training,
        "metrics": {
            **metrics,
            "metrics_source": f"musicnn/{folder}/experiment.result (authors' test set, tag-wise averaged)",
            "confidence": "independent per-tag sigmoid probabilities, not calibrated across tags",
        },
        "embedding_dim": 200,
        "reproduce": reproduce,
        "version": 1,
    }


def convert(pkg: Path, out_dir: Path, reproduce: str) -> None:
    """``pkg`` is the unpacked ``musicnn`` package folder (holding MTT_musicnn/ etc.)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, (folder, var, training, description) in SOURCES.items():
        labels = _labels_from_wheel(pkg, var)
        if labels != MODELS[name][0]:
            raise SystemExit(f"{name}: label list in the wheel differs from the app's copy")
        ckpt = Checkpoint(str(pkg / folder) + "/")  # the wheel's checkpoints have an empty file prefix
        model = MusicnnTagger(labels, name=name)
        state = convert_state(ckpt, model)
        model.load_state_dict(state)  # strict: proves the state_dict fits
        weights = out_dir / MODELS[name][1]
        torch.save(state, weights)
        card_path = out_dir / f"{name}.json"
        info = card(name, labels, pkg, folder, training, description, reproduce)
        card_path.write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        n_params = sum(p.numel() for p in model.parameters())
        print(f"{name}: {n_params} parameters -> {weights}, {card_path}")
    dist = next(pkg.parent.glob("musicnn-*.dist-info"), None)
    if dist is None or not (dist / "LICENSE.md").is_file():
        raise SystemExit(f"no musicnn-*.dist-info/LICENSE.md next to {pkg}")
    notice = (
        "The musicnn model weights in this folder (msd_musicnn.pt, mtt_musicnn.pt) are converted from the\n"
        "musicnn 0.1.0 wheel (https://pypi.org/project/musicnn/, https://github.com/jordipons/musicnn),\n"
        "distributed under the ISC licence reproduced below.\n\n"
    )
    lic = out_dir / "LICENSE-musicnn.txt"
    lic.write_text(
        notice + (dist / "LICENSE.md").read_text(encoding="utf-8").strip() + "\n", encoding="utf-8"
    )
    print(f"licence -> {lic}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    src = parser.add_mutually_exclusive_group(required=True)
    src.add_argument("--wheel", type=Path, help="musicnn-0.1.0-py3-none-any.whl")
    src.add_argument(
        "--wheel-dir", type=Path, help="unpacked wheel: folder holding musicnn/ and its dist-info"
    )
    parser.add_argument("--out", type=Path, default=Path("models"), help="output folder (default models/)")
    args = parser.parse_args(argv)
    reproduce = (
        "pip download --no-deps musicnn==0.1.0 -d /tmp/musicnn_whl && python tools/convert_musicnn.py "
        "--wheel /tmp/musicnn_whl/musicnn-0.1.0-py3-none-any.whl --out models/"
    )
    if args.wheel:
        with tempfile.TemporaryDirectory() as tmp:
            with zipfile.ZipFile(args.wheel) as zf:
                wanted = [
                    n
                    for n in zf.namelist()
                    if re.match(r"musicnn/(M..)_musicnn/|musicnn/configuration\.py|musicnn-.*\.dist-info/", n)
                ]
                zf.extractall(tmp, members=wanted)
            convert(Path(tmp) / "musicnn", args.out, reproduce)
    else:
        root = args.wheel_dir
        pkg = root if (root / "configuration.py").is_file() else root / "musicnn"
        convert(pkg, args.out, reproduce)
    return 0


if __name__ == "__main__":
    sys.exit(main())
