"""Build the staged early-stopping ensemble (model kind "ensemble", inference/kinds_ensemble.py) behind
``music-reclass train ensemble``.

Stages, cheapest first: stage 1 is a head on one musicnn tagger's features (one network pass); the last
stage is an installed head model (``--final-model``, e.g. ``gtzan``) that adds the other tagger. Each stage's
real cost per track is measured on this machine with the feature cache off (decoding included: a later
stage decodes again, which is what the lazy engine does). The stopping threshold and the combination rule
("mean" of the calibrated probabilities so far, or the "last" stage's) are chosen on out-of-fold calibrated
probabilities (stratified k-fold; each fold's temperature fitted on the other folds): the cheapest setting
whose accuracy is at least that of running every stage, else the most accurate one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference.kinds_ensemble import COMBINE_RULES, decide
from music_reclass_gui.training.calibrate import fit_temperature, softmax
from music_reclass_gui.training.cards import weights_filename, write_card
from music_reclass_gui.training.datasets import AudioItem, stratified_kfold
from music_reclass_gui.training.transfer import (
    INPUT_SETS,
    HeadConfig,
    HeadRun,
    best_result,
    cross_validate,
    fit_head,
    load_head_data,
    log,
    oof_logits,
)

THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99)
STAGE1_INPUTS = ("msd-emb", "msd-all")


@dataclass
class EnsembleRun:
    name: str
    out_dir: Path
    final_model: str = "gtzan"
    folds: int = 5
    seed: int = 0
    timing_files: int = 10
    progress: bool = True
    training_data: str = ""
    reproduce: str = ""


def head_config_of(card) -> HeadConfig:
    """The HeadConfig a head card was trained with (from its ``preprocessing`` block)."""
    pre = card.preprocessing if isinstance(card.preprocessing, dict) else {}
    inputs = [tuple(p) for p in pre.get("inputs", [])]
    name = next((k for k, v in INPUT_SETS.items() if [tuple(p) for p in v] == inputs), None)
    if name is None or "regularisation" not in pre:
        raise ModelError(card.path, "the final stage must be a head trained by `music-reclass train head`")
    return HeadConfig(
        name, tuple(pre.get("hidden", [])), float(pre["regularisation"]), bool(pre["standardised"])
    )


def crossfit_probs(z: np.ndarray, y: np.ndarray, fold_of: np.ndarray) -> np.ndarray:
    """Calibrated out-of-fold probabilities: each fold tempered by a temperature fitted on the others."""
    p = np.zeros_like(z)
    for k in np.unique(fold_of):
        m = fold_of == k
        p[m] = softmax(z[m], fit_temperature(z[~m], y[~m]))
    return p


def time_extractors(paths: Sequence[Path], extractors: Sequence[Any]) -> float:
    """Mean seconds per track to decode and run ``extractors`` (cache off, one decode thread)."""
    from music_reclass_gui.inference.engine import extract_features

    list(extract_features(paths[:1], extractors, cache=None, jobs=1))  # warm-up (first-call overheads)
    secs = [tf.seconds for tf in extract_features(paths, extractors, cache=None, jobs=1)]
    return float(np.mean(secs))


def simulate(
    stage_probs: list[np.ndarray], y: np.ndarray, costs: Sequence[float], threshold: float, rule: str
) -> dict[str, Any]:
    """Run the ensemble's decision on out-of-fold probabilities: per-stage stops, accuracy and time."""
    cum = np.cumsum(costs)
    stops, right = [], []
    for i in range(len(y)):
        k, p = decide([sp[i] for sp in stage_probs], threshold, rule)
        stops.append(k)
        right.append(int(p.argmax()) == int(y[i]))
    stops_a, right_a = np.array(stops), np.array(right)
    all_cost = float(cum[-1])
    table = []
    for k in range(len(costs)):
        m = stops_a == k
        table.append(
            {
                "stage": k + 1,
                "tracks_stopping": int(m.sum()),
                "accuracy_of_those": round(float(right_a[m].mean()), 4) if m.any() else None,
                "seconds_per_track": round(float(cum[k]), 3),
                "seconds_saved_per_track_vs_all_stages": round(all_cost - float(cum[k]), 3),
            }
        )
    mean_cost = float(cum[stops_a].mean())
    return {
        "threshold": threshold,
        "combine": rule,
        "accuracy": round(float(right_a.mean()), 4),
        "mean_seconds_per_track": round(mean_cost, 3),
        "all_stages_seconds_per_track": round(all_cost, 3),
        "time_saved_fraction": round(1.0 - mean_cost / all_cost, 4),
        "per_stage": table,
    }


