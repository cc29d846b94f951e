"""The window's brain without widgets: one opened library (ReviewSession + table model) and the background
jobs that scan, classify, write tags, undo and reorganise it. The window wires its widgets to these signals;
tests drive it directly."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from music_reclass_gui.core.genres import genre_key
from music_reclass_gui.core.review import ReviewSession, Status
from music_reclass_gui.ui.reorganise_plan import reorganise_layout
from music_reclass_gui.ui.settings import AppSettings
from music_reclass_gui.ui.track_table import TrackTableModel
from music_reclass_gui.ui.workers import (
    Job,
    JobRunner,
    apply_job,
    classify_job,
    load_classifier_job,
    plan_job,
    rescan_job,
    scan_job,
    undo_job,
)

log = logging.getLogger(__name__)


@functools.cache
def _genre_key() -> Callable[[str], str]:
    """De-duplicate genres through the genre map's aliases when it loads, else by spelling only."""
    try:
        from music_reclass_gui.core.genres import load_genre_map

        return load_genre_map().key
    except Exception as exc:
        log.warning("genre map unavailable, comparing genres by spelling: %s", exc)
        return genre_key


@dataclass(frozen=True)
class WindowOp:
    """A journaled operation this window made, on the library it had open then: Undo never reaches past
    these (another window's, another face's or another library's operations are not its to revert)."""

    op_id: str
    kind: str  # "tags" | "moves"
    n_files: int
    folder: Path | None
    pairs: tuple[tuple[Path, Path], ...] = ()  # moves: (old path, new path)

    @property
    def label(self) -> str:
        what = "Tag Write" if self.kind == "tags" else "Move"
        return f"Undo {what} ({self.n_files} file{'s' if self.n_files != 1 else ''})"


