"""Journaled single-file steps that never overwrite: move (link/rename or verified copy), mkdir, rmdir,
and the writability checks run before anything moves. Shared by the executor and by undo."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import shutil
import stat
from pathlib import Path
from typing import Any, BinaryIO

from music_reclass_gui.core.errors import OrganizeError
from music_reclass_gui.core.organize.journal import (
    JournalWriter,
    checkpoint,
    fsync_dir,
    sha256_file,
    stat_record,
)

_CHUNK = 1 << 20
# link() unsupported here (FAT/exFAT, some network shares): fall back to reserve-then-replace.
_NO_LINK = {
    errno.EPERM,
    errno.EACCES,
    errno.ENOSYS,
    errno.EMLINK,
    errno.EINVAL,
    getattr(errno, "ENOTSUP", -1),
    getattr(errno, "EOPNOTSUPP", -1),
}


def nearest_existing(folder: Path) -> Path:
    folder = Path(os.path.abspath(folder))
    while not folder.exists() and folder.parent != folder:
        folder = folder.parent
    return folder


def check_writable_dir(folder: Path, what: str) -> None:
    """Raise OrganizeError unless files can be created/removed in `folder` (or where it would be created).

    os.access alone is not enough: for root it says yes to everything, so the mode bits and a read-only
    mount are checked too. This is a best-effort pre-flight; each step still handles its own errors.
    """
    base = nearest_existing(folder)
    if not base.is_dir():
        raise OrganizeError(base, f"{what}: this path is a file, not a folder; nothing was moved")
    st = os.stat(base)
    ro_mount = False
    with contextlib.suppress(OSError, AttributeError):
        ro_mount = bool(os.statvfs(base).f_flag & os.ST_RDONLY)
    if (
        ro_mount
        or not os.access(base, os.W_OK | os.X_OK)
        or not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    ):
        raise OrganizeError(base, f"{what}: the folder is read-only; nothing was moved")


def ensure_dir(j: JournalWriter, folder: Path, **extra: Any) -> list[Path]:
    """Create `folder` and missing parents, one journaled mkdir each, so undo can remove exactly those.
    Returns the folders created, outermost first."""
    folder = Path(os.path.abspath(folder))
    missing = []
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    for path in reversed(missing):
        step = j.intent("mkdir", path=str(path), **extra)
        try:
            os.mkdir(path)
        except FileExistsError:
            pass
        except OSError as exc:
            j.failed(step, exc.strerror or str(exc))
            raise OrganizeError(path, f"cannot create folder ({exc.strerror or exc})") from exc
        fsync_dir(path.parent)
        j.done(step)
    return list(reversed(missing))


def check_inside(root: Path, target: Path) -> None:
    """Refuse a destination that, once links are resolved, is not inside `root` (a symlinked OUT/<Genre>
    pointing elsewhere would otherwise send files outside the folder the user chose)."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(target)
    if os.path.commonpath([real_root, real]) != real_root:
        raise OrganizeError(
            target,
            f"this destination leads outside the output folder {root} (through a link to {real}); "
            "the file was left where it was",
        )


def remove_dir_if_empty(j: JournalWriter, folder: Path, **extra: Any) -> bool:
    if not folder.is_dir() or any(folder.iterdir()):
        return False
    step = j.intent("rmdir", path=str(folder), **extra)
    try:
        os.rmdir(folder)
    except OSError as exc:
        j.failed(step, exc.strerror or str(exc))
        return False
    fsync_dir(folder.parent)
    j.done(step)
    return True


def tmp_name(dst: Path, op_id: str) -> Path:
    return dst.parent / f".{dst.name}.{op_id[-6:]}.part"


def _place_noreplace(src: Path, dst: Path) -> bool:
    """Give `src`'s file the name `dst` atomically, failing if dst exists. Returns True when link() worked
    (src is still there; caller unlinks it), False when src was renamed. Raises FileExistsError, or
    OSError(EXDEV) across filesystems."""
    try:
        os.link(src, dst)
        return True
    except FileExistsError:
        raise
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
    # No hard links here: reserve the name exclusively, then replace our own placeholder.
    with open(dst, "xb"):
        pass
    try:
        os.replace(src, dst)
    except OSError:
        with contextlib.suppress(OSError):
            if os.path.getsize(dst) == 0:
                os.unlink(dst)
        raise
    return False


def _copy_stream(fi: BinaryIO, fo: BinaryIO, digest: Any) -> None:
    while chunk := fi.read(_CHUNK):
        digest.update(chunk)
        fo.write(chunk)


def _copy_hashed(src: Path, tmp: Path, size: int) -> str:
    """Copy src to tmp, hashing the bytes as they are read (the source is read once), fsync, then read the
    copy back and check its size and SHA-256. Returns the SHA-256."""
    digest = hashlib.sha256()
    with open(src, "rb") as fi, open(tmp, "xb") as fo:
        _copy_stream(fi, fo, digest)
        fo.flush()
        os.fsync(fo.fileno())
    with contextlib.suppress(OSError):
        shutil.copystat(src, tmp)
    sha = digest.hexdigest()
    if os.path.getsize(tmp) != size or sha256_file(tmp) != sha:
        raise OrganizeError(
            src, "the copy did not match the original (size or SHA-256 differ); original kept"
        )
    return sha


