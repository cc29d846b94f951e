"""What a server instance serves and how: libraries, token, model, limits. Built by `serve` (or a test)."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MiB = 1024 * 1024


def is_loopback(host: str) -> bool:
    """True for addresses only this machine can reach (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


class UnsafeBindError(ValueError):
    """Binding a network-reachable address without a token."""


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve other machines without a token (the API can rewrite the user's tags)."""
    if not is_loopback(host) and not token:
        raise UnsafeBindError(
            f"refusing to listen on {host} without --token: any machine that reaches it could read and "
            "retag your library. Pass --token SECRET (clients send 'Authorization: Bearer SECRET'), or bind "
            "127.0.0.1 and use an SSH tunnel or a reverse proxy."
        )


@dataclass
class ServerConfig:
    libraries: list[Path] = field(default_factory=list)  # folders whose files the API may read and tag
    token: str | None = None  # when set, every API call needs "Authorization: Bearer <token>"
    model: str | None = None  # default model (None: the engine's default)
    device: str = "auto"
    top_k: int = 3
    use_cache: bool = True
    max_upload_bytes: int = 200 * MiB  # larger request bodies get 413
    max_queued_jobs: int = 4  # jobs waiting behind the running one; more get 503 + Retry-After
    max_loaded_models: int = 3
    inference_slots: int = 1  # /api/classify requests analysed at once (the CPU is the limit)
    upload_dir: Path | None = None  # where the web page's uploads are kept (default: data dir/uploads)
    stream_window_s: float = 15.0
    stream_hop_s: float = 3.0
    stream_max_s: float = 1800.0
    id3_version: int = 4
    classifier: Any = None  # a Classifier already loaded for `model` (tests, embedding); optional

    def __post_init__(self) -> None:
        self.libraries = [Path(p).expanduser().resolve() for p in self.libraries]
