"""Evaluation figures every model reports the same way: accuracy, per-class accuracy (recall), confusion
matrix, and optionally calibration error; JSON-ready. Numpy in, plain Python numbers out."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from music_reclass_gui.training.calibrate import expected_calibration_error


def confusion_matrix(y_true: Sequence[int], y_pred: Sequence[int], n_classes: int) -> np.ndarray:
    """counts[i, j] = how many items of true class i were predicted as class j."""
    cm = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(cm, (np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)), 1)
    return cm


def evaluate_predictions(
    y_true: Sequence[int], y_pred: Sequence[int], labels: Sequence[str], probs: np.ndarray | None = None
) -> dict[str, Any]:
    """{"accuracy", "per_class" {label: recall or None if absent}, "confusion", "n", "labels"[, "ece"]}."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_pred = np.asarray(y_pred, dtype=np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError("y_true and y_pred must have the same length")
    cm = confusion_matrix(y_true, y_pred, len(labels))
    support = cm.sum(axis=1)
    per_class = {
        lab: (round(float(cm[i, i] / support[i]), 4) if support[i] else None) for i, lab in enumerate(labels)
    }
    out: dict[str, Any] = {
        "accuracy": round(float((y_true == y_pred).mean()), 4) if len(y_true) else 0.0,
        "per_class": per_class,
        "confusion": cm.tolist(),
        "n": int(len(y_true)),
        "labels": list(labels),
    }
    if probs is not None:
        out["ece"] = round(expected_calibration_error(probs, y_true), 4)
    return out


def save_confusion_png(
    confusion: Sequence[Sequence[int]], labels: Sequence[str], path: str | Path, title: str = ""
) -> Path:
    """Write the confusion matrix as a PNG (rows = true genre, columns = predicted), headless (Agg)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    cm = np.asarray(confusion)
    size = max(4.0, 0.55 * len(labels) + 2.0)
    fig = Figure(figsize=(size, size * 0.9), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    im = ax.imshow(cm, cmap="Blues")
    ax.set_xticks(range(len(labels)), labels=list(labels), rotation=45, ha="right")
    ax.set_yticks(range(len(labels)), labels=list(labels))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    threshold = cm.max() / 2.0 if cm.size else 0
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(
                j,
                i,
                str(cm[i, j]),
                ha="center",
                va="center",
                color="white" if cm[i, j] > threshold else "black",
            )
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path)
    return path


def save_reliability_png(
    curves: dict[str, Sequence[dict[str, Any]]], path: str | Path, title: str = ""
) -> Path:
    """Reliability diagram: per confidence bin, observed frequency against mean probability (one line per
    curve, e.g. before/after calibration; marker area ~ number of predictions in the bin), headless (Agg)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    fig = Figure(figsize=(5.0, 5.0), dpi=100)
    ax = fig.add_subplot(1, 1, 1)
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=1, label="perfectly calibrated")
    for name, rows in curves.items():
        x = [r["mean_probability"] for r in rows]
        y = [r["observed_frequency"] for r in rows]
        n = np.array([r["pairs"] for r in rows], dtype=np.float64)
        ax.plot(x, y, marker="o", label=name)
        ax.scatter(x, y, s=8 + 200 * np.sqrt(n / max(1.0, n.max())), alpha=0.3)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("predicted probability (bin mean)")
    ax.set_ylabel("observed frequency")
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path
