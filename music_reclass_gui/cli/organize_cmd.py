"""`music-reclass organize DIR --to OUT` and `music-reclass undo`: sort a library into genre folders.

Albums stay whole by default: every track of an album gets the album's genre (`--per-track` turns that off)
and the layout template (`--layout`, default `{genre}/{albumartist}/{album}/{filename}`) keeps the library's
Artist/Album shape under each genre; covers and other album extras travel with their album.
The plan is always printed first. `--dry-run` stops there and changes nothing; without it, running the
command is the user's acceptance and the plan is carried out (journaled, undoable with `undo`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from music_reclass_gui.cli.decide_args import add_policy_args, policy_from_args
from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN, EXIT_FILES_FAILED
from music_reclass_gui.cli.progress import Progress
from music_reclass_gui.cli.tags_cmd import printable
from music_reclass_gui.core.errors import MusicReclassError, OrganizeError
from music_reclass_gui.core.layout import DEFAULT_LAYOUT, FIELDS, LayoutError, check_layout
from music_reclass_gui.core.organize import (
    UNSORTED_FOLDER,
    MovePlan,
    execute_plan,
    list_operations,
    plan_moves,
    recover_interrupted,
    undo,
)


def _err(cmd: str, message: str) -> None:
    print(f"music-reclass {cmd}: {message}", file=sys.stderr, flush=True)


def _recover(cmd: str) -> None:
    for message in recover_interrupted():
        _err(cmd, message)


Assignment = tuple[list[tuple[Path, "str | None"]], dict[Path, Any], dict[Path, str]]


def _scan(folder: Path) -> dict[Path, Any]:
    """{path: TagInfo or None} of every audio file under folder; unreadable ones are reported."""
    from music_reclass_gui.core.library import scan

    tags: dict[Path, Any] = {}
    for track in scan(
        [folder], read_tags=True, on_error=lambda p, why: _err("organize", f"{printable(p)}: {why}")
    ):
        if track.error:
            _err("organize", f"{printable(track.path)}: {track.error}")
        tags[track.path] = track.tags
    return tags


def _genres_from_tags(folder: Path, args: argparse.Namespace) -> Assignment:
    """The genre already in the tags; in album mode the album's most common one for all its tracks."""
    from music_reclass_gui.core.albums import genres_from_tags

    tags = _scan(folder)
    genres, albums = genres_from_tags(tags, policy_from_args(args))
    return list(genres.items()), tags, albums


def _genres_from_predictions(folder: Path, args: argparse.Namespace) -> Assignment:
    """The folder genre of every file as the decision layer (core.decide) makes it, as the GUI would."""
    from music_reclass_gui.core.decide import decide_library
    from music_reclass_gui.inference.engine import Classifier  # torch only when asked for

    tags = _scan(folder)
    paths = list(tags)
    classifier = Classifier(args.model)
    print(
        f"Classifying {len(paths)} file(s) with {classifier.model_name} on {classifier.device_description}...",
        file=sys.stderr,
        flush=True,
    )
    genres: dict[Path, str | None] = dict.fromkeys(paths)
    results = []
    for result in classifier.classify_many(paths):
        if hasattr(result, "genre"):
            results.append(result)
        else:
            _err("organize", result.error)
    albums: dict[Path, str] = {}
    for path, proposal in decide_library(results, tags, policy_from_args(args)).items():
        genres[path] = proposal.folder_genre if proposal.auto else None
        if proposal.album is not None:
            albums[path] = proposal.album.key
    return list(genres.items()), tags, albums


def _emit(record: dict[str, Any]) -> None:
    print(json.dumps(record, ensure_ascii=False), file=sys.stdout)


def print_plan(plan: MovePlan, as_json: bool) -> None:
    """The plan: one line per file (tracks, their sidecars and album extras, copies), then a summary."""
    out = sys.stdout
    if as_json:
        for m in plan.moves:
            album = printable(m.album) if m.album else None
            base = {"genre": printable(m.genre), "album": album}
            _emit(
                {
                    "type": "move",
                    "source": printable(m.src),
                    "target": printable(m.dst),
                    **base,
                    "src": printable(m.src),
                    "dst": printable(m.dst),
                    "clash": m.clash,
                    "sidecars": [[printable(a), printable(b)] for a, b in m.sidecars],
                }
            )
            for kind, pairs in (("move", m.sidecars), ("copy", m.copies)):
                for a, b in pairs:
                    _emit(
                        {
                            "type": kind,
                            "source": printable(a),
                            "target": printable(b),
                            **base,
                            "of": printable(m.src),
                        }
                    )
        for path, why in plan.skipped:
            _emit({"type": "skip", "path": printable(path), "reason": why})
        _emit(
            {
                "type": "summary",
                "tracks": len(plan.moves),
                "files_moved": len(plan.moves) + sum(len(m.sidecars) for m in plan.moves),
                "files_copied": sum(len(m.copies) for m in plan.moves),
                "albums": len({m.album for m in plan.moves if m.album}),
                "clashes": plan.n_clashes,
                "skipped": len(plan.skipped),
                "counts": {printable(g): n for g, n in plan.counts_per_genre.items()},
                "out_root": printable(plan.out_root),
            }
        )
        return
    for m in plan.moves:
        note = "   [renamed: name already taken]" if m.clash else ""
        print(f"{printable(m.src)}  ->  {printable(m.dst)}{note}", file=out)
        for side_src, side_dst in m.sidecars:
            print(f"    + {printable(side_src.name)}  ->  {printable(side_dst.name)}", file=out)
        for copy_src, copy_dst in m.copies:
            print(f"    + copy {printable(copy_src)}  ->  {printable(copy_dst)}", file=out)
    for path, why in plan.skipped:
        print(f"skip {printable(path)}: {why}", file=out)
    print(
        f"\n{len(plan.moves)} file(s) to move into {printable(plan.out_root)}, {plan.n_clashes} renamed to avoid "
        f"a clash, {len(plan.skipped)} skipped.",
        file=out,
    )
    for genre, count in sorted(plan.counts_per_genre.items(), key=lambda kv: (-kv[1], kv[0].casefold())):
        print(f"  {count:5d}  {printable(genre)}", file=out)


