"""`create_app(config)`: the FastAPI application — JSON API routers, the web page and monitoring page, the
upload size limit — and `run(config, host, port)` to serve it with uvicorn."""

from __future__ import annotations

from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from music_reclass_gui import __version__
from music_reclass_gui.server.config import ServerConfig, check_bind
from music_reclass_gui.server.routes import classify, health, jobs, metrics, models, review, stream
from music_reclass_gui.server.state import ServerState

STATIC = Path(__file__).resolve().parent / "static"


class _TooLarge(Exception):
    pass


class BodyLimit:
    """ASGI middleware: request bodies over `limit` bytes get 413 — from Content-Length up front, or by
    counting the bytes as they arrive (chunked uploads), before any of it reaches a handler's disk."""

    def __init__(self, app, state: ServerState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.state.config.max_upload_bytes
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            return await self._reject(send, limit)
        seen = 0
        started = False

        async def counting_receive():
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise _TooLarge
            return message

        async def tracking_send(message):
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._reject(send, limit)

    async def _reject(self, send, limit: int) -> None:
        self.state.metrics.error("too_large")
        response = JSONResponse(
            {"detail": f"request body larger than the limit of {limit} bytes ({limit / 2**20:.0f} MiB)"},
            status_code=413,
        )
        await response({"type": "http"}, None, send)


def create_app(config: ServerConfig | None = None) -> FastAPI:
    config = config or ServerConfig()
    state = ServerState(config)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        state.jobs.stop()

    app = FastAPI(
        title="Music ReClass",
        version=__version__,
        description="Genre classification, review and tagging of the served music libraries.",
        lifespan=lifespan,
    )
    app.state.server = state
    for module in (classify, jobs, review, models, health, metrics, stream):
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    @app.get("/monitor", include_in_schema=False)
    def monitor() -> FileResponse:
        return FileResponse(STATIC / "monitor.html")

    app.add_middleware(BodyLimit, state=state)
    return app


def run(config: ServerConfig, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> None:
    """Serve until interrupted. Refuses a non-loopback `host` without a token (UnsafeBindError)."""
    import uvicorn

    check_bind(host, config.token)
    uvicorn.run(create_app(config), host=host, port=port, log_level=log_level, ws_max_size=16 * 2**20)
