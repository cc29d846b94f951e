"""Feature extractors: decoded excerpts of many tracks in, one feature dict per track out.

An extractor is the expensive, cacheable part of a model (a pretrained tagger's tags and embedding). Models
(see registry.py) name the extractors they need and map their features to genre probabilities, so two
models over the same tagger share one cached computation, and a model that needs two taggers runs both.

Protocol (duck-typed; training code may add its own, e.g. librosa features or a mel-CNN):
    key: str            cache key; must change when the output would change (weights, plan, code version)
    sample_rate: int    rate the engine decodes excerpts at for this extractor
    extract(tracks: list[list[np.ndarray]]) -> list[dict[str, np.ndarray]]
                        tracks[i] = the decoded excerpts of track i; batches across tracks internally.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference.backends import (
    ONNX_BATCH_PATCHES,
    TaggerRunner,
    check_backend,
    make_runner,
    onnx_graph_path,
    planned_backend,
)
from music_reclass_gui.inference.excerpts import PLAN_VERSION
from music_reclass_gui.inference.frontend import (
    HOP_LENGTH,
    PATCH_FRAMES,
    SAMPLE_RATE,
    log_mel,
    min_samples_for_frames,
    split_patches,
)

if TYPE_CHECKING:
    import torch

    from music_reclass_gui.inference.device import Device
    from music_reclass_gui.inference.networks.musicnn import MusicnnTagger

Features = dict[str, np.ndarray]


class Extractor(Protocol):
    key: str
    sample_rate: int

    def extract(self, tracks: Sequence[Sequence[np.ndarray]]) -> list[Features]: ...


def file_digest(path: Path) -> str:
    """Short content hash, so replaced weights invalidate cached features."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:12]


