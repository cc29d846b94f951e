"""A real uvicorn server on a free port, in a thread of the test process (so it can share the session's
loaded classifier), for the server, stream and browser tests."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from music_reclass_gui.server.app import create_app
from music_reclass_gui.server.config import ServerConfig


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_server(config: ServerConfig) -> Iterator[tuple[str, object]]:
    """Yield (base URL, app) of a real server; stopped (and its job thread cancelled) on exit."""
    app = create_app(config)
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}", app
    finally:
        server.should_exit = True
        thread.join(15)


def wait_job(client, job_id: str, timeout: float = 120.0) -> dict:
    """Poll GET /api/jobs/ID until the job has finished."""
    deadline = time.monotonic() + timeout
    while True:
        data = client.get(f"/api/jobs/{job_id}").json()
        if data["state"] in ("done", "cancelled", "failed"):
            return data
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {data['state']} after {timeout} s: {data}")
        time.sleep(0.1)
