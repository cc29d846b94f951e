"""The web page's review: one `core.review.ReviewSession` per server (like the app's window), filled from a
folder of a served library or from uploads, classified on the job queue, decided by the page, applied and
undone through `writes.py`. All access is under one lock: requests and the job thread share it."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from music_reclass_gui.core.decide import DecisionPolicy
from music_reclass_gui.core.review import ReviewItem, ReviewSession, Status
from music_reclass_gui.server import writes

if TYPE_CHECKING:
    from music_reclass_gui.server.jobs import Job
    from music_reclass_gui.server.state import ServerState

_UNSAFE = re.compile(r"[^\w .()\-+&,'\[\]]+", re.UNICODE)


def safe_upload_name(name: str | None) -> str:
    """The base name of an uploaded file, without folders or odd characters (never empty, never hidden)."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = _UNSAFE.sub("_", base).strip(" .")
    return base[:200] or "upload"


def decision_policy(**fields: object) -> DecisionPolicy:
    """The decision policy with the genre map's identity (aliases merged), as the app uses it."""
    from music_reclass_gui.core.genres import genre_key, load_genre_map

    try:
        key = load_genre_map().key
    except Exception:  # no usable genre map: compare spellings only, as the app does
        key = genre_key
    return DecisionPolicy(key=key, **fields)  # type: ignore[arg-type]


class ReviewService:
    def __init__(self, state: ServerState) -> None:
        self.state = state
        self.lock = threading.RLock()
        self.session = ReviewSession(policy=decision_policy())
        self.ops: list[str] = []  # tag operations applied from this page, newest last
        self.last_message = ""

    # -- filling
    def add(self, paths: Iterable[Path]) -> list[Path]:
        """Scan files/folders (tags read) into the session; returns the audio files found."""
        from music_reclass_gui.core.library import scan

        found = [t for t in scan(list(paths), read_tags=True) if self.state.inside(t.path)]
        with self.lock:
            for track in found:
                self.session.add_track(track)
        return [t.path for t in found]

    def classify(self, paths: list[Path], model: str | None = None) -> Job:
        """Queue the classification of these session items (QueueFull when the queue is full)."""
        return self.state.jobs.submit("review", {"paths": [str(p) for p in paths], "model": model}, self._run)

    def _run(self, job: Job) -> None:
        paths = [Path(p) for p in job.params["paths"]]
        job.total_files = len(paths)
        clf = self.state.classifiers.get(job.params.get("model"))
        for out in clf.classify_many(paths, cancelled=job.cancelled):
            data = self.state.record(out)
            if hasattr(out, "genre"):  # the page shows (and multi-genre proposes from) the top k
                out.top_predictions = out.top_predictions[: self.state.config.top_k]
            with self.lock:
                if out.audio_path in self.session:
                    if hasattr(out, "genre"):
                        self.session.set_result(out)
                    else:
                        self.session.set_failure(out.audio_path, out.error)
            if hasattr(out, "genre"):
                job.processed += 1
                job.results.append(data)
            else:
                job.failed += 1
                job.errors.append(data)

    # -- deciding
    def decide(self, path: str, action: str, genres: list[str] | None = None) -> ReviewItem:
        with self.lock:
            if action == "accept":
                item = self.session.accept(path)
            elif action == "edit":
                item = self.session.edit(path, genres or [])
            elif action == "reject":
                item = self.session.reject(path)
            else:
                raise ValueError(f"unknown action {action!r} (accept, edit or reject)")
        self.state.metrics.decision(action)
        return item

    def accept_above(self, threshold: float) -> list[Path]:
        with self.lock:
            accepted = self.session.accept_above(threshold)
        for _ in accepted:
            self.state.metrics.decision("accept")
        return accepted

    def clear(self) -> None:
        with self.lock:
            self.session = ReviewSession(policy=self.session.policy)

    # -- writing
    def apply(self) -> dict[str, Any]:
        with self.lock:
            report = writes.apply_accepted(self.session, id3_version=self.state.config.id3_version)
            if report is None:
                return {"op_id": None, "written": 0, "failed": [], "message": "nothing to write"}
            self.ops.append(report.op_id)
        for _ in report.failed:
            self.state.metrics.error("tags")
        return {
            "op_id": report.op_id,
            "written": len(report.done),
            "failed": [{"audio_path": str(p), "error": f"{p}: {r}"} for p, r in report.failed],
        }

    def undo(self, op_id: str | None = None) -> dict[str, Any]:
        """Undo `op_id`, else the last Apply of this page (else the journal's last operation)."""
        with self.lock:
            target = op_id or (self.ops[-1] if self.ops else None)
            report = writes.undo_operation(self.session, target)
            if target in self.ops:
                self.ops.remove(target)
            self._reread([Path(p) for p in report.done])
        return {
            "op_id": report.op_id,
            "undone": target,
            "restored": len(report.done),
            "failed": [{"audio_path": str(p), "error": f"{p}: {r}"} for p, r in report.failed],
        }

    def _reread(self, paths: list[Path]) -> None:
        from music_reclass_gui.core.library import scan

        known = [p for p in paths if p in self.session]
        if known:
            self.session.refresh_tracks(scan(known, read_tags=True))

    # -- reading
    def items_json(self) -> dict[str, Any]:
        with self.lock:
            items = [item_json(i, self.state.config.top_k) for i in self.session]
            counts = {s.value: n for s, n in self.session.counts().items()}
            ops = list(self.ops)
        return {"items": items, "counts": counts, "operations": ops, "time": time.time()}


def item_json(item: ReviewItem, top_k: int) -> dict[str, Any]:
    """The page shows the top `top_k` candidates (a multi-label model ranks every genre)."""
    return {
        "path": str(item.path),
        "name": item.path.name,
        "status": item.status.value,
        "current_genres": list(item.current_genres),
        "proposed": list(item.proposed),
        "predictions": [
            {"genre": c.genre, "confidence": round(c.confidence, 4)} for c in item.predictions[:top_k]
        ],
        "confidence": None if item.confidence is None else round(item.confidence, 4),
        "changes_disk": item.changes_disk,
        "reason": item.reason,
        "why": getattr(getattr(item, "proposal", None), "reason", None),  # the decision layer's reason
        "model": item.model,
        "decidable": bool(item.predictions) and item.status is not Status.WRITTEN,
    }