class MusicnnExtractor:
    """musicnn tagger -> {"tags": (50,) mean sigmoid scores, "embedding": (200,) mean penultimate, "n_patches"}.

    Patches of all tracks in a call are run together in batches of ``batch_patches`` (cross-track batching).
    The network runs on a backend (backends.py: ONNX Runtime on a CPU when available, else PyTorch); the
    PyTorch network is only loaded when that backend needs it (or ``net`` is asked for). Both musicnn taggers
    share one log-mel front end (``frontend_key``): the engine computes the patches once per batch
    (``prepare``) and hands them to every extractor with the same key. On a CPU the front end is numpy
    (frontend.log_mel), so with ONNX Runtime nothing here imports torch; on a GPU it is the torch twin.
    """

    sample_rate = SAMPLE_RATE
    frontend_key = f"musicnn-logmel-{SAMPLE_RATE}"

    def __init__(
        self,
        name: str,
        models_dir: Path,
        weights: Path | None,
        device: Device | torch.device,
        batch_patches: int | None = None,
        backend: str = "auto",
    ) -> None:
        self.name = name
        self.models_dir = models_dir
        self.weights = weights
        self.device = device
        self._frontend: torch.nn.Module | None = None
        self._net: MusicnnTagger | None = None
        self._runner: TaggerRunner | None = None
        self._lock = threading.Lock()
        self.backend = check_backend(backend)
        self.digest = file_digest(weights) if weights else "unknown"
        self.graph = onnx_graph_path(weights) if weights else None  # its float ONNX graph (backends.py)
        self._key: str | None = None
        self.batch_patches = batch_patches or (256 if device.type != "cpu" else 16)

    @property
    def net(self) -> MusicnnTagger:
        """The PyTorch network (loaded on first use)."""
        from music_reclass_gui.inference.networks.musicnn import load_musicnn

        with self._lock:
            if self._net is None:
                self._net = load_musicnn(self.name, self.models_dir, self.device)
            return self._net

    @property
    def frontend(self) -> torch.nn.Module:
        """The torch log-mel front end for a GPU (built on first use: a run served from the cache or on a CPU
        never needs it)."""
        from music_reclass_gui.inference.frontend_torch import LogMelFrontend

        with self._lock:
            if self._frontend is None:
                self._frontend = LogMelFrontend().to(self.device)
            return self._frontend

    @property
    def labels(self) -> list[str]:
        from music_reclass_gui.inference.networks.musicnn_labels import tagger_labels

        return tagger_labels(self.name, self.models_dir)

    @property
    def runner(self) -> TaggerRunner:
        """The backend that runs the network (chosen on first use, see backends.make_runner)."""
        if self._runner is None:
            self._runner = make_runner(self.backend, self.device, self.graph, self.digest, lambda: self.net)
        return self._runner

    @property
    def planned_backend(self) -> str:
        """The backend this extractor will run on ("onnx" | "onnx-int8" | "torch"), decided without loading."""
        return planned_backend(self.backend, self.device, self.graph)

    @property
    def key(self) -> str:
        """Cache key: weights, excerpt plan, and ":int8" for the int8 graph, whose scores differ from the float
        network's (by < 0.01): its features are never served to a float run or the other way round. The float
        backends (PyTorch, ONNX float) agree to 1e-6 and share entries."""
        if self._key is None:
            suffix = ":int8" if self.planned_backend == "onnx-int8" else ""
            self._key = f"{self.name}:{self.digest}:plan{PLAN_VERSION}{suffix}"
        return self._key

    def _prepare_wave(self, wave: np.ndarray) -> np.ndarray:
        """Crop to the samples its whole patches need (identical patches: the centred STFT of a kept frame
        never reaches the cut), so excerpts of equal patch count share one batched front-end call.
        Input shorter than one patch is repeat-padded, as musicnn's training did."""
        need = min_samples_for_frames(PATCH_FRAMES)
        if wave.size < need:
            return np.tile(wave, -(-need // max(1, wave.size)))[:need]
        n_patches = (1 + wave.size // HOP_LENGTH) // PATCH_FRAMES
        return wave[: n_patches * PATCH_FRAMES * HOP_LENGTH]

    def prepare(self, tracks: Sequence[Sequence[np.ndarray]]) -> list[np.ndarray | torch.Tensor]:
        """Log-mel patches (P_i, 187, 96) of every track, the front end batched over equal-length excerpts:
        numpy arrays on a CPU, tensors on the extractor's device otherwise."""
        groups: dict[int, list[tuple[int, np.ndarray]]] = {}
        for t, waves in enumerate(tracks):
            for w in waves:
                w = self._prepare_wave(np.asarray(w, dtype=np.float32))
                groups.setdefault(w.size, []).append((t, w))
        on_cpu = self.device.type == "cpu"
        per_track: list[list] = [[] for _ in tracks]
        for items in groups.values():
            batch = np.stack([w for _, w in items])
            mels = log_mel(batch) if on_cpu else self._device_log_mel(batch)
            for (t, _), mel in zip(items, mels, strict=True):
                per_track[t].append(split_patches(mel))  # (P, 187, 96)
        if on_cpu:
            return [np.concatenate(p) for p in per_track]
        import torch

        return [torch.cat(p) for p in per_track]

    def _device_log_mel(self, batch: np.ndarray) -> torch.Tensor:
        import torch

        with torch.inference_mode():
            x = torch.from_numpy(batch)
            if self.device.type == "cuda":
                x = x.pin_memory()
            return self.frontend(x.to(self.device, non_blocking=True))

    def extract(
        self,
        tracks: Sequence[Sequence[np.ndarray]],
        prepared: Sequence[np.ndarray | torch.Tensor] | None = None,
    ) -> list[Features]:
        """Features of each track; ``prepared`` = ``prepare(tracks)`` from an extractor with the same
        ``frontend_key`` (the shared front end), computed here when absent."""
        per_track = list(prepared) if prepared is not None else self.prepare(tracks)
        counts = [p.shape[0] for p in per_track]
        if isinstance(per_track[0], np.ndarray):
            patches = np.concatenate(per_track)
        else:
            import torch

            patches = torch.cat(per_track)
        runner = self.runner
        step = self.batch_patches
        if runner.name != "torch":
            if not isinstance(patches, np.ndarray):
                patches = patches.cpu().numpy()
            step = min(step, ONNX_BATCH_PATCHES)
        tags, embs = [], []
        for start in range(0, patches.shape[0], step):
            t, e = runner.run(patches[start : start + step])
            tags.append(t)
            embs.append(e)
        all_tags = np.concatenate(tags)
        all_embs = np.concatenate(embs)
        out: list[Features] = []
        start = 0
        for n in counts:
            out.append(
                {
                    "tags": all_tags[start : start + n].mean(axis=0),
                    "embedding": all_embs[start : start + n].mean(axis=0),
                    "n_patches": np.asarray(n, dtype=np.int32),
                }
            )
            start += n
        return out


_SHARED: dict[tuple[str, str, str], MusicnnExtractor] = {}
_SHARED_LOCK = threading.Lock()
# The backend that models being built now get their taggers on (registry.load_model sets it for the duration
# of a loader): two classifiers in one process (the server's and a CLI test's, an int8 one and a float one)
# each get their own extractors instead of switching a shared one under the other's feet.
_BACKEND: contextvars.ContextVar[str] = contextvars.ContextVar("musicnn_backend", default="auto")


@contextlib.contextmanager
def building_on_backend(backend: str) -> Iterator[None]:
    """Models built inside this block run their musicnn taggers on ``backend``."""
    token = _BACKEND.set(check_backend(backend))
    try:
        yield
    finally:
        _BACKEND.reset(token)


def musicnn_extractor(
    name: str, device: Device | torch.device, backend: str | None = None
) -> MusicnnExtractor:
    """The process-wide extractor for a shipped musicnn tagger on ``device`` and ``backend`` (default: the one
    ``building_on_backend`` set, else "auto"); loaded once, shared by the models built for that pair."""
    from music_reclass_gui.inference.registry import find_card

    backend = check_backend(backend or _BACKEND.get())
    with _SHARED_LOCK:
        key = (name, str(device), backend)
        if key not in _SHARED:
            card = find_card(name)
            if card.kind != "musicnn":
                raise ModelError(card.path, f"model {name!r} is a {card.kind!r}, not a musicnn tagger")
            _SHARED[key] = MusicnnExtractor(name, card.path.parent, card.weights, device, backend=backend)
        return _SHARED[key]
