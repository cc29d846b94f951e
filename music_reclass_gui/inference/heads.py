"""A calibrated linear/MLP head over the cached features of one or more extractors (model kind "head").

File format (``torch.save`` of a plain dict, loaded with ``weights_only=True``)::

    {
      "format": "music-reclass-head", "version": 1,
      "inputs": [["msd-musicnn", "embedding"], ["mtt-musicnn", "tags"], ...],  # (extractor model, feature)
                                       # concatenated in this order -> x (D,)
      "mean": FloatTensor (D,), "std": FloatTensor (D,),    # x is standardised: (x - mean) / std
      "hidden": [int, ...],            # hidden layer sizes; [] = logistic regression
      "state_dict": {...},             # of build_head_mlp(D, hidden, len(labels))
      "labels": ["blues", ...],        # class names (the card repeats them); written via the genre map
      "temperature": float,            # probabilities = softmax(logits / temperature), fit on held-out data
    }

The card: ``{"name": "gtzan", "kind": "head", "labels": [...same...], "weights": "gtzan_head.pt", "metrics":
{...}, "calibration": {"method": "temperature scaling", "ece": ..., "data": "..."}, ...}``.
Training: build X with ``head_input(features_by_model, inputs)`` from ``engine.extract_features`` output (the
same code the engine uses at inference), fit, then ``save_head(...)`` and ``registry.write_user_card(...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from music_reclass_gui.core.errors import ModelError

HEAD_FORMAT = "music-reclass-head"
HEAD_VERSION = 1


def build_head_mlp(in_dim: int, hidden: Sequence[int], n_out: int) -> nn.Sequential:
    """Linear -> ReLU -> ... -> Linear producing logits (no softmax)."""
    layers: list[nn.Module] = []
    prev = in_dim
    for h in hidden:
        layers += [nn.Linear(prev, int(h)), nn.ReLU()]
        prev = int(h)
    layers.append(nn.Linear(prev, n_out))
    return nn.Sequential(*layers)


def head_input(
    features: Mapping[str, Mapping[str, np.ndarray]], inputs: Sequence[Sequence[str]]
) -> np.ndarray:
    """Concatenate the named features: ``features[model][feature]`` for each (model, feature) in ``inputs``."""
    try:
        return np.concatenate([np.asarray(features[m][f], dtype=np.float32).ravel() for m, f in inputs])
    except KeyError as exc:
        raise ModelError(None, f"head input {exc} was not computed") from exc


def save_head(
    path: str | Path,
    *,
    inputs: Sequence[Sequence[str]],
    labels: Sequence[str],
    mean: np.ndarray,
    std: np.ndarray,
    hidden: Sequence[int],
    state_dict: Mapping[str, torch.Tensor],
    temperature: float = 1.0,
) -> Path:
    """Write a head file in the format above (atomically)."""
    path = Path(path)
    payload = {
        "format": HEAD_FORMAT,
        "version": HEAD_VERSION,
        "inputs": [[str(m), str(f)] for m, f in inputs],
        "mean": torch.as_tensor(np.asarray(mean, dtype=np.float32)),
        "std": torch.as_tensor(np.asarray(std, dtype=np.float32)),
        "hidden": [int(h) for h in hidden],
        "state_dict": {k: v.detach().cpu() for k, v in state_dict.items()},
        "labels": list(labels),
        "temperature": float(temperature),
    }
    tmp = path.with_name(path.name + ".tmp")
    torch.save(payload, tmp)
    tmp.replace(path)
    return path


class Head:
    """A loaded head file: features -> class probabilities (runs on CPU; it is tiny)."""

    def __init__(self, path: Path) -> None:
        try:
            payload: dict[str, Any] = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ModelError(path, f"head weights are unreadable ({exc})") from exc
        if not isinstance(payload, dict) or payload.get("format") != HEAD_FORMAT:
            raise ModelError(path, f"not a {HEAD_FORMAT} file")
        try:
            self.inputs: list[tuple[str, str]] = [(str(m), str(f)) for m, f in payload["inputs"]]
            self.labels: list[str] = list(payload["labels"])
            self.mean = payload["mean"].float()
            self.std = payload["std"].float().clamp_min(1e-6)
            self.temperature = float(payload.get("temperature", 1.0))
            self.net = build_head_mlp(self.mean.numel(), payload["hidden"], len(self.labels))
            self.net.load_state_dict(payload["state_dict"])
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise ModelError(path, f"head file does not match its format ({exc})") from exc
        self.net.eval()

    @torch.inference_mode()
    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(D,) or (N, D) features -> (n_labels,) or (N, n_labels) probabilities."""
        t = torch.as_tensor(np.asarray(x, dtype=np.float32))
        single = t.dim() == 1
        t = (t.reshape(-1, self.mean.numel()) - self.mean) / self.std
        p = torch.softmax(self.net(t) / self.temperature, dim=-1).numpy()
        return p[0] if single else p