def build_ensemble(items: Sequence[AudioItem], run: EnsembleRun) -> Path:
    import torch

    from music_reclass_gui.inference.extractors import musicnn_extractor
    from music_reclass_gui.inference.registry import find_card

    final_card = find_card(run.final_model)
    if final_card.kind != "head":
        raise ModelError(final_card.path, f"--final-model must be a 'head' model, not {final_card.kind!r}")
    final_cfg = head_config_of(final_card)
    data = load_head_data(items, progress=run.progress)
    if [c for c in data.classes] != list(final_card.labels):
        raise ModelError(final_card.path, "the dataset's genres differ from the final model's labels")
    hrun = HeadRun(
        name=run.name,
        out_dir=run.out_dir,
        model="linear",
        folds=run.folds,
        seed=run.seed,
        progress=run.progress,
    )
    results: list = []
    for inputs in STAGE1_INPUTS:
        hrun.inputs = inputs
        res, strat, _ = cross_validate(data, hrun)
        results += res
    s1 = best_result(results)
    log(f"stage 1: {s1.config.label} (stratified {s1.strat_acc:.4f}, contiguous {s1.contig_acc:.4f})")
    labels = [data.classes[i] for i in data.y]
    strat = stratified_kfold(labels, run.folds, run.seed)
    fold_of = np.zeros(len(data.y), dtype=np.int64)
    for k, sp in enumerate(strat):
        fold_of[sp.eval] = k
    z1 = s1.strat_logits
    z2 = oof_logits(data.matrix(final_cfg.inputs), data.y, data.keys, strat, final_cfg, run.seed)
    probs = [crossfit_probs(z1, data.y, fold_of), crossfit_probs(z2, data.y, fold_of)]
    oof_acc = [float((p.argmax(1) == data.y).mean()) for p in probs]

    # measured cost per stage (incremental), and of running everything at once
    device = torch.device("cpu")
    s1_models = list(dict.fromkeys(m for m, _ in INPUT_SETS[s1.config.inputs]))
    s2_models = [m for m in dict.fromkeys(m for m, _ in INPUT_SETS[final_cfg.inputs]) if m not in s1_models]
    ext1 = [musicnn_extractor(m, device) for m in s1_models]
    ext2 = [musicnn_extractor(m, device) for m in s2_models]
    paths = [it.path for it in items][:: max(1, len(items) // max(1, run.timing_files))][: run.timing_files]
    log(f"timing stages on {len(paths)} files (cache off)...")
    c1 = time_extractors(paths, ext1)
    c2 = time_extractors(paths, ext2)
    c_all = time_extractors(paths, ext1 + ext2)
    from music_reclass_gui.inference.kinds_features import FeatureExtractor

    c_g57 = time_extractors(paths, [FeatureExtractor("gtzan57")])
    costs = [c1, c2]
    log(
        f"cost per track: stage 1 {c1:.3f} s, stage 2 +{c2:.3f} s, both at once {c_all:.3f} s, gtzan57 {c_g57:.3f} s"
    )

    grid = [simulate(probs, data.y, costs, t, r) for r in COMBINE_RULES for t in THRESHOLDS]
    everything = simulate(probs, data.y, costs, 2.0, "last")  # the final model on every track
    no_loss = [g for g in grid if g["accuracy"] >= everything["accuracy"]]
    chosen = (
        min(no_loss, key=lambda g: (g["mean_seconds_per_track"], -g["threshold"]))
        if no_loss
        else max(grid, key=lambda g: (g["accuracy"], -g["mean_seconds_per_track"]))
    )
    log(
        f"chosen: threshold {chosen['threshold']}, combine {chosen['combine']}: accuracy {chosen['accuracy']}, "
        f"{chosen['mean_seconds_per_track']} s/track vs {everything['mean_seconds_per_track']} s"
    )

    # stage-1 head refitted on everything, tempered by the temperature of its out-of-fold logits
    final1 = fit_head(data.matrix(s1.config.inputs), data.y, len(data.classes), s1.config, run.seed)
    run.out_dir.mkdir(parents=True, exist_ok=True)
    head1 = run.out_dir / weights_filename(f"{run.name}-stage1")
    final1.save(head1, data.classes, fit_temperature(z1, data.y))
    card = {
        "name": run.name,
        "kind": "ensemble",
        "labels": data.classes,
        "description": f"staged early-stopping ensemble: {s1.config.inputs} head, then {run.final_model} "
        f"(stops when calibrated confidence >= {chosen['threshold']})",
        "source": final_card.source,
        "licence": final_card.licence,
        "stages": [
            {"name": "msd", "head": head1.name, "config": s1.config.label},
            {"name": run.final_model, "model": run.final_model, "config": final_cfg.label},
        ],
        "threshold": chosen["threshold"],
        "combine": chosen["combine"],
        "metrics": {
            **chosen,
            "all_stages": {k: everything[k] for k in ("accuracy", "mean_seconds_per_track")},
            "stage_oof_accuracy": [round(a, 4) for a in oof_acc],
            "stage_costs_seconds": {
                "stage 1 (decode + msd-musicnn)": round(c1, 3),
                "stage 2 added (decode again + mtt-musicnn)": round(c2, 3),
                "both taggers in one pass (the final model alone)": round(c_all, 3),
                "gtzan57 librosa features (candidate, not used)": round(c_g57, 3),
            },
            "timing": f"mean over {len(paths)} of the clips, feature cache off, one decode thread, on this "
            "machine's CPU",
            "protocol": f"out-of-fold calibrated probabilities, stratified {run.folds}-fold (seed {run.seed}); "
            "each fold's temperature fitted on the other folds; the threshold is chosen on the same "
            "probabilities (slightly optimistic)",
            "threshold_grid": [
                {k: g[k] for k in ("threshold", "combine", "accuracy", "mean_seconds_per_track")}
                for g in grid
            ],
        },
        "calibration": {"method": "temperature scaling per stage (see the stages' cards)"},
        "training_data": run.training_data,
        "train_keys": list(data.keys),
        "reproduce": run.reproduce,
    }
    return write_card(run.out_dir, card)
