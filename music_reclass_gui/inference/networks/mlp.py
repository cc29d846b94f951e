"""The spec's feature MLP: features -> 256 -> 128 -> classes, ReLU, dropout 0.3.

Feature standardisation (mean/std of the training features) lives in the module as buffers, so the
weights file carries it and training and inference can never preprocess differently. ``hidden=()``
gives a plain linear layer on standardised features, i.e. multinomial logistic regression.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

SPEC_HIDDEN = (256, 128)
SPEC_DROPOUT = 0.3


class FeatureMLP(nn.Module):
    """(B, n_features) raw features -> (B, n_classes) logits."""

    def __init__(
        self,
        n_features: int,
        n_classes: int,
        hidden: Sequence[int] = SPEC_HIDDEN,
        dropout: float = SPEC_DROPOUT,
    ) -> None:
        super().__init__()
        self.n_features = int(n_features)
        self.n_classes = int(n_classes)
        self.hidden = tuple(int(h) for h in hidden)
        self.dropout = float(dropout)
        self.register_buffer("feature_mean", torch.zeros(self.n_features))
        self.register_buffer("feature_std", torch.ones(self.n_features))
        layers: list[nn.Module] = []
        width = self.n_features
        for h in self.hidden:
            layers += [nn.Linear(width, h), nn.ReLU(), nn.Dropout(self.dropout)]
            width = h
        layers.append(nn.Linear(width, self.n_classes))
        self.net = nn.Sequential(*layers)

    def set_standardisation(self, features: np.ndarray) -> None:
        """Store the mean/std of the training features (constant columns get std 1)."""
        x = np.asarray(features, dtype=np.float64)
        std = x.std(axis=0)
        std[~np.isfinite(std) | (std < 1e-12)] = 1.0
        self.feature_mean.copy_(torch.as_tensor(x.mean(axis=0), dtype=torch.float32))
        self.feature_std.copy_(torch.as_tensor(std, dtype=torch.float32))

    def config(self) -> dict:
        return {
            "n_features": self.n_features,
            "n_classes": self.n_classes,
            "hidden": list(self.hidden),
            "dropout": self.dropout,
        }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = (x.to(self.feature_mean.dtype) - self.feature_mean) / self.feature_std  # (B, F)
        return self.net(x)  # (B, C)
