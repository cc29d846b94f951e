"""The genres field for every format, plus the fields the UI shows (title, artist, album, duration).

In the spirit of mediafile: each field is declared once (`FIELDS`) with one storage style per tag family —
ID3 frames for MP3/WAV/AIFF, Vorbis comments for FLAC/OGG/Opus, MP4 atoms for M4A. Writing genres changes
that one field and nothing else, on a copy beside the original that replaces it atomically, so a crash or a
full disk never leaves a half-written file. Every mutagen/OS failure becomes a TagError in `_tag_errors`.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mutagen
from mutagen._vorbis import VCommentDict
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TCON, Encoding, Frames
from mutagen.mp4 import MP4Tags
from mutagen.ogg import OggFileType

from music_reclass_gui.core.audio import SNIFF_BYTES, sniff_format
from music_reclass_gui.core.errors import TagError
from music_reclass_gui.core.genres import genre_key

DEFAULT_ID3_SEPARATOR = "; "
MULTI_VALUE_JOIN = "; "  # how several titles/artists/albums are shown as one string


@dataclass(frozen=True)
class TagInfo:
    title: str | None = None
    artist: str | None = None
    album: str | None = None
    duration: float | None = None  # seconds
    genres: tuple[str, ...] = field(default_factory=tuple)
    albumartist: str | None = None
    year: str | None = None  # as tagged ("1997", "1997-05-02")
    track: str | None = None  # as tagged ("3", "3/12")


class _Refusal(Exception):
    """Internal: a deliberate refusal whose message is already the human reason."""


class _Nothing(Exception):
    """Internal: removing genres from a file that has no tags at all is already done."""


# ------------------------------------------------------------------------------------ storage styles
@dataclass(frozen=True)
class _Options:
    id3_version: int = 4
    id3_separator: str = DEFAULT_ID3_SEPARATOR


class _StorageStyle:
    """How one field is stored in one tag family."""

    def get(self, tags, opts: _Options) -> list[str]:
        raise NotImplementedError

    def set(self, tags, values: list[str], opts: _Options) -> None:
        raise NotImplementedError


@dataclass(frozen=True)
class _ID3Style(_StorageStyle):
    frame: str

    def get(self, tags, opts):
        return [str(t) for fr in tags.getall(self.frame) for t in fr.text]

    def set(self, tags, values, opts):
        tags.delall(self.frame)
        if values:
            tags.add(Frames[self.frame](encoding=Encoding.UTF8, text=list(values)))


@dataclass(frozen=True)
class _ID3GenreStyle(_ID3Style):
    """TCON: separate text values in v2.4; one value joined with the separator in v2.3 (split on read).
    TCON.genres also resolves ID3v1 numeric references like "(17)"."""

    frame: str = "TCON"

    def get(self, tags, opts):
        values = [g for fr in tags.getall("TCON") for g in fr.genres]
        if tags.version < (2, 4, 0) and opts.id3_separator:
            values = [part for v in values for part in v.split(opts.id3_separator)]
        return values

    def set(self, tags, values, opts):
        tags.delall("TCON")
        if values:
            text = [opts.id3_separator.join(values)] if opts.id3_version == 3 else list(values)
            tags.add(TCON(encoding=Encoding.UTF8, text=text))


@dataclass(frozen=True)
class _VorbisStyle(_StorageStyle):
    key: str

    def get(self, tags, opts):
        return list(tags[self.key]) if self.key in tags else []

    def set(self, tags, values, opts):
        if self.key in tags:
            del tags[self.key]
        if values:
            tags[self.key] = list(values)


@dataclass(frozen=True)
class _MP4Style(_StorageStyle):
    key: str

    def get(self, tags, opts):
        return [str(v) for v in tags.get(self.key, [])]

    def set(self, tags, values, opts):
        tags.pop(self.key, None)
        if values:
            tags[self.key] = list(values)


@dataclass(frozen=True)
class _MP4TrackStyle(_MP4Style):
    """trkn holds (number, total) pairs; shown as "3/12" like ID3."""

    def get(self, tags, opts):
        return [f"{n}/{t}" if t else str(n) for n, t in tags.get(self.key, []) if n]


@dataclass(frozen=True)
class _Field:
    """One logical field, declared once, with its storage style per tag family."""

    id3: _StorageStyle
    vorbis: _StorageStyle
    mp4: _StorageStyle

    def style(self, family: str) -> _StorageStyle:
        return getattr(self, family)


FIELDS: dict[str, _Field] = {
    "title": _Field(_ID3Style("TIT2"), _VorbisStyle("TITLE"), _MP4Style("\xa9nam")),
    "artist": _Field(_ID3Style("TPE1"), _VorbisStyle("ARTIST"), _MP4Style("\xa9ART")),
    "album": _Field(_ID3Style("TALB"), _VorbisStyle("ALBUM"), _MP4Style("\xa9alb")),
    "albumartist": _Field(_ID3Style("TPE2"), _VorbisStyle("ALBUMARTIST"), _MP4Style("aART")),
    "year": _Field(_ID3Style("TDRC"), _VorbisStyle("DATE"), _MP4Style("\xa9day")),
    "track": _Field(_ID3Style("TRCK"), _VorbisStyle("TRACKNUMBER"), _MP4TrackStyle("trkn")),
    "genres": _Field(_ID3GenreStyle(), _VorbisStyle("GENRE"), _MP4Style("\xa9gen")),
}


def _family(f: mutagen.FileType) -> str | None:
    """Which tag family a loaded file uses ("id3", "vorbis", "mp4"), None when we do not handle it."""
    from mutagen.aiff import AIFF
    from mutagen.mp3 import MP3
    from mutagen.mp4 import MP4
    from mutagen.wave import WAVE

    if isinstance(f, (MP3, WAVE, AIFF)) or isinstance(f.tags, ID3):
        return "id3"
    if isinstance(f, (FLAC, OggFileType)) or isinstance(f.tags, VCommentDict):
        return "vorbis"
    if isinstance(f, MP4) or isinstance(f.tags, MP4Tags):
        return "mp4"
    return None


# ------------------------------------------------------------------------------------------ errors
_OS_REASONS = {
    errno.ENOENT: "file not found (moved or deleted since it was scanned?)",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.EROFS: "the disk is read-only",
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "disk quota exceeded",
    errno.EISDIR: "is a folder, not an audio file",
    errno.EIO: "input/output error (failing disk or network share?)",
    errno.EBUSY: "the file is locked by another program",
}


@contextlib.contextmanager
def _tag_errors(path: Path, action: str) -> Iterator[None]:
    """The one place mutagen and OS errors become TagError(path, human reason)."""
    try:
        yield
    except TagError:
        raise
    except _Refusal as exc:
        raise TagError(path, str(exc)) from exc
    except Exception as exc:
        cause = exc.__cause__ if isinstance(exc, mutagen.MutagenError) else exc
        missing = False
        if isinstance(cause, OSError):
            reason = _OS_REASONS.get(cause.errno or 0, cause.strerror or str(cause))
            missing = cause.errno == errno.ENOENT
        elif isinstance(exc, mutagen.MutagenError):
            if _sniff(path) is None:
                reason = "not an audio file: its content is not a recognised audio format"
            else:
                reason = f"damaged audio file or tags ({exc})"
        else:
            reason = f"unexpected {type(exc).__name__}: {exc}"
        if action == "write" and not missing:
            reason += "; the file was not changed"
        raise TagError(path, f"cannot {action} tags: {reason}") from exc


def _sniff(path: Path) -> str | None:
    try:
        with open(path, "rb") as fh:
            return sniff_format(fh.read(SNIFF_BYTES))
    except OSError:
        return None


# ------------------------------------------------------------------------------------------- reading
def _load(path: Path) -> mutagen.FileType:
    st = os.stat(path)
    if not stat.S_ISREG(st.st_mode):
        raise _Refusal("not a regular file")
    if st.st_size == 0:
        raise _Refusal("file is empty (0 bytes)")
    f = mutagen.File(path)
    if f is None:
        raise _Refusal("not an audio file: its content is not a recognised audio format")
    return f


def _join(values: list[str]) -> str | None:
    values = [v for v in values if v]
    return MULTI_VALUE_JOIN.join(values) if values else None


def read_tags(path: str | Path, *, id3_separator: str = DEFAULT_ID3_SEPARATOR) -> TagInfo:
    """Title, artist, album, duration and genres. `id3_separator` splits ID3v2.3 genre text.
    Raises TagError naming the file and the reason."""
    path = Path(path)
    with _tag_errors(path, "read"):
        f = _load(path)
        length = getattr(f.info, "length", None)
        duration = float(length) if length else None
        family = _family(f)
        if family is None or f.tags is None:
            return TagInfo(duration=duration)
        opts = _Options(id3_separator=id3_separator)
        get = {name: fld.style(family).get(f.tags, opts) for name, fld in FIELDS.items()}
        return TagInfo(
            title=_join(get["title"]),
            artist=_join(get["artist"]),
            album=_join(get["album"]),
            duration=duration,
            genres=tuple(g.strip() for g in get["genres"] if g.strip()),
            albumartist=_join(get["albumartist"]),
            year=_join(get["year"]),
            track=_join(get["track"]),
        )


# ------------------------------------------------------------------------------------------- writing
def _load_untranslated(kind: type, path: str) -> mutagen.FileType:
    """Load ID3 frames exactly as stored: mutagen's default upgrades a v2.3 tag to v2.4 in memory (TYER/TDAT
    become TDRC, TRDA/TSIZ vanish), which a genre write must not do. ID3v2.2 tags (3-letter frames, which
    cannot be saved as such) are still upgraded."""
    from mutagen.aiff import AIFF
    from mutagen.id3 import ID3FileType
    from mutagen.wave import WAVE

    if issubclass(kind, (ID3FileType, WAVE, AIFF)):
        f = kind(path, translate=False)
        if f.tags is None or f.tags.version >= (2, 3, 0):
            return f
    return kind(path)


def _id3_target_version(tags: ID3, requested: int) -> int:
    """Keep the tag's own version: a v2.3 tag stays v2.3 with all its frames. `requested` applies to new
    tags, and 3 also converts an existing v2.4 tag (what `--id3v23` asks for: players that read only v2.3)."""
    return 3 if requested == 3 or tags.version[:2] == (2, 3) else 4


def _clean_genres(genres: Sequence[str], opts: _Options) -> list[str]:
    if isinstance(genres, str):
        genres = [genres]
    out: list[str] = []
    seen: set[str] = set()
    for g in genres:
        g = str(g).strip()
        if not g or genre_key(g) in seen:
            continue
        if opts.id3_version == 3 and opts.id3_separator and opts.id3_separator in g:
            raise _Refusal(f"genre {g!r} contains the ID3v2.3 separator {opts.id3_separator!r}")
        seen.add(genre_key(g))
        out.append(g)
    return out


def _check_writable(path: Path, st: os.stat_result) -> None:
    """Refuse deliberately, before touching anything (root bypasses permission checks, so look at the
    mode bits ourselves: a file nobody may write is one the user protected)."""
    if not stat.S_ISREG(st.st_mode):
        raise _Refusal("not a regular file")
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH):
        raise _Refusal("the file is read-only; make it writable to change its genre")
    if not os.access(path, os.W_OK):
        raise _Refusal("permission denied: you may not write to this file")
    if not os.access(path.parent, os.W_OK | os.X_OK):
        raise _Refusal("the folder is not writable, so the file cannot be replaced safely")


def _same_file_state(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_ino, a.st_dev, a.st_size, a.st_mtime_ns) == (b.st_ino, b.st_dev, b.st_size, b.st_mtime_ns)


def _fsync_path(path: Path, directory: bool = False) -> None:
    if directory:
        if os.name != "posix":
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return
    with open(path, "rb+") as fh:
        os.fsync(fh.fileno())


def write_genres(
    path: str | Path,
    genres: list[str] | tuple[str, ...],
    *,
    id3_version: int = 4,
    id3_separator: str = DEFAULT_ID3_SEPARATOR,
    expected_mtime: float | None = None,
    expected_size: int | None = None,
    keep_original: Path | None = None,
) -> None:
    """Replace the genre field only (an empty list removes it); atomic (copy beside, fsync, rename).
    Every other tag and frame stays as stored: an ID3v2.3 tag stays v2.3 (TYER, TDAT, TORY, TRDA, TSIZ kept);
    `id3_version` is the version of new ID3 tags, and 3 also converts an existing v2.4 tag to v2.3.
    `expected_mtime`/`expected_size` (Track.mtime/.size from the scan) refuse a file that changed since.
    `keep_original` (a free name beside the file) keeps the original file there, byte for byte, at no
    I/O cost (a hard link to the inode the write replaces), so an undo can put back the exact bytes.
    Raises TagError, and then the file is unchanged."""
    if id3_version not in (3, 4):
        raise ValueError(f"id3_version must be 3 or 4, not {id3_version!r}")
    path = Path(path)
    tmp: str | None = None
    with _tag_errors(path, "write"):
        try:
            values = _clean_genres(genres, _Options(id3_version=id3_version, id3_separator=id3_separator))
            target = Path(os.path.realpath(path))  # write through a symlink, keep the link
            st = os.stat(target)
            if (expected_mtime is not None and abs(st.st_mtime - expected_mtime) > 1e-6) or (
                expected_size is not None and st.st_size != expected_size
            ):
                raise _Refusal("the file changed on disk since it was scanned; rescan and try again")
            _check_writable(target, st)
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".mrtmp", dir=target.parent)
            os.close(fd)
            shutil.copyfile(target, tmp)
            if not _same_file_state(st, os.stat(target)):
                raise _Refusal("the file changed while it was being copied; try again")
            f = _load(target)  # the type of the original decides how the copy is parsed
            copy = _load_untranslated(type(f), tmp)
            family = _family(copy)
            if family is None:
                raise _Refusal(f"writing genres to {type(f).__name__} files is not supported")
            if copy.tags is None:
                if not values:
                    raise _Nothing
                copy.add_tags()  # WAV/AIFF without an ID3 chunk, FLAC without comments, bare MP3
            version = _id3_target_version(copy.tags, id3_version) if family == "id3" else id3_version
            opts = _Options(id3_version=version, id3_separator=id3_separator)
            values = _clean_genres(genres, opts)
            FIELDS["genres"].style(family).set(copy.tags, values, opts)
            if family == "id3":
                if version == 3 and copy.tags.version >= (2, 4, 0):
                    copy.tags.update_to_v23()  # v2.4-only frames (TDRC, TDOR...) become their v2.3 forms
                copy.save(v2_version=version)
            else:
                copy.save()
            os.chmod(tmp, stat.S_IMODE(st.st_mode))
            if hasattr(os, "chown") and (st.st_uid, st.st_gid) != (os.getuid(), os.getgid()):
                with contextlib.suppress(OSError):
                    os.chown(tmp, st.st_uid, st.st_gid)
            _fsync_path(Path(tmp))
            if not _same_file_state(st, os.stat(target)):
                raise _Refusal("the file changed while its tags were being written; try again")
            if keep_original is not None:  # the old inode stays under this name: exact bytes, no copy
                os.link(target, keep_original)
            os.replace(tmp, target)
            tmp = None
            with contextlib.suppress(OSError):
                _fsync_path(target.parent, directory=True)
        except _Nothing:
            pass
        finally:
            if tmp is not None:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
