"""Journaled genre writes: the one way any face changes a file's genre tag, and the step their undo replays.

`apply_tag_changes` writes a batch as one operation in the journal; `operations.undo` restores the old genres
by calling `tag_step` with old and new swapped. Faces never call `core.tags.write_genres` directly.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from music_reclass_gui.core import tags as tagsmod
from music_reclass_gui.core.errors import OrganizeError, TagError
from music_reclass_gui.core.organize.executor import Cancelled, OperationReport, Progress
from music_reclass_gui.core.organize.journal import (
    JournalError,
    JournalWriter,
    checkpoint,
    fsync_dir,
    journal_dir,
    operation_lock,
    stat_record,
)


@dataclass(frozen=True)
class TagChange:
    """New genres for one file. `expected_size`/`expected_mtime` are what the scan saw (Track.size, .mtime):
    a file replaced or edited since (so the prediction is about other audio) is refused, not written."""

    path: Path
    new_genres: tuple[str, ...]
    expected_size: int | None = None
    expected_mtime: float | None = None

    @classmethod
    def for_track(cls, track: Any, new_genres: Iterable[str]) -> TagChange:
        """A change guarded by what the library scan saw of `track` (a core.library.Track)."""
        return cls(track.path, tuple(new_genres), track.size, track.mtime)


def tag_step(
    j: JournalWriter,
    path: Path,
    old: Iterable[str],
    new: Iterable[str],
    options: dict,
    *,
    expected: TagChange | None = None,
    **extra: Any,
) -> None:
    """One journaled genre write. Raises TagError (file unchanged) or OrganizeError."""
    try:
        before = stat_record(os.stat(path))  # no hashing: the writer replaces the inode, so it tells
    except OSError as exc:
        raise OrganizeError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    backup = (
        _backup_name(path, j.op_id) if "reverts" not in extra and _room_for_backup(path, before) else None
    )
    step = j.intent(
        "tags",
        path=str(path),
        old_genres=list(old),
        new_genres=list(new),
        size_before=before["size"],
        mtime_ns_before=before["mtime_ns"],
        ino_before=before["ino"],
        **({"backup": str(backup)} if backup else {}),
        **extra,
    )
    try:
        tagsmod.write_genres(
            path,
            list(new),
            id3_version=options.get("id3_version", 4),
            id3_separator=options.get("id3_separator", "; "),
            expected_mtime=expected.expected_mtime if expected else None,
            expected_size=expected.expected_size if expected else None,
            keep_original=backup,
        )
    except TagError as exc:
        _drop(backup)
        j.failed(step, exc.reason)
        raise
    except Exception as exc:  # a library error the tag module did not translate: still a clean failure
        _drop(backup)
        j.failed(step, str(exc))
        raise OrganizeError(path, f"could not write the genre ({exc})") from exc
    checkpoint("written", step)
    if backup is not None:
        _remember_backup(backup)
    j.done(step, **stat_record(os.stat(path)))


# Byte-exact undo. The writer replaces a file by a new inode; the old one is kept under a hidden name beside
# it (a hard link: no copy, but it holds its disk space) until the operation is final: the next journaled
# operation prunes it. Undo then renames it back, so a WAV gets no empty ID3 chunk and an Ogg does not grow.
BACKUP_SUFFIX = ".mrorig"
_MIN_FREE_AFTER = 256 * 2**20  # keep backups only while the disk keeps this much free besides
_MIN_FREE_SHARE = 0.05  # ... and this share of its size


def _backup_name(path: Path, op_id: str) -> Path:
    return path.parent / f".{path.name}.{op_id[-6:]}{BACKUP_SUFFIX}"


def _room_for_backup(path: Path, before: dict[str, Any]) -> bool:
    try:
        usage = shutil.disk_usage(path.parent)
    except OSError:
        return False
    return usage.free - before["size"] > max(_MIN_FREE_AFTER, _MIN_FREE_SHARE * usage.total)


def _drop(backup: Path | None) -> None:
    if backup is not None:
        with contextlib.suppress(OSError):
            backup.unlink()


def _backup_list() -> Path:
    return journal_dir() / "backups.txt"


def _remember_backup(backup: Path) -> None:
    with open(_backup_list(), "a", encoding="utf-8", errors="surrogateescape") as fh:
        fh.write(str(backup) + "\n")


def prune_backups() -> None:
    """Make earlier tag operations final: drop the original files kept for their byte-exact undo (their
    undo still restores the genres, by rewriting them)."""
    listing = _backup_list()
    if not listing.exists():
        return
    for line in listing.read_text(encoding="utf-8", errors="surrogateescape").splitlines():
        if line.endswith(BACKUP_SUFFIX):
            _drop(Path(line))
    with contextlib.suppress(OSError):
        listing.unlink()


def restore_backup(j: JournalWriter, step_intent: dict[str, Any], reverts: int) -> bool:
    """Undo one tag write by putting back the original file kept beside it (exact bytes and times). The
    caller verified the file is as the write left it. Returns False when no usable backup is there."""
    path, backup = Path(step_intent["path"]), step_intent.get("backup")
    if not backup:
        return False
    backup = Path(backup)
    try:
        st = os.stat(backup)
    except OSError:
        return False
    if (st.st_ino, st.st_size, st.st_mtime_ns) != (
        step_intent["ino_before"],
        step_intent["size_before"],
        step_intent["mtime_ns_before"],
    ):
        return False
    step = j.intent(
        "tags",
        path=str(path),
        old_genres=list(step_intent["new_genres"]),
        new_genres=list(step_intent["old_genres"]),
        restored_from=str(backup),
        reverts=reverts,
    )
    try:
        os.replace(backup, path)
        fsync_dir(path.parent)
    except OSError as exc:
        j.failed(step, exc.strerror or str(exc))
        raise OrganizeError(path, f"could not put the original file back ({exc.strerror or exc})") from exc
    j.done(step, **stat_record(os.stat(path)))
    return True


def apply_tag_changes(
    changes: Iterable[TagChange],
    *,
    id3_version: int = 4,
    id3_separator: str = "; ",
    progress: Progress | None = None,
    cancelled: Cancelled | None = None,
) -> OperationReport:
    """Write new genres to each file, journaled so `undo()` restores the old ones. Bad files are reported
    in `failed` and the batch carries on. Files whose genres already match are left untouched."""
    changes = list(changes)
    options = {"id3_version": id3_version, "id3_separator": id3_separator}
    with operation_lock(), JournalWriter("tags", len(changes), options=options) as j:
        prune_backups()
        report = OperationReport(j.op_id, "tags")
        for i, change in enumerate(changes):
            if cancelled is not None and cancelled():
                report.cancelled = True
                break
            path = Path(os.path.abspath(change.path))
            try:
                old = tuple(tagsmod.read_tags(path, id3_separator=id3_separator).genres)
                if old != tuple(change.new_genres):
                    tag_step(j, path, old, change.new_genres, options, expected=change)
                st = os.stat(path)
                report.stats[path] = (st.st_size, st.st_mtime)
                report.done.append(path)
            except JournalError:
                raise  # no journal, no more changes
            except (TagError, OrganizeError) as exc:
                report.failed.append((path, exc.reason))
            if progress is not None:
                progress(i + 1, len(changes))
        j.end("cancelled" if report.cancelled else "complete")
    return report
