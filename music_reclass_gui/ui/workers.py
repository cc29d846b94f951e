"""Background jobs: everything that decodes, reads or writes tags, runs a model or moves files runs here,
never on the UI thread. Results reach the window through queued signals.

A `Job` wraps a plain function `fn(job, *args)`; the function calls `job.cancelled()`, `job.progress(done,
total)` and `job.emit(obj)` (batched, so thousands of scan rows cost a few dozen signals), and its return value
arrives in `finished`. Errors arrive in `failed` as a human sentence.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, Signal

from music_reclass_gui.core.errors import MusicReclassError

log = logging.getLogger(__name__)

FLUSH_SECONDS = 0.05  # how often batched items are sent to the UI


class JobSignals(QObject):
    items = Signal(list)  # a batch of emitted objects
    progress = Signal(int, int)  # done, total
    finished = Signal(object)  # the function's return value
    failed = Signal(str)  # human reason


class Job(QRunnable):
    """One background task. Keep a reference (JobRunner does) until `finished` or `failed` arrives."""

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "") -> None:
        super().__init__()
        self.setAutoDelete(False)
        self.fn, self.args, self.name = fn, args, name or getattr(fn, "__name__", "job")
        self.signals = JobSignals()
        self._cancel = threading.Event()
        self._done = threading.Event()
        self._buffer: list[Any] = []
        self._last_flush = time.monotonic()
        self._lock = threading.Lock()
        self.delivered = False  # set on the UI thread when `finished`/`failed` has been delivered
        self.signals.finished.connect(self._mark_delivered)  # connected first: runs before other slots
        self.signals.failed.connect(self._mark_delivered)

    def _mark_delivered(self, *_: Any) -> None:
        self.delivered = True

    # -- called from the UI thread
    def cancel(self) -> None:
        self._cancel.set()

    def wait(self, timeout: float | None = None) -> bool:
        """For shutdown only: block until the function returned."""
        return self._done.wait(timeout)

    @property
    def running(self) -> bool:
        """Seen from the UI thread: True until the job's last signal has been handled."""
        return not self.delivered

    # -- called from the worker
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def progress(self, done: int, total: int) -> None:
        self.signals.progress.emit(int(done), int(total))

    def emit(self, obj: Any) -> None:
        with self._lock:
            self._buffer.append(obj)
            due = time.monotonic() - self._last_flush >= FLUSH_SECONDS
        if due:
            self.flush()

    def flush(self) -> None:
        with self._lock:
            batch, self._buffer = self._buffer, []
            self._last_flush = time.monotonic()
        if batch:
            self.signals.items.emit(batch)

    def run(self) -> None:
        try:
            try:
                result = self.fn(self, *self.args)
            except MusicReclassError as exc:
                self.flush()
                self.signals.failed.emit(str(exc))
            except (
                Exception
            ) as exc:  # a bug must reach the user as a message, not kill a pool thread silently
                log.exception("job %s failed", self.name)
                self.flush()
                self.signals.failed.emit(f"{type(exc).__name__}: {exc}")
            else:
                self.flush()
                self.signals.finished.emit(result)
        except (
            RuntimeError
        ) as exc:  # the window (and our signal object) went away while we ran: nobody listens
            log.debug("job %s outlived its window: %s", self.name, exc)
        finally:
            self._done.set()


