"""`music-reclass`: the command-line face of the core. Each sub-command lives in its own module with a
`register(subparsers)` that adds its parser and sets `func(args) -> int` (the exit code)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from music_reclass_gui import __version__
from music_reclass_gui.cli import (
    apply_cmd,
    classify_cmd,
    listen_cmd,
    organize_cmd,
    serve_cmd,
    tags_cmd,
    train_cmd,
)
from music_reclass_gui.cli.exit_codes import EXIT_BROKEN_PIPE, EXIT_INTERRUPTED


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="music-reclass",
        description="Music ReClass: classify, tag, reorganise music by genre; train and evaluate genre models.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in (tags_cmd, classify_cmd, organize_cmd, apply_cmd, train_cmd, serve_cmd, listen_cmd):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # output piped into `head` and friends: stop quietly, as Unix tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    raise SystemExit(main())
