"""The web page's review: open a folder of a served library or upload files (both queue a classification
job), list the rows, accept/edit/reject, accept all above a confidence, apply (journaled), undo."""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool

from music_reclass_gui.server.deps import State, library_path, require_token
from music_reclass_gui.server.jobs import QueueFull
from music_reclass_gui.server.review import item_json, safe_upload_name
from music_reclass_gui.server.routes.jobs import queue_full
from music_reclass_gui.server.schemas import AcceptAboveRequest, DecideRequest, OpenFolderRequest, UndoRequest
from music_reclass_gui.server.state import ServerState

router = APIRouter(prefix="/api/review", dependencies=[Depends(require_token)])


def _queue(state: ServerState, paths: list[Path], model: str | None) -> Any:
    if not paths:
        return {"job": None, "added": 0}
    try:
        job = state.review.classify(paths, model)
    except QueueFull as exc:
        return queue_full(state, exc)
    return {"job": job.id, "added": len(paths)}


@router.get("")
def items(state: State) -> dict:
    return state.review.items_json()


@router.post("/open")
async def open_folder(body: OpenFolderRequest, state: State) -> Any:
    folder = library_path(state, body.folder, want_dir=True)
    paths = await run_in_threadpool(state.review.add, [folder])
    return _queue(state, paths, body.model)


@router.post("/upload")
async def upload(request: Request, state: State) -> Any:
    """Files dropped on the page: kept under the upload folder (so their tags can be written and undone)."""
    form = await request.form(max_files=100)
    uploads = [f for f in form.getlist("file") if not isinstance(f, str)]
    if not uploads:
        raise HTTPException(422, "upload needs one or more files in the field 'file'")
    folder = Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=state.upload_dir))
    saved = []
    for up in uploads:
        target = folder / safe_upload_name(up.filename)
        n = 2
        while target.exists():
            target = folder / f"{Path(safe_upload_name(up.filename)).stem} ({n}){target.suffix}"
            n += 1
        with open(target, "wb") as fh:
            await run_in_threadpool(shutil.copyfileobj, up.file, fh, 1 << 20)
        saved.append(target)
    paths = await run_in_threadpool(state.review.add, saved)
    model = form.get("model")
    out = _queue(state, paths, model if isinstance(model, str) and model else None)
    if isinstance(out, dict):
        out["saved"] = [str(p) for p in saved]
        out["not_audio"] = [p.name for p in saved if p not in paths]
    return out


@router.post("/decide")
def decide(body: DecideRequest, state: State) -> dict:
    path = str(library_path(state, body.path))
    try:
        item = state.review.decide(path, body.action, body.genres)
    except KeyError as exc:
        raise HTTPException(404, str(exc.args[0] if exc.args else exc)) from exc
    except ValueError as exc:
        raise HTTPException(409, str(exc)) from exc
    return item_json(item, state.config.top_k)


@router.post("/accept-above")
def accept_above(body: AcceptAboveRequest, state: State) -> dict:
    return {"accepted": [str(p) for p in state.review.accept_above(body.threshold)]}


@router.post("/apply")
def apply(state: State) -> dict:
    from music_reclass_gui.core.errors import MusicReclassError

    try:
        return state.review.apply()
    except MusicReclassError as exc:  # e.g. another operation holds the journal lock: nothing written
        state.metrics.error("organize")
        raise HTTPException(409, f"no tags written: {exc}") from exc


@router.post("/undo")
def undo(state: State, body: UndoRequest | None = None) -> dict:
    from music_reclass_gui.core.errors import MusicReclassError

    try:
        return state.review.undo(body.op_id if body else None)
    except MusicReclassError as exc:
        raise HTTPException(409, f"cannot undo: {exc.reason}") from exc


@router.post("/clear")
def clear(state: State) -> dict:
    state.review.clear()
    return {"cleared": True}