def _same_content(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_dev, a.st_size, a.st_mtime_ns, a.st_ctime_ns) == (
        b.st_ino,
        b.st_dev,
        b.st_size,
        b.st_mtime_ns,
        b.st_ctime_ns,
    )


def _copy_verified(src: Path, tmp: Path, size: int, sha: str) -> None:
    """Copy src to tmp and check the copy against a SHA-256 taken earlier (small album extras)."""
    if _copy_hashed(src, tmp, size) != sha:
        raise OrganizeError(
            src, "the copy did not match the original (size or SHA-256 differ); original kept"
        )


class _ChangedMeanwhile(OrganizeError):
    """Another program wrote to the source while it was being moved."""


def _check_source_before_unlink(src: Path, st: os.stat_result, dst: Path, linked: bool) -> None:
    """Re-verify, right before the source name goes away, that it still holds what was moved.

    Hard-linked (same drive): src and dst must still be one inode with the size and mtime seen at the start;
    a program that replaced src (write to a temp file + rename, as tag writers do) gave it a new inode.
    Copied: src must be the very file that was read (inode, size, mtime, ctime unchanged since the copy
    began), else the copy is stale."""
    now = os.stat(src)
    if linked:
        ok = (now.st_ino, now.st_dev) == (os.stat(dst).st_ino, os.stat(dst).st_dev) and (
            now.st_size,
            now.st_mtime_ns,
        ) == (st.st_size, st.st_mtime_ns)
    else:
        ok = _same_content(now, st)
    if not ok:
        raise _ChangedMeanwhile(
            src,
            "the file was changed by another program while it was being moved; it was left where it was, "
            "with its new content",
        )


def move_file(j: JournalWriter, src: Path, dst: Path, **extra: Any) -> dict[str, Any]:
    """Move one file without ever overwriting; journaled. Returns the journal's record of the result.

    Same filesystem: link(src, dst), re-check, unlink(src): no byte is read, nothing to hash. Otherwise (or
    on EXDEV): copy to a temp name beside dst while hashing the source (read once), fsync, verify the copy,
    link into place, re-check the source is unchanged since the copy began, then delete it. On failure, or
    when another program changed the source meanwhile, the file is left at src and OrganizeError says why.
    """
    try:
        st = os.stat(src)
        dst_dev = os.stat(dst.parent).st_dev
    except OSError as exc:
        raise OrganizeError(src, f"cannot read the file ({exc.strerror or exc})") from exc
    if os.path.lexists(dst):
        raise OrganizeError(dst, "a file with this name already exists there; nothing was overwritten")
    tmp = tmp_name(dst, j.op_id)
    step = j.intent("move", src=str(src), dst=str(dst), tmp=str(tmp), **stat_record(st), **extra)
    placed = linked = False
    sha: str | None = None
    try:
        same_dev = st.st_dev == dst_dev
        if same_dev:
            try:
                linked = _place_noreplace(src, dst)
                placed = True
            except OSError as exc:
                if exc.errno != errno.EXDEV:
                    raise
                same_dev = False
        if not same_dev:
            sha = _copy_hashed(src, tmp, st.st_size)
            j.note(step, sha256=sha)
            checkpoint("copied", step)
            _check_source_before_unlink(src, st, dst, linked=False)
            _place_noreplace(tmp, dst)
            placed = True
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        fsync_dir(dst.parent)
        checkpoint("placed", step)
        if os.path.lexists(src):
            _check_source_before_unlink(src, st, dst, linked=linked)
            os.unlink(src)
        fsync_dir(src.parent)
    except BaseException as exc:
        reason = _undo_partial(src, dst, tmp, st, placed, exc)
        j.failed(step, reason)
        if isinstance(exc, OrganizeError) or not isinstance(exc, Exception):
            raise
        raise OrganizeError(src, reason) from exc
    result = stat_record(os.stat(dst))
    if sha is not None:
        result["sha256"] = sha
    checkpoint("acted", step)
    j.done(step, **result)
    return result


def _undo_partial(
    src: Path, dst: Path, tmp: Path, st: os.stat_result, placed: bool, exc: BaseException
) -> str:
    """After a failed step: drop our temp file, and what we placed at dst if the source is still there
    (a hard link to the original inode, or our copy of it: either way a stale duplicate)."""
    with contextlib.suppress(OSError):
        os.unlink(tmp)
    if placed and os.path.exists(src) and os.path.exists(dst):
        with contextlib.suppress(OSError):
            os.unlink(dst)
            fsync_dir(dst.parent)
    if isinstance(exc, FileExistsError):
        return "a file with this name already exists at the destination; nothing was overwritten"
    if isinstance(exc, OrganizeError):
        return exc.reason
    if isinstance(exc, OSError):
        return f"could not move the file ({exc.strerror or exc}); it was left where it was"
    return f"interrupted ({type(exc).__name__}); the file was left where it was"
