"""Model kind "mel-cnn": the spec's mel-spectrogram CNN on raw audio (networks/cnn.py).

A track's decoded excerpts are cut into non-overlapping windows of the training crop length; the window
logits are averaged and turned into probabilities with the fitted temperature.

Weights file (``torch.save`` of a plain dict, ``weights_only=True``)::

    {"format": "music-reclass-mel-cnn", "version": 1, "labels": [...training labels...],
     "config": {"n_classes", "n_mels", "sample_rate", "crop_seconds"},
     "state_dict": {...}, "temperature": float}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference.excerpts import PLAN_VERSION
from music_reclass_gui.inference.networks.cnn import N_MELS, SAMPLE_RATE, MelCNN, crops
from music_reclass_gui.inference.weights_io import load_payload, save_atomic

FORMAT = "music-reclass-mel-cnn"
VERSION = 1
KIND = "mel-cnn"


def save_mel_cnn(
    path: str | Path, model: MelCNN, labels: Sequence[str], crop_seconds: float, temperature: float = 1.0
) -> Path:
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "labels": list(labels),
        "config": {
            "n_classes": model.n_classes,
            "n_mels": N_MELS,
            "sample_rate": SAMPLE_RATE,
            "crop_seconds": float(crop_seconds),
        },
        "state_dict": {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
        "temperature": float(temperature),
    }
    save_atomic(payload, Path(path))
    return Path(path)


def load_mel_cnn(path: str | Path, device: torch.device | str = "cpu") -> tuple[MelCNN, dict[str, Any]]:
    path = Path(path)
    data = load_payload(path, fmt=FORMAT, kind=KIND, version=VERSION)
    cfg = data["config"]
    if int(cfg.get("sample_rate", SAMPLE_RATE)) != SAMPLE_RATE:
        raise ModelError(
            path, f"trained at {cfg['sample_rate']} Hz; this app's mel CNN runs at {SAMPLE_RATE} Hz"
        )
    model = MelCNN(cfg["n_classes"], cfg.get("n_mels", N_MELS))
    model.load_state_dict(data["state_dict"])
    model.to(torch.device(device)).eval()
    return model, {k: v for k, v in data.items() if k != "state_dict"}


@torch.inference_mode()
def track_logits(
    model: MelCNN, waves: Sequence[np.ndarray], window: int, batch_windows: int = 16
) -> np.ndarray:
    """Mean logits over the non-overlapping ``window``-sample windows of a track's excerpts, (classes,)."""
    wins = np.concatenate([crops(w, window) for w in waves if np.asarray(w).size])
    dev = next(model.parameters()).device
    out = [
        model(torch.from_numpy(np.ascontiguousarray(wins[s : s + batch_windows])).to(dev))
        .float()
        .cpu()
        .numpy()
        for s in range(0, len(wins), batch_windows)
    ]
    return np.concatenate(out).mean(axis=0)


class MelCNNExtractor:
    """Engine extractor: excerpts -> {"logits": (classes,) mean window logits, "n_windows"}."""

    sample_rate = SAMPLE_RATE

    def __init__(self, weights: Path, device: torch.device, batch_windows: int = 16) -> None:
        from music_reclass_gui.inference.extractors import file_digest

        self.net, meta = load_mel_cnn(weights, device)
        self.device = device
        self.meta = meta
        self.window = int(float(meta["config"]["crop_seconds"]) * SAMPLE_RATE)
        self.batch_windows = batch_windows
        self.key = f"mel-cnn:{file_digest(weights)}:plan{PLAN_VERSION}"

    def windows(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        return np.concatenate([crops(w, self.window) for w in waves if np.asarray(w).size])

    @torch.inference_mode()
    def logits_of_windows(self, windows: np.ndarray) -> np.ndarray:
        out = []
        for s in range(0, len(windows), self.batch_windows):
            batch = torch.from_numpy(np.ascontiguousarray(windows[s : s + self.batch_windows])).to(
                self.device
            )
            out.append(self.net(batch).float().cpu().numpy())
        return np.concatenate(out)

    def extract(self, tracks: Sequence[Sequence[np.ndarray]]) -> list[dict[str, np.ndarray]]:
        per_track = [self.windows(waves) for waves in tracks]
        counts = [len(w) for w in per_track]
        logits = self.logits_of_windows(np.concatenate(per_track))
        out, start = [], 0
        for n in counts:
            out.append(
                {"logits": logits[start : start + n].mean(axis=0), "n_windows": np.asarray(n, dtype=np.int32)}
            )
            start += n
        return out


class MelCNNGenreModel:
    """A genre model (registry protocol) over one MelCNNExtractor."""

    def __init__(self, card: Any, device: torch.device) -> None:
        from music_reclass_gui.core.genres import load_genre_map

        if card.weights is None:
            raise ModelError(card.path, f"a {KIND!r} model card needs a 'weights' file")
        self.name = card.name
        self.card = card
        ext = MelCNNExtractor(card.weights, device)
        self.extractors = [ext]
        self.train_labels = list(ext.meta["labels"])
        self.labels = [load_genre_map().normalize(lab) for lab in self.train_labels]
        self.temperature = float(ext.meta.get("temperature", 1.0))
        self.calibrated = self.temperature != 1.0 or bool(card.calibration)

    def predict(self, features: Mapping[str, Mapping[str, np.ndarray]]):
        from music_reclass_gui.inference.kinds_features import tempered_softmax
        from music_reclass_gui.inference.models import ModelOutput

        logits = np.asarray(features[self.extractors[0].key]["logits"], dtype=np.float64)
        probs = tempered_softmax(logits[None, :], self.temperature)[0]
        return ModelOutput(
            probs, {lab: float(p) for lab, p in zip(self.train_labels, probs, strict=True)}, None
        )


def register() -> None:
    from music_reclass_gui.inference.registry import register_kind

    register_kind(KIND, MelCNNGenreModel)


register()
