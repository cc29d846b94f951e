"""The app's own exceptions. Library errors (mutagen, soundfile, av, OSError) are translated here-bound:
every error a user can see names the file and says why in plain words."""

from __future__ import annotations

from pathlib import Path


class MusicReclassError(Exception):
    """Base class: `path` is the file concerned (or None), `reason` a human sentence."""

    def __init__(self, path: str | Path | None, reason: str):
        self.path = Path(path) if path is not None else None
        self.reason = reason
        super().__init__(f"{self.path}: {reason}" if self.path is not None else reason)


class DecodeError(MusicReclassError):
    """A file could not be decoded to audio (missing, empty, truncated, not audio, unsupported codec, ...)."""


class TagError(MusicReclassError):
    """Tags could not be read or written; the file on disk is unchanged."""


class OrganizeError(MusicReclassError):
    """A move/undo could not be carried out; nothing was lost."""


class ModelError(MusicReclassError):
    """A model is missing, malformed or cannot run on the requested device."""
