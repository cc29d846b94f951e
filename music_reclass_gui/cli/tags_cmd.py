"""`music-reclass tags FILE...`: print each file's tags as JSON lines; optionally write genres first.

One line per file on stdout ({"path","title","artist","album","duration","genres"}); problems go to stderr
naming the file, the other files still run, and the exit code is 1 if any failed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from music_reclass_gui.cli.argtypes import genre_name
from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN, EXIT_FILES_FAILED
from music_reclass_gui.core.errors import MusicReclassError
from music_reclass_gui.core.tags import DEFAULT_ID3_SEPARATOR, read_tags


def printable(text: str | os.PathLike) -> str:
    """Any path or tag text as valid Unicode: undecodable filename bytes (surrogate-escaped) and stray
    surrogates become U+FFFD instead of crashing the output."""
    if isinstance(text, os.PathLike):
        return os.fsencode(text).decode("utf-8", "replace")
    return text.encode("utf-8", "surrogatepass").decode("utf-8", "replace")


def _record(path: Path, separator: str) -> dict:
    info = read_tags(path, id3_separator=separator)
    clean = lambda v: printable(v) if isinstance(v, str) else v  # noqa: E731
    return {
        "path": printable(path),
        "title": clean(info.title),
        "artist": clean(info.artist),
        "album": clean(info.album),
        "duration": round(info.duration, 3) if info.duration is not None else None,
        "genres": [printable(g) for g in info.genres],
    }


def _write(paths: list[Path], genres: list[str], args: argparse.Namespace) -> dict[Path, str]:
    """Write through the journaled tag writer (one undoable operation, under the operation lock that moves
    take too). Returns {file: reason} for the files that could not be written."""
    from music_reclass_gui.core.organize import TagChange, apply_tag_changes, recover_interrupted

    for message in recover_interrupted():
        print(f"music-reclass tags: {message}", file=sys.stderr, flush=True)
    report = apply_tag_changes(
        [TagChange(p, tuple(genres)) for p in paths],
        id3_version=3 if args.id3v23 else 4,
        id3_separator=args.separator,
    )
    if report.done:
        print(f"Undo with: music-reclass undo {report.op_id}", file=sys.stderr, flush=True)
    return {Path(p): why for p, why in report.failed}


def run(args: argparse.Namespace) -> int:
    """Handle each file on its own: one failure never stops the others."""
    failed = 0
    genres = None
    if args.clear_genres:
        genres = []
    elif args.set_genre:
        genres = args.set_genre
    paths = [Path(name) for name in args.files]
    refused: dict[Path, str] = {}
    if genres is not None:
        try:
            refused = _write([Path(os.path.abspath(p)) for p in paths], genres, args)
        except MusicReclassError as exc:  # another operation is running, or the journal cannot be written
            print(f"music-reclass tags: no genre written: {exc.reason}", file=sys.stderr, flush=True)
            return EXIT_CANNOT_RUN
    for path in paths:
        try:
            if Path(os.path.abspath(path)) in refused:
                raise MusicReclassError(path, refused[Path(os.path.abspath(path))])
            line = json.dumps(_record(path, args.separator), ensure_ascii=False)
        except MusicReclassError as exc:
            failed += 1
            print(f"music-reclass tags: {printable(path)}: {exc.reason}", file=sys.stderr, flush=True)
            continue
        print(line, flush=True)
    return EXIT_FILES_FAILED if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `tags` sub-command."""
    p = sub.add_parser(
        "tags",
        help="show tags as JSON lines, optionally set genres",
        description=__doc__.split("\n")[0],
    )
    p.add_argument("files", nargs="+", metavar="FILE", help="audio files")
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--set-genre",
        action="append",
        type=genre_name,
        metavar="GENRE",
        help="write this genre (repeat for several); replaces the existing genres",
    )
    group.add_argument("--clear-genres", action="store_true", help="remove the genre field")
    p.add_argument("--id3v23", action="store_true", help="write ID3v2.3 (MP3/WAV/AIFF) instead of v2.4")
    p.add_argument(
        "--separator",
        default=DEFAULT_ID3_SEPARATOR,
        help=f"joins several genres in ID3v2.3 and splits them on reading (default {DEFAULT_ID3_SEPARATOR!r})",
    )
    p.set_defaults(func=run)
