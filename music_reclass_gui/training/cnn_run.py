"""Training run behind ``music-reclass train cnn``: decode audio, train the mel-spectrogram CNN with k-fold CV
(or the split / a seeded hold-out), calibrate, write weights + model card."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from music_reclass_gui.core.genres import load_genre_map
from music_reclass_gui.inference.kinds_cnn import KIND as CNN_KIND
from music_reclass_gui.inference.kinds_cnn import save_mel_cnn, track_logits
from music_reclass_gui.training.calibrate import (
    crossfit_ece,
    expected_calibration_error,
    fit_temperature,
    softmax,
)
from music_reclass_gui.training.cards import CardText, log, publish, weights_filename
from music_reclass_gui.training.datasets import (
    AudioItem,
    DatasetError,
    Split,
    check_disjoint,
    stratified_kfold,
)
from music_reclass_gui.training.evaluate import evaluate_predictions
from music_reclass_gui.training.features_run import encode_labels
from music_reclass_gui.training.train import CNNConfig, Progress, train_cnn

# ---------------------------------------------------------------- CNN pipeline


@dataclass
class CNNRun(CardText):
    name: str
    out_dir: Path
    folds: int = 0  # >= 2: k-fold CV figures (costly); 0: use the split / a seeded 20 % hold-out
    seed: int = 0
    epochs: int = 20
    crop_seconds: float = 3.0
    resume: bool = False
    progress: bool = True
    device: str = "cpu"


def decode_items(
    items: Sequence[AudioItem], sr: int, progress: bool = True
) -> tuple[list[np.ndarray], list[int], list[str]]:
    """Decode every item (the app's excerpt plan, joined); files that fail are skipped with a message."""
    from music_reclass_gui.core.errors import MusicReclassError
    from music_reclass_gui.inference.features_gtzan57 import waves_for_file

    waves, ok, errors = [], [], []
    bar = Progress("decode", len(items), progress)
    for i, it in enumerate(items):
        try:
            waves.append(np.concatenate(waves_for_file(it.path, sr)))
            ok.append(i)
        except MusicReclassError as exc:
            errors.append(str(exc))
            log(f"skipped: {exc}")
        bar.update()
    return waves, ok, errors


def _cnn_eval_logits(model, waves: Sequence[np.ndarray], window: int) -> np.ndarray:
    return np.stack([track_logits(model, [w], window) for w in waves])


def train_cnn_model(items: Sequence[AudioItem], run: CNNRun, split: Split | None = None) -> Path:
    """Decode, train (with held-out figures), calibrate and write a mel-CNN model; returns the card path."""
    from music_reclass_gui.inference.networks.cnn import SAMPLE_RATE

    keys = [it.key for it in items]
    all_waves, ok, _ = decode_items(items, SAMPLE_RATE, run.progress)
    if len(ok) < len(items):
        keep = set(ok)
        if split is not None:
            remap = {old: new for new, old in enumerate(ok)}
            split = Split(
                [remap[i] for i in split.train if i in keep],
                [remap[i] for i in split.eval if i in keep],
                split.name,
            )
        items = [items[i] for i in ok]
        keys = [keys[i] for i in ok]
    classes, y = encode_labels([it.label for it in items])
    n_classes = len(classes)
    if n_classes < 2:
        raise DatasetError(None, "need at least two genres to train a classifier")
    cfg = CNNConfig(epochs=run.epochs, crop_seconds=run.crop_seconds, seed=run.seed)
    window = int(run.crop_seconds * SAMPLE_RATE)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    ck = run.out_dir / f".{run.name}.train-state"
    if split is None:
        if run.folds >= 2:
            splits = stratified_kfold([it.label for it in items], run.folds, run.seed)
        else:
            splits = [_holdout(y, run.seed)]
    else:
        splits = [split]
    z = np.full((len(y), n_classes), np.nan)
    for k, sp in enumerate(splits):
        check_disjoint(keys, sp)
        m = train_cnn(
            [all_waves[i] for i in sp.train],
            y[sp.train],
            n_classes,
            CNNConfig(**{**cfg.__dict__, "seed": run.seed + k}),
            device=run.device,
            checkpoint=ck.with_name(ck.name + f".fold{k}.pt"),
            resume=run.resume,
            progress=run.progress,
            desc=f"cnn {k + 1}/{len(splits)}",
        )
        z[sp.eval] = _cnn_eval_logits(m, [all_waves[i] for i in sp.eval], window)
    held = ~np.isnan(z[:, 0])
    temperature = fit_temperature(z[held], y[held])
    if split is None and run.folds >= 2:
        fold_of = np.zeros(len(y), dtype=np.int64)
        for k, sp in enumerate(splits):
            fold_of[sp.eval] = k
        ece = crossfit_ece(z, y, fold_of)
        protocol = f"stratified {run.folds}-fold cross-validation (seed {run.seed})"
        final = train_cnn(
            all_waves,
            y,
            n_classes,
            cfg,
            device=run.device,
            checkpoint=ck.with_name(ck.name + ".final.pt"),
            resume=run.resume,
            progress=run.progress,
            desc="final",
        )
    else:
        ece = expected_calibration_error(softmax(z[held], temperature), y[held])
        protocol = f"trained on {len(splits[0].train)} files, evaluated on {len(splits[0].eval)} held-out files ({splits[0].name})"
        final = m  # the model whose held-out figures we report is the one we ship
    gmap = load_genre_map()
    shown = [gmap.normalize(c) for c in classes]
    metrics = evaluate_predictions(y[held], z[held].argmax(1), shown)
    metrics.update(
        {
            "protocol": protocol,
            "ece": round(ece, 4),
            "ece_bins": 10,
            "ece_note": "temperature fit on the same held-out logits" if run.folds < 2 else "cross-fitted",
        }
    )
    weights = run.out_dir / weights_filename(run.name)
    save_mel_cnn(weights, final, classes, run.crop_seconds, temperature)
    card = {
        "name": run.name,
        "kind": CNN_KIND,
        "labels": shown,
        "weights": weights.name,
        "description": run.description
        or "Mel-spectrogram CNN (spec: conv 16-32-64-128, BN, dropout 0.2/0.2/0.3)",
        "source": run.source or "trained with music-reclass",
        "licence": run.licence,
        "metrics": metrics,
        "calibration": {
            "method": "temperature scaling",
            "temperature": round(temperature, 4),
            "ece": round(ece, 4),
        },
        "preprocessing": {
            "sample_rate": SAMPLE_RATE,
            "log_mel": "n_fft 2048, hop 512, 128 mels, dB (inside the network)",
            "windows": f"non-overlapping {run.crop_seconds} s windows, logits averaged",
        },
        "training_data": run.training_data or f"{len(items)} files, {n_classes} genres",
        "reproduce": run.reproduce,
    }
    return publish(run.out_dir, card, weights)


def _holdout(y: np.ndarray, seed: int, frac: float = 0.2) -> Split:
    """Seeded stratified hold-out (at least one item per class held out where a class has two or more)."""
    rng = np.random.default_rng(seed)
    train, ev = [], []
    for c in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == c))
        n_ev = max(1, int(round(frac * len(idx)))) if len(idx) >= 2 else 0
        ev += idx[:n_ev].tolist()
        train += idx[n_ev:].tolist()
    return Split(sorted(train), sorted(ev), f"seeded {int(frac * 100)} % stratified hold-out (seed {seed})")
