"""`music-reclass apply RESULTS [--write-tags] [--organize --to OUT] [--dry-run]`: act on the Parquet results of
`batch --engine ray`, on this machine, through the same decision layer and journal as `batch --write-tags` and
`organize` (undo with `music-reclass undo`).

The plan is always printed first; `--dry-run` stops there. A file whose size or mtime changed since it was
classified is skipped (its result may be stale), as is every file whose classification failed. Needs pyarrow
(the cluster extra), not Ray.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from music_reclass_gui.cli.organize_cmd import print_plan
from music_reclass_gui.cli.tags_cmd import printable
from music_reclass_gui.core.errors import MusicReclassError, OrganizeError


@dataclass(frozen=True)
class Decision:
    genres: tuple[str, ...]  # to write; () = leave the file alone
    folder_genre: str | None
    reason: str


def _err(message: str) -> None:
    print(f"music-reclass apply: {message}", file=sys.stderr, flush=True)


def decide(row, existing: tuple[str, ...], min_confidence: float, keep_existing: bool) -> Decision:
    """THE one place apply turns a result row into genres and a folder: core.decide when it is installed
    (the albums branch), else what `batch --write-tags` and `organize --by prediction` do today (the top
    genre), with the same min-confidence and keep-existing rules."""
    try:
        from music_reclass_gui.core.decide import DecisionPolicy, decide_track  # type: ignore[import-not-found]
    except ImportError:
        top = row.genre
        if not top:
            return Decision((), None, "no prediction")
        reason = f"model: {top} {row.confidence:.0%}"
        if (row.confidence or 0.0) < min_confidence:
            return Decision((), None, f"{reason} (below the {min_confidence:.0%} needed to write it)")
        kept = tuple(existing) if keep_existing else ()
        genres = kept + tuple(g for g in (top,) if g.casefold() not in {k.casefold() for k in kept})
        return Decision(genres, top, reason)
    policy = DecisionPolicy(min_confidence=min_confidence, keep_existing=keep_existing)
    p = decide_track(row, existing, policy)
    return Decision(p.genres if p.auto else (), p.folder_genre if p.auto else None, p.reason)


def _existing_genres(path: Path) -> tuple[str, ...]:
    from music_reclass_gui.core.tags import read_tags

    try:
        return tuple(read_tags(path).genres)
    except MusicReclassError:
        return ()


def run_apply(args: argparse.Namespace) -> int:
    from music_reclass_gui.cluster.results import read_results
    from music_reclass_gui.core.organize import (
        TagChange,
        apply_tag_changes,
        execute_plan,
        plan_moves,
        recover_interrupted,
    )

    if not args.write_tags and not args.organize:
        _err("nothing to do: give --write-tags and/or --organize --to OUT")
        return 2
    if not 0.0 <= args.min_confidence <= 1.0:
        _err("--min-confidence must be between 0 and 1")
        return 2
    if args.organize and args.to is None:
        _err("--organize needs --to OUT")
        return 2
    for message in recover_interrupted():
        _err(message)
    try:
        rows = read_results(args.results)
    except MusicReclassError as exc:
        _err(str(exc))
        return 2
    decided: list[tuple[Path, Decision]] = []
    skipped: list[tuple[Path, str]] = []
    for row in rows:
        if row.error:
            skipped.append((row.audio_path, f"classification failed: {row.error}"))
        elif not row.matches_disk():
            skipped.append((row.audio_path, "missing or changed since it was classified; classify it again"))
        else:
            existing = _existing_genres(row.audio_path) if args.keep_existing else ()
            d = decide(row, existing, args.min_confidence, args.keep_existing)
            if d.genres:
                decided.append((row.audio_path, d))
            else:
                skipped.append((row.audio_path, d.reason))
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
        try:
            report = apply_tag_changes([TagChange(p, d.genres) for p, d in decided])
        except MusicReclassError as exc:  # e.g. another operation holds the journal lock
            _err(f"no tags written: {exc}")
            return 2
        for path, why in report.failed:
            _err(f"{printable(path)}: {why}")
        failed += len(report.failed)
        print(
            f"Wrote the genres of {len(report.done)} file(s), {len(report.failed)} failed. "
            f"Undo with: music-reclass undo {report.op_id}",
            file=sys.stderr,
        )
    if plan is not None and plan.moves:
        try:
            moved = execute_plan(plan)
        except OrganizeError as exc:
            _err(str(exc))
            return 2
        for path, why in moved.failed:
            _err(f"{printable(path)}: {why}")
        failed += len(moved.failed)
        print(
            f"Moved {len(moved.done)} file(s), {len(moved.failed)} failed. Undo with: music-reclass undo {moved.op_id}",
            file=sys.stderr,
        )
    return 1 if failed else 0


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
    p.add_argument(
        "--min-confidence",
        type=float,
        default=0.0,
        metavar="P",
        help="leave files whose best genre is less likely than P (0..1) alone (default 0)",
    )
    p.add_argument(
        "--keep-existing", action="store_true", help="add the decided genre after the genres already there"
    )
    p.add_argument("--dry-run", action="store_true", help="print the plan and change nothing")
    p.set_defaults(func=run_apply)
