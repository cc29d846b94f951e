"""Model kind "fused": a GTZAN head and the musicnn taggers' genre labels fused into one calibrated,
multi-label output (every genre its own probability). Trained by ``training/broad.py``; why it is built
this way is said there.

Card::

    {"name": "broad", "kind": "fused", "labels": [...vocabulary, output order...],
     "weights": "broad_head.pt",                 # a "head" file (heads.py) over GTZAN's ten genres
     "evidence": {"Electronic": [["msd-musicnn", "electronic"], ...], ...},  # tagger labels per genre
     "fusion": {"head_weight": a, "outside_weight": d, "evidence_weight": b, "evidence_bias": e,
                "bias": {genre: c_g, ...},
                "gtzan_like_weight": w, "gtzan_like_labels": [...],            # optional (0 / none)
                "outside_evidence_weight": b2, "outside_evidence_bias": e2},   # optional (0)
     "metrics": {...}, "calibration": {...}}

The formula (one definition, inference/fusion.py) - for genre g: ``z_g = c_g + [g in head] (a * log p_head(g) + d * logit(o)) + [g has evidence] (b * logit(s_g) + e)``
where ``s_g`` is the highest tagger score among g's evidence labels and ``o`` the highest among genres the
head does not know. Two optional terms (absent: 0): ``+ [g not in gtzan_like_labels] w * log(sum of the
head's probabilities over gtzan_like_labels)`` (how much the track looks like one of the head's GTZAN
genres), and ``+ [g has evidence, not in head] (b2 * logit(s_g) + e2)`` (tagger-only genres weigh their
evidence on their own). ``p_g = sigmoid(z_g)`` is the calibrated probability that g is one of the track's
genres (``ModelOutput.label_probs``); ``probs`` is the same vector normalised to sum to 1, for callers that want one
distribution. ``tags`` holds the genre probabilities and every tagger score as ``"<tagger>:<label>"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.core.genres import load_genre_map
from music_reclass_gui.inference.device import Device
from music_reclass_gui.inference.extractors import musicnn_extractor
from music_reclass_gui.inference.fusion import FusionLayout, fusion_from_json
from music_reclass_gui.inference.heads import Head, head_input
from music_reclass_gui.inference.registry import ModelCard, register_kind

KIND = "fused"

FeatureSet = Mapping[str, Mapping[str, np.ndarray]]


class FusedGenreModel:
    """A genre model (registry protocol) with independent per-genre probabilities (see module doc)."""

    def __init__(self, card: ModelCard, device: Device) -> None:
        if card.weights is None:
            raise ModelError(card.path, f"a {KIND!r} model card needs a 'weights' head file")
        self.name = card.name
        self.card = card
        self.head = Head(card.weights)
        gmap = load_genre_map()
        self.labels = list(card.labels)
        head_labels = [gmap.normalize(lab) for lab in self.head.labels]
        try:
            fusion: dict[str, Any] = card.raw["fusion"]
            evidence: dict[str, list[list[str]]] = card.raw.get("evidence", {})
            self.coef = fusion_from_json(fusion, self.labels)
            like = [gmap.normalize(str(g)) for g in fusion.get("gtzan_like_labels", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(card.path, f"the card's 'fusion' block is incomplete ({exc})") from exc
        taggers = list(
            dict.fromkeys([m for m, _ in self.head.inputs] + [t for p in evidence.values() for t, _ in p])
        )
        self.extractors = [musicnn_extractor(t, device) for t in taggers]
        self._ext_of = dict(zip(taggers, self.extractors, strict=True))  # tagger name -> extractor
        index = {
            t: {lab: i for i, lab in enumerate(e.labels)}
            for t, e in zip(taggers, self.extractors, strict=True)
        }
        self.evidence: list[list[tuple[str, int]]] = []
        for g in self.labels:
            pairs = []
            for tagger, lab in evidence.get(g, []):
                if lab not in index.get(tagger, {}):
                    raise ModelError(card.path, f"evidence label {tagger}:{lab!r} is not one of the tagger's")
                pairs.append((tagger, index[tagger][lab]))
            self.evidence.append(pairs)
        self.layout = FusionLayout.build(self.labels, head_labels, like, [bool(p) for p in self.evidence])
        self.calibrated = True
        self.multi_label = True  # label_probs are independent per-genre probabilities

    def label_probabilities(self, by_model: Mapping[str, Mapping[str, np.ndarray]]) -> np.ndarray:
        """Independent calibrated probability of every genre (card label order)."""
        q = self.head.predict_proba(head_input(by_model, self.head.inputs)).astype(np.float64)
        s = np.array(
            [
                max((float(by_model[t]["tags"][i]) for t, i in pairs), default=np.nan)
                for pairs in self.evidence
            ]
        )
        z = self.layout.design(q[None, :], s[None, :])[0] @ self.coef
        return 1.0 / (1.0 + np.exp(-z))

    def predict(self, features: FeatureSet):
        from music_reclass_gui.inference.models import ModelOutput

        by_model = {t: features[e.key] for t, e in self._ext_of.items()}
        p = self.label_probabilities(by_model)
        tags = {lab: float(v) for lab, v in zip(self.labels, p, strict=True)}
        for tagger, e in self._ext_of.items():  # the evidence, raw
            scores = by_model[tagger]["tags"]
            tags.update({f"{tagger}:{lab}": float(v) for lab, v in zip(e.labels, scores, strict=True)})
        first = by_model[next(iter(by_model))]
        emb = first.get("embedding")
        return ModelOutput(
            (p / p.sum()).astype(np.float32),
            tags,
            None if emb is None else np.asarray(emb, dtype=np.float32),
            label_probs=p.astype(np.float32),
        )


register_kind(KIND, FusedGenreModel)
