"""Training run behind ``music-reclass train features``: a features table -> model selection -> calibration ->
weights + model card, with honest held-out figures.

- no split given: seeded stratified k-fold CV over all rows chooses the model (the spec's MLP at several
  epoch counts, and multinomial logistic regression at a few L2 strengths; optionally a sklearn
  HistGradientBoosting baseline that is reported but never shipped: it would need a pickle), fits the
  temperature on the out-of-fold logits, reports out-of-fold accuracy / per-class / confusion / ECE
  (ECE cross-fitted: each fold's temperature is fit on the other folds), then refits on all rows;
- a split given (split file, or FMA's own training/validation/test): selection and temperature use the
  validation part when there is one, else CV inside the training part; figures come from the evaluation
  part only, which ``datasets.check_disjoint`` guarantees shares no file with training.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from music_reclass_gui.core.genres import load_genre_map
from music_reclass_gui.inference.kinds_features import KIND as FEATURES_KIND
from music_reclass_gui.inference.kinds_features import RECIPES, save_features_mlp
from music_reclass_gui.inference.weights_io import save_atomic
from music_reclass_gui.training.calibrate import (
    crossfit_ece,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from music_reclass_gui.training.cards import CardText, log, publish, weights_filename
from music_reclass_gui.training.datasets import (
    DatasetError,
    FeatureTable,
    Split,
    check_disjoint,
    stratified_kfold,
)
from music_reclass_gui.training.evaluate import evaluate_predictions
from music_reclass_gui.training.train import (
    MLPConfig,
    Progress,
    logistic_regression_mlp,
    mlp_logits,
    train_mlp,
)

DEFAULT_EPOCH_GRID = (50, 100, 150, 200, 300, 400)
DEFAULT_C_GRID = (0.1, 0.3, 1.0)


def encode_labels(labels: Sequence[str]) -> tuple[list[str], np.ndarray]:
    classes = sorted(set(labels))
    index = {c: i for i, c in enumerate(classes)}
    return classes, np.array([index[lab] for lab in labels], dtype=np.int64)


# ---------------------------------------------------------------- candidates


@dataclass
class Candidate:
    """One model configuration under comparison; ``logits`` are held-out (out-of-fold or validation)."""

    name: str  # "mlp" | "linear"
    param: int | float  # epochs (mlp) or C (linear)
    logits: np.ndarray
    accuracy: float = 0.0

    @property
    def label(self) -> str:
        return f"mlp-{self.param}ep" if self.name == "mlp" else f"linear-C{self.param}"


@dataclass
class Selection:
    candidates: list[Candidate]
    y: np.ndarray  # labels of the rows the held-out logits belong to
    fold_of: np.ndarray | None  # fold index per row (CV), None for a validation set
    gbm_accuracy: float | None = None
    gbm_ece: float | None = None
    notes: list[str] = field(default_factory=list)

    def best(self) -> Candidate:
        # highest held-out accuracy; ties go to the earlier (simpler/cheaper) candidate
        return max(self.candidates, key=lambda c: (round(c.accuracy, 6), -self.candidates.index(c)))


def _fit_candidates(
    x_tr: np.ndarray,
    y_tr: np.ndarray,
    x_ev: np.ndarray,
    n_classes: int,
    model: str,
    mlp_cfg: MLPConfig,
    epoch_grid: Sequence[int],
    c_grid: Sequence[float],
    seed: int,
    desc: str,
    progress: bool,
    checkpoint: Path | None,
    resume: bool,
) -> dict[tuple[str, float], np.ndarray]:
    """Held-out logits of ``x_ev`` for every candidate trained on (x_tr, y_tr)."""
    out: dict[tuple[str, float], np.ndarray] = {}
    if model in ("auto", "mlp"):
        grid = sorted(set(epoch_grid))

        def on_epoch(ep: int, m) -> None:
            if ep in grid:
                out[("mlp", ep)] = mlp_logits(m, x_ev)

        cfg = MLPConfig(**{**mlp_cfg.__dict__, "epochs": max(grid), "seed": seed})
        # Mid-run resumption would skip earlier evaluation points, so only a single-point grid checkpoints.
        ck = checkpoint if len(grid) == 1 else None
        train_mlp(
            x_tr,
            y_tr,
            n_classes,
            cfg,
            on_epoch=on_epoch,
            progress=progress,
            desc=desc,
            checkpoint=ck,
            resume=resume,
        )
        missing = [e for e in grid if ("mlp", e) not in out]
        if missing:  # resumed past some grid points: not recoverable without retraining
            raise DatasetError(
                checkpoint, "a resumed checkpoint skipped evaluation points; rerun without --resume"
            )
    if model in ("auto", "linear"):
        for c in c_grid:
            out[("linear", c)] = mlp_logits(
                logistic_regression_mlp(x_tr, y_tr, n_classes, C=c, seed=seed), x_ev
            )
    return out


def _gbm(x_tr, y_tr, x_ev, seed) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(random_state=seed).fit(x_tr, y_tr).predict_proba(x_ev)


def select_by_cv(
    x: np.ndarray,
    y: np.ndarray,
    keys: Sequence[str],
    labels: Sequence[str],
    *,
    folds: int,
    seed: int,
    model: str,
    mlp_cfg: MLPConfig,
    epoch_grid: Sequence[int],
    c_grid: Sequence[float],
    gbm: bool,
    progress: bool,
    state_path: Path | None,
    resume: bool,
) -> Selection:
    """Out-of-fold logits of every candidate (resumable per fold via ``state_path``)."""
    n_classes = int(y.max()) + 1
    splits = stratified_kfold(labels, folds, seed)
    state: dict[str, Any] = {}
    if resume and state_path is not None and state_path.is_file():
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state.get("signature") != (folds, seed, model, tuple(epoch_grid), tuple(c_grid), gbm, len(y)):
            state = {}
    state.setdefault("signature", (folds, seed, model, tuple(epoch_grid), tuple(c_grid), gbm, len(y)))
    state.setdefault("done", {})
    fold_of = np.zeros(len(y), dtype=np.int64)
    for k, sp in enumerate(splits):
        check_disjoint(keys, sp)
        fold_of[sp.eval] = k
        if k in state["done"]:
            continue
        tr, ev = np.array(sp.train), np.array(sp.eval)
        logits = _fit_candidates(
            x[tr],
            y[tr],
            x[ev],
            n_classes,
            model,
            mlp_cfg,
            epoch_grid,
            c_grid,
            seed + k,
            f"fold {k + 1}/{folds}",
            progress,
            None,
            False,
        )
        done = {"logits": logits}
        if gbm:
            done["gbm"] = _gbm(x[tr], y[tr], x[ev], seed)
        state["done"][k] = done
        if state_path is not None:  # completed folds survive an interruption (--resume skips them)
            save_atomic(state, state_path)
    keys_c = list(state["done"][0]["logits"].keys())
    cands = []
    for key in keys_c:
        z = np.zeros((len(y), n_classes))
        for k, sp in enumerate(splits):
            z[sp.eval] = state["done"][k]["logits"][key]
        cands.append(Candidate(key[0], key[1], z, float((z.argmax(1) == y).mean())))
    sel = Selection(cands, y, fold_of)
    if gbm:
        p = np.zeros((len(y), n_classes))
        for k, sp in enumerate(splits):
            p[sp.eval] = state["done"][k]["gbm"]
        sel.gbm_accuracy = float((p.argmax(1) == y).mean())
        sel.gbm_ece = expected_calibration_error(p, y)
    return sel


def select_on_validation(
    x_tr, y_tr, x_val, y_val, *, seed, model, mlp_cfg, epoch_grid, c_grid, gbm, progress, checkpoint, resume
) -> Selection:
    n_classes = int(max(y_tr.max(), y_val.max())) + 1
    logits = _fit_candidates(
        x_tr,
        y_tr,
        x_val,
        n_classes,
        model,
        mlp_cfg,
        epoch_grid,
        c_grid,
        seed,
        "train",
        progress,
        checkpoint,
        resume,
    )
    cands = [Candidate(k[0], k[1], z, float((z.argmax(1) == y_val).mean())) for k, z in logits.items()]
    sel = Selection(cands, y_val, None)
    if gbm:
        p = _gbm(x_tr, y_tr, x_val, seed)
        sel.gbm_accuracy = float((p.argmax(1) == y_val).mean())
        sel.gbm_ece = expected_calibration_error(p, y_val)
    return sel


def _fit_final(
    x, y, n_classes, best: Candidate, mlp_cfg: MLPConfig, seed: int, progress: bool, checkpoint, resume
):
    if best.name == "mlp":
        cfg = MLPConfig(**{**mlp_cfg.__dict__, "epochs": int(best.param), "seed": seed})
        return train_mlp(
            x, y, n_classes, cfg, progress=progress, desc="final", checkpoint=checkpoint, resume=resume
        )
    return logistic_regression_mlp(x, y, n_classes, C=float(best.param), seed=seed)


# ---------------------------------------------------------------- features pipeline


@dataclass
class FeaturesRun(CardText):
    name: str
    out_dir: Path
    extractor: str | None  # "gtzan57" / "fma518": the app can run it on audio; None: CSV-only features
    model: str = "auto"  # "auto" (MLP vs linear, better ships) | "mlp" | "linear"
    folds: int = 5
    seed: int = 0
    epochs: int | None = None  # None: chosen by CV from epoch_grid
    epoch_grid: Sequence[int] = DEFAULT_EPOCH_GRID
    c_grid: Sequence[float] = DEFAULT_C_GRID
    gbm: bool = False
    resume: bool = False
    progress: bool = True
    notes: dict[str, Any] = field(default_factory=dict)
    holdout_audio: Path | None = None  # DIR/<genre>/ audio: the final model is checked on files it never saw


def audio_check(
    model,
    classes: Sequence[str],
    temperature: float,
    extractor: str,
    folder: Path,
    train_keys: Sequence[str],
    progress: bool,
) -> dict[str, Any]:
    """Accuracy of the final model on the audio files under ``folder`` that are not training rows (matched
    by file name), computing the features with the app's own extractor: an independent end-to-end check."""
    from music_reclass_gui.core.errors import MusicReclassError
    from music_reclass_gui.inference.features_gtzan57 import waves_for_file
    from music_reclass_gui.inference.kinds_features import FeatureExtractor
    from music_reclass_gui.training.datasets import scan_genre_folders

    seen = {k.replace("\\", "/").rsplit("/", 1)[-1] for k in train_keys}
    items = scan_genre_folders(folder)
    fresh = [it for it in items if it.path.name not in seen and it.label in classes]
    if not fresh:
        return {"n": 0, "note": f"every file under {folder.name} was a training row"}
    ext = FeatureExtractor(extractor)
    rows, truth = [], []
    bar = Progress("independent check", len(fresh), progress)
    for it in fresh:
        try:
            rows.append(ext.features_of(waves_for_file(it.path, ext.sample_rate)))
            truth.append(list(classes).index(it.label))
        except MusicReclassError as exc:
            log(f"skipped: {exc}")
        bar.update()
    logits = mlp_logits(model, np.array(rows))
    probs = softmax(logits, temperature)
    gmap = load_genre_map()
    out = evaluate_predictions(truth, probs.argmax(1), [gmap.normalize(c) for c in classes], probs)
    out.pop("labels")
    out["excluded_as_training_rows"] = len(items) - len(fresh)
    out["source"] = (
        f"audio under {folder.name}/ not among the training rows, features computed by the app's {extractor} extractor"
    )
    log(
        f"  independent audio check: accuracy {out['accuracy']:.4f} on {out['n']} files ({out['excluded_as_training_rows']} skipped as training rows)"
    )
    return out


