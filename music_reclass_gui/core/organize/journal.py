"""The write-ahead journal: one JSON-lines file per operation under user_data_dir()/journal/.

Why: every change to the user's files must be undoable, and a crash or power loss mid-operation must be
found and resolved on the next start. So each step writes an "intent" line (fsynced) BEFORE touching a
file and a "done" (or "failed") line after. Records:

  {"type": "begin", "op_id", "kind": "move"|"tags"|"undo", "created", "n_items", "options", "target"?}
  {"type": "intent", "step": i, "action": "move"|"mkdir"|"rmdir"|"tags", ...action fields, "reverts"?}
  {"type": "done", "step": i, ...what is on disk after the step (size, mtime_ns, sha256)}
  {"type": "failed", "step": i, "reason"}
  {"type": "end", "status": "complete"|"cancelled"|"interrupted"}
  {"type": "undone", "by": op_id}          (appended to an operation once an undo restored all of it)

While an operation runs its process holds operation_lock(), so recovery in another process (the GUI and
the CLI at once) never mistakes a live operation for a crashed one.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
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

JOURNAL_VERSION = 1
_CHUNK = 1 << 20

# Test seam: called at named points ("intent", "copied", "placed", "acted", "written") with the step index.
# The crash-recovery tests set it inside a child process to os._exit() mid-operation. None in normal use.
fault_hook: Callable[[str, int], None] | None = None


def checkpoint(point: str, step: int) -> None:
    if fault_hook is not None:
        fault_hook(point, step)


def journal_dir() -> Path:
    path = user_data_dir() / "journal"
    path.mkdir(parents=True, exist_ok=True)
    return path


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def file_state(path: str | Path) -> dict[str, Any]:
    """What the journal records about a file after a step: size, mtime_ns, sha256."""
    st = os.stat(path)
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256_file(path)}


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
            from music_reclass_gui.core.errors import OrganizeError

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


def append_record(path: Path, record: dict[str, Any]) -> None:
    """Append one line and fsync it: once this returns, the record survives a power loss."""
    # ASCII escapes keep undecodable file names (surrogate-escaped bytes) intact through the round trip.
    line = json.dumps(record, ensure_ascii=True) + "\n"
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(line)
        fh.flush()
        os.fsync(fh.fileno())


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
        """Callers hold operation_lock() around the whole operation."""
        append_record(self.path, self._header)
        fsync_dir(self.path.parent)
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def intent(self, action: str, **fields: Any) -> int:
        step = self._next_step
        self._next_step += 1
        append_record(self.path, {"type": "intent", "step": step, "action": action, **fields})
        checkpoint("intent", step)
        return step

    def done(self, step: int, **fields: Any) -> None:
        append_record(self.path, {"type": "done", "step": step, **fields})

    def failed(self, step: int, reason: str) -> None:
        append_record(self.path, {"type": "failed", "step": step, "reason": reason})

    def end(self, status: str) -> None:
        append_record(self.path, {"type": "end", "status": status, "ended": _now()})


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
    """Parse one journal; a torn last line (crash mid-write) is ignored, as its step never started."""
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
