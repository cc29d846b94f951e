"""GET /metrics (Prometheus text) and GET /api/stats (JSON totals + time series for the monitoring page)."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from music_reclass_gui.server.deps import State, require_token
from music_reclass_gui.server.metrics import gpu_gauges
from music_reclass_gui.server.state import ServerState

router = APIRouter(dependencies=[Depends(require_token)])


def _gauges(state: ServerState) -> dict[str, tuple[str, float]]:
    out = {
        "queue_length": ("Jobs waiting in the queue.", float(state.jobs.queue_length)),
        "jobs_running": ("Jobs being worked on.", float(state.jobs.running)),
        "uptime_seconds": ("Seconds since the server started.", float(state.metrics.totals()["uptime_s"])),
    }
    for clf in state.classifiers.loaded()[-1:]:
        out.update(gpu_gauges(clf.device))
    return out


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(state: State) -> PlainTextResponse:
    return PlainTextResponse(
        state.metrics.render(_gauges(state)), media_type="text/plain; version=0.0.4; charset=utf-8"
    )


@router.get("/api/stats")
def stats(state: State, bucket_s: float = 10.0, n: int = 60) -> dict:
    bucket_s = min(3600.0, max(1.0, bucket_s))
    n = min(360, max(1, n))
    totals = state.metrics.totals()
    totals["queue_length"] = state.jobs.queue_length
    totals["jobs_running"] = state.jobs.running
    return {"totals": totals, "bucket_s": bucket_s, "timeline": state.metrics.timeline(bucket_s, n)}