def train_features_model(
    table: FeatureTable, run: FeaturesRun, split: Split | None = None, validation: Sequence[int] | None = None
) -> Path:
    """Select, calibrate, fit and write a features model; returns the card path. See module docstring."""
    if run.extractor is not None:
        expected = RECIPES[run.extractor]().feature_names()
        if list(table.names) != expected:
            raise DatasetError(None, f"the table's feature columns are not the {run.extractor} extractor's")
    classes, y_all = encode_labels(table.labels)
    n_classes = len(classes)
    if n_classes < 2:
        raise DatasetError(None, "need at least two genres to train a classifier")
    x_all = table.x
    epoch_grid = [run.epochs] if run.epochs else list(run.epoch_grid)
    mlp_cfg = MLPConfig(seed=run.seed)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    state = run.out_dir / f".{run.name}.train-state.pt"
    common = dict(
        seed=run.seed,
        model=run.model,
        mlp_cfg=mlp_cfg,
        epoch_grid=epoch_grid,
        c_grid=list(run.c_grid),
        gbm=run.gbm,
        progress=run.progress,
    )
    if split is None:
        log(f"{run.name}: {run.folds}-fold CV over {len(y_all)} rows, {n_classes} genres")
        sel = select_by_cv(
            x_all,
            y_all,
            table.keys,
            table.labels,
            folds=run.folds,
            state_path=state,
            resume=run.resume,
            **common,
        )
        train_idx = np.arange(len(y_all))
        eval_idx = None
        protocol = (
            f"stratified {run.folds}-fold cross-validation (seed {run.seed}) over all {len(y_all)} rows"
        )
    else:
        check_disjoint(table.keys, split)
        train_idx = np.array(sorted(set(split.train) - set(validation or ())))
        eval_idx = np.array(split.eval)
        if validation:
            val_idx = np.array(validation)
            check_disjoint(table.keys, Split(list(train_idx), list(val_idx), "validation"))
            log(f"{run.name}: selecting on {len(val_idx)} validation rows, training on {len(train_idx)}")
            sel = select_on_validation(
                x_all[train_idx],
                y_all[train_idx],
                x_all[val_idx],
                y_all[val_idx],
                checkpoint=state,
                resume=run.resume,
                **common,
            )
        else:
            log(f"{run.name}: {run.folds}-fold CV inside the {len(train_idx)} training rows")
            sub = table.subset(train_idx)
            sel = select_by_cv(
                x_all[train_idx],
                y_all[train_idx],
                sub.keys,
                sub.labels,
                folds=run.folds,
                state_path=state,
                resume=run.resume,
                **common,
            )
        protocol = (
            f"trained on {len(train_idx)} rows, evaluated on {len(eval_idx)} held-out rows ({split.name})"
        )

    best = sel.best()
    temperature = fit_temperature(best.logits, sel.y)
    comparison = {c.label: round(c.accuracy, 4) for c in sel.candidates}
    if sel.gbm_accuracy is not None:
        comparison["hist-gradient-boosting (reported, not shipped)"] = round(sel.gbm_accuracy, 4)
    for c in sel.candidates:
        log(f"  {c.label:>14}: held-out accuracy {c.accuracy:.4f}")
    if sel.gbm_accuracy is not None:
        log(f"  {'gbm':>14}: held-out accuracy {sel.gbm_accuracy:.4f}")
    log(f"  chosen: {best.label}, temperature {temperature:.3f}")

    model = _fit_final(
        x_all[train_idx],
        y_all[train_idx],
        n_classes,
        best,
        mlp_cfg,
        run.seed,
        run.progress,
        state.with_suffix(".final.pt"),
        run.resume,
    )
    if eval_idx is None:  # CV figures from the out-of-fold logits of the chosen configuration
        logits, y_eval = best.logits, sel.y
        ece = crossfit_ece(logits, y_eval, sel.fold_of)
        ece_raw = expected_calibration_error(softmax(logits), y_eval)
    else:
        logits, y_eval = mlp_logits(model, x_all[eval_idx]), y_all[eval_idx]
        ece = expected_calibration_error(softmax(logits, temperature), y_eval)
        ece_raw = expected_calibration_error(softmax(logits), y_eval)
    probs = softmax(logits, temperature)
    gmap = load_genre_map()
    shown = [gmap.normalize(c) for c in classes]
    metrics = evaluate_predictions(y_eval, probs.argmax(1), shown)
    metrics.update(
        {
            "protocol": protocol,
            "ece": round(ece, 4),
            "ece_uncalibrated": round(ece_raw, 4),
            "ece_bins": 10,
            "model_comparison": comparison,
            "chosen": best.label,
        }
    )
    if sel.gbm_ece is not None:
        metrics["gbm_ece"] = round(sel.gbm_ece, 4)
    if split is None:
        metrics["note"] = (
            "Cross-validated figures of the configuration chosen by the same CV (slightly optimistic: the "
            "choice and the score share folds)."
        )

    if run.holdout_audio is not None:
        if run.extractor is None:
            raise DatasetError(
                run.holdout_audio, "an audio check needs a model whose features the app can compute"
            )
        metrics["independent_audio_check"] = audio_check(
            model,
            classes,
            temperature,
            run.extractor,
            Path(run.holdout_audio),
            [table.keys[i] for i in train_idx],
            run.progress,
        )
    weights = run.out_dir / weights_filename(run.name)
    extractor = run.extractor or "table"
    save_features_mlp(
        weights,
        model,
        classes,
        extractor,
        table.names,
        temperature,
        train_keys=[table.keys[i] for i in train_idx],
    )
    hidden = list(model.hidden)
    card = {
        "name": run.name,
        "kind": FEATURES_KIND,
        "labels": shown,
        "weights": weights.name,
        "description": run.description
        or (
            f"{'MLP ' + '-'.join(map(str, hidden)) if hidden else 'Logistic regression'} on {len(table.names)} audio features"
        ),
        "source": run.source or "trained with music-reclass",
        "licence": run.licence,
        "metrics": metrics,
        "calibration": {
            "method": "temperature scaling",
            "temperature": round(temperature, 4),
            "ece": round(ece, 4),
            "ece_uncalibrated": round(ece_raw, 4),
            "ece_note": "cross-fitted: each fold's temperature fit on the other folds"
            if eval_idx is None
            else "on the evaluation rows",
            "data": "out-of-fold logits"
            if eval_idx is None and sel.fold_of is not None
            else "held-out logits",
        },
        "preprocessing": {
            "extractor": extractor,
            "features": len(table.names),
            "standardisation": "per-feature mean/std of the training rows, stored in the weights",
            "network": {"hidden": hidden, "dropout": model.dropout if hidden else 0.0},
        },
        "training_data": run.training_data or f"{len(train_idx)} rows",
        "reproduce": run.reproduce,
        **run.notes,
    }
    return publish(run.out_dir, card, weights)
