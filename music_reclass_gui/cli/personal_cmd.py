"""`train personal DIR --name NAME`: learn the library's own genres from its tagged tracks (training/personal.py).

Prints the summary as JSON (examples per genre, left-out genres, cross-validated accuracy overall and per
genre, confusion matrix with its labels, the multi-genre policy) and installs the model unless --dry-run.
`train personal --remove NAME` deletes a personal model. Exit codes: 0 done, 2 usage, 3 nothing to learn / bad input
(the message says why: no tags, a single genre, every genre below the minimum, a name in use).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from music_reclass_gui.cli.argtypes import add_device_option, non_negative_int, positive_int
from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN as EXIT_BAD_INPUT
from music_reclass_gui.core.errors import MusicReclassError


def register_train(tsub: argparse._SubParsersAction) -> None:
    """Add `train personal` (listed in train_cmd.TRAIN_PLUGINS)."""
    from music_reclass_gui.training.personal import DEFAULT_FOLDS, DEFAULT_MIN_EXAMPLES

    p = tsub.add_parser(
        "personal",
        help="learn your own genres from the tracks of a library that already have genre tags",
        description="Learn your own genres from the tracks of a library that already carry genre tags, print "
        "the cross-validated summary as JSON and save the model (see `music-reclass models`).",
    )
    p.add_argument("dir", nargs="?", type=Path, metavar="DIR", help="the music library (folders are scanned)")
    p.add_argument("--name", help="name of the model to save (how `classify --model NAME` finds it)")
    p.add_argument(
        "--min-examples",
        type=int,
        default=DEFAULT_MIN_EXAMPLES,
        metavar="N",
        help=f"genres with fewer tagged tracks are left out (default {DEFAULT_MIN_EXAMPLES}, at least 2)",
    )
    p.add_argument(
        "--folds", type=positive_int, default=DEFAULT_FOLDS, help="cross-validation folds at most (default 5)"
    )
    p.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    add_device_option(p, "where the musicnn features are computed when not cached")
    p.add_argument("--dry-run", action="store_true", help="print the summary, save nothing")
    p.add_argument("--replace", action="store_true", help="overwrite an existing model of that name")
    p.add_argument("--remove", metavar="NAME", help="delete the personal model NAME and exit")
    p.add_argument("--quiet", action="store_true", help="no progress on stderr")
    p.set_defaults(func=run_personal)


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_BAD_INPUT


def _progress(quiet: bool):
    if quiet or not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        end = "\n" if done >= total else ""
        print(f"\rfeatures {done}/{total}", end=end, file=sys.stderr, flush=True)

    return show


def run_personal(args: argparse.Namespace) -> int:
    from music_reclass_gui.training import personal

    if args.remove:
        try:
            personal.remove_personal(args.remove)
        except MusicReclassError as exc:
            return _fail(str(exc))
        print(json.dumps({"removed": args.remove}))
        return 0
    if args.dir is None:
        return _fail("give the library folder (DIR), or --remove NAME")
    if not args.dir.is_dir():
        return _fail(f"{args.dir}: folder not found")
    if not args.dry_run and not args.name:
        return _fail("--name NAME is required to save the model (or use --dry-run)")
    try:
        name = personal.sanitize_name(args.name) if args.name else None
        from music_reclass_gui.core.library import scan

        tracks = list(scan([args.dir], read_tags=True))
        unreadable = [t for t in tracks if t.error]
        for t in unreadable:
            print(f"skipped: {t.path}: {t.error}", file=sys.stderr)
        examples = personal.collect_examples(tracks)
        result = personal.learn_personal(
            examples,
            min_examples=args.min_examples,
            folds=args.folds,
            seed=args.seed,
            device=args.device,
            progress=_progress(args.quiet),
        )
        summary = result.to_json()
        summary["library"] = str(args.dir)
        summary["unreadable"] = [{"path": str(t.path), "error": t.error} for t in unreadable]
        if not args.dry_run:
            words = ["music-reclass", "train", "personal", str(args.dir), "--name", name]
            if args.min_examples != personal.DEFAULT_MIN_EXAMPLES:
                words += ["--min-examples", str(args.min_examples)]
            card = personal.save_personal(
                result,
                name,
                replace=args.replace,
                source=args.dir.name or str(args.dir),
                reproduce=" ".join(shlex.quote(w) for w in words),
            )
            summary["name"] = card.name
            summary["card"] = str(card.path)
    except MusicReclassError as exc:
        return _fail(exc.reason if exc.path is None else str(exc))
    print(json.dumps(summary, ensure_ascii=False))
    return 0
