"""A real server in a background thread of this process, on a free loopback port — for tests, benchmarks
and screenshots that want to share an already loaded classifier with the server."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from music_reclass_gui.server.config import ServerConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_in_thread(config: ServerConfig, start_timeout: float = 20.0) -> Iterator[tuple[str, object]]:
    """Yield (base URL, app); the server (and its job thread) stops on exit."""
    import uvicorn

    from music_reclass_gui.server.app import create_app

    app = create_app(config)
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="music-reclass-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(15)
