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

import hashlib
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference.excerpts import PLAN_VERSION
from music_reclass_gui.inference.frontend import (
    HOP_LENGTH,
    PATCH_FRAMES,
    SAMPLE_RATE,
    min_samples_for_frames,
    split_patches,
)

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
    """

    sample_rate = SAMPLE_RATE

    def __init__(
        self,
        name: str,
        models_dir: Path,
        weights: Path | None,
        device: torch.device,
        batch_patches: int | None = None,
    ) -> None:
        from music_reclass_gui.inference.networks.musicnn import load_musicnn

        self.name = name
        self.device = device
        self.net = load_musicnn(name, models_dir, device)
        self.labels: list[str] = list(self.net.labels)
        digest = file_digest(weights) if weights else "unknown"
        self.key = f"{name}:{digest}:plan{PLAN_VERSION}"
        self.batch_patches = batch_patches or (256 if device.type != "cpu" else 16)

    def _prepare(self, wave: np.ndarray) -> np.ndarray:
        """Crop to the samples its whole patches need (identical patches: the centred STFT of a kept frame
        never reaches the cut), so excerpts of equal patch count share one batched front-end call.
        Input shorter than one patch is repeat-padded, as musicnn's training did."""
        need = min_samples_for_frames(PATCH_FRAMES)
        if wave.size < need:
            return np.tile(wave, -(-need // max(1, wave.size)))[:need]
        n_patches = (1 + wave.size // HOP_LENGTH) // PATCH_FRAMES
        return wave[: n_patches * PATCH_FRAMES * HOP_LENGTH]

    def _patch_tracks(self, tracks: Sequence[Sequence[np.ndarray]]) -> list[torch.Tensor]:
        """Log-mel patches of every track, the front end batched over equal-length excerpts of all tracks."""
        groups: dict[int, list[tuple[int, np.ndarray]]] = {}
        for t, waves in enumerate(tracks):
            for w in waves:
                w = self._prepare(np.asarray(w, dtype=np.float32))
                groups.setdefault(w.size, []).append((t, w))
        per_track: list[list[torch.Tensor]] = [[] for _ in tracks]
        for items in groups.values():
            batch = torch.from_numpy(np.stack([w for _, w in items])).to(self.device)
            for (t, _), mel in zip(items, self.net.frontend(batch), strict=True):
                per_track[t].append(split_patches(mel))  # (P, 187, 96)
        return [torch.cat(p) for p in per_track]

    @torch.inference_mode()
    def extract(self, tracks: Sequence[Sequence[np.ndarray]]) -> list[Features]:
        per_track = self._patch_tracks(tracks)
        counts = [p.shape[0] for p in per_track]
        patches = torch.cat(per_track)
        tags, embs = [], []
        for start in range(0, patches.shape[0], self.batch_patches):
            t, e = self.net(patches[start : start + self.batch_patches])
            tags.append(t)
            embs.append(e)
        all_tags = torch.cat(tags).float().cpu().numpy()
        all_embs = torch.cat(embs).float().cpu().numpy()
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


_SHARED: dict[tuple[str, str], MusicnnExtractor] = {}
_SHARED_LOCK = threading.Lock()


def musicnn_extractor(name: str, device: torch.device) -> MusicnnExtractor:
    """The process-wide extractor for a shipped musicnn tagger on ``device`` (loaded once, shared by models)."""
    from music_reclass_gui.inference.registry import find_card

    with _SHARED_LOCK:
        key = (name, str(device))
        if key not in _SHARED:
            card = find_card(name)
            if card.kind != "musicnn":
                raise ModelError(card.path, f"model {name!r} is a {card.kind!r}, not a musicnn tagger")
            _SHARED[key] = MusicnnExtractor(name, card.path.parent, card.weights, device)
        return _SHARED[key]
