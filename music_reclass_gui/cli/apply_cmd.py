"""`music-reclass apply RESULTS [--write-tags] [--organize --to OUT] [--dry-run]`: act on the Parquet results of
`batch --engine ray`, on this machine, through the decision layer (core.decide: thresholds, keep-existing,
albums — the same flags) and the journal, as `batch --write-tags` and `organize --by prediction` do (undo with
`music-reclass undo`).

The plan is always printed first; `--dry-run` stops there. A file whose size or mtime changed since it was
classified is skipped (its result may be stale), as is every file whose classification failed. Needs pyarrow
(the cluster extra), not Ray.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from music_reclass_gui.cli.decide_args import add_policy_args, policy_from_args
from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN, EXIT_FILES_FAILED, EXIT_USAGE
from music_reclass_gui.cli.organize_cmd import print_plan
from music_reclass_gui.cli.progress import Progress
from music_reclass_gui.cli.tags_cmd import printable
from music_reclass_gui.core.decide import Proposal, decide_library
from music_reclass_gui.core.errors import MusicReclassError, OrganizeError
from music_reclass_gui.core.organize import TagChange


def _err(message: str) -> None:
    print(f"music-reclass apply: {message}", file=sys.stderr, flush=True)


def _tags_of(paths: list[Path]) -> dict[Path, Any]:
    """The tags on disk (genres for keep-existing, album tags for album decisions); None when unreadable."""
    from music_reclass_gui.core.tags import read_tags

    out: dict[Path, Any] = {}
    for path in paths:
        try:
            out[path] = read_tags(path)
        except MusicReclassError:
            out[path] = None
    return out


def _guarded(path: Path, genres, row) -> TagChange:
    """A tag change the writer refuses when the file is no longer the one the results describe."""
    if row is None or row.size is None or row.mtime_ns is None:
        return TagChange(path, tuple(genres))
    return TagChange(path, tuple(genres), row.size, row.mtime_ns / 1e9)


def run_apply(args: argparse.Namespace) -> int:
    from music_reclass_gui.cluster.results import read_results
    from music_reclass_gui.core.organize import (
        apply_tag_changes,
        execute_plan,
        plan_moves,
        recover_interrupted,
    )

    if not args.write_tags and not args.organize:
        _err("nothing to do: give --write-tags and/or --organize --to OUT")
        return EXIT_USAGE
    if args.organize and args.to is None:
        _err("--organize needs --to OUT")
        return EXIT_USAGE
    for message in recover_interrupted():
        _err(message)
    try:
        rows = read_results(args.results)
    except MusicReclassError as exc:
        _err(str(exc))
        return EXIT_CANNOT_RUN
    current, skipped = [], []
    for row in rows:
        if row.error:
            skipped.append((row.audio_path, f"classification failed: {row.error}"))
        elif not row.matches_disk():
            skipped.append((row.audio_path, "missing or changed since it was classified; classify it again"))
        else:
            current.append(row)
    # As `batch --write-tags` and `organize --by prediction`: the decision layer sees the tags of every file
    # on disk (albums, keep-existing) and the results of those classified.
    tags = _tags_of([r.audio_path for r in rows if r.audio_path.is_file()])
    classified = {r.audio_path: r for r in current}
    decided: list[tuple[Path, Proposal]] = []
    for path, proposal in decide_library(current, tags, policy_from_args(args)).items():
        if proposal.auto and proposal.genres:
            decided.append((path, proposal))
        else:
            skipped.append((path, proposal.reason))
    if args.write_tags:
        for path, d in decided:
            print(f"tag {printable(path)}: {'; '.join(d.genres)}   [{d.reason}]")
    for path, why in skipped:
        print(f"skip {printable(path)}: {why}")
    plan = None
    if args.organize:
        roots = [str(p.parent) for p, _ in decided]
        source_root = Path(os.path.commonpath(roots)) if roots else None
        plan = plan_moves(
            [(p, d.folder_genre) for p, d in decided],
            args.to,
            source_root=source_root,
        )
        print_plan(plan, as_json=False)
    if args.dry_run:
        print("Dry run: nothing was changed.", file=sys.stderr)
        return 0
    failed = 0
    if args.write_tags and decided:
        bar = Progress(len(decided), label="writing tags")
        try:
            # guarded by what was classified: a file changed after the check above is refused by the writer
            changes = [_guarded(p, d.genres, classified.get(p)) for p, d in decided]
            report = apply_tag_changes(changes, progress=bar.callback)
        except MusicReclassError as exc:  # e.g. another operation holds the journal lock
            _err(f"no tags written: {exc}")
            return EXIT_CANNOT_RUN
        finally:
            bar.close()
        for path, why in report.failed:
            _err(f"{printable(path)}: {why}")
        failed += len(report.failed)
        print(
            f"Wrote the genres of {len(report.done)} file(s), {len(report.failed)} failed. "
            f"Undo with: music-reclass undo {report.op_id}",
            file=sys.stderr,
        )
    if plan is not None and plan.moves:
        bar = Progress(len(plan.moves), label="moving")
        try:
            moved = execute_plan(plan, progress=bar.callback)
        except OrganizeError as exc:
            _err(str(exc))
            return EXIT_CANNOT_RUN
        finally:
            bar.close()
        for path, why in moved.failed:
            _err(f"{printable(path)}: {why}")
        failed += len(moved.failed)
        print(
            f"Moved {len(moved.done)} file(s), {len(moved.failed)} failed. Undo with: music-reclass undo {moved.op_id}",
            file=sys.stderr,
        )
    return EXIT_FILES_FAILED if failed else 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `apply` sub-command."""
    p = sub.add_parser(
        "apply",
        help="write tags / organise from the results of `batch --engine ray` (preview with --dry-run)",
        description=__doc__.split("\n\n")[0],
    )
    p.add_argument(
        "results", type=Path, metavar="RESULTS", help="the --output folder of `batch --engine ray`"
    )
    p.add_argument("--write-tags", action="store_true", help="write each file's decided genres (undoable)")
    p.add_argument("--organize", action="store_true", help="move files into OUT/<Genre>/ folders (undoable)")
    p.add_argument("--to", type=Path, default=None, metavar="OUT", help="output root for --organize")
    add_policy_args(p)
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.set_defaults(func=run_apply)
