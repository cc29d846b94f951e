"""Journaled genre writes: the one way any face changes a file's genre tag, and the step their undo replays.

`apply_tag_changes` writes a batch as one operation in the journal; `operations.undo` restores the old genres
by calling `tag_step` with old and new swapped. Faces never call `core.tags.write_genres` directly.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from music_reclass_gui.core import tags as tagsmod
from music_reclass_gui.core.errors import OrganizeError, TagError
from music_reclass_gui.core.organize.executor import Cancelled, OperationReport, Progress
from music_reclass_gui.core.organize.journal import JournalWriter, checkpoint, file_state, operation_lock


@dataclass(frozen=True)
class TagChange:
    path: Path
    new_genres: tuple[str, ...]


def tag_step(
    j: JournalWriter, path: Path, old: Iterable[str], new: Iterable[str], options: dict, **extra: Any
) -> None:
    """One journaled genre write. Raises TagError (file unchanged) or OrganizeError."""
    try:
        before = file_state(path)
    except OSError as exc:
        raise OrganizeError(path, f"cannot read the file ({exc.strerror or exc})") from exc
    step = j.intent(
        "tags",
        path=str(path),
        old_genres=list(old),
        new_genres=list(new),
        size_before=before["size"],
        sha256_before=before["sha256"],
        **extra,
    )
    try:
        tagsmod.write_genres(
            path,
            list(new),
            id3_version=options.get("id3_version", 4),
            id3_separator=options.get("id3_separator", "; "),
        )
    except TagError as exc:
        j.failed(step, exc.reason)
        raise
    except Exception as exc:  # a library error the tag module did not translate: still a clean failure
        j.failed(step, str(exc))
        raise OrganizeError(path, f"could not write the genre ({exc})") from exc
    checkpoint("written", step)
    j.done(step, **file_state(path))


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
        report = OperationReport(j.op_id, "tags")
        for i, change in enumerate(changes):
            if cancelled is not None and cancelled():
                report.cancelled = True
                break
            path = Path(os.path.abspath(change.path))
            try:
                old = tuple(tagsmod.read_tags(path, id3_separator=id3_separator).genres)
                if old != tuple(change.new_genres):
                    tag_step(j, path, old, change.new_genres, options)
                report.done.append(path)
            except (TagError, OrganizeError) as exc:
                report.failed.append((path, exc.reason))
            if progress is not None:
                progress(i + 1, len(changes))
        j.end("cancelled" if report.cancelled else "complete")
    return report
