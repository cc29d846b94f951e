"""CONTRACT STUB (being implemented): decode any supported file to mono float32."""

from __future__ import annotations

from pathlib import Path

import numpy as np

# Lower-case extensions the app treats as music (content sniffing may add files without them).
SUPPORTED_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".aif", ".aiff", ".m4a", ".mp4", ".aac"})


def load_audio(path: str | Path, sr: int, offset: float = 0.0, duration: float | None = None) -> np.ndarray:
    """Mono float32 samples at `sr` Hz, shape (n,). Only [offset, offset+duration) is decoded.
    Raises DecodeError naming the file and the reason."""
    raise NotImplementedError


def audio_duration(path: str | Path) -> float:
    """Duration in seconds from the container header, without decoding. Raises DecodeError."""
    raise NotImplementedError
