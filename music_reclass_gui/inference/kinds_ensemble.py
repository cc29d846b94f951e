"""Model kind "ensemble": the staged early-stopping ensemble (cheapest stage first, stop when confident).

Card::

    {"name": "ensemble", "kind": "ensemble", "labels": [...genres...],
     "stages": [{"name": "msd", "head": "ensemble_msd.pt"},     # a head file next to the card, or
                {"name": "gtzan", "model": "gtzan"}],           # an installed model, by name
     "threshold": 0.8,          # stop at the first stage whose calibrated confidence >= threshold
     "combine": "mean",         # "mean": average the calibrated probabilities of the stages run so far;
                                # "last": use the latest stage's probabilities
     "metrics": {...}}          # per-stage table (how many stop, their accuracy, time), see docs/ensemble.md

Laziness: ``extractors`` are only stage 1's; ``missing_extractors(features)`` names the extractors the next
stage needs when the stages so far are not confident enough (empty when the answer is decided). The engine
asks it after each extraction and runs only what is missing, so a track that stops at stage 1 never runs the
later stages' extractors (and its processing time says so). ``predict`` then gives the answer of the stage
that decided; its ``tags`` hold the combined genre probabilities plus ``"ensemble_stage"`` (1-based number
of the stage that decided).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.core.genres import genre_key
from music_reclass_gui.inference.registry import ModelCard, register_kind

KIND = "ensemble"
STAGE_TAG = "ensemble_stage"
COMBINE_RULES = ("mean", "last")

FeatureSet = Mapping[str, Mapping[str, np.ndarray]]


def combine(probs: list[np.ndarray], rule: str) -> np.ndarray:
    """Probabilities after the stages so far: their mean ("mean") or the latest one ("last")."""
    if rule == "last":
        return probs[-1]
    return np.mean(np.stack(probs), axis=0)


def decide(stage_probs: list[np.ndarray], threshold: float, rule: str) -> tuple[int, np.ndarray]:
    """(index of the deciding stage, its combined probabilities) given every stage's probabilities: the
    first stage whose combined confidence reaches ``threshold``, else the last. Used by training to
    simulate the ensemble on out-of-fold probabilities exactly as the model runs."""
    for k in range(len(stage_probs)):
        p = combine(stage_probs[: k + 1], rule)
        if k == len(stage_probs) - 1 or float(p.max()) >= threshold:
            return k, p
    raise ValueError("no stages")


def _stage_card(card: ModelCard, spec: dict[str, Any]) -> ModelCard:
    """A head-file stage as a ModelCard the "head" loader understands."""
    weights = (card.path.parent / str(spec["head"])).resolve()
    if not weights.is_file():
        raise ModelError(weights, f"stage {spec.get('name')!r} of ensemble {card.name!r} is missing")
    return ModelCard(
        name=f"{card.name}/{spec.get('name', 'stage')}",
        kind="head",
        labels=card.labels,
        path=card.path,
        weights=weights,
        calibration={"method": "temperature scaling"},
        origin=card.origin,
    )


class EnsembleGenreModel:
    """A genre model (registry protocol) over ordered stages, each itself a genre model."""

    def __init__(self, card: ModelCard, device: torch.device) -> None:
        from music_reclass_gui.inference.models import HeadGenreModel
        from music_reclass_gui.inference.registry import load_model

        self.name = card.name
        self.card = card
        self.labels = list(card.labels)
        specs = card.raw.get("stages")
        if not isinstance(specs, list) or not specs:
            raise ModelError(card.path, "an 'ensemble' card needs a non-empty 'stages' list")
        self.threshold = float(card.raw.get("threshold", 1.0))
        self.rule = str(card.raw.get("combine", "mean"))
        if self.rule not in COMBINE_RULES:
            raise ModelError(
                card.path, f"unknown combine rule {self.rule!r} (use {', '.join(COMBINE_RULES)})"
            )
        self.stage_names: list[str] = []
        self.stages: list[Any] = []
        self.orders: list[np.ndarray] = []  # stage label index for each ensemble label
        want = [genre_key(lab) for lab in self.labels]
        for spec in specs:
            if not isinstance(spec, dict) or not ("head" in spec or "model" in spec):
                raise ModelError(card.path, "each ensemble stage needs a 'head' file or a 'model' name")
            if spec.get("model") == card.name:
                raise ModelError(card.path, "an ensemble cannot be its own stage")
            model = (
                HeadGenreModel(_stage_card(card, spec), device)
                if "head" in spec
                else load_model(str(spec["model"]), device)
            )
            have = {genre_key(lab): i for i, lab in enumerate(model.labels)}
            missing = [lab for lab, k in zip(self.labels, want, strict=True) if k not in have]
            if missing or len(have) != len(want):
                raise ModelError(
                    card.path, f"stage {spec.get('name')!r} does not propose exactly the ensemble's genres"
                )
            self.stages.append(model)
            self.orders.append(np.array([have[k] for k in want]))
            self.stage_names.append(str(spec.get("name") or spec.get("model")))
        self.extractors = list(self.stages[0].extractors)
        self.calibrated = all(getattr(s, "calibrated", False) for s in self.stages)
        self.train_keys = list(card.raw.get("train_keys", []))

    def _run(self, features: FeatureSet) -> tuple[int, np.ndarray | None, list[Any]]:
        """Run stages while their features are present: (stage index reached, combined probabilities or
        None if that stage's features are missing, outputs so far)."""
        probs: list[np.ndarray] = []
        outs: list[Any] = []
        for k, (stage, order) in enumerate(zip(self.stages, self.orders, strict=True)):
            if any(e.key not in features for e in stage.extractors):
                return k, None, outs
            out = stage.predict(features)
            outs.append(out)
            probs.append(np.asarray(out.probs, dtype=np.float64)[order])
            p = combine(probs, self.rule)
            if k == len(self.stages) - 1 or float(p.max()) >= self.threshold:
                return k, p, outs
        raise AssertionError("unreachable")

    def missing_extractors(self, features: FeatureSet) -> list[Any]:
        """Extractors the next stage needs, or [] when the stages so far have decided (see module doc)."""
        k, p, _ = self._run(features)
        if p is not None:
            return []
        return [e for e in self.stages[k].extractors if e.key not in features]

    def predict(self, features: FeatureSet):
        from music_reclass_gui.inference.models import ModelOutput

        k, p, outs = self._run(features)
        if p is None:
            raise ModelError(self.card.path, f"stage {self.stage_names[k]!r} was not computed")
        tags = {lab: float(v) for lab, v in zip(self.labels, p, strict=True)}
        tags[STAGE_TAG] = float(k + 1)
        emb = next((o.embedding for o in outs if o.embedding is not None), None)
        return ModelOutput((p / p.sum()).astype(np.float32), tags, emb)


register_kind(KIND, EnsembleGenreModel)
