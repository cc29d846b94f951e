"""FastAPI dependencies: the server state, the Bearer token check and library path resolution."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, HTTPException, Request, WebSocket

from music_reclass_gui.server.state import ServerState


def get_state(request: Request) -> ServerState:
    return request.app.state.server


State = Annotated[ServerState, Depends(get_state)]


def token_ok(state: ServerState, authorization: str | None) -> bool:
    expected = state.config.token
    if not expected:
        return True
    scheme, _, value = (authorization or "").partition(" ")
    return scheme.lower() == "bearer" and secrets.compare_digest(value.strip().encode(), expected.encode())


def require_token(request: Request) -> None:
    """Every API call needs `Authorization: Bearer <token>` when the server has a token (401 otherwise)."""
    state = get_state(request)
    if not token_ok(state, request.headers.get("authorization")):
        state.metrics.error("unauthorized")
        raise HTTPException(
            401,
            "missing or wrong token: send 'Authorization: Bearer <token>'",
            {"WWW-Authenticate": "Bearer"},
        )


def websocket_token_ok(ws: WebSocket, header_token: str | None) -> bool:
    """Browsers cannot set headers on a websocket: the token may also come in the JSON header message."""
    state: ServerState = ws.app.state.server
    if token_ok(state, ws.headers.get("authorization")):
        return True
    return header_token is not None and token_ok(state, f"Bearer {header_token}")


def library_path(state: ServerState, raw: str, *, want_dir: bool = False) -> Path:
    """A user-given path → the real path inside a served library. Relative paths are taken from the first
    library. Symlinks are followed and the target checked, so neither `..`, an absolute path elsewhere nor a
    link out of the library reaches anything else (403). A path inside that does not exist → 404."""
    if not raw or "\x00" in raw:
        raise HTTPException(422, "empty or invalid path")
    given = Path(raw).expanduser()
    if not given.is_absolute():
        if not state.config.libraries:
            raise HTTPException(403, f"{raw}: relative paths need a served library (--library DIR)")
        given = state.config.libraries[0] / given
    real = Path(os.path.realpath(given))
    if not state.inside(real):
        state.metrics.error("forbidden")
        raise HTTPException(403, f"{raw}: outside the served libraries")
    if not real.exists():
        raise HTTPException(404, f"{raw}: no such file or folder")
    if want_dir and not real.is_dir():
        raise HTTPException(422, f"{raw}: not a folder")
    if not want_dir and not real.is_file():
        raise HTTPException(422, f"{raw}: not a file")
    return real
