"""Static int8 quantisation of a shipped musicnn ONNX graph (issue 15): models/<stem>.onnx -> models/<stem>.int8.onnx.

    python tools/quantize_onnx.py [--variant timbral.1] [--calib-patches 256] [msd_musicnn mtt_musicnn]

Run it after tools/export_onnx.py (it quantises the float graph that tool writes); it rewrites the same bytes
every time. Static QDQ quantisation, per-channel int8 weights, uint8 activations, MinMax calibration; only
the convs a variant names are quantised (see VARIANTS: the default quantises the second timbral conv only).
Calibration data are log-mel patches of the shared clips (../shared/data: the library under the app's excerpt
plan and the GTZAN clips, every non-overlapping 3 s patch), a fixed random subset (seed 0), so the command is
reproducible. The int8 graph keeps the float graph's metadata (the source weights' digest and export version,
backends.ONNX_DIGEST_KEY / ONNX_VERSION_KEY), so it is paired with its weights exactly as the float graph is,
plus ``quantization`` naming the variant. Needs the ``onnx`` package and ONNX Runtime's quantisation tools.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's package, not another installed copy
QUANT_KEY = "quantization"

# name -> quantize() keyword arguments
VARIANTS: dict[str, dict] = {
    "conv+dense": {"fmt": "qdq", "ops": ("Conv", "Gemm")},
    "conv": {"fmt": "qdq", "ops": ("Conv",)},
    "conv-u8u8": {"fmt": "qdq", "ops": ("Conv",), "weight": "u8"},
    "conv-qoperator": {"fmt": "qop", "ops": ("Conv",)},
    "timbral+mid": {"fmt": "qdq", "ops": ("Conv",), "only": ("/timbral.", "/mid."), "max_int8": True},
    # Both timbral convs (about 60 % of the float graph's time) in int8: half the CPU of export v1, same broad
    # top-1 everywhere, but 4 of 79 shared tracks off by more than 0.01 (up to 0.0175): the first conv's int8
    # weights (7 x 38 taps) are what costs the accuracy. Quantising the temporal convs too was slower (one input
    # channel, a tall kernel: int8 im2col plus (de)quantising a (B, 64, T, 96) map cost more than it saved),
    # and the mid-end or dense layers in int8 cost accuracy (top-1 changes).
    "timbral": {"fmt": "qdq", "ops": ("Conv",), "only": ("/timbral.",), "max_int8": True},
    # The default (what models/*.int8.onnx is): the second timbral conv only. 0.70x the CPU of export v1,
    # 0.83x of v2; every shared track within 0.008 of float PyTorch (benchmarks/bench_tagger_variants.py).
    "timbral.1": {"fmt": "qdq", "ops": ("Conv",), "only": ("/timbral.1/",), "max_int8": True},
}
DEFAULT_VARIANT = "timbral.1"


def max_before_dequantize(model) -> int:
    """Rewrite ``Q -> DQ -> max`` (ReduceMax, or the MaxPool of backends.pool_frequency_max) as
    ``Q -> max -> DQ``: exact (dequantising with one positive scale is monotonic, so the max commutes with
    it), and the max then reads uint8 instead of a float copy of the whole (B, C, T, F') conv output - that
    dequantise alone was about 15 % of the int8 graph's time. Returns how many were moved."""
    g = model.graph
    nodes = list(g.node)
    consumers: dict[str, list] = {}
    for n in nodes:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    producer = {o: n for n in nodes for o in n.output}
    moved = 0
    for dq in [n for n in nodes if n.op_type == "DequantizeLinear"]:
        users = consumers.get(dq.output[0], [])
        q = producer.get(dq.input[0])
        if (
            len(users) != 1
            or users[0].op_type not in ("ReduceMax", "MaxPool")
            or q is None
            or q.op_type != "QuantizeLinear"
        ):
            continue
        rmax = users[0]
        max_out = rmax.output[0]
        rmax.input[0] = dq.input[0]  # the max reads the quantised tensor
        rmax.output[0] = max_out + "_q"
        dq.input[0] = max_out + "_q"
        dq.output[0] = max_out
        nodes.remove(dq)  # keep topological order: the dequantise now follows the max
        nodes.insert(nodes.index(rmax) + 1, dq)
        moved += 1
    del g.node[:]
    g.node.extend(nodes)
    return moved


class _Reader:
    """CalibrationDataReader over (P, 187, 96) patches in batches."""

    def __init__(self, name: str, patches: np.ndarray, batch: int = 8) -> None:
        self.name = name
        self.batches = [patches[s : s + batch] for s in range(0, len(patches), batch)]
        self.i = 0

    def get_next(self):
        if self.i >= len(self.batches):
            return None
        self.i += 1
        return {self.name: np.ascontiguousarray(self.batches[self.i - 1], dtype=np.float32)}

    def rewind(self) -> None:
        self.i = 0


def quantize(
    graph: Path,
    out: Path,
    calib: np.ndarray,
    fmt: str = "qdq",
    ops: tuple[str, ...] = ("Conv",),
    weight: str = "s8",
    method: str = "minmax",
    only: tuple[str, ...] | None = None,
    exclude: tuple[str, ...] = (),
    variant: str = "",
    max_int8: bool = False,
    extra: dict | None = None,
) -> None:
    """Write the int8 graph of ``graph`` to ``out`` (per-channel weights, uint8 activations)."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    src = onnx.load(str(graph))
    with tempfile.TemporaryDirectory() as tmp:
        # Constant folding first: the eval graph computes its conv weights (a sign flip per channel, see
        # networks/musicnn.py); folded, they are initialisers the quantiser can turn into int8.
        pre = Path(tmp) / "pre.onnx"
        quant_pre_process(str(graph), str(pre), skip_symbolic_shape=True)
        model = onnx.load(str(pre))
        nodes = [n.name for n in model.graph.node if n.op_type in ops]
        skip = [n for n in nodes if any(n.startswith(e) for e in exclude)]
        if only is not None:
            skip += [n for n in nodes if not any(n.startswith(o) for o in only)]
        quantize_static(
            str(pre),
            str(out),
            _Reader(model.graph.input[0].name, calib),
            quant_format=QuantFormat.QDQ if fmt == "qdq" else QuantFormat.QOperator,
            op_types_to_quantize=list(ops),
            nodes_to_exclude=skip,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8 if weight == "s8" else QuantType.QUInt8,
            calibrate_method=CalibrationMethod.MinMax if method == "minmax" else CalibrationMethod.Percentile,
            extra_options={"CalibPercentile": 99.999, **(extra or {})},
        )
    from music_reclass_gui.inference.backends import prune_opsets

    q = prune_opsets(onnx.load(str(out)))
    if max_int8:
        max_before_dequantize(q)
    del q.metadata_props[:]
    for prop in src.metadata_props:
        q.metadata_props.add(key=prop.key, value=prop.value)
    q.metadata_props.add(key=QUANT_KEY, value=f"int8-{fmt} {variant}".strip())
    onnx.save(q, str(out))


def shared_patches(limit: int, seed: int = 0) -> np.ndarray:
    """``limit`` random log-mel patches of the shared library + GTZAN clips under the app's excerpt plan."""
    import torch

    from music_reclass_gui.core.library import scan
    from music_reclass_gui.inference.excerpts import decode_excerpts
    from music_reclass_gui.inference.extractors import MusicnnExtractor
    from music_reclass_gui.inference.registry import find_card

    data = ROOT.parent / "shared" / "data"
    files = [t.path for t in scan(data / "library", read_tags=False)]
    files += sorted((data / "gtzan" / "clips").glob("*/*.wav"))
    card = find_card("msd-musicnn")
    ext = MusicnnExtractor(
        "msd-musicnn", card.path.parent, card.weights, torch.device("cpu"), backend="torch"
    )
    pool = np.concatenate([np.asarray(ext.prepare([decode_excerpts(f, 16000)])[0]) for f in files])
    rng = np.random.default_rng(seed)
    return pool[np.sort(rng.choice(len(pool), size=min(limit, len(pool)), replace=False))]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("stems", nargs="*", default=["msd_musicnn", "mtt_musicnn"])
    ap.add_argument("--variant", default=DEFAULT_VARIANT, choices=sorted(VARIANTS))
    ap.add_argument("--calib-patches", type=int, default=256)
    ap.add_argument("--models", type=Path, default=ROOT / "models")
    args = ap.parse_args()
    calib = shared_patches(args.calib_patches)
    for stem in args.stems:
        out = args.models / f"{stem}.int8.onnx"
        quantize(args.models / f"{stem}.onnx", out, calib, variant=args.variant, **VARIANTS[args.variant])
        print(f"wrote {out} ({args.variant}, calibrated on {len(calib)} patches)")


if __name__ == "__main__":
    main()
