"""Transfer learning: a calibrated head (model kind "head", inference/heads.py) on the musicnn taggers'
features, behind ``music-reclass train head``.

Data: labelled audio (a folder per genre, or a tagged library); features come from
``engine.extract_features`` with the shared musicnn extractors and the feature cache, so the head is
trained on exactly what the app computes at classification time and reruns cost nothing.

Model selection, all on the training data only:
- candidates: which inputs (``INPUT_SETS``: one tagger's embedding, both embeddings, both taggers' tags,
  everything), logistic regression (hidden = [], L2 strength 1/C, with or without standardisation) or a
  tiny MLP (one hidden layer);
- two cross-validation schemes: seeded stratified k-fold, and "contiguous" folds that keep neighbouring
  file numbers of a genre together (GTZAN repeats artists in consecutive clips, so shuffled folds put the
  same artist on both sides and flatter every model); the candidate with the best mean of the two wins;
- the temperature is fitted on the chosen candidate's out-of-fold logits; the card reports out-of-fold
  accuracy, per-class accuracy, confusion and ECE before/after (after: cross-fitted, each fold's
  temperature fitted on the other folds), then the head is refitted on every item.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from music_reclass_gui.core.genres import load_genre_map
from music_reclass_gui.inference.heads import build_head_mlp, head_input, save_head
from music_reclass_gui.training.calibrate import (
    crossfit_ece,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from music_reclass_gui.training.cards import CardText, log, weights_filename, write_card
from music_reclass_gui.training.datasets import (
    AudioItem,
    DatasetError,
    Split,
    check_disjoint,
    stratified_kfold,
)
from music_reclass_gui.training.evaluate import evaluate_predictions
from music_reclass_gui.training.head_inputs import INPUT_SETS, TAGGERS
from music_reclass_gui.training.train import Progress

C_GRID = (0.01, 0.1, 1.0, 10.0)
MLP_HIDDEN = 32
MLP_ALPHAS = (1e-2, 1.0)


# ---------------------------------------------------------------- features


def musicnn_features(
    paths: Sequence[Path],
    taggers: Sequence[str] = TAGGERS,
    *,
    use_cache: bool = True,
    jobs: int | None = None,
    progress: bool = True,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[list[dict[str, dict[str, np.ndarray]] | None], list[str]]:
    """Per path: {tagger name: {"tags", "embedding", ...}} (None when it failed), plus the failure messages."""
    from music_reclass_gui.inference.backends import float_backend
    from music_reclass_gui.inference.cache import FeatureCache
    from music_reclass_gui.inference.device import pick_device
    from music_reclass_gui.inference.engine import extract_features
    from music_reclass_gui.inference.extractors import musicnn_extractor

    device = pick_device("auto")
    exts = [musicnn_extractor(t, device, float_backend(device)) for t in taggers]
    cache = FeatureCache() if use_cache else None
    out: list[dict[str, dict[str, np.ndarray]] | None] = []
    errors: list[str] = []
    bar = Progress("musicnn features", len(paths), progress)
    for tf in extract_features(paths, exts, cache=cache, jobs=jobs, cancelled=cancelled):
        if tf.error is not None or tf.features is None:
            errors.append(str(tf.error))
            out.append(None)
        else:
            out.append({t: tf.features[e.key] for t, e in zip(taggers, exts, strict=True)})
        bar.update()
    return out, errors


# ---------------------------------------------------------------- folds


_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def _order_key(key: str) -> tuple[int, str]:
    """Sort key of a file within its genre: its last number (GTZAN's clip number), then its name."""
    name = key.replace("\\", "/").rsplit("/", 1)[-1]
    m = _NUMBER.search(name)
    return (int(m.group(1)) if m else -1, name)


def contiguous_folds(keys: Sequence[str], labels: Sequence[str], folds: int) -> list[Split]:
    """Folds of neighbouring files: within each genre, files sorted by number and cut into ``folds``
    contiguous blocks (fold k = block k of every genre), so clips numbered next to each other (often
    the same artist in GTZAN) stay on the same side of a split."""
    if folds < 2:
        raise DatasetError(None, "cross-validation needs at least 2 folds")
    by_label: dict[str, list[int]] = {}
    for i, lab in enumerate(labels):
        by_label.setdefault(lab, []).append(i)
    fold_of = np.zeros(len(labels), dtype=np.int64)
    for lab, idx in by_label.items():
        if len(idx) < folds:
            raise DatasetError(
                None, f"genre {lab!r} has only {len(idx)} item(s); need at least {folds} for {folds}-fold CV"
            )
        idx = sorted(idx, key=lambda i: _order_key(keys[i]))
        for rank, i in enumerate(idx):
            fold_of[i] = rank * folds // len(idx)
    out = []
    for k in range(folds):
        ev = np.flatnonzero(fold_of == k).tolist()
        tr = np.flatnonzero(fold_of != k).tolist()
        out.append(Split(tr, ev, f"contiguous {folds}-fold, fold {k + 1}"))
    return out


# ---------------------------------------------------------------- candidates


@dataclass(frozen=True)
class HeadConfig:
    """One head configuration: inputs, linear (C) or one-hidden-layer MLP (alpha), standardised or not."""

    inputs: str
    hidden: tuple[int, ...]
    reg: float  # C for the linear head, L2 alpha for the MLP
    standardise: bool = True

    @property
    def label(self) -> str:
        kind = f"linear-C{self.reg:g}" if not self.hidden else f"mlp{self.hidden[0]}-a{self.reg:g}"
        return f"{self.inputs}/{kind}" + ("" if self.standardise else "/raw")


def candidate_grid(input_sets: Sequence[str], model: str = "auto") -> list[HeadConfig]:
    out: list[HeadConfig] = []
    for name in input_sets:
        if model in ("auto", "linear"):
            out += [HeadConfig(name, (), c, True) for c in C_GRID]
            out += [HeadConfig(name, (), c, False) for c in C_GRID]
        if model in ("auto", "mlp"):
            out += [HeadConfig(name, (MLP_HIDDEN,), a, True) for a in MLP_ALPHAS]
    return out


@dataclass
class FittedHead:
    config: HeadConfig
    mean: np.ndarray
    std: np.ndarray
    net: torch.nn.Sequential

    @torch.inference_mode()
    def logits(self, x: np.ndarray) -> np.ndarray:
        t = torch.as_tensor(((x - self.mean) / self.std).astype(np.float32))
        return self.net(t).double().numpy()

    def save(self, path: Path, labels: Sequence[str], temperature: float) -> Path:
        """Write this head in the engine's "head" weights format (inference/heads.py)."""
        save_head(
            path,
            inputs=INPUT_SETS[self.config.inputs],
            labels=list(labels),
            mean=self.mean,
            std=self.std,
            hidden=list(self.config.hidden),
            state_dict=self.net.state_dict(),
            temperature=temperature,
        )
        return path


def fit_head(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    cfg: HeadConfig,
    seed: int = 0,
    class_weight: dict[int, float] | None = None,
    sample_weight: np.ndarray | None = None,
) -> FittedHead:
    """Fit with scikit-learn, copy the weights into build_head_mlp (so it ships without pickles).
    ``class_weight`` / ``sample_weight`` (linear heads only) reweight the examples, e.g. to undo unequal
    counts, or to count a track's patches as one track."""
    if len(np.unique(y)) != n_classes:
        raise DatasetError(None, "every genre needs at least one training example in every fold")
    if cfg.hidden and (class_weight is not None or sample_weight is not None):
        raise ValueError("class and sample weights are supported for linear heads only")
    if cfg.standardise:
        mean, std = x.mean(axis=0), x.std(axis=0)
        std = np.where(std < 1e-6, 1.0, std)
    else:
        mean, std = np.zeros(x.shape[1]), np.ones(x.shape[1])
    xs = (x - mean) / std
    net = build_head_mlp(x.shape[1], list(cfg.hidden), n_classes)
    if not cfg.hidden:
        from sklearn.linear_model import LogisticRegression

        clf = LogisticRegression(C=cfg.reg, max_iter=5000, random_state=seed, class_weight=class_weight).fit(
            xs, y, sample_weight=sample_weight
        )
        layers = [(clf.coef_, clf.intercept_)]
    else:
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        clf = MLPClassifier(
            hidden_layer_sizes=cfg.hidden, alpha=cfg.reg, max_iter=300, random_state=seed, solver="lbfgs"
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            clf.fit(xs, y)
        layers = [(w.T, b) for w, b in zip(clf.coefs_, clf.intercepts_, strict=True)]
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    with torch.no_grad():
        for lin, (w, b) in zip(linears, layers, strict=True):
            lin.weight.copy_(torch.as_tensor(np.asarray(w), dtype=torch.float32))
            lin.bias.copy_(torch.as_tensor(np.asarray(b), dtype=torch.float32))
    net.eval()
    return FittedHead(cfg, mean.astype(np.float32), std.astype(np.float32), net)


def oof_logits(
    x: np.ndarray, y: np.ndarray, keys: Sequence[str], splits: Sequence[Split], cfg: HeadConfig, seed: int
) -> np.ndarray:
    """Out-of-fold logits: each item scored by a head that never saw it (check_disjoint per fold)."""
    n_classes = int(y.max()) + 1
    z = np.zeros((len(y), n_classes))
    for k, sp in enumerate(splits):
        check_disjoint(keys, sp)
        z[sp.eval] = fit_head(x[sp.train], y[sp.train], n_classes, cfg, seed + k).logits(x[sp.eval])
    return z


def fold_index(splits: Sequence[Split], n: int) -> np.ndarray:
    fold_of = np.full(n, -1, dtype=np.int64)
    for k, sp in enumerate(splits):
        fold_of[sp.eval] = k
    return fold_of


# ---------------------------------------------------------------- the run


@dataclass
class HeadRun(CardText):
    name: str
    out_dir: Path
    inputs: str = "auto"  # a key of INPUT_SETS, or "auto" (chosen by CV)
    model: str = "auto"  # "auto" | "linear" | "mlp"
    folds: int = 5
    contiguous_folds: int = 2
    seed: int = 0
    progress: bool = True
    use_cache: bool = True
    notes: dict[str, Any] = field(default_factory=dict)


@dataclass
class HeadData:
    """Features of the usable items: by tagger per item, integer labels, class names, keys."""

    features: list[dict[str, dict[str, np.ndarray]]]
    y: np.ndarray
    classes: list[str]  # genre-map canonical label texts, sorted
    keys: list[str]
    skipped: list[str]

    def matrix(self, inputs: str) -> np.ndarray:
        return np.stack([head_input(f, INPUT_SETS[inputs]) for f in self.features]).astype(np.float64)


def load_head_data(items: Sequence[AudioItem], *, use_cache: bool = True, progress: bool = True) -> HeadData:
    """Compute (or fetch cached) musicnn features of every item; labels mapped through the genre map."""
    gmap = load_genre_map()
    feats, errors = musicnn_features([it.path for it in items], use_cache=use_cache, progress=progress)
    for e in errors:
        log(f"skipped: {e}")
    keep = [i for i, f in enumerate(feats) if f is not None]
    labels = [gmap.normalize(items[i].label) for i in keep]
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise DatasetError(None, "need at least two genres to train a classifier")
    index = {c: i for i, c in enumerate(classes)}
    return HeadData(
        [feats[i] for i in keep],  # type: ignore[misc]
        np.array([index[lab] for lab in labels], dtype=np.int64),
        classes,
        [items[i].key for i in keep],
        errors,
    )


@dataclass
class CVResult:
    config: HeadConfig
    strat_logits: np.ndarray
    contig_logits: np.ndarray
    strat_acc: float
    contig_acc: float

    @property
    def score(self) -> float:
        return (self.strat_acc + self.contig_acc) / 2.0


def cross_validate(data: HeadData, run: HeadRun) -> tuple[list[CVResult], list[Split], list[Split]]:
    """Out-of-fold logits of every candidate under both CV schemes."""
    labels = [data.classes[i] for i in data.y]
    strat = stratified_kfold(labels, run.folds, run.seed)
    contig = contiguous_folds(data.keys, labels, run.contiguous_folds)
    sets = list(INPUT_SETS) if run.inputs == "auto" else [run.inputs]
    if any(s not in INPUT_SETS for s in sets):
        raise DatasetError(None, f"unknown --inputs {run.inputs!r} (use auto, {', '.join(INPUT_SETS)})")
    grid = candidate_grid(sets, run.model)
    matrices = {s: data.matrix(s) for s in sets}
    results = []
    bar = Progress("cross-validation", len(grid), run.progress)
    for cfg in grid:
        x = matrices[cfg.inputs]
        zs = oof_logits(x, data.y, data.keys, strat, cfg, run.seed)
        zc = oof_logits(x, data.y, data.keys, contig, cfg, run.seed)
        results.append(
            CVResult(
                cfg, zs, zc, float((zs.argmax(1) == data.y).mean()), float((zc.argmax(1) == data.y).mean())
            )
        )
        bar.update()
    return results, strat, contig


def best_result(results: Sequence[CVResult]) -> CVResult:
    """Best mean accuracy of the two schemes; ties go to the earlier (simpler) candidate."""
    return max(results, key=lambda r: (round(r.score, 6), -results.index(r)))


def cv_report(
    z: np.ndarray, y: np.ndarray, classes: Sequence[str], splits: Sequence[Split], protocol: str
) -> dict[str, Any]:
    """Accuracy, per-class, confusion, ECE before/after temperature scaling of out-of-fold logits."""
    temperature = fit_temperature(z, y)
    out = evaluate_predictions(y, z.argmax(1), classes)
    out.pop("labels")
    out["ece_uncalibrated"] = round(expected_calibration_error(softmax(z), y), 4)
    out["ece_calibrated_in_sample"] = round(expected_calibration_error(softmax(z, temperature), y), 4)
    out["ece"] = round(crossfit_ece(z, y, fold_index(splits, len(y))), 4)
    out["temperature"] = round(temperature, 4)
    out["protocol"] = protocol
    return out


def train_head_model(items: Sequence[AudioItem], run: HeadRun) -> Path:
    """Select by CV, calibrate, refit on everything, write ``<name>.pt`` + ``<name>.json``; returns the card."""
    data = load_head_data(items, use_cache=run.use_cache, progress=run.progress)
    results, strat, contig = cross_validate(data, run)
    best = best_result(results)
    log(
        f"chosen {best.config.label}: stratified {best.strat_acc:.4f}, contiguous {best.contig_acc:.4f} "
        f"(of {len(results)} candidates)"
    )
    strat_report = cv_report(
        best.strat_logits,
        data.y,
        data.classes,
        strat,
        f"stratified {run.folds}-fold cross-validation (seed {run.seed}) over all {len(data.y)} items",
    )
    contig_report = cv_report(
        best.contig_logits,
        data.y,
        data.classes,
        contig,
        f"contiguous {run.contiguous_folds}-fold: within each genre, files sorted by number and cut into "
        f"{run.contiguous_folds} blocks (neighbouring clips, often one artist, stay together)",
    )
    temperature = strat_report["temperature"]
    x = data.matrix(best.config.inputs)
    final = fit_head(x, data.y, len(data.classes), best.config, run.seed)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    weights = run.out_dir / weights_filename(run.name)
    final.save(weights, data.classes, temperature)
    by_label = {r.config.label: [round(r.strat_acc, 4), round(r.contig_acc, 4)] for r in results}
    metrics = {
        **{k: v for k, v in strat_report.items() if k != "temperature"},
        "contiguous_cv": {k: v for k, v in contig_report.items() if k != "temperature"},
        "chosen": best.config.label,
        "selection": "highest mean of stratified and contiguous out-of-fold accuracy; ties go to the simpler",
        "model_comparison": by_label,
        "model_comparison_columns": ["stratified accuracy", "contiguous accuracy"],
        "note": (
            "Cross-validated figures of the configuration chosen by the same CV (slightly optimistic: the "
            "choice and the score share folds). The shipped head is refitted on all items."
        ),
        "ece_bins": 10,
    }
    card = {
        "name": run.name,
        "kind": "head",
        "labels": data.classes,
        "weights": weights.name,
        "description": run.description
        or f"calibrated {'logistic regression' if not best.config.hidden else 'MLP'} on musicnn "
        f"features ({best.config.inputs})",
        "source": run.source,
        "licence": run.licence,
        "metrics": metrics,
        "calibration": {
            "method": "temperature scaling",
            "temperature": round(temperature, 4),
            "data": "out-of-fold logits of the stratified cross-validation",
            "ece_before": strat_report["ece_uncalibrated"],
            "ece_after": strat_report["ece"],
        },
        "preprocessing": {
            "inputs": [list(p) for p in INPUT_SETS[best.config.inputs]],
            "features": "musicnn tag scores (50) / penultimate embedding (200), mean over the 3 s patches "
            "of the app's excerpt plan",
            "standardised": best.config.standardise,
            "hidden": list(best.config.hidden),
            "regularisation": best.config.reg,
        },
        "training_data": run.training_data or f"{len(data.y)} labelled audio files",
        "train_keys": list(data.keys),  # evaluate warns when it meets these files
        "reproduce": run.reproduce,
        **({"notes": run.notes} if run.notes else {}),
    }
    return write_card(run.out_dir, card)


def library_items(root: Path, *, min_per_genre: int = 2) -> list[AudioItem]:
    """Labelled items from a tagged library: files whose tags name exactly one genre (genre-map canonical);
    genres with fewer than ``min_per_genre`` files are dropped (they cannot be cross-validated)."""
    from music_reclass_gui.core.library import scan

    gmap = load_genre_map()
    items: list[AudioItem] = []
    for track in scan(root):
        if track.tags is None:
            continue
        genres = [g for v in track.tags.genres for g in gmap.split(v)]
        if len(set(genres)) == 1:
            items.append(AudioItem(track.path, genres[0], track.path.relative_to(root).as_posix()))
    counts: dict[str, int] = {}
    for it in items:
        counts[it.label] = counts.get(it.label, 0) + 1
    kept = [it for it in items if counts[it.label] >= min_per_genre]
    if not kept:
        raise DatasetError(root, "no file has exactly one genre tag (with enough files per genre)")
    return kept
