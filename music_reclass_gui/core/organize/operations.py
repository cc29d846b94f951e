"""The list of past operations, and undo (of moves and of tag writes, which live in `tag_writes`).

Undo restores the exact previous paths (moves) and genres (tag writes). It first verifies every file is
exactly as the journal left it (size, mtime and inode/ctime, or the SHA-256 where one was recorded) and that
no later operation touched the same files. A file changed since is left alone and named; the rest is undone.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from music_reclass_gui.core.errors import OrganizeError, TagError
from music_reclass_gui.core.organize.executor import OperationReport, Progress
from music_reclass_gui.core.organize.extras import undo_copy
from music_reclass_gui.core.organize.fileops import (
    check_writable_dir,
    ensure_dir,
    move_file,
    remove_dir_if_empty,
)
from music_reclass_gui.core.organize.journal import (
    JournalError,
    JournalWriter,
    Operation,
    Step,
    append_record,
    iter_operations,
    operation_lock,
    unchanged_since,
)
from music_reclass_gui.core.organize.tag_writes import restore_backup, tag_step

UNDOABLE_KINDS = ("move", "tags")
FILE_ACTIONS = ("move", "tags", "copy")


@dataclass(frozen=True)
class OperationSummary:
    op_id: str
    kind: str  # "move" | "tags" | "undo"
    created: str  # ISO time
    n_items: int  # files this operation changed
    undone: bool
    can_undo: bool
    status: str = ""  # "complete" | "cancelled" | "interrupted" | "running"
    reason: str | None = None  # why it cannot be undone
    target: str | None = None  # for undo operations: the operation they reverted


# ------------------------------------------------------------------------------------------ bookkeeping


def _norm(path: str | Path) -> str:
    return os.path.normcase(os.path.abspath(path)).casefold()


def _step_paths(step: Step) -> set[str]:
    i = step.intent
    return {_norm(i[k]) for k in ("src", "dst", "path") if i.get(k)} if step.action in FILE_ACTIONS else set()


def _reverted(op: Operation, ops: list[Operation]) -> set[int]:
    """Steps of `op` already restored by (possibly partial) undo operations."""
    out: set[int] = set()
    for other in ops:
        if other.kind == "undo" and other.header.get("target") == op.op_id:
            out.update(s.intent["reverts"] for s in other.done_steps if "reverts" in s.intent)
    return out


def _remaining(op: Operation, ops: list[Operation]) -> list[Step]:
    reverted = _reverted(op, ops)
    return [s for s in op.done_steps if s.action in FILE_ACTIONS and s.step not in reverted]


def _why_not_undoable(op: Operation, ops: list[Operation]) -> tuple[str | None, Path | None]:
    if op.kind not in UNDOABLE_KINDS:
        return "an undo cannot itself be undone", None
    if op.undone_by:
        return "already undone", None
    if op.end is None:
        return "it was interrupted and has not been recovered yet", None
    remaining = _remaining(op, ops)
    if not remaining:
        return "it changed no files", None
    mine = set().union(*(_step_paths(s) for s in remaining))
    later = [o for o in ops if o.op_id > op.op_id and o.kind in UNDOABLE_KINDS and not o.undone_by]
    for other in later:
        for step in _remaining(other, ops):
            shared = mine & _step_paths(step)
            if shared:
                path = step.intent.get("path") or step.intent.get("src")
                return f"the later operation {other.op_id} also changed this file; undo that one first", Path(
                    path
                )
    return None, None


def list_operations() -> list[OperationSummary]:
    """Every journaled operation, oldest first."""
    ops = list(iter_operations())
    out = []
    for op in ops:
        reason, _ = _why_not_undoable(op, ops)
        status = op.end.get("status", "") if op.end else "running"
        n_items = sum(1 for s in op.done_steps if s.action in FILE_ACTIONS)
        out.append(
            OperationSummary(
                op.op_id,
                op.kind,
                op.header.get("created", ""),
                n_items,
                undone=bool(op.undone_by),
                can_undo=reason is None,
                status=status,
                reason=reason,
                target=op.header.get("target"),
            )
        )
    return out


# ------------------------------------------------------------------------------------------------- undo


def _verify_unchanged(path: Path, recorded: dict[str, Any]) -> None:
    why = unchanged_since(path, recorded)
    if why:
        raise OrganizeError(path, f"{why}; cannot undo")


def _last_known_states(ops: list[Operation]) -> dict[str, dict[str, Any]]:
    """For every path, what the journal last recorded there (a later tag write and its undo leave the
    file with new bytes; that recorded state, not the older one, is what "unchanged since" means)."""
    states: dict[str, dict[str, Any]] = {}
    for op in ops:
        for step in op.done_steps:
            i = step.intent
            if step.action == "move":
                states.pop(_norm(i["src"]), None)
                states[_norm(i["dst"])] = step.result
            elif step.action == "copy":
                states[_norm(i["dst"])] = step.result
            elif step.action == "tags":
                states[_norm(i["path"])] = step.result
    return states


def _check_undo(remaining: list[Step], ops: list[Operation]) -> dict[int, tuple[Path, str]]:
    """Every precondition, before anything changes. Returns the steps that must be left alone (a file
    edited, moved or replaced since; a name taken; a read-only folder), with the file and the reason; the
    rest of the operation can still be undone. A sidecar stays with its track."""
    known = _last_known_states(ops)
    blocked: dict[int, tuple[Path, str]] = {}
    for step in remaining:
        i = step.intent
        try:
            if step.action == "move":
                _verify_unchanged(Path(i["dst"]), known.get(_norm(i["dst"]), step.result))
                if os.path.lexists(i["src"]):
                    raise OrganizeError(
                        Path(i["src"]), "a file now exists at the original location; cannot undo"
                    )
                check_writable_dir(Path(i["dst"]).parent, "cannot move files out of this folder")
                check_writable_dir(Path(i["src"]).parent, "cannot move files back into this folder")
            elif step.action == "copy":
                _verify_unchanged(Path(i["dst"]), known.get(_norm(i["dst"]), step.result))
                check_writable_dir(Path(i["dst"]).parent, "cannot remove copies from this folder")
            else:
                _verify_unchanged(Path(i["path"]), known.get(_norm(i["path"]), step.result))
                check_writable_dir(Path(i["path"]).parent, "cannot rewrite files in this folder")
        except OrganizeError as exc:
            blocked[step.step] = (exc.path or Path(i.get("path") or i.get("dst", "")), exc.reason)
    held = {_norm(i["dst"]) for s in remaining if s.step in blocked and (i := s.intent).get("dst")}
    for step in remaining:
        owner = step.intent.get("sidecar_of") or step.intent.get("extra_of")
        if step.step not in blocked and owner and _norm(owner) in held:
            path = Path(step.intent["dst"])
            blocked[step.step] = (path, f"kept with {Path(owner).name}, which cannot be undone")
    return blocked


def _pick(ops: list[Operation], op_id: str | None) -> Operation:
    if op_id is None:
        candidates = [o for o in ops if o.kind in UNDOABLE_KINDS and not o.undone_by and _remaining(o, ops)]
        if not candidates:
            raise OrganizeError(None, "there is nothing to undo")
        return candidates[-1]
    for op in ops:
        if op.op_id == op_id:
            return op
    raise OrganizeError(None, f"no operation with id {op_id}")


def undo(op_id: str | None = None, progress: Progress | None = None) -> OperationReport:
    """Undo the last operation (or `op_id`). A file edited or moved since is left alone and reported in
    `failed` while the rest is undone (the operation stays undoable for that file). Raises OrganizeError,
    with nothing changed, when nothing of it can be undone."""
    with operation_lock():
        ops = list(iter_operations())
        op = _pick(ops, op_id)
        reason, path = _why_not_undoable(op, ops)
        if reason:
            raise OrganizeError(path, f"cannot undo operation {op.op_id}: {reason}")
        remaining = _remaining(op, ops)
        blocked = _check_undo(remaining, ops)
        if len(blocked) == len(remaining):  # nothing can be undone: say why, change nothing
            path, why = next(iter(blocked.values()))
            raise OrganizeError(path, why)
        todo = {s.step for s in remaining} - set(blocked)
        options = op.header.get("options", {})
        with JournalWriter("undo", len(remaining), options=options, target=op.op_id) as j:
            report = OperationReport(j.op_id, "undo")
            report.failed.extend(blocked.values())  # left as they are; the rest is undone
            for step in reversed(op.done_steps):
                i = step.intent
                try:
                    if step.action == "mkdir":
                        remove_dir_if_empty(j, Path(i["path"]), reverts=step.step)
                    elif step.action == "rmdir":
                        ensure_dir(j, Path(i["path"]), reverts=step.step)
                    elif step.step not in todo:
                        continue
                    elif step.action == "move":
                        src, dst = Path(i["src"]), Path(i["dst"])
                        ensure_dir(j, src.parent)
                        move_file(j, dst, src, reverts=step.step)
                        report.done.append(src)
                        report.moved.append((dst, src))
                    elif step.action == "copy":
                        undo_copy(j, step)  # a removed copy is not a restored file
                    elif step.action == "tags":
                        path = Path(i["path"])
                        if not restore_backup(j, i, step.step):  # else the genres are written back
                            tag_step(j, path, i["new_genres"], i["old_genres"], options, reverts=step.step)
                        report.done.append(path)
                except JournalError:
                    raise
                except (OrganizeError, TagError) as exc:
                    report.failed.append((exc.path or Path(i.get("path", i.get("dst", ""))), exc.reason))
                if progress is not None and step.step in todo:
                    progress(len(report.done) + len(report.failed), len(remaining))
            j.end("complete")
        if not report.failed:
            append_record(op.path, {"type": "undone", "by": report.op_id})
    return report


def mark_undone_if_complete(target_id: str, by: str) -> bool:
    """After a recovered undo: mark the target undone when nothing of it is left to restore."""
    ops = list(iter_operations())
    for op in ops:
        if op.op_id == target_id and not op.undone_by and not _remaining(op, ops):
            append_record(op.path, {"type": "undone", "by": by})
            return True
    return False
