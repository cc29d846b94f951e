"""Confidence calibration: temperature scaling fitted on held-out logits, and expected calibration error.

Plain numpy in, plain numbers out, so every model kind (features MLP, mel CNN, musicnn heads, ensembles)
calibrates and reports the same way. A temperature T > 1 softens over-confident logits: p = softmax(z / T).
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 10


def softmax(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    """Row-wise softmax of ``logits / temperature`` (float64, numerically stable)."""
    z = np.asarray(logits, dtype=np.float64) / float(temperature)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def nll(logits: np.ndarray, y: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of the true classes ``y`` (ints) under softmax(logits / T)."""
    p = softmax(logits, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), np.asarray(y)], 1e-12, None))))


def fit_temperature(logits: np.ndarray, y: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The T minimising held-out NLL (golden-section search on log T; NLL is unimodal in T)."""
    logits = np.asarray(logits, dtype=np.float64)
    y = np.asarray(y, dtype=np.int64)
    if logits.ndim != 2 or len(logits) != len(y) or len(y) == 0:
        raise ValueError("fit_temperature needs (n, classes) logits and n labels, n > 0")
    a, b = np.log(lo), np.log(hi)
    g = (np.sqrt(5.0) - 1.0) / 2.0
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = nll(logits, y, np.exp(c)), nll(logits, y, np.exp(d))
    for _ in range(80):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = nll(logits, y, np.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = nll(logits, y, np.exp(d))
    return float(np.exp((a + b) / 2.0))


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """ECE: |accuracy - confidence| of the top prediction, averaged over ``n_bins`` equal-width confidence
    bins weighted by how many predictions fall in each (0 = perfectly calibrated)."""
    probs = np.asarray(probs, dtype=np.float64)
    y = np.asarray(y)
    if len(y) == 0:
        return 0.0
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    # bin i holds confidences in (edges[i], edges[i+1]]; confidence is never below 1/classes > 0
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    ece = 0.0
    for i in range(n_bins):
        mask = idx == i
        if mask.any():
            ece += mask.mean() * abs(correct[mask].mean() - conf[mask].mean())
    return float(ece)


def crossfit_ece(logits: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> float:
    """ECE of out-of-fold predictions where each fold's temperature was fit on the other folds only."""
    probs = np.zeros_like(logits, dtype=np.float64)
    for k in np.unique(fold_of):
        m = fold_of == k
        probs[m] = softmax(logits[m], fit_temperature(logits[~m], y[~m]))
    return expected_calibration_error(probs, y)
