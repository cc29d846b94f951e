"""`batch DIR --engine ray --output RESULTS`: the scale-out engine (music_reclass_gui.cluster) behind the
`batch` command. Prints one JSON summary like the local `batch`, without the per-file results, which are in
the Parquet folder RESULTS (read them with `music-reclass apply RESULTS`)."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from music_reclass_gui.cli.argtypes import positive_int
from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN, EXIT_FILES_FAILED, EXIT_USAGE
from music_reclass_gui.core.errors import MusicReclassError

CRASH_HOOK_ENV = "MUSIC_RECLASS_RAY_CRASH_ONCE"  # tests: a marker file; the first actor to create it dies


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The scale-out options of `batch`."""
    p.add_argument(
        "--engine",
        choices=("local", "ray"),
        default="local",
        help="local: this process (default); ray: a Ray cluster, results to --output (needs the cluster extra)",
    )
    p.add_argument(
        "--address",
        default=None,
        help="--engine ray: join the Ray cluster at ADDR (default: start a local one)",
    )
    p.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="RESULTS",
        help="--engine ray: Parquet results folder (re-runs resume)",
    )
    p.add_argument(
        "--workers",
        type=positive_int,
        default=None,
        help="--engine ray: tagger actors (default: one per GPU, else 1)",
    )


def _err(message: str) -> None:
    print(f"music-reclass batch: {message}", file=sys.stderr, flush=True)


def run_batch_ray(args: argparse.Namespace) -> int:
    if args.output is None:
        _err("--engine ray needs --output RESULTS (a folder for the Parquet results)")
        return EXIT_USAGE
    if args.write_tags:
        _err(
            "--engine ray writes results only; write tags from them with: music-reclass apply RESULTS --write-tags"
        )
        return EXIT_USAGE
    if not args.folder.is_dir():
        _err(f"{args.folder}: not a folder")
        return EXIT_CANNOT_RUN
    try:
        from music_reclass_gui.cluster.pipeline import RayOptions, classify_archive
    except ImportError as exc:
        _err(f'--engine ray needs Ray and pyarrow ({exc.name} is missing): pip install -e ".[cluster]"')
        return EXIT_CANNOT_RUN
    opts = RayOptions(
        model=args.model,
        top_k=args.top_k,
        device=args.device,
        address=args.address,
        workers=args.workers,
        progress=sys.stderr.isatty(),
        crash_once=os.environ.get(CRASH_HOOK_ENV) or None,
    )
    try:
        # Ray's driver prints notices (e.g. a task being retried) on stdout; stdout carries only the JSON.
        with contextlib.redirect_stdout(sys.stderr):
            summary = classify_archive(args.folder, args.output, opts)
    except MusicReclassError as exc:
        _err(str(exc))
        return EXIT_CANNOT_RUN
    print(json.dumps(summary, ensure_ascii=False))
    return EXIT_FILES_FAILED if summary["failed"] else 0
