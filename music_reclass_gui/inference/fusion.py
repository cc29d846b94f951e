"""The fused model's formula, written once (numpy only): the per-(track, genre) design matrix, and the card's
"fusion" block read into / written from its coefficient vector.

Training (training/broad.py) fits the coefficients by logistic regression on ``FusionLayout.design`` rows;
the app (kinds_fused.py) computes ``sigmoid(design @ coef + intercept)`` with the same function, so the two
can never drift apart. Columns of a genre's row (G genres):

    0 a   log p_head(g)                        genres the head knows
    1 d   logit(o), o = strongest tagger score of a genre the head does not know   (same genres)
    2 b   logit(s_g), s_g = strongest tagger score among g's evidence labels      genres with evidence
    3 e   1                                                                      (same genres)
    4+j   one-hot genre: its bias
    4+G   w   log(head's total probability over the "GTZAN-like" labels)        genres not among those
    5+G   b2  logit(s_g)                                                        evidence, not in the head
    6+G   e2  1                                                                 (same genres)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

N_EXTRA = 3  # the columns after the one-hot genre: GTZAN-likeness, tagger-only evidence and its bias
_FLOOR = 1e-4


def logit(p: np.ndarray | float) -> np.ndarray:
    """log(p / (1 - p)) with p clipped to [1e-4, 1 - 1e-4]."""
    q = np.clip(np.asarray(p, dtype=np.float64), _FLOOR, 1 - _FLOOR)
    return np.log(q / (1 - q))


@dataclass(frozen=True)
class FusionLayout:
    """Which terms each genre of the output has."""

    labels: tuple[str, ...]  # output genres, in order
    head_col: np.ndarray  # (G,) the genre's column among the head's classes, -1 if the head lacks it
    like_cols: tuple[int, ...]  # head classes whose total probability is the "GTZAN-likeness"
    unlike: np.ndarray  # (G,) bool: genres that get the likeness term (not among the like labels)
    has_evidence: np.ndarray  # (G,) bool: genres with tagger evidence labels

    @classmethod
    def build(
        cls,
        labels: Sequence[str],
        head_labels: Sequence[str],
        like_labels: Sequence[str],
        has_evidence: Sequence[bool],
    ) -> FusionLayout:
        head = list(head_labels)
        like = [g for g in like_labels if g in head]
        return cls(
            tuple(labels),
            np.array([head.index(g) if g in head else -1 for g in labels]),
            tuple(head.index(g) for g in like),
            np.array([bool(like) and g not in like for g in labels]),
            np.asarray(has_evidence, dtype=bool),
        )

    @property
    def n_features(self) -> int:
        return 4 + len(self.labels) + N_EXTRA

    def design(self, head_probs: np.ndarray, evidence: np.ndarray) -> np.ndarray:
        """(n, G, n_features) rows of ``head_probs`` (n, head classes) and ``evidence`` (n, G): each genre's
        strongest tagger score, NaN where it has no evidence labels."""
        head_probs = np.asarray(head_probs, dtype=np.float64)
        evidence = np.asarray(evidence, dtype=np.float64)
        n, n_g = len(head_probs), len(self.labels)
        in_head = self.head_col >= 0
        outside = np.flatnonzero(self.has_evidence & ~in_head)
        o = logit(np.nanmax(evidence[:, outside], axis=1)) if len(outside) else np.zeros(n)
        x = np.zeros((n, n_g, self.n_features))
        likeness = np.log(np.clip(head_probs[:, list(self.like_cols)].sum(1), _FLOOR, 1.0))
        for j in range(n_g):
            if in_head[j]:
                x[:, j, 0] = np.log(np.clip(head_probs[:, self.head_col[j]], _FLOOR, 1.0))
                x[:, j, 1] = o
            if self.has_evidence[j]:
                x[:, j, 2] = logit(evidence[:, j])
                x[:, j, 3] = 1.0
                if not in_head[j]:
                    x[:, j, 5 + n_g] = x[:, j, 2]
                    x[:, j, 6 + n_g] = 1.0
            x[:, j, 4 + j] = 1.0
            if self.like_cols and self.unlike[j]:
                x[:, j, 4 + n_g] = likeness
        return x


def fusion_to_json(coef: np.ndarray, intercept: float, labels: Sequence[str], like_labels: Sequence[str]):
    """The card's "fusion" block of a fitted coefficient vector (the intercept folded into each bias)."""
    k = len(labels)
    return {
        "head_weight": round(float(coef[0]), 6),
        "outside_weight": round(float(coef[1]), 6),
        "evidence_weight": round(float(coef[2]), 6),
        "evidence_bias": round(float(coef[3]), 6),
        "bias": {g: round(float(coef[4 + j] + intercept), 6) for j, g in enumerate(labels)},
        "gtzan_like_weight": round(float(coef[4 + k]), 6),
        "gtzan_like_labels": list(like_labels),
        "outside_evidence_weight": round(float(coef[5 + k]), 6),
        "outside_evidence_bias": round(float(coef[6 + k]), 6),
        "n_genres": k,
    }


def fusion_from_json(fusion: Mapping[str, Any], labels: Sequence[str]) -> np.ndarray:
    """The coefficient vector (intercept 0) of a card's "fusion" block; the optional terms of older cards
    are 0. Raises KeyError / TypeError / ValueError on an incomplete block."""
    k = len(labels)
    coef = np.zeros(4 + k + N_EXTRA)
    coef[:4] = [
        float(fusion["head_weight"]),
        float(fusion["outside_weight"]),
        float(fusion["evidence_weight"]),
        float(fusion["evidence_bias"]),
    ]
    coef[4 : 4 + k] = [float(fusion["bias"][g]) for g in labels]
    coef[4 + k] = float(fusion.get("gtzan_like_weight", 0.0))
    coef[5 + k] = float(fusion.get("outside_evidence_weight", 0.0))
    coef[6 + k] = float(fusion.get("outside_evidence_bias", 0.0))
    return coef
