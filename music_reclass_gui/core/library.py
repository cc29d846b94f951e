"""CONTRACT STUB (being implemented): scan folders / dropped paths into Track records."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from music_reclass_gui.core.tags import TagInfo


@dataclass(frozen=True)
class Track:
    path: Path
    size: int
    mtime: float
    tags: TagInfo | None = None   # None when not read or unreadable
    error: str | None = None       # human reason when tags could not be read


def scan(paths: Iterable[str | Path], *, read_tags: bool = True,
         cancelled: Callable[[], bool] | None = None) -> Iterator[Track]:
    """Yield a Track per supported audio file found (streaming: rows appear as found)."""
    raise NotImplementedError
