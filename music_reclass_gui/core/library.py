"""Scan folders / dropped paths into Track records, streaming, fast and without ever crashing on odd files.

Audio is found by extension and by content (magic bytes), so a mis-named or extensionless file is still
found and a text file called .mp3 shows up with an error instead of disappearing. Hidden entries are
skipped, symlink loops are cut by remembering the real path of every folder visited, unreadable folders are
reported and skipped, and names that are not valid UTF-8 travel as surrogate-escaped str (os.fsdecode).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from music_reclass_gui.core import tags as _tags
from music_reclass_gui.core.audio import SNIFF_BYTES, SUPPORTED_EXTENSIONS, sniff_format
from music_reclass_gui.core.errors import MusicReclassError
from music_reclass_gui.core.tags import TagInfo


@dataclass(frozen=True)
class Track:
    path: Path
    size: int
    mtime: float
    tags: TagInfo | None = None  # None when not read or unreadable
    error: str | None = None  # human reason when tags could not be read


def _is_hidden(name: str, entry: os.DirEntry | None = None) -> bool:
    if name.startswith("."):
        return True
    if entry is not None and os.name == "nt":
        try:
            attrs = entry.stat(follow_symlinks=False).st_file_attributes  # type: ignore[attr-defined]
        except (OSError, AttributeError):
            return False
        return bool(attrs & 0x2)  # FILE_ATTRIBUTE_HIDDEN
    return False


def _sniff(path: str) -> str | None:
    try:
        with open(path, "rb") as fh:
            return sniff_format(fh.read(SNIFF_BYTES))
    except OSError:
        return None


def _make_track(path: str, st: os.stat_result, read_tags: bool) -> Track:
    p = Path(path)
    if not read_tags:
        return Track(p, st.st_size, st.st_mtime)
    try:
        info = _tags.read_tags(p)
    except MusicReclassError as exc:
        return Track(p, st.st_size, st.st_mtime, None, exc.reason)
    except Exception as exc:  # a scan never dies on one file
        return Track(p, st.st_size, st.st_mtime, None, f"unexpected {type(exc).__name__}: {exc}")
    return Track(p, st.st_size, st.st_mtime, info, None)


def _wanted(path: str, name: str) -> bool:
    ext = os.path.splitext(name)[1].lower()
    if ext in SUPPORTED_EXTENSIONS:
        return True
    return _sniff(path) is not None  # mis-named or extensionless audio: a 64-byte read decides


def _sort_key(name: str) -> tuple[str, str]:
    return (name.casefold(), name)


def scan(
    paths: Iterable[str | Path] | str | Path,
    *,
    read_tags: bool = True,
    cancelled: Callable[[], bool] | None = None,
    on_error: Callable[[Path, str], None] | None = None,
) -> Iterator[Track]:
    """Yield a Track per supported audio file found (streaming: rows appear as found), in sorted order
    within each folder, each real file once. `on_error(path, reason)` hears about folders that cannot be
    read (they are skipped). Tag read failures become Track.error, never exceptions."""
    if isinstance(paths, (str, bytes, os.PathLike)):
        paths = [paths]
    seen_files: set[str] = set()
    seen_dirs: set[str] = set()

    def report(path: str, reason: str) -> None:
        if on_error is not None:
            on_error(Path(path), reason)

    def stopped() -> bool:
        return cancelled is not None and cancelled()

    def emit(path: str, real: str, st: os.stat_result) -> Track | None:
        if real in seen_files:
            return None
        seen_files.add(real)
        return _make_track(path, st, read_tags)

    def walk(top: str, real_top: str) -> Iterator[Track]:
        # Explicit stack (no recursion limit) of (folder, its real path): a folder's files come first in
        # sorted order, then its subfolders, depth-first, also sorted. Deterministic for a given tree.
        stack: list[Iterator[tuple[str, str]]] = [iter([(top, real_top)])]
        while stack:
            try:
                folder, real_folder = next(stack[-1])
            except StopIteration:
                stack.pop()
                continue
            try:
                with os.scandir(folder) as it:
                    entries = sorted(it, key=lambda e: _sort_key(e.name))
            except OSError as exc:
                report(folder, f"cannot read folder: {exc.strerror or exc}")
                continue
            subdirs: list[tuple[str, str]] = []
            for entry in entries:
                if stopped():
                    return
                if _is_hidden(entry.name, entry):
                    continue
                try:
                    is_link = entry.is_symlink()
                    if entry.is_dir():
                        real = (
                            os.path.realpath(entry.path) if is_link else os.path.join(real_folder, entry.name)
                        )
                        if real not in seen_dirs:
                            seen_dirs.add(real)
                            subdirs.append((entry.path, real))
                        continue
                    if not entry.is_file():
                        continue
                    if not _wanted(entry.path, entry.name):
                        continue
                    st = entry.stat()
                except OSError:  # vanished or a dangling link: nothing to show
                    continue
                real = os.path.realpath(entry.path) if is_link else os.path.join(real_folder, entry.name)
                track = emit(entry.path, real, st)
                if track is not None:
                    yield track
            if subdirs:
                stack.append(iter(subdirs))

    for raw in paths:
        if stopped():
            return
        path = os.path.abspath(os.fspath(raw))
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        try:
            st = os.stat(path)
        except OSError as exc:
            report(path, f"cannot open: {exc.strerror or exc}")
            continue
        real = os.path.realpath(path)
        if stat.S_ISDIR(st.st_mode):
            if real in seen_dirs:
                continue
            seen_dirs.add(real)
            yield from walk(path, real)
        elif stat.S_ISREG(st.st_mode):
            # A file the user named explicitly: include it if it is audio by name or content.
            if _wanted(path, os.path.basename(path)):
                track = emit(path, real, st)
                if track is not None:
                    yield track
            else:
                report(path, "not an audio file")
