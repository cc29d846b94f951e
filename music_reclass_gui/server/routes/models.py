"""GET /api/models: the installed models (model cards), and which one is the default."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from music_reclass_gui.server.deps import State, require_token

router = APIRouter(dependencies=[Depends(require_token)])


@router.get("/api/models")
def models(state: State) -> dict:
    from music_reclass_gui.core.errors import ModelError
    from music_reclass_gui.inference.registry import list_models

    problems: list[ModelError] = []
    cards = [c.summary() for c in list_models(problems)]
    for card in cards:
        card.pop("card", None)  # a server-side path the client has no use for
    return {
        "default": state.classifiers.default_name,
        "models": cards,
        "problems": [str(p) for p in problems],
    }
