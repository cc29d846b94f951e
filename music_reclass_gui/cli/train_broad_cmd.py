"""`train broad`: the broad multi-label default model (kind "fused") from GTZAN clips and a tagged library
(registered via train_cmd.TRAIN_PLUGINS; the training itself is training/broad.py).

train broad --gtzan DIR --library DIR [--name broad] [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

from music_reclass_gui.cli.argtypes import non_negative_int
from music_reclass_gui.core.errors import MusicReclassError


def register_train(tsub: argparse._SubParsersAction) -> None:
    b = tsub.add_parser(
        "broad", help="the broad multi-label model: a GTZAN head fused with the taggers' genre labels"
    )
    b.add_argument("--gtzan", type=Path, required=True, metavar="DIR", help="GTZAN clips in DIR/<genre>/")
    b.add_argument(
        "--library", type=Path, required=True, metavar="DIR", help="tagged real tracks (folder per source)"
    )
    b.add_argument("--name", default="broad", help="model name (default broad)")
    b.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    b.add_argument("--out", type=Path, default=None, help="folder for weights + card (default: your models)")
    b.add_argument("--figures", type=Path, default=None, metavar="DIR", help="also write the reliability PNG")
    b.add_argument("--no-cache", action="store_true", help="recompute features instead of using the cache")
    b.add_argument("--quiet", action="store_true", help="no progress bars")
    b.set_defaults(func=_train_broad)


def _train_broad(args: argparse.Namespace) -> int:
    from music_reclass_gui.core.appdirs import user_models_dir
    from music_reclass_gui.training.broad_run import BroadRun, train_broad_model

    for folder in (args.gtzan, args.library):
        if not folder.is_dir():
            print(f"error: {folder}: not a folder", file=sys.stderr)
            return 2
    words = ["music-reclass", "train", "broad", "--gtzan", str(args.gtzan), "--library", str(args.library)]
    if args.name != "broad":
        words += ["--name", args.name]
    if args.seed:
        words += ["--seed", str(args.seed)]
    if args.out is not None:
        words += ["--out", str(args.out)]
    if args.figures is not None:
        words += ["--figures", str(args.figures)]
    run = BroadRun(
        name=args.name,
        out_dir=args.out or user_models_dir(),
        gtzan_clips=args.gtzan,
        library=args.library,
        seed=args.seed,
        use_cache=not args.no_cache,
        progress=not args.quiet,
        reproduce=" ".join(shlex.quote(w) for w in words),
        figures=args.figures,
    )
    try:
        path = train_broad_model(run)
    except (MusicReclassError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(json.dumps({"card": str(path), "name": args.name}))
    return 0
