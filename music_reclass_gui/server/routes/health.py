"""GET /api/health: is the server up, what it serves, with which model and device."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from music_reclass_gui import __version__
from music_reclass_gui.server.deps import State, require_token

router = APIRouter(dependencies=[Depends(require_token)])


@router.get("/api/health")
def health(state: State) -> dict:
    loaded = state.classifiers.loaded()
    return {
        "status": "ok",
        "version": __version__,
        "model": state.classifiers.default_name,
        "loaded_models": [c.model_name for c in loaded],
        "device": loaded[-1].device_description if loaded else state.config.device,
        "backend": loaded[-1].backend_description if loaded else None,  # what runs the taggers
        "libraries": [str(p) for p in state.config.libraries],
        "auth": bool(state.config.token),
        "queue_length": state.jobs.queue_length,
        "max_upload_bytes": state.config.max_upload_bytes,
    }


@router.get("/api/libraries")
def libraries(state: State) -> dict:
    """The served libraries and their first-level folders (the page's folder picker)."""
    out = []
    for root in state.config.libraries:
        try:
            subs = sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
        except OSError:
            subs = []
        out.append({"path": str(root), "folders": subs[:500]})
    return {"libraries": out}
