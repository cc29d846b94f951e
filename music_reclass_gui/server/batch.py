"""What a batch job does: classify every audio file under a folder (as `music-reclass batch`), and with
`write_tags` write each file's proposal through the review session and `writes.apply_accepted`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from music_reclass_gui.server.jobs import Job
    from music_reclass_gui.server.state import ServerState


def run_batch(state: ServerState, job: Job) -> None:
    from music_reclass_gui.core.library import scan
    from music_reclass_gui.core.review import ReviewSession, ThresholdHooks
    from music_reclass_gui.server import writes
    from music_reclass_gui.server.review import _genre_key

    folder = Path(job.params["audio_dir"])
    write = bool(job.params.get("write_tags"))
    clf = state.classifiers.get(job.params.get("model"))

    def scan_error(path: Path, reason: str) -> None:
        job.errors.append({"audio_path": str(path), "error": f"{path}: {reason}"})
        job.failed += 1
        state.metrics.error("decode")

    tracks = []
    for track in scan(folder, read_tags=write, on_error=scan_error, cancelled=job.cancelled):
        if state.inside(track.path):
            tracks.append(track)
        else:  # a symlink inside the library that leads out of it
            scan_error(track.path, "links outside the served libraries; skipped")
    job.total_files = len(tracks)
    session = ReviewSession(genre_key=_genre_key()) if write else None
    for track in tracks if session is not None else ():
        session.add_track(track)
    for out in clf.classify_many([t.path for t in tracks], cancelled=job.cancelled):
        data = state.record(out)
        if hasattr(out, "genre"):
            job.processed += 1
            job.results.append(data)
            if session is not None:
                session.set_result(out)
        else:
            job.failed += 1
            job.errors.append(data)
    if job.cancelled() or session is None:
        return
    session.review(ThresholdHooks(0.0))  # as `batch --write-tags`: every proposal is accepted
    report = writes.apply_accepted(session, id3_version=state.config.id3_version, cancelled=job.cancelled)
    failed = (
        [] if report is None else [{"audio_path": str(p), "error": f"{p}: {r}"} for p, r in report.failed]
    )
    job.extra["tags_written"] = {
        "op_id": None if report is None else report.op_id,
        "written": 0 if report is None else len(report.done),
        "failed": failed,
    }
