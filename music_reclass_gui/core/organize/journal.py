"""The write-ahead journal: one JSON-lines file per operation under user_data_dir()/journal/.

Why: every change to the user's files must be undoable, and a crash or power loss mid-operation must be
found and resolved on the next start. So each step writes an "intent" line (fsynced) BEFORE touching a
file and a "done" (or "failed") line after. Records:

  {"type": "begin", "op_id", "kind": "move"|"tags"|"undo", "created", "n_items", "options", "target"?}
  {"type": "intent", "step": i, "action": "move"|"mkdir"|"rmdir"|"tags", ...action fields, "reverts"?}
  {"type": "done", "step": i, ...what is on disk after the step (size, mtime_ns, sha256)}
  {"type": "note", "step": i, "sha256"}   (mid-step facts, e.g. the hash of a verified cross-drive copy)
  {"type": "failed", "step": i, "reason"}
  {"type": "end", "status": "complete"|"cancelled"|"interrupted"}
  {"type": "undone", "by": op_id}          (appended to an operation once an undo restored all of it)

While an operation runs its process holds operation_lock(), so recovery in another process (the GUI and
the CLI at once) never mistakes a live operation for a crashed one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import errno
import hashlib
import json
import os
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from music_reclass_gui.core.appdirs import user_data_dir
from music_reclass_gui.core.errors import OrganizeError

JOURNAL_VERSION = 1
_CHUNK = 1 << 20
RESERVE_BYTES = 16 * 1024  # set aside per running operation for its last records on a filling disk

# Test seam: called at named points ("intent", "copied", "placed", "acted", "written") with the step index.
# The crash-recovery tests set it inside a child process to os._exit() mid-operation. None in normal use.
fault_hook: Callable[[str, int], None] | None = None


def checkpoint(point: str, step: int) -> None:
    if fault_hook is not None:
        fault_hook(point, step)


def journal_dir() -> Path:
    path = user_data_dir() / "journal"
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _journal_error(path / "x", exc) from exc
    return path


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def stat_record(st: os.stat_result) -> dict[str, Any]:
    """What identifies a file's content without reading it: any write changes mtime and ctime (ctime cannot
    be set back by programs), a replace changes the inode."""
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ctime_ns": st.st_ctime_ns, "ino": st.st_ino}


def file_state(path: str | Path) -> dict[str, Any]:
    """stat_record plus the SHA-256 (reads the whole file: only where the content itself must be known)."""
    return {**stat_record(os.stat(path)), "sha256": sha256_file(path)}


def unchanged_since(path: str | Path, recorded: dict[str, Any]) -> str | None:
    """None when `path` is still what `recorded` (a stat_record, maybe with sha256) describes, else why not.
    Same inode and ctime: unchanged, without reading it. Otherwise only the recorded SHA-256 can tell."""
    try:
        st = os.stat(path)
    except OSError:
        return "the file was moved or deleted since"
    if st.st_size != recorded.get("size") or st.st_mtime_ns != recorded.get("mtime_ns"):
        return "the file was changed since (size or modification time differ)"
    if (st.st_ino, st.st_ctime_ns) == (recorded.get("ino"), recorded.get("ctime_ns")):
        return None
    if "sha256" not in recorded:
        return "the file was replaced or its attributes changed since"
    if sha256_file(path) != recorded["sha256"]:
        return "the file's content was changed since (SHA-256 differs)"
    return None


def fsync_dir(path: str | Path) -> None:
    """Make a rename/link/unlink in `path` durable (POSIX); a no-op where directories cannot be opened."""
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _now() -> str:
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def new_op_id() -> str:
    """Sortable by creation time, unique across processes."""
    return _dt.datetime.now().strftime("%Y%m%dT%H%M%S%f") + "-" + secrets.token_hex(3)


class _FileLock:
    """Exclusive advisory lock on a file; the OS releases it if the process dies."""

    def __init__(self, path: Path):
        self.path = path
        self.fd: int | None = None

    def acquire(self) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if os.name == "nt":
                import msvcrt

                msvcrt.locking(fd, msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            return False
        self.fd = fd
        return True

    def release(self) -> None:
        if self.fd is None:
            return
        if os.name == "nt":
            import msvcrt

            with contextlib.suppress(OSError):
                msvcrt.locking(self.fd, msvcrt.LK_UNLCK, 1)
        os.close(self.fd)
        self.fd = None


_held = threading.local()


@contextlib.contextmanager
def operation_lock(wait_s: float = 5.0) -> Iterator[None]:
    """One journaled operation at a time across processes (GUI and CLI): two reorganisations racing over
    the same files would be unsafe, and recovery must know no live process owns an unfinished journal.
    Re-entrant within a thread (recovery may continue an undo). Raises OrganizeError when busy."""
    depth = getattr(_held, "depth", 0)
    if depth:
        _held.depth = depth + 1
        try:
            yield
        finally:
            _held.depth -= 1
        return
    lock = _FileLock(journal_dir() / "operations.lock")
    deadline = time.monotonic() + wait_s
    while not lock.acquire():
        if time.monotonic() >= deadline:
            raise OrganizeError(
                None, "another Music ReClass operation is running; try again when it has finished"
            )
        time.sleep(0.1)
    _held.depth = 1
    try:
        yield
    finally:
        _held.depth = 0
        lock.release()


class JournalError(OrganizeError):
    """The journal could not be written (full or read-only disk). Raised before the next file is touched,
    so what is on disk is always covered by the journal; the message says what to do."""


def _repair_torn_tail(fh: Any) -> None:
    """A crash (or an old version) mid-append can leave a last line without its newline. Cut it off before
    appending, so the torn bytes never swallow the next record; its step is then resolved from the disk."""
    fh.seek(0, os.SEEK_END)
    size = fh.tell()
    if not size:
        return
    fh.seek(max(0, size - 1))
    if fh.read(1) == b"\n":
        return
    fh.seek(0)
    data = fh.read()
    keep = data.rfind(b"\n") + 1
    fh.truncate(keep)
    fh.seek(keep)


def append_record(path: Path, record: dict[str, Any], *, durable: bool = True) -> None:
    """Append one line and fsync it (unless `durable` is False: a hint recovery can do without), so once
    this returns the record survives a power loss.

    On any write failure (ENOSPC, EIO, ...) the file is cut back to where it was, so no torn line stays
    behind, and JournalError says why; the caller then stops before changing anything more."""
    # ASCII escapes keep undecodable file names (surrogate-escaped bytes) intact through the round trip.
    line = (json.dumps(record, ensure_ascii=True) + "\n").encode("ascii")
    try:
        fh = open(path, "r+b" if path.exists() else "x+b")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise _journal_error(path, exc) from exc
    with fh:
        start = None
        try:
            _repair_torn_tail(fh)
            start = fh.tell()
            fh.write(line)
            fh.flush()
            if durable:
                os.fsync(fh.fileno())
        except OSError as exc:
            if start is not None:
                with contextlib.suppress(OSError):
                    fh.truncate(start)
                    os.fsync(fh.fileno())
            raise _journal_error(path, exc) from exc


def _journal_error(path: Path, exc: OSError) -> JournalError:
    why = "the disk is full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else (exc.strerror or str(exc))
    return JournalError(
        path.parent,
        f"cannot write the operation journal ({why}); stopped before changing anything more. "
        "Free some space there and run the command again: an interrupted operation is finished or "
        "rolled back on the next start",
    )


class JournalWriter:
    """Writes one operation's journal: `with JournalWriter(...) as j:` writes the header, then intent/done."""

    def __init__(
        self,
        kind: str,
        n_items: int,
        *,
        options: dict | None = None,
        target: str | None = None,
        op_id: str | None = None,
    ):
        self.op_id = op_id or new_op_id()
        self.path = journal_dir() / f"{self.op_id}.jsonl"
        self._next_step = 0
        self._reserve_used = False
        self._header = {
            "type": "begin",
            "version": JOURNAL_VERSION,
            "op_id": self.op_id,
            "kind": kind,
            "created": _now(),
            "n_items": n_items,
            "options": options or {},
        }
        if target:
            self._header["target"] = target

    def __enter__(self) -> JournalWriter:
        """Callers hold operation_lock() around the whole operation. Writes the header and sets aside
        RESERVE_BYTES, so the record saying what happened to a file already touched can still be written
        when the disk fills up mid-operation. Raises JournalError (nothing changed) when there is no room."""
        try:
            append_record(self.path, self._header)
            with open(self.reserve_path, "xb") as fh:
                fh.write(b"\0" * RESERVE_BYTES)
                fh.flush()
                os.fsync(fh.fileno())
        except (OSError, JournalError) as exc:
            for leftover in (self.reserve_path, self.path):
                with contextlib.suppress(OSError):
                    leftover.unlink()
            if isinstance(exc, JournalError):
                raise
            raise _journal_error(self.path, exc) from exc
        fsync_dir(self.path.parent)
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(OSError):
            self.reserve_path.unlink()
        return None

    @property
    def reserve_path(self) -> Path:
        return self.path.with_suffix(".reserve")

    def _append_outcome(self, record: dict[str, Any]) -> None:
        """Outcome records describe what already happened on disk: if the disk is full, give back the
        reserve and try once more before giving up."""
        try:
            append_record(self.path, record)
        except JournalError:
            if not self.reserve_path.exists():
                raise
            with contextlib.suppress(OSError):
                self.reserve_path.unlink()
            self._reserve_used = True
            append_record(self.path, record)

    def intent(self, action: str, **fields: Any) -> int:
        if self._reserve_used:  # the disk filled up: finish the records of what happened, start nothing
            raise _journal_error(self.path, OSError(errno.ENOSPC, "No space left on device"))
        step = self._next_step
        self._next_step += 1
        append_record(self.path, {"type": "intent", "step": step, "action": action, **fields})
        checkpoint("intent", step)
        return step

    def note(self, step: int, **fields: Any) -> None:
        """Add what became known mid-step (the SHA-256 of a copy) to the step's intent: a hint for recovery,
        which can decide without it, so it costs no fsync (the step's done line is made durable)."""
        append_record(self.path, {"type": "note", "step": step, **fields}, durable=False)

    def done(self, step: int, **fields: Any) -> None:
        self._append_outcome({"type": "done", "step": step, **fields})

    def failed(self, step: int, reason: str) -> None:
        self._append_outcome({"type": "failed", "step": step, "reason": reason})

    def end(self, status: str) -> None:
        self._append_outcome({"type": "end", "status": status, "ended": _now()})


