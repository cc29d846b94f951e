"""Where a musicnn tagger's network runs: PyTorch (always there) or ONNX Runtime (the optional ``fast`` extra).

On a CPU, ONNX Runtime runs the same network about 2-3x faster than PyTorch (benchmarks/bench_batch.py
measures it); on a GPU PyTorch is used. The ONNX graphs are exported from the shipped ``.pt`` weights by
``tools/export_onnx.py`` and shipped next to them (``models/<weights stem>.onnx``); each records the digest
of the weights it came from, and a graph whose digest does not match the weights in use is never run (the
PyTorch path is used instead), so replaced weights cannot be paired with a stale graph.

Backends: ``torch`` (PyTorch), ``onnx`` (ONNX Runtime; an error if unavailable), ``onnx-int8`` (ONNX Runtime
over ``models/<weights stem>.int8.onnx``, the int8 graph ``tools/quantize_onnx.py`` writes from the float one:
about 0.8x the CPU per patch of the float graph, every shared track within 0.01 of float PyTorch on the
machine it was measured on (int8 arithmetic depends on the CPU's instructions: VNNI or not); an error if
unavailable), ``auto`` (on a CPU with ONNX Runtime: the int8 graph when the CPU has VNNI and a matching int8
graph is shipped, else the float graph; else PyTorch).

Why ``auto`` takes int8 only with VNNI: with VNNI (AVX512-VNNI / AVX-VNNI) the int8 dot products accumulate
exactly in 32 bits, so the numbers are the ones measured here (every shared track within 0.008 of float
PyTorch, the same top-1 on all of them); AVX2 without VNNI multiplies through 16-bit saturating sums
(VPMADDUBSW), which can move scores further, so there int8 is not offered at all.
benchmarks/bench_tagger_variants.py measures both graphs. All take (P, 187, 96) float32 log-mel patches and
return (tags (P, 50), embedding (P, 200)) as float32 numpy arrays.
"""

from __future__ import annotations

import functools
import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from music_reclass_gui.core.errors import ModelError

if TYPE_CHECKING:
    import torch

BACKEND_CHOICES = ("auto", "torch", "onnx", "onnx-int8")
ONNX_BACKENDS = ("onnx", "onnx-int8")
ONNX_DIGEST_KEY = "source_weights_digest"  # custom metadata of a shipped graph: file_digest() of its .pt
ONNX_BATCH_PATCHES = 8  # patches per ONNX Runtime call: bounds the arena (its peak follows the batch)
# bump when the exported graph would change for the same weights. 2: constants folded and the max over frequency
# done as an NCHWc MaxPool (pool_frequency_max): the same scores bit for bit, about 15 % less CPU per patch.
ONNX_EXPORT_VERSION = "2"
N_MELS = 96  # frequency bins of a patch (frontend.N_MELS)
NCHWC_BLOCK = 16  # ONNX Runtime's NCHWc channel block (16 with AVX-512, 8 with AVX2): pooled convs pad to it
ONNX_VERSION_KEY = "export_version"


