"""Export the shipped musicnn taggers to ONNX graphs for the ONNX Runtime backend (inference/backends.py).

    python tools/export_onnx.py [--models-dir models]

Writes ``models/<weights stem>.onnx`` for msd-musicnn and mtt-musicnn, each tagged with the digest of the
weights it came from, then checks that ONNX Runtime reproduces PyTorch on random patches. Needs ``onnx``
and ``onnxruntime`` (the ``fast`` extra plus ``pip install onnx``).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from music_reclass_gui.core.appdirs import shipped_models_dir
from music_reclass_gui.inference.backends import OnnxRunner, export_onnx, onnx_graph_path
from music_reclass_gui.inference.extractors import file_digest
from music_reclass_gui.inference.networks.musicnn import MODELS, load_musicnn


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models-dir", type=Path, default=shipped_models_dir())
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    for name, (_, weights_name) in MODELS.items():
        weights = args.models_dir / weights_name
        net = load_musicnn(name, args.models_dir)
        graph = onnx_graph_path(weights)
        export_onnx(net, graph, file_digest(weights))
        x = (rng.standard_normal((5, 187, 96)) * 1.5 + 1.0).astype(np.float32)
        with torch.inference_mode():
            ref_tags, ref_emb = (t.numpy() for t in net(torch.from_numpy(x)))
        tags, emb = OnnxRunner(graph).run(x)
        print(
            f"{name}: {graph} ({graph.stat().st_size / 2**20:.1f} MiB); max |diff| tags"
            f" {np.abs(tags - ref_tags).max():.2e}, embedding {np.abs(emb - ref_emb).max():.2e}"
        )


if __name__ == "__main__":
    main()
