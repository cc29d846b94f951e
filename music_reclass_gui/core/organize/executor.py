"""Carry out a MovePlan: pre-flight checks first (nothing moves if a folder is read-only), then one
journaled, never-overwriting step per file; sidecars follow their track; emptied folders optionally removed."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from music_reclass_gui.core.errors import OrganizeError
from music_reclass_gui.core.organize.extras import copy_file
from music_reclass_gui.core.organize.fileops import (
    check_inside,
    check_writable_dir,
    ensure_dir,
    move_file,
    nearest_existing,
    remove_dir_if_empty,
)
from music_reclass_gui.core.organize.journal import JournalError, JournalWriter, operation_lock
from music_reclass_gui.core.organize.planner import MovePlan

Progress = Callable[[int, int], None]
Cancelled = Callable[[], bool]


@dataclass
class OperationReport:
    op_id: str
    kind: str  # "move" | "tags" | "undo"
    done: list[Path] = field(default_factory=list)  # files now in their new state (moves: new paths)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (file, human reason); the batch went on
    cancelled: bool = False
    moved: list[tuple[Path, Path]] = field(default_factory=list)  # (old path, new path), sidecars included
    # tag writes: (size, mtime) of each written file afterwards, so a review session keeps guarding later
    # writes with what is really on disk (its own write changed both)
    stats: dict[Path, tuple[int, float]] = field(default_factory=dict)


def preflight(plan: MovePlan) -> None:
    """Refuse the whole plan up front when a destination or source folder cannot be written, or a
    destination filesystem lacks room for the copies it needs."""
    for folder in sorted({m.dst.parent for m in plan.moves}):
        check_writable_dir(folder, "cannot create files in the destination folder")
    for folder in sorted({m.src.parent for m in plan.moves}):
        if folder.is_dir():
            check_writable_dir(folder, "cannot remove files from the source folder")
    need: dict[int, tuple[Path, int]] = {}
    for m in plan.moves:
        try:
            st = os.stat(m.src)
        except OSError:
            continue  # reported per file when its turn comes
        base = nearest_existing(m.dst.parent)
        dev = os.stat(base).st_dev
        if dev != st.st_dev:
            size = st.st_size + sum(os.path.getsize(s) for s, _ in m.sidecars if os.path.exists(s))
            need[dev] = (base, need.get(dev, (base, 0))[1] + size)
    for base, size in need.values():
        free = shutil.disk_usage(base).free
        if size > free:
            raise OrganizeError(
                base,
                f"not enough free space for the copies ({size} bytes needed, {free} free); nothing was moved",
            )


def _remove_emptied(j: JournalWriter, plan: MovePlan, report: OperationReport) -> None:
    if not report.moved:
        return
    parents = {src.parent for src, _ in report.moved}
    stop = plan.source_root or Path(os.path.commonpath([str(p) for p in parents]))
    protected = {plan.out_root, *plan.out_root.parents}
    for start in sorted(parents, key=lambda p: len(p.parts), reverse=True):
        folder = start
        while folder != stop and stop in folder.parents and folder not in protected:
            if not remove_dir_if_empty(j, folder):
                break
            folder = folder.parent


def _drop_created(j: JournalWriter, created: list[Path]) -> None:
    for folder in reversed(created):
        if not remove_dir_if_empty(j, folder):
            break


def execute_plan(
    plan: MovePlan,
    *,
    remove_empty_dirs: bool = False,
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> OperationReport:
    """Move every planned file. Raises OrganizeError before anything moves if pre-flight fails; after
    that, a file that cannot be moved is reported in `failed` and the batch carries on."""
    with operation_lock():
        preflight(plan)
        options = {"out_root": str(plan.out_root), "remove_empty_dirs": remove_empty_dirs}
        with JournalWriter("move", len(plan.moves), options=options) as j:
            from music_reclass_gui.core.organize.tag_writes import prune_backups  # tag_writes imports us

            prune_backups()  # earlier tag writes are final now: their kept originals go
            report = OperationReport(j.op_id, "move")
            total = len(plan.moves)
            for i, move in enumerate(plan.moves):
                if cancelled is not None and cancelled():
                    report.cancelled = True
                    break
                created: list[Path] = []
                try:
                    check_inside(plan.out_root, move.dst)
                    created = ensure_dir(j, move.dst.parent)
                    move_file(j, move.src, move.dst)
                except JournalError:
                    raise  # no journal, no more changes: recovery finishes what the journal began
                except OrganizeError as exc:
                    report.failed.append((move.src, exc.reason))
                    _drop_created(j, created)  # a stale plan leaves no empty genre folder behind
                else:
                    report.done.append(move.dst)
                    report.moved.append((move.src, move.dst))
                    for copy_src, copy_dst in move.copies:  # album extras kept by a split album
                        try:
                            check_inside(plan.out_root, copy_dst)
                            ensure_dir(j, copy_dst.parent)
                            copy_file(j, copy_src, copy_dst, extra_of=str(move.dst))
                        except JournalError:
                            raise
                        except OrganizeError as exc:
                            report.failed.append((copy_src, exc.reason))
                    for side_src, side_dst in move.sidecars:
                        try:
                            check_inside(plan.out_root, side_dst)
                            move_file(j, side_src, side_dst, sidecar_of=str(move.dst))
                            report.moved.append((side_src, side_dst))
                        except JournalError:
                            raise
                        except OrganizeError as exc:
                            report.failed.append((side_src, exc.reason))
                if progress is not None:
                    progress(i + 1, total)
            if remove_empty_dirs and not report.cancelled:
                _remove_emptied(j, plan, report)
            j.end("cancelled" if report.cancelled else "complete")
    return report
