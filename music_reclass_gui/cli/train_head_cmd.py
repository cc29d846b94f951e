"""`train head`: a calibrated head on the musicnn taggers' features (transfer learning), and
`train ensemble`: the staged early-stopping ensemble over such heads (registered via train_cmd.TRAIN_PLUGINS).

train head      --dataset DIR | --library DIR   [--inputs auto|msd-emb|...] [--model auto|linear|mlp]
train ensemble  --dataset DIR --name NAME       [--final-model gtzan]  (stage 1 is chosen by CV)
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from music_reclass_gui.cli.argtypes import non_negative_int, positive_int
from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN
from music_reclass_gui.core.errors import MusicReclassError


def register_train(tsub: argparse._SubParsersAction) -> None:
    from music_reclass_gui.training.head_inputs import INPUT_SETS

    h = tsub.add_parser("head", help="a calibrated head on the musicnn taggers' features (transfer learning)")
    src = h.add_mutually_exclusive_group(required=True)
    src.add_argument("--dataset", type=Path, metavar="DIR", help="audio in DIR/<genre>/ folders")
    src.add_argument(
        "--library", type=Path, metavar="DIR", help="a tagged library: files with exactly one genre tag"
    )
    h.add_argument(
        "--inputs",
        choices=("auto", *INPUT_SETS),
        default="auto",
        help="which musicnn features the head reads (auto: chosen by cross-validation)",
    )
    h.add_argument(
        "--model",
        choices=("auto", "linear", "mlp"),
        default="auto",
        help="head type (auto: chosen by cross-validation)",
    )
    h.add_argument("--name", required=True, help="model name (how `classify --model NAME` finds it)")
    h.add_argument("--folds", type=positive_int, default=5, help="stratified k-fold CV (default 5)")
    h.add_argument(
        "--contiguous-folds",
        type=non_negative_int,
        default=2,
        help="folds of neighbouring file numbers per genre (default 2)",
    )
    h.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    h.add_argument("--out", type=Path, default=None, help="folder for weights + card (default: your models)")
    h.add_argument("--no-cache", action="store_true", help="recompute features instead of using the cache")
    h.add_argument("--quiet", action="store_true", help="no progress bars")
    h.set_defaults(func=_train_head)

    e = tsub.add_parser("ensemble", help="the staged early-stopping ensemble (threshold chosen by CV)")
    e.add_argument("--dataset", type=Path, metavar="DIR", required=True, help="audio in DIR/<genre>/")
    e.add_argument("--name", required=True, help="model name (how `classify --model NAME` finds it)")
    e.add_argument(
        "--final-model",
        default="gtzan",
        help="installed head model that is the last stage and whose inputs it reuses",
    )
    e.add_argument(
        "--folds", type=positive_int, default=5, help="folds that choose the stages' thresholds (default 5)"
    )
    e.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    e.add_argument(
        "--timing-files", type=non_negative_int, default=10, help="files timed per stage (cache off)"
    )
    e.add_argument("--out", type=Path, default=None, help="folder for weights + card (default: your models)")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=_train_ensemble)


def _reproduce(argv_words: list[str], args: argparse.Namespace, opts: tuple[str, ...]) -> str:
    parts = ["music-reclass", *argv_words]
    for opt in opts:
        val = getattr(args, opt, None)
        if val is None or val is False:
            continue
        flag = f"--{opt.replace('_', '-')}"
        parts += [flag] if val is True else [flag, str(val)]
    return " ".join(shlex.quote(p) for p in parts)


def _out_dir(args: argparse.Namespace) -> Path:
    from music_reclass_gui.core.appdirs import user_models_dir

    return Path(args.out) if args.out else user_models_dir()


def _train_head(args: argparse.Namespace) -> int:
    from music_reclass_gui.training import datasets
    from music_reclass_gui.training.dataset_policy import GTZAN_LICENCE, GTZAN_NAME
    from music_reclass_gui.training.transfer import HeadRun, library_items, train_head_model

    try:
        if args.dataset is not None:
            items = datasets.scan_genre_folders(args.dataset)
            data = f"{len(items)} audio files under {args.dataset}"
        else:
            items = library_items(args.library, min_per_genre=max(args.folds, 2))
            data = f"{len(items)} single-genre tracks of the library {args.library}"
        gtzan = all(GTZAN_NAME.fullmatch(it.path.name) for it in items)
        run = HeadRun(
            name=args.name,
            out_dir=_out_dir(args),
            inputs=args.inputs,
            model=args.model,
            folds=args.folds,
            contiguous_folds=args.contiguous_folds,
            seed=args.seed,
            progress=not args.quiet,
            use_cache=not args.no_cache,
            training_data=data + (" (GTZAN clips)" if gtzan else ""),
            source=(
                "musicnn taggers (Pons & Serra 2019, ISC) as fixed feature extractors; head trained by "
                "music-reclass on GTZAN clips (Tzanetakis & Cook 2002)"
                if gtzan
                else "musicnn taggers (Pons & Serra 2019, ISC) as fixed feature extractors; head trained by "
                "music-reclass"
            ),
            licence=GTZAN_LICENCE if gtzan else "",
            reproduce=_reproduce(
                ["train", "head"],
                args,
                ("dataset", "library", "inputs", "model", "name", "folds", "contiguous_folds", "seed", "out"),
            ),
        )
        path = train_head_model(items, run)
    except (MusicReclassError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(json.dumps({"card": str(path), "name": args.name}))
    return 0


def _train_ensemble(args: argparse.Namespace) -> int:
    from music_reclass_gui.training import datasets
    from music_reclass_gui.training.ensemble_build import EnsembleRun, build_ensemble

    try:
        items = datasets.scan_genre_folders(args.dataset)
        run = EnsembleRun(
            name=args.name,
            out_dir=_out_dir(args),
            final_model=args.final_model,
            folds=args.folds,
            seed=args.seed,
            timing_files=args.timing_files,
            progress=not args.quiet,
            training_data=f"{len(items)} audio files under {args.dataset}",
            reproduce=_reproduce(
                ["train", "ensemble"],
                args,
                ("dataset", "name", "final_model", "folds", "seed", "timing_files", "out"),
            ),
        )
        path = build_ensemble(items, run)
    except (MusicReclassError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    print(json.dumps({"card": str(path), "name": args.name}))
    return 0
