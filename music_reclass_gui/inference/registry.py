"""Installed models: JSON model cards in ``shipped_models_dir()`` (models/) and ``user_models_dir()``.

A card is ``<name>.json``::

    {"name": "msd-musicnn", "kind": "musicnn", "labels": [...], "weights": "msd_musicnn.pt",
     "description": "...", "source": "...", "licence": "ISC", "metrics": {...}, "preprocessing": ...,
     "training_data": "...", "reproduce": "python tools/...", "calibration": {"temperature": 0.3, ...},
     ...kind-specific keys}

``weights`` is relative to the card's folder. ``load_model(name, device)`` returns a *genre model* built by
the loader registered for the card's kind (``register_kind(kind, loader)``; ``loader(card, device)``).

A genre model is any object with:
    name: str
    labels: list[str]                 genre tag texts it can propose, in output order (genre-map canonical)
    extractors: list[Extractor]       feature extractors it needs (see extractors.py); shared + cached
    calibrated: bool                  True when probabilities were calibrated (the card says how)
    predict(features: dict[extractor.key, dict[str, np.ndarray]]) -> ModelOutput

Built-in kinds: "musicnn" (a pretrained tagger used directly; models.TaggerGenreModel) and "head" (a
calibrated linear/MLP head over musicnn features; file format in heads.py). Training code registers more
("features-mlp", "mel-cnn", "ensemble") with ``register_kind`` before calling ``load_model``.

Name clashes: a shipped model wins over a user model of the same name (the user card is reported).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from music_reclass_gui.core.appdirs import shipped_models_dir, user_models_dir
from music_reclass_gui.core.errors import ModelError

log = logging.getLogger(__name__)

Loader = Callable[["ModelCard", Any], Any]  # (card, device.Device) -> genre model
_LOADERS: dict[str, Loader] = {}


@dataclass
class ModelCard:
    """What a model is, where it came from, how well it does, and how to rebuild it."""

    name: str
    kind: str
    labels: list[str]
    path: Path  # the card file
    weights: Path | None = None
    description: str = ""
    source: str = ""
    licence: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    preprocessing: Any = None
    training_data: Any = None
    reproduce: str = ""
    calibration: dict[str, Any] = field(default_factory=dict)
    origin: str = "shipped"  # "shipped" | "user"
    raw: dict[str, Any] = field(default_factory=dict)  # the whole card, for kind-specific keys

    @classmethod
    def from_file(cls, path: Path, origin: str = "shipped") -> ModelCard:
        """Parse and check a card; raises ModelError naming the card (or its missing weights file)."""
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise ModelError(path, f"model card is not readable JSON ({exc})") from exc
        if not isinstance(data, dict):
            raise ModelError(path, "model card must be a JSON object")
        name, kind, labels = data.get("name"), data.get("kind"), data.get("labels")
        if not isinstance(name, str) or not name.strip():
            raise ModelError(path, "model card has no 'name'")
        if not isinstance(kind, str) or not kind:
            raise ModelError(path, "model card has no 'kind'")
        if not isinstance(labels, list) or not labels or not all(isinstance(x, str) for x in labels):
            raise ModelError(path, "model card needs a non-empty 'labels' list of strings")
        weights = None
        if data.get("weights"):
            weights = (path.parent / str(data["weights"])).resolve()
            if not weights.is_file():
                raise ModelError(weights, f"weights file of model {name!r} is missing")
        metrics = data.get("metrics") or {}
        calibration = data.get("calibration") or {}
        return cls(
            name=name,
            kind=kind,
            labels=list(labels),
            path=path,
            weights=weights,
            description=str(data.get("description", "")),
            source=str(data.get("source", "")),
            licence=str(data.get("licence", data.get("license", ""))),
            metrics=metrics if isinstance(metrics, dict) else {"value": metrics},
            preprocessing=data.get("preprocessing"),
            training_data=data.get("training_data"),
            reproduce=str(data.get("reproduce", "")),
            calibration=calibration if isinstance(calibration, dict) else {},
            origin=origin,
            raw=data,
        )

    def summary(self) -> dict[str, Any]:
        """JSON-friendly view for `music-reclass models` and the GUI's model picker."""
        return {
            "name": self.name,
            "kind": self.kind,
            "labels": self.labels,
            "description": self.description,
            "source": self.source,
            "licence": self.licence,
            "metrics": self.metrics,
            "calibration": self.calibration,
            "origin": self.origin,
            "card": str(self.path),
        }


def register_kind(kind: str, loader: Loader) -> None:
    """Teach load_model a new kind: ``loader(card, device) -> genre model`` (replaces an earlier loader)."""
    _LOADERS[kind] = loader


def registered_kinds() -> list[str]:
    _ensure_builtin_kinds()
    return sorted(_LOADERS)


def _scan(folder: Path, origin: str, errors: list[ModelError]) -> list[ModelCard]:
    cards = []
    if not folder.is_dir():
        return cards
    for path in sorted(folder.glob("*.json")):
        try:
            cards.append(ModelCard.from_file(path, origin))
        except ModelError as exc:
            exc.card_path = path  # type: ignore[attr-defined]  (find_card names the broken card)
            log.warning("skipping model: %s", exc)
            errors.append(exc)
    return cards


