"""POST /api/batch → 202 {"job"}; GET /api/jobs, GET /api/jobs/ID (progress, then the summary);
DELETE /api/jobs/ID cancels. A full queue answers 503 with Retry-After."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import JSONResponse

from music_reclass_gui.server.batch import run_batch
from music_reclass_gui.server.deps import State, library_path, require_token
from music_reclass_gui.server.jobs import QueueFull
from music_reclass_gui.server.review import decision_policy
from music_reclass_gui.server.schemas import BatchRequest
from music_reclass_gui.server.state import ServerState

router = APIRouter(dependencies=[Depends(require_token)])


def queue_full(state: ServerState, exc: QueueFull) -> JSONResponse:
    state.metrics.error("queue_full")
    return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": str(exc.retry_after)})


@router.post("/api/batch", status_code=202, responses={503: {"description": "queue full"}})
def batch(body: BatchRequest, state: State):
    from music_reclass_gui.server.routes.classify import classifier_or_404

    folder = library_path(state, body.audio_dir, want_dir=True)
    classifier_or_404(state, body.model)  # an unknown model is refused now, not inside the job
    policy = decision_policy(
        keep_existing=body.keep_existing,
        multi_genre=body.multi_genre,
        threshold=body.threshold,
        min_confidence=body.min_confidence,
        album_mode=not body.per_track,
    )
    params = {"audio_dir": str(folder), "model": body.model, "write_tags": body.write_tags, "policy": policy}
    try:
        job = state.jobs.submit("batch", params, lambda j: run_batch(state, j))
    except QueueFull as exc:
        return queue_full(state, exc)
    return {"job": job.id, "state": job.state}


@router.get("/api/jobs")
def list_jobs(state: State) -> dict:
    return {
        "jobs": [
            {k: v for k, v in j.to_json().items() if k not in ("results", "errors")}
            for j in state.jobs.list()
        ],
        "queue_length": state.jobs.queue_length,
    }


@router.get("/api/jobs/{job_id}")
def get_job(job_id: str, state: State) -> dict:
    job = state.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return job.to_json()


@router.delete("/api/jobs/{job_id}")
def cancel_job(job_id: str, state: State) -> dict:
    job = state.jobs.cancel(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id}")
    return {"job": job.id, "state": job.state, "cancel_requested": True}
