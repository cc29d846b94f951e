"""A bounded job queue with one worker thread: batch classification (optionally writing tags) and the web
page's classification of review items. A full queue is refused (503 + Retry-After) instead of growing; a job
can be cancelled while queued or running (the engine checks between decodes and network passes)."""

from __future__ import annotations

import itertools
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

QUEUED, RUNNING, DONE, CANCELLED, FAILED = "queued", "running", "done", "cancelled", "failed"
FINISHED = (DONE, CANCELLED, FAILED)


class QueueFull(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"the job queue is full; retry in {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Job:
    id: str
    kind: str  # "batch" | "review"
    params: dict[str, Any]
    run: Callable[[Job], None]
    state: str = QUEUED
    total_files: int = 0
    processed: int = 0
    failed: int = 0
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. tags_written
    error: str | None = None  # why the whole job failed
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    cancel_event: threading.Event = field(default_factory=threading.Event)

    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def to_json(self) -> dict[str, Any]:
        out = {
            "job": self.id,
            "audio_dir": self.params.get("audio_dir"),
            "kind": self.kind,
            "state": self.state,
            "total_files": self.total_files,
            "processed": self.processed,
            "failed": self.failed,
            "results": list(self.results),
            "errors": list(self.errors),
            "created": self.created,
            "started": self.started,
            "finished": self.finished,
            **self.extra,
        }
        if self.error:
            out["error"] = self.error
        return out


class JobManager:
    def __init__(self, max_queued: int = 4, keep_finished: int = 200) -> None:
        self.max_queued = max_queued
        self.keep_finished = keep_finished
        self._jobs: dict[str, Job] = {}
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._thread: threading.Thread | None = None
        self._durations: list[float] = []

    # -- state
    @property
    def queue_length(self) -> int:
        with self._lock:
            return sum(j.state == QUEUED for j in self._jobs.values())

    @property
    def running(self) -> int:
        with self._lock:
            return sum(j.state == RUNNING for j in self._jobs.values())

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id)

    def list(self) -> list[Job]:
        with self._lock:
            return list(self._jobs.values())

    def _retry_after(self) -> int:
        typical = sorted(self._durations)[len(self._durations) // 2] if self._durations else 10.0
        return max(1, int(round(typical)))

    # -- actions
    def submit(self, kind: str, params: dict[str, Any], run: Callable[[Job], None]) -> Job:
        with self._lock:
            if sum(j.state == QUEUED for j in self._jobs.values()) >= self.max_queued:
                raise QueueFull(self._retry_after())
            job = Job(f"{next(self._ids)}-{int(time.time() * 1000) % 100000:05d}", kind, params, run)
            self._jobs[job.id] = job
            self._forget_old()
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="server-jobs", daemon=True)
                self._thread.start()
        self._queue.put(job)
        return job

    def cancel(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                return None
            job.cancel_event.set()
            if job.state == QUEUED:
                job.state, job.finished = CANCELLED, time.time()
        return job

    def stop(self) -> None:
        """Cancel everything and let the worker end (server shutdown)."""
        for job in self.list():
            if job.state not in FINISHED:
                self.cancel(job.id)
        self._queue.put(None)

    def _forget_old(self) -> None:
        done = [j for j in self._jobs.values() if j.state in FINISHED]
        for job in done[: max(0, len(done) - self.keep_finished)]:
            del self._jobs[job.id]

    def _work(self) -> None:
        while (job := self._queue.get()) is not None:
            with self._lock:
                if job.state != QUEUED:  # cancelled while waiting
                    continue
                job.state, job.started = RUNNING, time.time()
            try:
                job.run(job)
                state = CANCELLED if job.cancelled() else DONE
            except Exception as exc:  # a job never takes the worker down
                job.error = str(exc) or type(exc).__name__
                state = FAILED
            with self._lock:
                job.state, job.finished = state, time.time()
                self._durations = (self._durations + [job.finished - (job.started or job.finished)])[-20:]
