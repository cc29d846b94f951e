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
from typing import TYPE_CHECKING, Any

import numpy as np

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference import torch_zip

if TYPE_CHECKING:  # training builds and saves heads with torch; inference reads them with numpy only
    import torch
    from torch import nn

HEAD_FORMAT = "music-reclass-head"
HEAD_VERSION = 1


def build_head_mlp(in_dim: int, hidden: Sequence[int], n_out: int) -> nn.Sequential:
    """Linear -> ReLU -> ... -> Linear producing logits (no softmax)."""
    from torch import nn

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
    import torch

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
    """A loaded head file: features -> class probabilities. Runs in numpy (it is tiny), read without torch
    (torch_zip), so classifying on a CPU never imports torch."""

    def __init__(self, path: Path) -> None:
        try:
            payload: dict[str, Any] = torch_zip.load(path)
        except (OSError, ValueError) as exc:
            raise ModelError(path, f"head weights are unreadable ({exc})") from exc
        if not isinstance(payload, dict) or payload.get("format") != HEAD_FORMAT:
            raise ModelError(path, f"not a {HEAD_FORMAT} file")
        try:
            self.inputs: list[tuple[str, str]] = [(str(m), str(f)) for m, f in payload["inputs"]]
            self.labels: list[str] = list(payload["labels"])
            self.mean = np.asarray(payload["mean"], dtype=np.float32).ravel()
            self.std = np.maximum(np.asarray(payload["std"], dtype=np.float32).ravel(), 1e-6)
            self.temperature = float(payload.get("temperature", 1.0))
            self.layers = _mlp_layers(payload["state_dict"], len(payload["hidden"]), self.mean.size)
        except (KeyError, TypeError, ValueError) as exc:
            raise ModelError(path, f"head file does not match its format ({exc})") from exc
        if self.layers[-1][0].shape[0] != len(self.labels):
            raise ModelError(path, "head file does not match its format (outputs != labels)")

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """(D,) or (N, D) features -> (n_labels,) or (N, n_labels) probabilities."""
        x = np.asarray(x, dtype=np.float32)
        single = x.ndim == 1
        h = (x.reshape(-1, self.mean.size) - self.mean) / self.std
        for i, (w, b) in enumerate(self.layers):
            h = h @ w.T + b
            if i < len(self.layers) - 1:
                h = np.maximum(h, 0.0)
        z = h / self.temperature
        e = np.exp(z - z.max(axis=1, keepdims=True))
        p = (e / e.sum(axis=1, keepdims=True)).astype(np.float32)
        return p[0] if single else p


def _mlp_layers(
    state: Mapping[str, np.ndarray], n_hidden: int, in_dim: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(weight, bias) of each Linear of ``build_head_mlp`` (nn.Sequential indices 0, 2, 4 ...), checked."""
    layers = []
    prev = in_dim
    for k in range(n_hidden + 1):
        w = np.asarray(state[f"{2 * k}.weight"], dtype=np.float32)
        b = np.asarray(state[f"{2 * k}.bias"], dtype=np.float32)
        if w.ndim != 2 or w.shape[1] != prev or b.shape != (w.shape[0],):
            raise ValueError(f"layer {2 * k} has shape {w.shape}, expected (*, {prev})")
        layers.append((w, b))
        prev = w.shape[0]
    if len(state) != 2 * len(layers):
        raise ValueError(f"{len(state)} tensors in the state dict, expected {2 * len(layers)}")
    return layers
