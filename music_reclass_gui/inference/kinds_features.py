"""Model kind "features-mlp": hand-crafted audio features (GTZAN's 57 or FMA's 518) -> FeatureMLP.

Weights file (``torch.save`` of a plain dict, loadable with ``weights_only=True``, no pickled code)::

    {"format": "music-reclass-features-mlp", "version": 1,
     "extractor": "gtzan57" | "fma518",          # which feature recipe the model was trained on
     "feature_names": [...],                     # column order of the model's input
     "labels": ["blues", ...],                   # training labels, in output order
     "config": {"n_features", "n_classes", "hidden": [256, 128] or [] (= logistic regression), "dropout"},
     "state_dict": {...},                        # includes the feature standardisation buffers
     "temperature": float,                       # probabilities = softmax(logits / temperature)
     "train_keys": [...]}                        # names of the training rows/files (for honest evaluation)

The card (``kind: "features-mlp"``) names the file in ``weights``; its ``labels`` are the genre-map
spellings of the training labels.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference.excerpts import PLAN_VERSION
from music_reclass_gui.inference.networks.mlp import FeatureMLP
from music_reclass_gui.inference.weights_io import load_payload, save_atomic

FORMAT = "music-reclass-features-mlp"
VERSION = 1
KIND = "features-mlp"
EXTRACTOR_VERSION = 1  # bump when a recipe's output changes (invalidates cached features)


@dataclass(frozen=True)
class Recipe:
    sample_rate: int
    feature_names: Callable[[], list[str]]
    compute: Callable[[np.ndarray, int], np.ndarray]


def _gtzan() -> Recipe:
    from music_reclass_gui.inference import features_gtzan57 as g

    return Recipe(g.SAMPLE_RATE, lambda: list(g.FEATURE_NAMES), g.extract_gtzan57)


def _fma() -> Recipe:
    from music_reclass_gui.inference import features_fma518 as f

    return Recipe(f.SAMPLE_RATE, f.feature_names, f.extract_fma518)


RECIPES: dict[str, Callable[[], Recipe]] = {"gtzan57": _gtzan, "fma518": _fma}


def tempered_softmax(logits: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) row-wise, float32 (training.calibrate fits T the same way)."""
    return (
        torch.softmax(torch.as_tensor(np.asarray(logits, dtype=np.float64)) / float(temperature), dim=-1)
        .float()
        .numpy()
    )


def recipe(name: str) -> Recipe:
    if name not in RECIPES:
        raise ModelError(None, f"unknown feature extractor {name!r} (known: {', '.join(RECIPES)})")
    return RECIPES[name]()


class FeatureExtractor:
    """Engine extractor: a track's decoded excerpts (joined) -> {"features": (F,) float64}."""

    def __init__(self, name: str) -> None:
        r = recipe(name)
        self.name = name
        self.sample_rate = r.sample_rate
        self._compute = r.compute
        self.key = f"{name}:v{EXTRACTOR_VERSION}:plan{PLAN_VERSION}"

    def features_of(self, waves: Sequence[np.ndarray]) -> np.ndarray:
        wave = np.concatenate([np.asarray(w, dtype=np.float32) for w in waves])
        return self._compute(wave, self.sample_rate)

    def extract(self, tracks: Sequence[Sequence[np.ndarray]]) -> list[dict[str, np.ndarray]]:
        return [{"features": self.features_of(waves)} for waves in tracks]


def save_features_mlp(
    path: str | Path,
    model: FeatureMLP,
    labels: Sequence[str],
    extractor: str,
    feature_names: Sequence[str],
    temperature: float = 1.0,
    train_keys: Sequence[str] = (),
) -> Path:
    """Write the weights file (atomically) in the format of the module docstring."""
    if len(feature_names) != model.n_features or len(labels) != model.n_classes:
        raise ValueError("feature names / labels do not match the model's input / output size")
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    payload = {
        "format": FORMAT,
        "version": VERSION,
        "extractor": extractor,
        "feature_names": list(feature_names),
        "labels": list(labels),
        "config": model.config(),
        "state_dict": state,
        "temperature": float(temperature),
        "train_keys": [str(k) for k in train_keys],  # evaluation warns when it meets these files
    }
    save_atomic(payload, Path(path))
    return Path(path)


def load_features_mlp(
    path: str | Path, device: torch.device | str = "cpu"
) -> tuple[FeatureMLP, dict[str, Any]]:
    """(model in eval mode on ``device``, the file's metadata). ModelError naming the file if malformed."""
    path = Path(path)
    data = load_payload(path, fmt=FORMAT, kind=KIND, version=VERSION)
    cfg = data["config"]
    model = FeatureMLP(cfg["n_features"], cfg["n_classes"], cfg["hidden"], cfg["dropout"])
    model.load_state_dict(data["state_dict"])
    model.to(torch.device(device)).eval()
    meta = {k: v for k, v in data.items() if k != "state_dict"}
    return model, meta


class FeaturesMLPGenreModel:
    """A genre model (registry protocol) over one FeatureExtractor."""

    def __init__(self, card: Any, device: torch.device) -> None:
        from music_reclass_gui.core.genres import load_genre_map

        if card.weights is None:
            raise ModelError(card.path, f"a {KIND!r} model card needs a 'weights' file")
        self.name = card.name
        self.card = card
        self.net, meta = load_features_mlp(card.weights, device)
        self.extractor_name = str(meta["extractor"])
        self.feature_names = list(meta["feature_names"])
        self.train_keys = list(meta.get("train_keys", []))
        self.extractors: list[FeatureExtractor] = []
        if self.extractor_name in RECIPES:  # else: trained on a table of other features (CSV evaluation only)
            if self.feature_names != recipe(self.extractor_name).feature_names():
                raise ModelError(
                    card.weights, f"its feature columns differ from the {self.extractor_name} extractor's"
                )
            self.extractors = [FeatureExtractor(self.extractor_name)]
        self.train_labels = list(meta["labels"])
        gmap = load_genre_map()
        self.labels = [gmap.normalize(lab) for lab in self.train_labels]
        self.temperature = float(meta.get("temperature", 1.0))
        self.calibrated = self.temperature != 1.0 or bool(card.calibration)

    @torch.inference_mode()
    def logits(self, x: np.ndarray) -> np.ndarray:
        """(n, F) raw features -> (n, classes) logits (before temperature)."""
        t = torch.as_tensor(np.asarray(x, dtype=np.float32), device=self.net.feature_mean.device)
        return self.net(t.reshape(-1, self.net.n_features)).float().cpu().numpy()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        return tempered_softmax(self.logits(x), self.temperature)

    def predict(self, features: Mapping[str, Mapping[str, np.ndarray]]):
        from music_reclass_gui.inference.models import ModelOutput

        if not self.extractors:
            raise ModelError(
                self.card.path, "this model was trained on a features table it cannot compute from audio"
            )
        f = np.asarray(features[self.extractors[0].key]["features"], dtype=np.float64)
        probs = self.predict_proba(f[None, :])[0]
        tags = {lab: float(p) for lab, p in zip(self.train_labels, probs, strict=True)}
        return ModelOutput(probs, tags, None)


def register() -> None:
    from music_reclass_gui.inference.registry import register_kind

    register_kind(KIND, FeaturesMLPGenreModel)


register()
