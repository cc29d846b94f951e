"""Writing weights files atomically: a crash or a full disk never leaves a half-written model/checkpoint."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch


def save_atomic(obj: Any, path: str | Path) -> Path:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_payload(path: str | Path, *, fmt: str, kind: str, version: int) -> dict[str, Any]:
    """Read a plain-dict weights file (no pickled code) and check its format tag and version, so every
    model kind rejects a foreign or too-new file with the same clear ModelError naming the file."""
    from music_reclass_gui.core.errors import ModelError

    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise ModelError(path, f"not a readable weights file ({type(exc).__name__}: {exc})") from exc
    if not isinstance(data, dict) or data.get("format") != fmt:
        raise ModelError(path, f"not a {kind} weights file")
    if int(data.get("version", 0)) > version:
        raise ModelError(path, f"written by a newer version (format {data.get('version')}); update the app")
    return data