# ----------------------------------------------------------------------------------------------- reading


@dataclass
class Step:
    step: int
    action: str
    intent: dict[str, Any]
    outcome: str | None = None  # "done" | "failed" | None (pending: intent without outcome)
    result: dict[str, Any] = field(default_factory=dict)


@dataclass
class Operation:
    path: Path
    header: dict[str, Any]
    steps: list[Step]
    end: dict[str, Any] | None
    undone_by: str | None

    @property
    def op_id(self) -> str:
        return self.header["op_id"]

    @property
    def kind(self) -> str:
        return self.header["kind"]

    @property
    def pending(self) -> list[Step]:
        return [s for s in self.steps if s.outcome is None]

    @property
    def done_steps(self) -> list[Step]:
        return [s for s in self.steps if s.outcome == "done"]


def read_operation(path: Path) -> Operation:
    """Parse one journal. A torn line (crash mid-write) is skipped: a torn intent's step never started, and
    a step whose outcome line is torn stays pending, so recovery decides it from the disk, not the journal."""
    header: dict[str, Any] | None = None
    steps: dict[int, Step] = {}
    end = None
    undone_by = None
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            kind = rec.get("type")
            if kind == "begin":
                header = rec
            elif kind == "intent":
                steps[rec["step"]] = Step(rec["step"], rec["action"], rec)
            elif kind == "note" and rec.get("step") in steps:
                steps[rec["step"]].intent.update({k: v for k, v in rec.items() if k not in ("type", "step")})
            elif kind in ("done", "failed") and rec.get("step") in steps:
                steps[rec["step"]].outcome = kind
                steps[rec["step"]].result = rec
            elif kind == "end":
                end = rec
            elif kind == "undone":
                undone_by = rec.get("by")
    if header is None:
        header = {"op_id": path.stem, "kind": "unknown", "created": "", "n_items": 0, "options": {}}
    return Operation(path, header, sorted(steps.values(), key=lambda s: s.step), end, undone_by)


def iter_operations() -> Iterator[Operation]:
    """All operations, oldest first."""
    for path in sorted(journal_dir().glob("*.jsonl")):
        yield read_operation(path)