class JobRunner(QObject):
    """Starts jobs on a QThreadPool and keeps them alive until their last signal has been delivered."""

    def __init__(self, parent: QObject | None = None, pool: QThreadPool | None = None) -> None:
        super().__init__(parent)
        if (
            pool is None
        ):  # its own pool: a winding-down job never makes Apply or a scan wait for a free thread
            pool = QThreadPool(self)
            pool.setMaxThreadCount(max(4, QThreadPool.globalInstance().maxThreadCount()))
        self.pool = pool
        self._jobs: set[Job] = set()

    def start(self, job: Job) -> Job:
        self._jobs.add(job)
        job.signals.finished.connect(lambda _r, j=job: self._jobs.discard(j))
        job.signals.failed.connect(lambda _m, j=job: self._jobs.discard(j))
        self.pool.start(job)
        return job

    @property
    def active(self) -> list[Job]:
        return [j for j in self._jobs if j.running]

    def shutdown(self, timeout: float = 3.0) -> None:
        """Cancel everything and wait a little, so closing the window never leaves a half-written file."""
        for job in list(self._jobs):
            job.cancel()
        deadline = time.monotonic() + timeout
        for job in list(self._jobs):
            job.wait(max(0.0, deadline - time.monotonic()))


# --- the job functions (run on a worker thread) -----------------------------------------------------------


def scan_job(job: Job, paths: Sequence[Path]) -> int:
    """Stream Track records as they are found."""
    from music_reclass_gui.core import library

    count = 0
    for track in library.scan(paths, read_tags=True, cancelled=job.cancelled):
        job.emit(track)
        count += 1
        if job.cancelled():
            break
    return count


def load_classifier_job(job: Job, model: str | None, device: str, top_k: int):
    """Model loading takes seconds: never on the UI thread."""
    from music_reclass_gui.inference.engine import Classifier

    return Classifier(model, device=device, top_k=top_k)


def classify_job(job: Job, classifier: Any, paths: Sequence[Path]) -> tuple[int, bool]:
    """Stream ClassificationResult / ClassificationFailure objects with progress; returns (done, cancelled)."""
    total = len(paths)
    done = 0
    job.progress(0, total)
    for outcome in classifier.classify_many(paths, cancelled=job.cancelled):
        if job.cancelled():
            break
        job.emit(outcome)
        job.flush()  # results are seconds apart: show each one at once
        done += 1
        job.progress(done, total)
    return done, job.cancelled()


def apply_job(job: Job, changes: list, id3_version: int, id3_separator: str):
    from music_reclass_gui.core import organize

    return organize.apply_tag_changes(
        changes,
        id3_version=id3_version,
        id3_separator=id3_separator,
        progress=job.progress,
        cancelled=job.cancelled,
    )


def undo_job(job: Job, op_id: str | None):
    from music_reclass_gui.core import organize

    return organize.undo(op_id, progress=job.progress)


def rescan_job(job: Job, paths: Sequence[Path]) -> list:
    """Re-read tags of specific files (after an undo) so the table shows what is really on disk."""
    from music_reclass_gui.core import library

    return list(library.scan(paths, read_tags=True, cancelled=job.cancelled))


def plan_job(job: Job, assignments: list, out_root: Path, unsorted: str | None, layout: dict | None = None):
    """`layout`: plan_moves' layout, tags, albums and source_root (the user's template and the tracks)."""
    from music_reclass_gui.core import organize

    return organize.plan_moves(assignments, out_root, unsorted=unsorted, **(layout or {}))


def execute_job(job: Job, plan: Any, remove_empty_dirs: bool):
    from music_reclass_gui.core import organize

    return organize.execute_plan(
        plan, remove_empty_dirs=remove_empty_dirs, progress=job.progress, cancelled=job.cancelled
    )


def learn_personal_job(job: Job, tracks: list, accepted: list, min_examples: int, device: str):
    """Examples from the library's tags and review decisions -> a cross-validated personal head."""
    from music_reclass_gui.training import personal

    examples = personal.collect_examples(tracks, accepted=accepted)
    return personal.learn_personal(
        examples, min_examples=min_examples, device=device, progress=job.progress, cancelled=job.cancelled
    )


def save_personal_job(job: Job, result: Any, name: str, replace: bool, source: str):
    from music_reclass_gui.training import personal

    return personal.save_personal(result, name, replace=replace, source=source)


def remove_personal_job(job: Job, name: str) -> str:
    from music_reclass_gui.training import personal

    personal.remove_personal(name)
    return name
