"""POST /api/classify: one file → its genre. A JSON body names a file inside a served library; a multipart
upload (field `file`) is analysed from a temporary copy that is deleted afterwards."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from music_reclass_gui.server.deps import State, library_path, require_token
from music_reclass_gui.server.review import safe_upload_name
from music_reclass_gui.server.schemas import ClassifyRequest, ClassifyResponse
from music_reclass_gui.server.state import ServerState

router = APIRouter(dependencies=[Depends(require_token)])


def classifier_or_404(state: ServerState, model: str | None) -> Any:
    from music_reclass_gui.core.errors import ModelError

    try:
        return state.classifiers.get(model)
    except ModelError as exc:
        raise HTTPException(
            404 if model else 500, f"model {model or state.classifiers.default_name!r}: {exc.reason}"
        ) from exc


def _classify(state: ServerState, path: Path, model: str | None, top_k: int | None, shown: str) -> Any:
    """Classify one file on a worker thread; bad audio → 422 with the CLI's message (naming `shown`)."""
    from music_reclass_gui.core.errors import MusicReclassError
    from music_reclass_gui.inference.engine import ClassificationFailure

    clf = classifier_or_404(state, model)
    with state.inference:
        (out,) = list(clf.classify_many([path]))
    if isinstance(out, ClassificationFailure):
        exc = out.exception
        reason = exc.reason if isinstance(exc, MusicReclassError) else out.error
        out = ClassificationFailure(Path(shown), f"{shown}: {reason}", exc)
        state.record(out)
        return JSONResponse({"detail": out.error, **out.to_json()}, status_code=422)
    data = state.record(out, top_k)
    data["audio_path"] = shown
    return data


@router.post(
    "/api/classify",
    response_model=ClassifyResponse,
    responses={403: {}, 404: {}, 413: {}, 422: {}},
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {"schema": ClassifyRequest.model_json_schema()},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                },
            }
        }
    },
)
async def classify(request: Request, state: State) -> Any:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "multipart/form-data":
        form = await request.form(max_files=1)
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise HTTPException(422, "multipart upload needs a file in the field 'file'")
        model = form.get("model") if isinstance(form.get("model"), str) else None
        top_k = _int_or_none(form.get("top_k"))
        name = safe_upload_name(upload.filename)
        with tempfile.TemporaryDirectory(prefix="music-reclass-upload-") as tmp:
            target = Path(tmp) / name
            with open(target, "wb") as fh:
                await run_in_threadpool(shutil.copyfileobj, upload.file, fh, 1 << 20)
            return await run_in_threadpool(_classify, state, target, model or None, top_k, name)
    try:
        body = ClassifyRequest.model_validate_json(await request.body())
    except ValidationError as exc:
        raise HTTPException(
            422, exc.errors(include_url=False, include_context=False, include_input=False)
        ) from exc
    path = library_path(state, body.audio_path)
    return await run_in_threadpool(_classify, state, path, body.model, body.top_k, str(path))


def _int_or_none(value: Any) -> int | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        k = int(value)
    except ValueError:
        raise HTTPException(422, "top_k must be an integer") from None
    if not 1 <= k <= 50:
        raise HTTPException(422, "top_k must be between 1 and 50")
    return k
