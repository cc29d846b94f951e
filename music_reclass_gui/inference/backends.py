"""Where a musicnn tagger's network runs: PyTorch (always there) or ONNX Runtime (the optional ``fast`` extra).

On a CPU, ONNX Runtime runs the same network about 2-3x faster than PyTorch (benchmarks/bench_batch.py
measures it); on a GPU PyTorch is used. The ONNX graphs are exported from the shipped ``.pt`` weights by
``tools/export_onnx.py`` and shipped next to them (``models/<weights stem>.onnx``); each records the digest
of the weights it came from, and a graph whose digest does not match the weights in use is never run (the
PyTorch path is used instead), so replaced weights cannot be paired with a stale graph.

Backends: ``torch`` (PyTorch), ``onnx`` (ONNX Runtime; an error if unavailable), ``auto`` (ONNX Runtime on a
CPU when it and a matching graph are present, else PyTorch). Both take (P, 187, 96) float32 log-mel
patches and return (tags (P, 50), embedding (P, 200)) as float32 numpy arrays.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from music_reclass_gui.core.errors import ModelError

if TYPE_CHECKING:
    import torch

BACKEND_CHOICES = ("auto", "torch", "onnx")
ONNX_DIGEST_KEY = "source_weights_digest"  # custom metadata of a shipped graph: file_digest() of its .pt
ONNX_BATCH_PATCHES = 8  # patches per ONNX Runtime call: bounds the arena (its peak follows the batch)
ONNX_EXPORT_VERSION = "1"  # bump when the exported graph would change for the same weights
ONNX_VERSION_KEY = "export_version"


class TaggerRunner(Protocol):
    name: str  # "torch" | "onnx", for reports

    def run(self, patches: np.ndarray) -> tuple[np.ndarray, np.ndarray]: ...


def onnx_runtime_available() -> bool:
    return importlib.util.find_spec("onnxruntime") is not None


def available_backends() -> list[str]:
    """The concrete backends this installation can run ("torch" always; "onnx" with ONNX Runtime)."""
    return ["torch", "onnx"] if onnx_runtime_available() else ["torch"]


def onnx_graph_path(weights: Path) -> Path:
    return weights.with_suffix(".onnx")


def check_backend(requested: str) -> str:
    """Normalise a backend name; ModelError naming the choices when it is unknown."""
    name = (requested or "auto").lower()
    if name not in BACKEND_CHOICES:
        raise ModelError(None, f"unknown backend {requested!r}; choose one of {', '.join(BACKEND_CHOICES)}")
    return name


def make_runner(
    requested: str, device: torch.device, graph: Path | None, digest: str, torch_net: Callable[[], Any]
) -> TaggerRunner:
    """The runner for ``requested`` ("auto" | "torch" | "onnx"): ONNX Runtime when asked (ModelError when
    it cannot run) or, for "auto", when on a CPU with ONNX Runtime and a graph matching the weights;
    otherwise PyTorch (``torch_net()`` builds the network only then)."""
    name = check_backend(requested)
    if name == "onnx" and device.type != "cpu":
        raise ModelError(
            None, f"backend 'onnx' runs on the CPU only, not on {device.type!r}; use auto or torch"
        )
    if name == "onnx" and not onnx_runtime_available():
        raise ModelError(None, "backend 'onnx' needs ONNX Runtime: pip install 'music-reclass-gui[fast]'")
    if name != "torch" and device.type == "cpu" and onnx_runtime_available() and graph is not None:
        runner = _matching_onnx_runner(graph, digest, strict=name == "onnx")
        if runner is not None:
            return runner
        if name == "onnx":
            raise ModelError(graph, "no ONNX graph exported from these weights (run tools/export_onnx.py)")
    elif name == "onnx":
        raise ModelError(graph, "no ONNX graph for this tagger")
    return TorchRunner(torch_net(), device)


def _matching_onnx_runner(graph: Path, digest: str, *, strict: bool) -> OnnxRunner | None:
    """An ONNX Runtime session over ``graph`` if it was exported from weights with ``digest``; None when it
    is missing, stale or unreadable (the ModelError is raised instead when ``strict``)."""
    if not graph.is_file():
        return None
    try:
        runner = OnnxRunner(graph)
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
    """ONNX Runtime session over a shipped graph (CPU execution provider)."""

    name = "onnx"

    def __init__(self, graph: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

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


def export_onnx(net: Any, graph: Path, digest: str) -> None:
    """Export ``net`` (a MusicnnTagger in eval mode) to ``graph`` with a dynamic batch axis and the source
    weights' digest as metadata (tools/export_onnx.py; needs the ``onnx`` package)."""
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
    for key, value in ((ONNX_DIGEST_KEY, digest), (ONNX_VERSION_KEY, ONNX_EXPORT_VERSION)):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(model, str(tmp))
    os.replace(tmp, graph)
