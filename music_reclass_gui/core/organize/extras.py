"""Album extras — cover and folder images, .cue, .log, .lrc, .nfo — and the journaled copy that keeps them
when an album is split.

Rule (planner): when every track of a folder leaves it and nothing but extras stays behind
(`only_extras_left`), the extras move with the album (to the folder that gets most of its tracks) and are
copied to any other folder its tracks go to; otherwise they are copied to every target and the originals
stay. So an emptied folder is one whose extras travelled, and the GUI and the CLI (both through the
planner and executor) agree on what is removed. Copies are journaled; undo removes them again.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from music_reclass_gui.core.errors import OrganizeError
from music_reclass_gui.core.organize.fileops import _copy_verified, _place_noreplace, tmp_name
from music_reclass_gui.core.organize.journal import JournalWriter, Step, checkpoint, file_state, sha256_file

ALBUM_EXTRA_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".cue", ".log", ".lrc", ".nfo"}
)
SYSTEM_LEFTOVERS = frozenset({".ds_store", "thumbs.db", "desktop.ini"})  # travel too, never block a removal


def is_album_extra(name: str) -> bool:
    """A file that belongs to the album folder rather than to one track."""
    return Path(name).suffix.lower() in ALBUM_EXTRA_EXTENSIONS or name.casefold() in SYSTEM_LEFTOVERS


def only_extras_left(names: Iterable[str]) -> bool:
    """True when what stays in a folder after its tracks leave is only album extras (or nothing): then the
    extras move with the album and the emptied folder may be removed. THE rule, for the GUI and the CLI."""
    return all(is_album_extra(n) for n in names)


def copy_file(j: JournalWriter, src: Path, dst: Path, **extra: Any) -> dict[str, Any]:
    """Copy one file without ever overwriting (verified by SHA-256); journaled so undo removes the copy."""
    try:
        st = os.stat(src)
        sha = sha256_file(src)
    except OSError as exc:
        raise OrganizeError(src, f"cannot read the file ({exc.strerror or exc})") from exc
    if os.path.lexists(dst):
        raise OrganizeError(dst, "a file with this name already exists there; nothing was overwritten")
    tmp = tmp_name(dst, j.op_id)
    step = j.intent("copy", src=str(src), dst=str(dst), size=st.st_size, sha256=sha, tmp=str(tmp), **extra)
    try:
        _copy_verified(src, tmp, st.st_size, sha)
        _place_noreplace(tmp, dst)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        reason = exc.reason if isinstance(exc, OrganizeError) else f"could not copy the file ({exc})"
        j.failed(step, reason)
        if not isinstance(exc, Exception):
            raise
        raise OrganizeError(src, reason) from exc
    checkpoint("acted", step)
    result = file_state(dst)
    j.done(step, **result)
    return result


def undo_copy(j: JournalWriter, step: Step) -> Path:
    """Remove a copy made by `copy_file` (the caller checked it is unchanged); journaled."""
    dst = Path(step.intent["dst"])
    undo_step = j.intent("uncopy", path=str(dst), reverts=step.step)
    try:
        os.unlink(dst)
    except OSError as exc:
        j.failed(undo_step, exc.strerror or str(exc))
        raise OrganizeError(dst, f"could not remove the copy ({exc.strerror or exc})") from exc
    j.done(undo_step)
    return dst