class TaggerRunner(Protocol):
    name: str  # "torch" | "onnx" | "onnx-int8", for reports

    def run(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def onnx_runtime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def available_backends() -> list[str]:
    """The concrete backends this machine can run: "torch" always; "onnx" with ONNX Runtime; "onnx-int8" with
    ONNX Runtime on a CPU with VNNI (the only CPUs its faithfulness holds on, see the module doc)."""
    if not onnx_runtime_available():
        return ["torch"]
    return ["torch", *ONNX_BACKENDS] if cpu_has_vnni() else ["torch", "onnx"]


def onnx_graph_path(weights: Path) -> Path:
    return weights.with_suffix(".onnx")


def int8_graph_path(graph: Path) -> Path:
    """The int8 graph next to a float graph: ``msd_musicnn.onnx`` -> ``msd_musicnn.int8.onnx``."""
    return graph.with_suffix(".int8.onnx")


@functools.cache
def cpu_has_vnni() -> bool:
    """Whether the CPU has x86 VNNI (AVX512-VNNI or AVX-VNNI), from /proc/cpuinfo; False where unknown."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return bool({"avx512_vnni", "avx_vnni"} & set(line.split(":", 1)[-1].split()))
    return False


def planned_backend(requested: str, device: Any, graph: Path | None) -> str:
    """The backend ``make_runner`` will run for ``requested``, decided without loading anything (the feature
    cache key needs it before any network runs). A stale graph found later makes make_runner fall back
    to the next choice; the cached numbers are then float ones under the int8 key, never the other way."""
    name = check_backend(requested)
    if name != "auto":
        return name
    if device.type == "cpu" and onnx_runtime_available() and graph is not None:
        if cpu_has_vnni() and int8_graph_path(graph).is_file():
            return "onnx-int8"
        if graph.is_file():
            return "onnx"
    return "torch"


def float_backend(device: Any) -> str:
    """The backend training extracts features on: never the int8 graph, so trained weights do not depend
    on the CPU they were trained on (ONNX float and PyTorch agree to 1e-6). "onnx" on a CPU with ONNX
    Runtime, else "auto" (PyTorch there)."""
    return "onnx" if device.type == "cpu" and onnx_runtime_available() else "auto"


def check_backend(requested: str) -> str:
    """Normalise a backend name; ModelError naming the choices when it is unknown."""
    name = (requested or "auto").lower()
    if name not in BACKEND_CHOICES:
        raise ModelError(None, f"unknown backend {requested!r}; choose one of {', '.join(BACKEND_CHOICES)}")
    return name


def make_runner(
    requested: str, device: torch.device, graph: Path | None, digest: str, torch_net: Callable[[], Any]
) -> TaggerRunner:
    """The runner for ``requested`` ("auto" | "torch" | "onnx" | "onnx-int8"): ONNX Runtime when asked
    (ModelError when it cannot run; "onnx-int8" runs the int8 graph next to ``graph``) or, for "auto", the
    graph ``planned_backend`` names when it matches the weights, else the float graph; otherwise PyTorch
    (``torch_net()`` builds the network only then)."""
    name = check_backend(requested)
    if name == "auto" and graph is not None and planned_backend(name, device, graph) == "onnx-int8":
        runner = _matching_onnx_runner(int8_graph_path(graph), digest, strict=False, label="onnx-int8")
        if runner is not None:
            return runner
    if name in ONNX_BACKENDS and device.type != "cpu":
        raise ModelError(
            None, f"backend {name!r} runs on the CPU only, not on {device.type!r}; use auto or torch"
        )
    if name in ONNX_BACKENDS and not onnx_runtime_available():
        raise ModelError(None, f"backend {name!r} needs ONNX Runtime: pip install 'music-reclass-gui[fast]'")
    if name == "onnx-int8" and not cpu_has_vnni():
        raise ModelError(
            None,
            "backend 'onnx-int8' needs a CPU with VNNI (AVX512-VNNI or AVX-VNNI): without it int8 sums can "
            "saturate and move scores past the 0.01 this graph is held to; use onnx (or auto)",
        )
    if name == "onnx-int8" and graph is not None:
        graph = int8_graph_path(graph)
    if name != "torch" and device.type == "cpu" and onnx_runtime_available() and graph is not None:
        runner = _matching_onnx_runner(
            graph, digest, strict=name != "auto", label=name if name != "auto" else "onnx"
        )
        if runner is not None:
            return runner
        if name == "onnx":
            raise ModelError(graph, "no ONNX graph exported from these weights (run tools/export_onnx.py)")
        if name == "onnx-int8":
            raise ModelError(graph, "no int8 graph quantised from these weights (run tools/quantize_onnx.py)")
    elif name in ONNX_BACKENDS:
        raise ModelError(graph, f"no ONNX graph for this tagger (backend {name!r})")
    return TorchRunner(torch_net(), device)


def _matching_onnx_runner(
    graph: Path, digest: str, *, strict: bool, label: str = "onnx"
) -> OnnxRunner | None:
    """An ONNX Runtime session over ``graph`` if it was exported from weights with ``digest``; None when it
    is missing, stale or unreadable (the ModelError is raised instead when ``strict``)."""
    if not graph.is_file():
        return None
    try:
        runner = OnnxRunner(graph, name=label)
    except ModelError:
        if strict:
            raise
        return None
    meta = runner.metadata
    if meta.get(ONNX_DIGEST_KEY) == digest and meta.get(ONNX_VERSION_KEY) == ONNX_EXPORT_VERSION:
        return runner
    return None


def default_threads() -> int:
    """Threads for one network pass: every core (the decode threads mostly wait on I/O and the codec)."""
    return max(1, os.cpu_count() or 1)


class OnnxRunner:
    """ONNX Runtime session over a shipped graph (CPU execution provider); ``name`` is "onnx" for the float
    graph, "onnx-int8" for the int8 one."""

    def __init__(self, graph: Path, threads: int | None = None, name: str = "onnx") -> None:
        import onnxruntime as ort

        self.name = name
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads or default_threads()
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Memory: with the arena and memory patterns on, batches of varying size grew the arena to about 800 MB
        # per tagger (peak RSS 2.2 GB for two taggers); with no arena at all RSS stayed at 745 MB but each
        # patch cost about 30 % more CPU (malloc per op). Middle ground: arena on, no memory patterns, and
        # smaller batches (ONNX_BATCH_PATCHES) - see the closing note of issue 15 for what was measured.
        opts.enable_mem_pattern = False
        # No busy-waiting between ops: the decode threads share the cores, and on a loaded machine spinning
        # cost about 40 % more CPU time per patch for no gain (measured with 2 threads on 2 cores).
        opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        opts.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])
        except Exception as exc:
            raise ModelError(graph, f"ONNX Runtime cannot load the graph: {exc}") from exc
        self.input_name = self.session.get_inputs()[0].name
        self.metadata: dict[str, str] = dict(self.session.get_modelmeta().custom_metadata_map)

    def run(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        x = np.ascontiguousarray(patches, dtype=np.float32)
        tags, emb = self.session.run(None, {self.input_name: x})
        return tags, emb


class TorchRunner:
    """The PyTorch network on its device (CPU, CUDA with half precision where asked, MPS)."""

    name = "torch"

    def __init__(self, net: Any, device: torch.device) -> None:
        self.net = net
        self.device = device

    def run(self, patches: np.ndarray | torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            x = torch.as_tensor(patches).to(self.device, non_blocking=True)
            tags, emb = self.net(x)
            return tags.float().cpu().numpy(), emb.float().cpu().numpy()


def export_onnx(net: Any, graph: Path, digest: str, optimise: bool = True) -> None:
    """Export ``net`` (a MusicnnTagger in eval mode) to ``graph`` with a dynamic batch axis and the source
    weights' digest as metadata (tools/export_onnx.py; needs the ``onnx`` package and ONNX Runtime).
    The graph is then constant-folded and its frequency max rewritten (``pool_frequency_max``); with
    ``optimise=False`` it is left as torch exports it (export version 1, for benchmarks)."""
    import warnings

    import onnx
    import torch

    example = torch.zeros(2, 187, 96)
    tmp = graph.with_suffix(".onnx.tmp")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net.eval(),
            (example,),
            str(tmp),
            input_names=["patches"],
            output_names=["tags", "embedding"],
            dynamic_axes={"patches": {0: "batch"}, "tags": {0: "batch"}, "embedding": {0: "batch"}},
            opset_version=17,
            dynamo=False,
        )
    model = onnx.load(str(tmp))
    if optimise:
        fold_constants(tmp, tmp)
        model = prune_opsets(pool_frequency_max(onnx.load(str(tmp))))
    version = ONNX_EXPORT_VERSION if optimise else "1"
    for key, value in ((ONNX_DIGEST_KEY, digest), (ONNX_VERSION_KEY, version)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(tmp))
    os.replace(tmp, graph)


def prune_opsets(model: Any) -> Any:
    """Drop the opset imports no node uses (ONNX Runtime's optimiser declares all of its own domains)."""
    used = {n.domain for n in model.graph.node} | {""}
    kept = [o for o in model.opset_import if o.domain in used]
    del model.opset_import[:]
    model.opset_import.extend(kept)
    return model


def fold_constants(src: Path, dst: Path) -> None:
    """ONNX Runtime's basic (portable, standard-op) optimisations, saved: the eval network computes its
    sign-flipped conv weights in the graph (networks/musicnn.py); folded, they are plain initialisers that
    later rewrites and the int8 quantiser can work on."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    opts.optimized_model_filepath = str(dst)
    opts.log_severity_level = 3
    ort.InferenceSession(str(src), opts, providers=["CPUExecutionProvider"])


def pool_frequency_max(model: Any, n_mels: int = N_MELS, block: int = NCHWC_BLOCK) -> Any:
    """Rewrite each ``ReduceMax`` over the frequency axis of a conv output (musicnn's timbral and temporal
    blocks) as ``MaxPool(1, F')`` + ``Slice`` + ``Squeeze``, with the conv's output channels zero-padded to a
    multiple of ``block`` (the padding is sliced off after the pool). Exact: the same max of the same values.
    Why: ONNX Runtime runs these convs in its blocked NCHWc layout; ReduceMax has no NCHWc kernel, so the whole
    (B, C, T, F') output was reordered to NCHW first (about a fifth of the CPU time), while MaxPool stays
    blocked (when the channels fill whole blocks) and only the pooled (B, C, T, 1) result is reordered."""
    import numpy as np
    from onnx import helper, numpy_helper

    g = model.graph
    inits = {i.name: i for i in g.initializer}
    conv_of = {n.output[0]: n for n in g.node if n.op_type == "Conv"}
    nodes = []
    for n in g.node:
        attrs = {a.name: helper.get_attribute_value(a) for a in n.attribute}
        conv = conv_of.get(n.input[0]) if n.op_type == "ReduceMax" else None
        cattrs = {a.name: helper.get_attribute_value(a) for a in conv.attribute} if conv else {}
        if (
            conv is None
            or list(attrs.get("axes", [])) != [3]
            or attrs.get("keepdims", 1) != 0
            or len(conv.input) < 3
            or conv.input[1] not in inits
            or conv.input[2] not in inits
            or list(cattrs.get("pads", [0, 0, 0, 0]))[1::2] != [0, 0]
            or list(cattrs.get("strides", [1, 1])) != [1, 1]
        ):
            nodes.append(n)
            continue
        weight = numpy_helper.to_array(inits[conv.input[1]])  # (C, 1, kt, kf)
        bias = numpy_helper.to_array(inits[conv.input[2]])
        channels = weight.shape[0]
        padded = -(-channels // block) * block
        if padded != channels:
            extra = padded - channels
            weight = np.concatenate([weight, np.zeros((extra, *weight.shape[1:]), weight.dtype)])
            bias = np.concatenate([bias, np.zeros(extra, bias.dtype)])
            inits[conv.input[1]].CopyFrom(numpy_helper.from_array(weight, conv.input[1]))
            inits[conv.input[2]].CopyFrom(numpy_helper.from_array(bias, conv.input[2]))
        width = n_mels - weight.shape[3] + 1
        out = n.output[0] + "_pool"
        nodes.append(
            helper.make_node("MaxPool", [n.input[0]], [out], name=n.name + "_pool", kernel_shape=[1, width])
        )
        if padded != channels:
            consts = {"_start": [0], "_end": [channels], "_axis": [1]}
            for suffix, value in consts.items():
                g.initializer.append(numpy_helper.from_array(np.array(value, np.int64), n.name + suffix))
            sliced = out + "_slice"
            nodes.append(
                helper.make_node(
                    "Slice", [out, *(n.name + k for k in consts)], [sliced], name=n.name + "_slice"
                )
            )
            out = sliced
        g.initializer.append(numpy_helper.from_array(np.array([3], np.int64), n.name + "_axes"))
        nodes.append(
            helper.make_node("Squeeze", [out, n.name + "_axes"], [n.output[0]], name=n.name + "_squeeze")
        )
    del g.node[:]
    g.node.extend(nodes)
    return model
