"""`train` and `evaluate`: train the spec's models on a user's own data and measure any installed model.

train features  --features-csv CSV | --fma DIR | --dataset DIR   the feature MLP (or logistic regression)
train cnn       --dataset DIR | --fma DIR                        the mel-spectrogram CNN
evaluate        --model NAME (--features-csv CSV | --dataset DIR) [--confusion-png OUT.png]

Other modules add `train` sub-commands (e.g. `train head`, `train personal`) by being listed in
TRAIN_PLUGINS: each has ``register_train(train_subparsers)``.
Exit codes: 0 done, 2 usage, 3 bad data / model (the message names the file and the reason).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType

from music_reclass_gui.cli.argtypes import add_device_option, non_negative_int, positive_float, positive_int
from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN as EXIT_BAD_INPUT
from music_reclass_gui.core.errors import MusicReclassError

# Modules that add `train <something>` sub-commands: each defines register_train(subparsers).
TRAIN_PLUGINS: tuple[str, ...] = (
    "music_reclass_gui.cli.train_head_cmd",
    "music_reclass_gui.cli.personal_cmd",
    "music_reclass_gui.cli.train_broad_cmd",
)


def _plugins() -> list[ModuleType]:
    import importlib

    return [importlib.import_module(name) for name in TRAIN_PLUGINS]


def register(sub: argparse._SubParsersAction) -> None:
    """Add `train` (with its sub-commands) and `evaluate`."""
    train = sub.add_parser("train", help="train a genre model on your own data")
    tsub = train.add_subparsers(dest="train_command", required=True, metavar="WHAT")

    f = tsub.add_parser(
        "features", help="the feature MLP on a features CSV, FMA's features, or audio folders"
    )
    src = f.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--features-csv",
        type=Path,
        metavar="CSV",
        help="GTZAN-style CSV: filename, length, features..., label",
    )
    src.add_argument(
        "--fma", type=Path, metavar="DIR", help="FMA folder with fma_metadata/{tracks,features}.csv"
    )
    src.add_argument(
        "--dataset", type=Path, metavar="DIR", help="audio in DIR/<genre>/ folders (features computed)"
    )
    f.add_argument(
        "--extractor",
        choices=("gtzan57", "fma518"),
        default=None,
        help="features to compute for --dataset (default gtzan57)",
    )
    f.add_argument(
        "--fma-subset",
        choices=("small", "medium", "large"),
        default=None,
        help="with --fma: only this FMA subset (default: every track with a top genre)",
    )
    f.add_argument(
        "--model",
        choices=("auto", "mlp", "linear"),
        default="auto",
        help="auto: MLP vs logistic regression, the better ships",
    )
    f.add_argument(
        "--gbm", action="store_true", help="also report a gradient-boosting baseline (never shipped)"
    )
    f.add_argument(
        "--holdout-audio",
        type=Path,
        metavar="DIR",
        help="also check the model on DIR/<genre>/ audio that is not a training row",
    )
    _common(f, default_epochs=None)
    f.set_defaults(func=_train_features)

    c = tsub.add_parser("cnn", help="the mel-spectrogram CNN on audio")
    src = c.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", type=Path, metavar="DIR", help="audio in DIR/<genre>/ folders")
    src.add_argument("--fma", type=Path, metavar="DIR", help="FMA folder (tracks.csv + fma_*/NNN/NNNNNN.mp3)")
    c.add_argument(
        "--fma-subset",
        choices=("small", "medium", "large"),
        default=None,
        help="with --fma: only this FMA subset (default: all)",
    )
    c.add_argument(
        "--crop-seconds",
        type=positive_float,
        default=3.0,
        help="length of the random crops the CNN trains on (default 3.0)",
    )
    add_device_option(c, "where to train")
    _common(c, default_epochs=20, hold_out=True)
    c.set_defaults(func=_train_cnn)

    for module in _plugins():
        module.register_train(tsub)

    e = sub.add_parser(
        "evaluate", help="accuracy, per-class accuracy and confusion matrix of a model, as JSON"
    )
    e.add_argument(
        "--model", required=True, metavar="NAME", help="installed model to evaluate (see `models`)"
    )
    src = e.add_mutually_exclusive_group(required=True)
    src.add_argument(
        "--features-csv", type=Path, metavar="CSV", help="CSV with the model's feature columns and 'label'"
    )
    src.add_argument("--dataset", type=Path, metavar="DIR", help="audio in DIR/<genre>/ folders")
    e.add_argument(
        "--split-file", type=Path, help="evaluate only the files NOT listed (the list of training files)"
    )
    e.add_argument(
        "--confusion-png", type=Path, metavar="OUT.png", help="also save the confusion matrix as a PNG"
    )
    add_device_option(e, "where to run the model")
    e.set_defaults(func=_evaluate)


def _common(p: argparse.ArgumentParser, default_epochs: int | None, hold_out: bool = False) -> None:
    """Options of every `train` run; ``hold_out``: --folds 0 means a seeded 20 % hold-out (the CNN's)."""
    p.add_argument("--name", required=True, help="model name (how `classify --model NAME` finds it)")
    p.add_argument(
        "--split-file", type=Path, help="names of the training files; every other file is evaluated"
    )
    p.add_argument(
        "--folds",
        type=non_negative_int if hold_out else positive_int,
        default=5,
        help="stratified k-fold CV when there is no split (default 5"
        + ("; 0: a seeded 20 %% hold-out instead)" if hold_out else ")"),
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    p.add_argument(
        "--epochs",
        type=positive_int,
        default=default_epochs,
        help="default: " + ("chosen by CV" if default_epochs is None else str(default_epochs)),
    )
    p.add_argument(
        "--out", type=Path, default=None, help="folder for the weights and card (default: your models folder)"
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from its checkpoint")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def _out_dir(args: argparse.Namespace) -> Path:
    from music_reclass_gui.core.appdirs import user_models_dir

    return Path(args.out) if args.out else user_models_dir()


def _reproduce(args: argparse.Namespace, words: Sequence[str]) -> str:
    """The command line that rebuilds this model (options that matter, canonical order)."""
    parts = ["music-reclass", *words]
    for opt in (
        "features_csv",
        "holdout_audio",
        "fma",
        "dataset",
        "extractor",
        "fma_subset",
        "model",
        "split_file",
        "name",
        "folds",
        "seed",
        "epochs",
        "crop_seconds",
        "out",
    ):
        val = getattr(args, opt, None)
        if (
            val is None
            or (opt == "model" and val == "auto")
            or (opt == "folds" and val == 5)
            or (opt == "seed" and val == 0)
        ):
            continue
        parts += [f"--{opt.replace('_', '-')}", str(val)]
    if getattr(args, "gbm", False):
        parts.append("--gbm")
    return " ".join(shlex.quote(p) for p in parts)


def _fail(exc: Exception) -> int:
    print(f"error: {exc}", file=sys.stderr)
    return EXIT_BAD_INPUT


# ---------------------------------------------------------------- train features


def _features_table(args):
    """(table, extractor name or None, split, validation rows, training-data text, notes)."""
    import numpy as np

    from music_reclass_gui.inference import kinds_features
    from music_reclass_gui.training import dataset_policy, datasets

    split = validation = None
    notes: dict = {}
    if args.features_csv is not None:
        table = datasets.read_features_csv(args.features_csv)
        extractor = next(
            (n for n, r in kinds_features.RECIPES.items() if r().feature_names() == table.names), None
        )
        if extractor is None:
            print(
                "note: the CSV's columns match no built-in extractor; the model can evaluate CSVs but not classify audio",
                file=sys.stderr,
            )
        data = f"{len(table.x)} rows of {args.features_csv.name}"
        if extractor == "gtzan57" and dataset_policy.is_gtzan_table(table.keys):
            notes["source"] = dataset_policy.GTZAN_FEATURES_SOURCE
            notes["licence"] = dataset_policy.GTZAN_LICENCE
    elif args.fma is not None:
        table = datasets.load_fma_features(args.fma, args.fma_subset)
        extractor = "fma518"
        sp = table.extra["split"]
        if args.split_file is None:
            split = datasets.split_by_column(
                table.keys, sp, ("training", "validation"), "FMA's own split (test held out)"
            )
            validation = [i for i, v in enumerate(sp) if v == "validation"]
        data = f"FMA {args.fma_subset or 'all'} tracks with a top genre: {len(table.x)} (features.csv)"
    else:
        extractor = args.extractor or "gtzan57"
        items = datasets.scan_genre_folders(args.dataset)
        ext = kinds_features.FeatureExtractor(extractor)
        from music_reclass_gui.inference.features_gtzan57 import waves_for_file
        from music_reclass_gui.training.train import Progress

        rows, keep = [], []
        bar = Progress(f"{extractor} features", len(items), not args.quiet)
        for i, it in enumerate(items):
            try:
                rows.append(ext.features_of(waves_for_file(it.path, ext.sample_rate)))
                keep.append(i)
            except MusicReclassError as exc:
                print(f"skipped: {exc}", file=sys.stderr)
            bar.update()
        names = kinds_features.recipe(extractor).feature_names()
        table = datasets.FeatureTable(
            names, np.array(rows), [items[i].label for i in keep], [items[i].key for i in keep]
        )
        data = f"{len(keep)} audio files under {args.dataset}"
    if args.split_file is not None:
        split = datasets.split_by_names(
            table.keys, datasets.read_split_file(args.split_file), f"split file {args.split_file.name}"
        )
    return table, extractor, split, validation, data, notes


def _train_features(args: argparse.Namespace) -> int:
    from music_reclass_gui.training.dataset_policy import FMA_MLP_EPOCHS
    from music_reclass_gui.training.features_run import FeaturesRun, train_features_model

    try:
        table, extractor, split, validation, data, notes = _features_table(args)
        epochs = args.epochs
        if epochs is None and args.fma is not None:
            epochs = FMA_MLP_EPOCHS
        run = FeaturesRun(
            name=args.name,
            out_dir=_out_dir(args),
            extractor=extractor,
            model=args.model,
            folds=args.folds,
            seed=args.seed,
            epochs=epochs,
            gbm=args.gbm,
            resume=args.resume,
            progress=not args.quiet,
            training_data=data,
            reproduce=_reproduce(args, ["train", "features"]),
            notes=notes,
            holdout_audio=args.holdout_audio,
            source=notes.pop("source", ""),
            licence=notes.pop("licence", ""),
        )
        path = train_features_model(table, run, split, validation)
    except (MusicReclassError, ValueError) as exc:
        return _fail(exc)
    print(json.dumps({"card": str(path), "name": args.name}))
    return 0


# ---------------------------------------------------------------- train cnn


def _train_cnn(args: argparse.Namespace) -> int:
    from music_reclass_gui.inference.device import pick_device
    from music_reclass_gui.training import datasets
    from music_reclass_gui.training.cnn_run import CNNRun, train_cnn_model

    try:
        split = None
        if args.dataset is not None:
            items = datasets.scan_genre_folders(args.dataset)
            data = f"{len(items)} audio files under {args.dataset}"
        else:
            items, fma_split = datasets.fma_audio_items(args.fma, args.fma_subset)
            data = f"FMA {args.fma_subset or 'all'} audio: {len(items)} tracks"
            if args.split_file is None:
                split = datasets.split_by_column(
                    [it.key for it in items],
                    fma_split,
                    ("training", "validation"),
                    "FMA's own split (test held out)",
                )
        if args.split_file is not None:
            split = datasets.split_by_names(
                [it.key for it in items],
                datasets.read_split_file(args.split_file),
                f"split file {args.split_file.name}",
            )
        device = pick_device(args.device)
        run = CNNRun(
            name=args.name,
            out_dir=_out_dir(args),
            folds=args.folds if split is None else 0,
            seed=args.seed,
            epochs=args.epochs,
            crop_seconds=args.crop_seconds,
            resume=args.resume,
            progress=not args.quiet,
            device=str(device),
            training_data=data,
            reproduce=_reproduce(args, ["train", "cnn"]),
        )
        path = train_cnn_model(items, run, split)
    except (MusicReclassError, ValueError) as exc:
        return _fail(exc)
    print(json.dumps({"card": str(path), "name": args.name}))
    return 0


# ---------------------------------------------------------------- evaluate


def _evaluate(args: argparse.Namespace) -> int:
    from music_reclass_gui.core.genres import load_genre_map
    from music_reclass_gui.inference import kinds_cnn, kinds_features  # noqa: F401  (register the kinds)
    from music_reclass_gui.training import datasets
    from music_reclass_gui.training.evaluate import evaluate_predictions, save_confusion_png

    gmap = load_genre_map()
    try:
        if args.features_csv is not None:
            result = _evaluate_csv(args, gmap, datasets)
        else:
            result = _evaluate_audio(args, gmap, datasets)
        y_true, y_pred, labels, extra = result
        out = evaluate_predictions(y_true, y_pred, labels)
        out.update(extra)
        if args.confusion_png is not None:
            save_confusion_png(
                out["confusion"],
                labels,
                args.confusion_png,
                title=f"{args.model}: accuracy {out['accuracy']:.3f}",
            )
    except (MusicReclassError, ValueError) as exc:
        return _fail(exc)
    print(json.dumps(out))
    return 0


def _eval_rows(keys, labels, model_labels, gmap, split_file, datasets, source):
    """Indices to evaluate, true class indices; refuses labels the model cannot propose."""
    idx = list(range(len(keys)))
    if split_file is not None:
        idx = datasets.split_by_names(
            keys, datasets.read_split_file(split_file), f"split file {split_file.name}"
        ).eval
    index = {lab: i for i, lab in enumerate(model_labels)}
    truth = [gmap.normalize(labels[i]) for i in idx]
    unknown = sorted({t for t in truth if t not in index})
    if unknown:
        raise datasets.DatasetError(
            source,
            f"genre(s) {', '.join(unknown)} are not among the model's labels ({', '.join(model_labels)})",
        )
    if not idx:
        raise datasets.DatasetError(source, "nothing left to evaluate")
    return idx, [index[t] for t in truth]


def _seen_in_training(model, keys: Sequence[str]) -> int:
    card = getattr(model, "card", None)
    listed = getattr(model, "train_keys", None) or (card.raw.get("train_keys", ()) if card else ())
    train = {k.replace("\\", "/").rsplit("/", 1)[-1] for k in listed}
    return sum(k.replace("\\", "/").rsplit("/", 1)[-1] in train for k in keys)


def _evaluate_csv(args, gmap, datasets):
    from music_reclass_gui.core.errors import ModelError
    from music_reclass_gui.inference.device import pick_device
    from music_reclass_gui.inference.kinds_features import FeaturesMLPGenreModel
    from music_reclass_gui.inference.registry import load_model

    model = load_model(args.model, pick_device(args.device))
    if not isinstance(model, FeaturesMLPGenreModel):
        raise ModelError(
            None, f"model {args.model!r} does not take a features table; evaluate it with --dataset DIR"
        )
    table = datasets.read_features_csv(args.features_csv, model.feature_names)
    idx, y_true = _eval_rows(
        table.keys, table.labels, model.labels, gmap, args.split_file, datasets, args.features_csv
    )
    y_pred = model.logits(table.x[idx]).argmax(axis=1).tolist()
    extra = {"n_seen_in_training": _seen_in_training(model, [table.keys[i] for i in idx])}
    _warn_seen(extra["n_seen_in_training"], len(idx))
    return y_true, y_pred, model.labels, extra


def _evaluate_audio(args, gmap, datasets):
    from music_reclass_gui.cli.progress import Progress
    from music_reclass_gui.inference.engine import ClassificationFailure, Classifier

    items = datasets.scan_genre_folders(args.dataset)
    clf = Classifier(args.model, device=args.device, top_k=1)
    keys = [it.key for it in items]
    idx, y_true = _eval_rows(
        keys, [it.label for it in items], clf.labels, gmap, args.split_file, datasets, args.dataset
    )
    index = {lab: i for i, lab in enumerate(clf.labels)}
    kept_true, y_pred, failed = [], [], []
    bar = Progress(len(idx), label="evaluating")
    for t, res in zip(y_true, clf.classify_many([items[i].path for i in idx]), strict=True):
        if isinstance(res, ClassificationFailure):
            failed.append(res.to_json())
            bar.note(f"skipped: {res.error}")
        else:
            kept_true.append(t)
            y_pred.append(index[res.genre])
        bar.update(len(kept_true) + len(failed), len(failed))
    bar.close()
    extra = {"n_seen_in_training": _seen_in_training(clf.model, [keys[i] for i in idx]), "failed": failed}
    _warn_seen(extra["n_seen_in_training"], len(idx))
    return kept_true, y_pred, clf.labels, extra


def _warn_seen(n_seen: int, n: int) -> None:
    if n_seen:
        print(
            f"warning: {n_seen} of {n} evaluated items were in this model's training data; the figures are optimistic",
            file=sys.stderr,
        )