def list_models(errors: list[ModelError] | None = None) -> list[ModelCard]:
    """All usable model cards, shipped first. Bad cards are skipped; their ModelErrors go to ``errors``."""
    errors = errors if errors is not None else []
    shipped = _scan(shipped_models_dir(), "shipped", errors)
    names = {c.name for c in shipped}
    cards = list(shipped)
    for card in _scan(user_models_dir(), "user", errors):
        if card.name in names:
            errors.append(
                ModelError(card.path, f"a shipped model is already called {card.name!r}; rename this one")
            )
            continue
        names.add(card.name)
        cards.append(card)
    return cards


def find_card(name: str) -> ModelCard:
    """The card called ``name``; ModelError listing what is installed (and why a card was skipped)."""
    errors: list[ModelError] = []
    cards = list_models(errors)
    for card in cards:
        if card.name == name:
            return card
    for err in errors:  # the card exists but is broken: say so instead of "not installed"
        card_path = getattr(err, "card_path", err.path)
        if card_path is not None and card_path.stem == name:
            raise err
    available = ", ".join(c.name for c in cards) or "none"
    raise ModelError(None, f"no model called {name!r} is installed (available: {available})")


# Built-in kind -> the module that registers it when imported (add new kind modules here). Only the module of
# the kind being loaded is imported: the CPU kinds ("musicnn", "head", "fused") never import torch, the
# others do (their networks are PyTorch), and a cold start should pay only for what it runs.
KIND_MODULES: dict[str, str] = {
    "musicnn": "music_reclass_gui.inference.models",
    "head": "music_reclass_gui.inference.models",
    "features-mlp": "music_reclass_gui.inference.kinds_features",
    "mel-cnn": "music_reclass_gui.inference.kinds_cnn",
    "ensemble": "music_reclass_gui.inference.kinds_ensemble",
    "fused": "music_reclass_gui.inference.kinds_fused",  # multi-label
}


def _ensure_builtin_kinds(kind: str | None = None) -> None:
    """Import the module registering ``kind`` (every built-in kind when None); imports are cached."""
    import importlib

    modules = [KIND_MODULES[kind]] if kind in KIND_MODULES else [] if kind else KIND_MODULES.values()
    for module in dict.fromkeys(modules):
        importlib.import_module(module)


def load_model(name: str, device: Any = "cpu", backend: str = "auto") -> Any:
    """Build the named genre model on ``device`` (a device.Device, a torch.device or its name), its musicnn
    taggers on ``backend`` (backends.BACKEND_CHOICES)."""
    from music_reclass_gui.inference.device import as_device
    from music_reclass_gui.inference.extractors import building_on_backend

    card = find_card(name)
    _ensure_builtin_kinds(card.kind)
    loader = _LOADERS.get(card.kind)
    if loader is None:
        _ensure_builtin_kinds()  # name every kind in the error
        loader = _LOADERS.get(card.kind)
    if loader is None:
        raise ModelError(
            card.path, f"model kind {card.kind!r} is not supported (known: {', '.join(sorted(_LOADERS))})"
        )
    try:
        with building_on_backend(backend):
            return loader(card, as_device(device))
    except ModelError:
        raise
    except Exception as exc:  # a loader bug or unreadable weights must name the model, not crash the app
        raise ModelError(
            card.weights or card.path, f"model {name!r} could not be loaded ({type(exc).__name__}: {exc})"
        ) from exc


def write_user_card(card: dict[str, Any], files: dict[str, Path] | None = None) -> Path:
    """Install a user model: copy ``files`` ({name in the models dir: source}) then write ``<name>.json``
    atomically (the card last, so a half-installed model is never listed). Returns the card path."""
    folder = user_models_dir()
    name = card.get("name")
    if not isinstance(name, str) or not name or "/" in name or "\\" in name or name.startswith("."):
        raise ModelError(None, f"invalid model name {name!r}")
    for target, source in (files or {}).items():
        if Path(source).resolve() != (folder / target).resolve():
            shutil.copy2(source, folder / target)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".json.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(card, fh, indent=2, ensure_ascii=False)
    path = folder / f"{name}.json"
    os.replace(tmp, path)
    return path


def remove_user_model(name: str) -> None:
    """Delete a user model's card and its weights file. Shipped models cannot be removed."""
    folder = user_models_dir().resolve()
    path = folder / f"{name}.json"
    if not path.is_file():
        shipped = shipped_models_dir() / f"{name}.json"
        if shipped.is_file():
            raise ModelError(shipped, f"{name!r} is a shipped model and cannot be removed")
        raise ModelError(path, f"no user model called {name!r}")
    weights = None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(data, dict) and data.get("weights"):
            weights = (folder / str(data["weights"])).resolve()
    except (OSError, ValueError):
        pass  # a broken card is still removable
    path.unlink()
    if weights is not None and weights.parent == folder and weights.is_file():
        weights.unlink()
