"""CONTRACT STUB (being implemented): the genres field for every format, plus the fields the UI shows."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class TagInfo:
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    duration: float | None = None  # seconds
    genres: tuple[str, ...] = field(default_factory=tuple)


def read_tags(path: str | Path) -> TagInfo:
    """Raises TagError naming the file and the reason."""
    raise NotImplementedError


def write_genres(path: str | Path, genres: list[str] | tuple[str, ...], *, id3_version: int = 4,
                 id3_separator: str = "; ") -> None:
    """Replace the genre field only; atomic (copy beside, fsync, rename). Raises TagError, file unchanged."""
    raise NotImplementedError