def run_organize(args: argparse.Namespace) -> int:
    _recover("organize")
    folder, out_root = Path(args.dir), Path(args.to)
    if not folder.is_dir():
        _err("organize", f"{printable(folder)}: not a folder")
        return EXIT_CANNOT_RUN
    try:
        check_layout(args.layout)
    except LayoutError as exc:
        _err("organize", f"--layout: {exc}")
        return 2
    try:
        source = _genres_from_tags if args.by == "tag" else _genres_from_predictions
        pairs, tags, albums = source(folder, args)
    except MusicReclassError as exc:
        _err("organize", str(exc))
        return EXIT_CANNOT_RUN
    plan = plan_moves(
        pairs,
        out_root,
        unsorted=UNSORTED_FOLDER if args.unsorted else None,
        source_root=folder,
        layout=args.layout,
        tags=tags,
        albums=albums,
    )
    print_plan(plan, args.json)
    if args.dry_run:
        print("Dry run: nothing was changed.", file=sys.stderr)
        return 0
    if not plan.moves:
        print("Nothing to move.", file=sys.stderr)
        return 0
    bar = Progress(len(plan.moves), label="moving")
    try:
        report = execute_plan(plan, remove_empty_dirs=args.remove_empty_dirs, progress=bar.callback)
    except OrganizeError as exc:
        _err("organize", str(exc))
        return EXIT_CANNOT_RUN
    finally:
        bar.close()
    for path, why in report.failed:
        _err("organize", f"{printable(path)}: {why}")
    print(
        f"Moved {len(report.done)} file(s), {len(report.failed)} failed. Undo with: music-reclass undo {report.op_id}",
        file=sys.stderr,
    )
    return EXIT_FILES_FAILED if report.failed else 0


def run_undo(args: argparse.Namespace) -> int:
    _recover("undo")
    if args.list:
        ops = list_operations()
        if not ops:
            print("No operations recorded.")
        for op in reversed(ops):
            state = "undone" if op.undone else ("can undo" if op.can_undo else f"cannot undo: {op.reason}")
            extra = f" of {op.target}" if op.target else ""
            print(f"{op.op_id}  {op.created}  {op.kind}{extra}  {op.n_items} file(s)  {op.status}  [{state}]")
        return 0
    bar = Progress(0, label="restoring")
    try:
        report = undo(args.op_id, progress=bar.callback)
    except OrganizeError as exc:
        _err("undo", str(exc))
        return EXIT_CANNOT_RUN
    finally:
        bar.close()
    for path, why in report.failed:
        _err("undo", f"{printable(path)}: {why}")
    print(f"Restored {len(report.done)} file(s), {len(report.failed)} failed.", file=sys.stderr)
    return EXIT_FILES_FAILED if report.failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `organize` and `undo` sub-commands."""
    p = sub.add_parser(
        "organize",
        help="move files into OUT/<Genre>/ folders (preview with --dry-run)",
        description=__doc__.split("\n")[0],
    )
    p.add_argument("dir", metavar="DIR", help="folder of music to organise (searched recursively)")
    p.add_argument(
        "--to", required=True, metavar="OUT", help="output root; files go to OUT/<layout> (see --layout)"
    )
    p.add_argument(
        "--layout",
        default=DEFAULT_LAYOUT,
        metavar="TEMPLATE",
        help=f"target path under OUT from the fields {' '.join('{' + f + '}' for f in FIELDS)} "
        f"(default {DEFAULT_LAYOUT!r}; '{{genre}}/{{relpath}}' keeps your own folders)".replace("%", "%%"),
    )
    p.add_argument(
        "--by",
        choices=("tag", "prediction"),
        default="tag",
        help="genre source: the first genre already in the tags (default) or a model's prediction",
    )
    p.add_argument("--model", metavar="NAME", help="model for --by prediction (default: the app's default)")
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.add_argument(
        "--unsorted", action="store_true", help=f"move files without a genre to OUT/{UNSORTED_FOLDER}/"
    )
    p.add_argument("--remove-empty-dirs", action="store_true", help="remove folders under DIR left empty")
    p.add_argument(
        "--json",
        action="store_true",
        help='print the plan as JSON lines: one {"source", "target", "genre", "album"} per file, then a summary',
    )
    p.add_argument(
        "--yes",
        action="store_true",
        help="accepted for scripts; organize never asks (running without --dry-run is the go-ahead)",
    )
    add_policy_args(p)
    p.set_defaults(func=run_organize)

    u = sub.add_parser(
        "undo",
        help="undo the last organize/tag operation, or list them",
        description="Undo the last operation (or OP_ID); refuses if its files changed since.",
    )
    u.add_argument("op_id", nargs="?", metavar="OP_ID", help="operation to undo (default: the last one)")
    u.add_argument("--list", action="store_true", help="list recorded operations, newest first")
    u.set_defaults(func=run_undo)
