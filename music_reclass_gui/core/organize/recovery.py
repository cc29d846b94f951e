"""Start-up recovery: find operations a crash or power loss interrupted and resolve them.

The step that was in flight (an intent without done/failed) is finished or rolled back by looking at the
disk, never guessing: a file found at both places with the recorded SHA-256 is finished (source removed, it
is the same content), only at the destination -> done, only at the source -> not done (our partial copy is
removed). Steps never started stay undone. The operation is then closed as "interrupted" and can be undone
like any other; an interrupted undo is carried on to the end.
"""

from __future__ import annotations

import contextlib
import glob
import os
from pathlib import Path

from music_reclass_gui.core import tags as tagsmod
from music_reclass_gui.core.errors import MusicReclassError, OrganizeError
from music_reclass_gui.core.organize.journal import (
    Operation,
    Step,
    append_record,
    file_state,
    fsync_dir,
    iter_operations,
    operation_lock,
    sha256_file,
)


def _matches(path: Path, size: int, sha: str | None) -> bool:
    try:
        return sha is not None and os.path.getsize(path) == size and sha256_file(path) == sha
    except OSError:
        return False


def _is_recorded_file(path: Path, intent: dict) -> bool:
    """The very file the step started from: same inode, size and mtime (read without hashing)."""
    try:
        st = os.stat(path)
    except OSError:
        return False
    if "sha256" in intent and "ino" not in intent:  # journals written before moves stopped hashing
        return _matches(path, intent["size"], intent["sha256"])
    return (st.st_ino, st.st_size, st.st_mtime_ns) == (
        intent.get("ino"),
        intent["size"],
        intent.get("mtime_ns"),
    )


def _resolve_move(op: Operation, step: Step) -> tuple[bool, str]:
    """Decide from the disk. Same drive: a hard link leaves one inode under both names. Across drives: the
    copy is trusted only when its SHA-256 (journaled once verified) matches, and the source only when it
    is still the file the copy was made from."""
    i = step.intent
    src, dst, size, sha = Path(i["src"]), Path(i["dst"]), i["size"], i.get("sha256")
    tmp = Path(i["tmp"]) if i.get("tmp") else None
    src_ok = _is_recorded_file(src, i)
    dst_ok = (src_ok and os.path.exists(dst) and os.path.samefile(src, dst)) or _matches(dst, size, sha)
    if not dst_ok and sha is None and "ino" in i and os.path.exists(dst) and os.path.getsize(dst) == size > 0:
        # the copy's hash note was lost with the power: a copy only gets its final name once verified
        dst_ok = not os.path.exists(src) or not os.path.samefile(src, dst)
    if not dst_ok and not os.path.exists(src) and os.path.exists(dst):
        dst_ok = _is_recorded_file(dst, i)  # renamed in place (same drive): the inode moved with it
    if tmp is not None and tmp.exists() and (src_ok or dst_ok):
        tmp.unlink()  # our unfinished copy; the full content is safe elsewhere
    if dst_ok and src_ok:
        os.unlink(src)  # same content at both places: finish the move
        fsync_dir(src.parent)
        return True, f"finished moving {src.name} to {dst}"
    if dst_ok and not os.path.exists(src):
        return True, f"{src.name} had already reached {dst}"
    if dst_ok:  # our copy is in place but the source was changed meanwhile: the source wins
        with contextlib.suppress(OSError):
            dst.unlink()
        return False, f"{src.name} was changed during the move; it stays at {src} with its new content"
    if src_ok:
        if dst.exists() and size and os.path.getsize(dst) == 0:
            with contextlib.suppress(OSError):
                dst.unlink()  # our empty name reservation (filesystems without hard links)
        return False, f"{src.name} had not been moved yet; it stays at {src}"
    return False, f"could not find {src.name} unchanged at {src} or {dst}; please check both places"


def _same_genres(a: list[str], b: list[str]) -> bool:
    """Compare as the tag writer stores them: stripped, blanks and case-insensitive repeats dropped."""

    def norm(values: list[str]) -> list[str]:
        out: list[str] = []
        for v in (str(v).strip() for v in values):
            if v and v.casefold() not in {o.casefold() for o in out}:
                out.append(v)
        return out

    return norm(a) == norm(b)


def _remove_tag_writer_leftovers(path: Path) -> None:
    """core.tags writes beside the file as `.<name>.*.mrtmp`; a crash mid-write can leave one behind."""
    for leftover in path.parent.glob(f".{glob.escape(path.name)}.*.mrtmp"):
        with contextlib.suppress(OSError):
            leftover.unlink()


