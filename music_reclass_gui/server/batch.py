"""What a batch job does: classify every audio file under a folder (as `music-reclass batch`), and with
`write_tags` write what the decision layer decides (as `batch --write-tags`), journaled and undoable."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from music_reclass_gui.server.jobs import Job
    from music_reclass_gui.server.state import ServerState


def run_batch(state: ServerState, job: Job) -> None:
    from music_reclass_gui.core.library import scan
    from music_reclass_gui.server import writes

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
    classified = []
    for out in clf.classify_many([t.path for t in tracks], cancelled=job.cancelled):
        data = state.record(out)
        if hasattr(out, "genre"):
            job.processed += 1
            job.results.append(data)
            classified.append(out)
        else:
            job.failed += 1
            job.errors.append(data)
    if job.cancelled() or not write:
        return
    changes = writes.decided_changes(classified, {t.path: t.tags for t in tracks}, job.params["policy"])
    report = writes.write_changes(changes, id3_version=state.config.id3_version, cancelled=job.cancelled)
    job.extra["tags_written"] = {
        "op_id": report.op_id,
        "written": len(report.done),
        "failed": [{"audio_path": str(p), "error": f"{p}: {r}"} for p, r in report.failed],
    }
    for _ in report.failed:
        state.metrics.error("tags")