class Controller(QObject):
    scan_finished = Signal(int)  # tracks found
    classifier_ready = Signal(object)
    classification_finished = Signal(int, bool)  # done, cancelled
    apply_finished = Signal(object)  # OperationReport
    undo_finished = Signal(object)  # OperationReport
    plan_ready = Signal(object, object)  # MovePlan, out_root
    busy_changed = Signal(bool)
    message = Signal(str, str, list)  # text, kind (info|ok|error), details
    progress_begin = Signal(str, int, bool)  # title, total (0 = unknown), cancellable
    progress = Signal(int, int)
    progress_count = Signal(str)
    progress_end = Signal()
    rows_changed = Signal(list)  # paths whose row changed (the detail pane refreshes)

    def __init__(self, settings: AppSettings, classifier: Any = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runner = JobRunner(self)
        self.model = TrackTableModel(self._new_session(), self)
        self.folder: Path | None = None
        self.classifier = classifier
        self._classifier_key = self._wanted_key() if classifier is not None else None
        self._scan: Job | None = None
        self._classify: Job | None = None
        self._loader: Job | None = None
        self._after_classify: list = []  # run once the current (cancelled) classification has ended
        self._writer: Job | None = None  # apply / undo / plan: one at a time
        self._ops: list[WindowOp] = []  # what this window did, oldest first: the only things Undo touches
        self.classify_after_scan = True
        self.last_cancel_latency: float | None = None  # seconds from Cancel to the job's end
        self._cancel_time: float | None = None

    # -- state
    @property
    def session(self) -> ReviewSession:
        return self.model.session

    @property
    def busy(self) -> bool:
        jobs = (self._scan, self._classify, self._loader, self._writer)
        return any(j is not None and j.running for j in jobs)

    @property
    def classifying(self) -> bool:
        return self._classify is not None and self._classify.running and not self._classify.cancelled()

    @property
    def vocabulary(self) -> list[str]:
        return list(getattr(self.classifier, "labels", []) or [])

    def _new_session(self) -> ReviewSession:
        s = self.settings
        return ReviewSession(policy=s.decision_policy(_genre_key()))

    def _wanted_key(self) -> tuple:
        return (self.settings.model, self.settings.device, self.settings.top_k)

    def apply_settings(self, settings: AppSettings) -> None:
        """New preferences: proposals follow keep-existing at once; a new model/device loads on next use."""
        self.settings = settings
        session = self.session
        session.multi_genre, session.threshold = settings.multi_genre, settings.threshold
        if session.keep_existing != settings.keep_existing:
            session.set_keep_existing(settings.keep_existing)
            self.model.refresh_all()
        if session.policy.album_mode != settings.album_mode:
            session.set_album_mode(settings.album_mode)
            self.model.refresh_all()
        if self._classifier_key != self._wanted_key():
            self.classifier = None

    def _start(self, job: Job, attr: str) -> Job:
        setattr(self, attr, job)
        done = lambda *_: self.busy_changed.emit(self.busy)  # noqa: E731
        job.signals.finished.connect(done)
        job.signals.failed.connect(done)
        self.runner.start(job)
        self.busy_changed.emit(True)
        return job

    # -- opening
    def open_paths(self, paths: Sequence[str | Path]) -> None:
        """Open folders and/or files (drop, menu, command line); rows stream in as the scan finds them."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        for job in (self._scan, self._classify):
            if job is not None:
                job.cancel()
        self.progress_end.emit()
        folder = next((p for p in paths if p.is_dir()), paths[0].parent)
        self.folder = folder
        if any(p.is_dir() for p in paths):
            self.settings.add_recent(folder)
            try:
                self.settings.save()
            except OSError as exc:
                log.warning("cannot save recent folders: %s", exc)
        self.model.reset(self._new_session())
        job = Job(scan_job, paths, name="scan")
        job.signals.items.connect(lambda tracks, j=job: self._scanned(j, tracks))
        job.signals.finished.connect(lambda n, j=job: self._scan_done(j, n))
        job.signals.failed.connect(lambda msg: self.message.emit(f"Scanning failed: {msg}", "error", []))
        self.progress_begin.emit(f"Scanning {folder.name or folder}…", 0, True)
        self._start(job, "_scan")

    def _scanned(self, job: Job, tracks: list) -> None:
        if job is self._scan:
            self.model.add_tracks(tracks)
            self.progress_count.emit(f"{self.model.rowCount()} found")

    def _scan_done(self, job: Job, count: int) -> None:
        if job is not self._scan:
            return
        self.progress_end.emit()
        self.scan_finished.emit(count)
        if count == 0:
            self.message.emit(f"No music files found in {self.folder}.", "info", [])
        elif self.classify_after_scan and not job.cancelled():
            self.classify()

    # -- classification
    def classify(self, paths: Iterable[Path] | None = None) -> None:
        """Classify the given rows (default: every pending row) on the worker pool."""
        todo = (
            list(paths) if paths is not None else [i.path for i in self.session if i.status is Status.PENDING]
        )
        if not todo:
            self.message.emit("Nothing left to classify.", "info", [])
            return
        if self._classify is not None and self._classify.running:  # a cancelled run is still winding down
            self._after_classify.append(lambda: self.classify(todo))
            return
        if self._loader is not None and self._loader.running:
            return
        if self.classifier is None or self._classifier_key != self._wanted_key():
            self._load_classifier(lambda: self.classify(todo))
            return
        job = Job(classify_job, self.classifier, todo, name="classify")
        job.signals.items.connect(lambda outcomes, j=job: self._classified(j, outcomes))
        job.signals.progress.connect(
            lambda d, t, j=job: j is self._classify and not j.cancelled() and self.progress.emit(d, t)
        )
        job.signals.finished.connect(lambda r, j=job: self._classify_done(j, r))
        job.signals.failed.connect(lambda msg, j=job: self._classify_failed(j, msg))
        self.progress_begin.emit("Classifying", len(todo), True)
        self._start(job, "_classify")

    def _load_classifier(self, then) -> None:
        job = Job(
            load_classifier_job, self.settings.model, self.settings.device, self.settings.top_k, name="load"
        )
        key = self._wanted_key()

        def ready(classifier: Any) -> None:
            self.classifier, self._classifier_key = classifier, key
            self.classifier_ready.emit(classifier)
            then()

        job.signals.finished.connect(ready)

        def failed(msg: str) -> None:
            self.progress_end.emit()
            self.message.emit(f"Cannot load the model: {msg}", "error", [])
            self.classification_finished.emit(0, True)

        job.signals.failed.connect(failed)
        self.progress_begin.emit(f"Loading model {self.settings.model or ''}…".replace("  ", " "), 0, False)
        self._start(job, "_loader")

    def _classified(self, job: Job, outcomes: list) -> None:
        if job is not self._classify or job.cancelled():
            return  # Cancel means stop: late results of the track that was running are dropped
        changed = []
        for outcome in outcomes:
            if outcome.audio_path not in self.session:
                continue
            if hasattr(outcome, "error"):
                self.session.set_failure(outcome.audio_path, outcome.error)
            else:
                self.session.set_result(outcome)
            changed.append(outcome.audio_path)
        self.model.refresh_paths(changed)
        self.rows_changed.emit(changed)

    def _classify_done(self, job: Job, result: tuple[int, bool]) -> None:
        if job is not self._classify:
            return
        if self._cancel_time is not None:
            self.last_cancel_latency = time.monotonic() - self._cancel_time
            self._cancel_time = None
        done, cancelled = result
        errors = [i for i in self.session if i.status is Status.ERROR]
        if not cancelled:
            self.progress_end.emit()
            text = f"Classified {done} track(s)."
            if errors:
                text += f" {len(errors)} could not be analysed:"
            self.message.emit(
                text, "error" if errors else "ok", [f"{i.path.name}: {i.reason}" for i in errors]
            )
        self.classification_finished.emit(done, cancelled)
        self._run_after_classify()

    def _classify_failed(self, job: Job, msg: str) -> None:
        if job is self._classify:
            self.progress_end.emit()
            self.message.emit(f"Classification stopped: {msg}", "error", [])
            self.classification_finished.emit(0, True)
            self._run_after_classify()

    def _run_after_classify(self) -> None:
        pending, self._after_classify = self._after_classify, []
        for action in pending:
            action()

    def cancel(self) -> None:
        """Stop scanning/classifying now; rows not yet classified stay pending."""
        stopped = False
        writer = self._writer if self._writer is not None and self._writer.name == "apply" else None
        for job in (self._scan, self._classify, writer):
            if job is not None and job.running and not job.cancelled():
                job.cancel()
                stopped = True
        if writer is not None and writer.cancelled():
            return  # the apply report says what was written; the rest stay accepted
        if self._classify is not None and self._classify.cancelled():
            self._cancel_time = time.monotonic()
        self.progress_end.emit()
        if stopped:
            counts = self.session.counts()
            left = counts[Status.PENDING]
            self.message.emit(
                f"Cancelled. {left} track(s) left pending; Classify continues with them.", "info", []
            )

    # -- writing tags
    def apply(self) -> bool:
        """Write the accepted genres on a worker. Returns False when there is nothing to write."""
        changes = self.session.pending_changes()
        if not changes or (self._writer is not None and self._writer.running):
            if not changes:
                self.message.emit(
                    "Nothing to write: accept proposals first (A, or Accept all above).", "info", []
                )
            return False
        job = Job(apply_job, changes, self.settings.id3_version, self.settings.id3_separator, name="apply")
        job.signals.progress.connect(self.progress)
        job.signals.finished.connect(lambda report: self._applied(report, changes))
        job.signals.failed.connect(
            lambda msg: (
                self.progress_end.emit(),
                self.message.emit(f"Writing tags failed: {msg}", "error", []),
            )
        )
        self.progress_begin.emit("Writing tags", len(changes), True)
        self._start(job, "_writer")
        return True

    def _applied(self, report: Any, changes: list) -> None:
        self.progress_end.emit()
        self.session.apply_report(report, changes)
        if report.done:
            self._ops.append(WindowOp(report.op_id, "tags", len(report.done), self.folder))
        self.model.refresh_all()
        self.rows_changed.emit([c.path for c in changes])
        text = f"Wrote genres to {len(report.done)} file(s)."
        if getattr(report, "cancelled", False):
            left = len(changes) - len(report.done) - len(report.failed)
            text = (
                f"Cancelled: wrote genres to {len(report.done)} file(s); {left} left accepted, not written."
            )
        if report.failed:
            text += f" {len(report.failed)} could not be written (the others were):"
            details = [f"{Path(p).name}: {r}" for p, r in report.failed]
            self.message.emit(text, "error", details)
        else:
            self.message.emit(text + " Edit ▸ Undo restores the previous tags.", "ok", [])
        self.apply_finished.emit(report)

    # -- undo
    @property
    def undoable(self) -> WindowOp | None:
        """The last operation this window made on the library it has open, if any: what Undo reverts."""
        return next((op for op in reversed(self._ops) if op.folder == self.folder), None)

    def undo(self) -> bool:
        if self._writer is not None and self._writer.running:
            return False
        op = self.undoable
        if op is None:
            self.message.emit(
                "Nothing to undo: this window has not changed any file in this folder.", "info", []
            )
            return False
        op_id, kind, pairs = op.op_id, op.kind, list(op.pairs)
        job = Job(undo_job, op_id, name="undo")
        job.signals.progress.connect(self.progress)
        job.signals.finished.connect(lambda report: self._undone(report, op_id, kind, pairs))
        job.signals.failed.connect(
            lambda msg: (self.progress_end.emit(), self.message.emit(f"Cannot undo: {msg}", "error", []))
        )
        self.progress_begin.emit("Undoing", 0, False)
        self._start(job, "_writer")
        return True

    def _undone(self, report: Any, op_id: str | None, kind: str, pairs: list[tuple[Path, Path]]) -> None:
        self.progress_end.emit()
        self._ops = [op for op in self._ops if op.op_id != op_id]
        moved = [(Path(a), Path(b)) for a, b in getattr(report, "moved", None) or []]
        if not moved and kind == "moves":
            moved = [(dst, src) for src, dst in pairs]
        restored = [Path(p) for p in report.done]
        if moved:  # files went back to where they were: so do their rows
            for old, new in moved:
                if old in self.session:
                    self.session.relocate(old, new)
            self.model.reset(self.session)
            restored = [new for _, new in moved]
        else:
            self.session.undo_report(report, op_id if kind == "tags" else None)
        # show what is really on disk now
        known = [p for p in restored if p in self.session]
        if known:
            job = Job(rescan_job, known, name="rescan")
            job.signals.finished.connect(
                lambda tracks: (
                    self.session.refresh_tracks(tracks),
                    self.model.refresh_all(),
                    self.rows_changed.emit(known),
                )
            )
            self.runner.start(job)
        self.model.refresh_all()
        text = f"Undone: {len(report.done)} file(s) restored."
        kind_ = "ok"
        details = []
        if report.failed:
            kind_ = "error"
            text += f" {len(report.failed)} could not be restored:"
            details = [f"{Path(p).name}: {r}" for p, r in report.failed]
        self.message.emit(text, kind_, details)
        self.undo_finished.emit(report)

    # -- reorganise
    def out_root(self) -> Path | None:
        return self.settings.output_root_for(self.folder)

    def plan_reorganise(self, unsorted: str | None = None) -> bool:
        out_root = self.out_root()
        assignments = [(i.path, self.session.primary_genre(i.path)) for i in self.session]
        if out_root is None or not any(g for _, g in assignments):
            self.message.emit("Accept some genres first: only accepted tracks are reorganised.", "info", [])
            return False
        layout = reorganise_layout(self.session, self.settings.layout, self.folder)
        job = Job(plan_job, assignments, out_root, unsorted, layout, name="plan")
        job.signals.finished.connect(
            lambda plan: (self.progress_end.emit(), self.plan_ready.emit(plan, out_root))
        )
        job.signals.failed.connect(
            lambda msg: (
                self.progress_end.emit(),
                self.message.emit(f"Cannot plan the moves: {msg}", "error", []),
            )
        )
        self.progress_begin.emit("Planning", 0, False)
        self._start(job, "_writer")
        return True

    def reorganised(self, plan: Any, report: Any) -> None:
        """After OrganizeDialog ran the plan: rows follow their files to the new place."""
        pairs = [
            (Path(a), Path(b)) for a, b in getattr(report, "moved", None) or [] if Path(a) in self.session
        ]
        if not pairs:  # an executor that does not list its moves: take them from the plan
            done = {Path(p) for p in report.done}
            pairs = [(m.src, m.dst) for m in plan.moves if m.src in done or m.dst in done]
        for src, dst in pairs:
            if src in self.session:
                self.session.relocate(src, dst)
        self.model.reset(self.session)
        if pairs:
            self._ops.append(WindowOp(report.op_id, "moves", len(pairs), self.folder, tuple(pairs)))
        self.message.emit(
            f"Moved {len(pairs)} file(s) into {self.out_root()}. Edit ▸ Undo moves them back.", "ok", []
        )

    # -- personal genres
    def learning_material(self) -> tuple[list, list[tuple[Path, tuple[str, ...]]]]:
        """What "Learn genres from this library" learns from: every row's track (its on-disk tags) and the
        genres accepted in this session but not yet written (a written one is already in the track)."""
        tracks = [item.track for item in self.session]
        accepted = [(i.path, tuple(i.proposed)) for i in self.session if i.status is Status.ACCEPTED]
        return tracks, accepted

    def untagged_undecided(self) -> list[Path]:
        """Rows without a genre on disk that the user has not decided on: what a new model should classify."""
        return [
            i.path
            for i in self.session
            if not i.current_genres and i.status in (Status.PENDING, Status.CLASSIFIED)
        ]

    def shutdown(self) -> None:
        self.runner.shutdown()