def _resolve_tags(op: Operation, step: Step) -> tuple[bool, str]:
    i = step.intent
    path = Path(i["path"])
    _remove_tag_writer_leftovers(path)
    if not path.exists():
        return False, f"{path} is missing; please check it"
    if "sha256_before" in i:  # journals written before tag writes stopped hashing
        unchanged = sha256_file(path) == i["sha256_before"]
    else:  # the writer always replaces the file: the same inode, size and mtime mean it never got there
        st = os.stat(path)
        unchanged = (st.st_ino, st.st_size, st.st_mtime_ns) == (
            i["ino_before"],
            i["size_before"],
            i["mtime_ns_before"],
        )
    backup = Path(i["backup"]) if i.get("backup") else None
    if unchanged:
        if backup is not None:
            with contextlib.suppress(OSError):
                backup.unlink()  # linked just before the crash: the same file, not an original to keep
        return False, f"genres of {path.name} had not been written yet; file unchanged"
    if backup is not None and backup.exists():
        from music_reclass_gui.core.organize.tag_writes import _remember_backup

        _remember_backup(backup)  # kept for a byte-exact undo until the next operation, as usual
    try:
        sep = op.header.get("options", {}).get("id3_separator", "; ")
        genres = list(tagsmod.read_tags(path, id3_separator=sep).genres)
    except MusicReclassError as exc:
        return False, f"{path.name}: cannot read its tags after the crash ({exc.reason})"
    if _same_genres(genres, list(i["new_genres"])):
        return True, f"genres of {path.name} had been written"
    return False, f"{path.name} was changed by something else; its genres are now {genres}"


def _resolve(op: Operation, step: Step) -> tuple[bool, str]:
    i = step.intent
    if step.action == "move":
        return _resolve_move(op, step)
    if step.action == "tags":
        return _resolve_tags(op, step)
    if step.action == "copy":  # an album extra (extras.copy_file): done once the verified copy is in place
        with contextlib.suppress(OSError):
            os.unlink(i["tmp"])
        return _matches(
            Path(i["dst"]), i["size"], i["sha256"]
        ), f"copy of {Path(i['src']).name} to {i['dst']}"
    if step.action == "mkdir":
        return os.path.isdir(i["path"]), f"folder {i['path']}"
    if step.action == "rmdir":
        return not os.path.exists(i["path"]), f"folder {i['path']}"
    return False, f"unknown step {step.action}"


def _recover_one(op: Operation) -> list[str]:
    with contextlib.suppress(OSError):
        op.path.with_suffix(".reserve").unlink()  # the space the crashed operation had set aside
    notes = []
    n_done = sum(1 for s in op.done_steps if s.action in ("move", "tags"))
    resolved_dirs = [Path(s.intent["path"]) for s in op.done_steps if s.action == "mkdir"]
    for step in op.pending:
        done, note = _resolve(op, step)
        if done and step.action == "mkdir":
            resolved_dirs.append(Path(step.intent["path"]))
        n_done += done and step.action in ("move", "tags")
        if done:
            record = {}
            path = step.intent.get("dst") or step.intent.get("path")
            if step.action in ("move", "tags", "copy"):
                record = file_state(path)
            append_record(op.path, {"type": "done", "step": step.step, "recovered": True, **record})
        else:
            append_record(op.path, {"type": "failed", "step": step.step, "reason": f"interrupted: {note}"})
        if step.action in ("move", "tags"):
            notes.append(note)
    if op.kind == "move":
        _remove_empty_created(op, resolved_dirs)
    append_record(op.path, {"type": "end", "status": "interrupted"})
    head = (
        f"Operation {op.op_id} ({op.kind}, started {op.header.get('created', '?')}) was interrupted "
        f"after {n_done} of {op.header.get('n_items', '?')} item(s)"
    )
    return [head + ("; " + "; ".join(notes) if notes else "") + "."]


def _remove_empty_created(op: Operation, created: list[Path]) -> None:
    """Folders the interrupted operation created and left empty (the kill came before their file arrived)
    are removed again, journaled as rmdir steps so undo still knows the operation's history."""
    step = max((s.step for s in op.steps), default=-1) + 1
    for folder in reversed(created):
        with contextlib.suppress(OSError):
            if folder.is_dir() and not any(folder.iterdir()):
                append_record(
                    op.path, {"type": "intent", "step": step, "action": "rmdir", "path": str(folder)}
                )
                os.rmdir(folder)
                fsync_dir(folder.parent)
                append_record(op.path, {"type": "done", "step": step, "recovered": True})
                step += 1


def recover_interrupted() -> list[str]:
    """Resolve every interrupted operation; returns human messages (empty when all was well).
    Call at start-up of the GUI and before organize/undo in the CLI."""
    messages: list[str] = []
    try:
        with operation_lock(wait_s=0):
            for op in iter_operations():
                if op.end is not None:
                    continue
                messages += _recover_one(op)
                target = op.header.get("target")
                if op.kind == "undo" and target:
                    messages.append(_continue_undo(op.op_id, target))
                elif op.kind in ("move", "tags"):
                    messages.append(f"What was done can be undone with: music-reclass undo {op.op_id}")
    except OrganizeError as exc:
        messages.append(f"Recovery skipped: {exc.reason}")
    return messages


def _continue_undo(undo_id: str, target: str) -> str:
    from music_reclass_gui.core.organize.operations import mark_undone_if_complete, undo

    if mark_undone_if_complete(target, undo_id):
        return f"The undo of {target} had finished."
    try:
        report = undo(target)
    except OrganizeError as exc:
        return f"Could not finish undoing {target}: {exc}"
    if report.failed:
        return f"Finished undoing {target} except: " + "; ".join(f"{p}: {r}" for p, r in report.failed)
    return f"Finished undoing {target}."
