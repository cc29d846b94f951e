"""Genre tags in every format: written by our code, read back with plain mutagen, nothing else touched."""

from __future__ import annotations

import base64
import errno
import os
import shutil
import stat

import mutagen
import numpy as np
import pytest
import soundfile as sf
from mutagen.flac import FLAC, Picture
from mutagen.id3 import APIC, ID3, TALB, TCON, TIT2, TPE1, TXXX
from mutagen.mp4 import MP4, MP4Cover

from music_reclass_gui.core import tags as tags_mod
from music_reclass_gui.core.audio import load_audio
from music_reclass_gui.core.errors import TagError
from music_reclass_gui.core.tags import TagInfo, read_tags, write_genres
from tests.conftest import ALL_FORMATS, SHARED_DATA, needs_shared_data

ID3_FORMATS = ("mp3", "wav", "aiff")
# A tiny but real PNG (1x1 pixel): the cover art whose bytes must survive every write.
COVER = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def decorate(path, title="Song Title", artist="Some Artist", album="An Album", genres=None, id3_v=4):
    """Give a file title/artist/album, a custom field and embedded cover art, using plain mutagen."""
    ext = path.suffix.lower().lstrip(".")
    f = mutagen.File(path)
    if ext in ID3_FORMATS:
        if f.tags is None:
            f.add_tags()
        t = f.tags
        t.add(TIT2(encoding=3, text=[title]))
        t.add(TPE1(encoding=3, text=[artist]))
        t.add(TALB(encoding=3, text=[album]))
        t.add(TXXX(encoding=3, desc="MOOD", text=["calm"]))
        t.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=COVER))
        if genres:
            t.add(TCON(encoding=3, text=list(genres)))
        f.save(v2_version=id3_v)
    elif ext == "m4a":
        if f.tags is None:
            f.add_tags()
        f.tags["\xa9nam"] = [title]
        f.tags["\xa9ART"] = [artist]
        f.tags["\xa9alb"] = [album]
        f.tags["----:com.apple.iTunes:MOOD"] = [b"calm"]
        f.tags["covr"] = [MP4Cover(COVER, imageformat=MP4Cover.FORMAT_PNG)]
        if genres:
            f.tags["\xa9gen"] = list(genres)
        f.save()
    else:
        if f.tags is None:
            f.add_tags()
        f.tags["TITLE"] = [title]
        f.tags["ARTIST"] = [artist]
        f.tags["ALBUM"] = [album]
        f.tags["MOOD"] = ["calm"]
        pic = Picture()
        pic.type, pic.mime, pic.desc, pic.data = 3, "image/png", "cover", COVER
        pic.width = pic.height = 1
        pic.depth = 24
        if genres:
            f.tags["GENRE"] = list(genres)
        if isinstance(f, FLAC):
            f.add_picture(pic)
        else:
            f.tags["METADATA_BLOCK_PICTURE"] = [base64.b64encode(pic.write()).decode("ascii")]
        f.save()
    return path


def plain_genres(path) -> list[str]:
    """The raw genre values as plain mutagen sees them (no help from our reader)."""
    f = mutagen.File(path)
    if f.tags is None:
        return []
    if isinstance(f.tags, ID3):
        return [t for fr in f.tags.getall("TCON") for t in fr.text]
    if isinstance(f, MP4):
        return list(f.tags.get("\xa9gen", []))
    return list(f.tags.get("GENRE", []))


def plain_cover(path) -> bytes | None:
    f = mutagen.File(path)
    if f.tags is None:
        return None
    if isinstance(f.tags, ID3):
        pics = f.tags.getall("APIC")
        return pics[0].data if pics else None
    if isinstance(f, MP4):
        return bytes(f.tags["covr"][0]) if "covr" in f.tags else None
    if isinstance(f, FLAC):
        return f.pictures[0].data if f.pictures else None
    blocks = f.tags.get("METADATA_BLOCK_PICTURE", [])
    return Picture(base64.b64decode(blocks[0])).data if blocks else None


def plain_other_tags(path) -> dict:
    """Every tag except the genre field, as comparable text."""
    f = mutagen.File(path)
    if f.tags is None:
        return {}
    if isinstance(f.tags, ID3):
        return {k: repr(v) for k, v in f.tags.items() if not k.startswith("TCON")}
    if isinstance(f, MP4):
        return {k: repr(v) for k, v in f.tags.items() if k != "\xa9gen"}
    # VComment iterates as (key, value) pairs, hence .keys()
    return {k.upper(): repr(f.tags[k]) for k in f.tags.keys() if k.upper() != "GENRE"}  # noqa: SIM118


def decoded(path) -> np.ndarray:
    """Decoded samples with the plain decoder for the format (PyAV via load_audio for M4A)."""
    if path.suffix == ".m4a":
        return load_audio(path, 44100)
    data, _ = sf.read(os.fsencode(path), dtype="float32")
    return data


def audio_payload(path) -> bytes:
    """The raw audio bytes where the format stores them in one block (PCM/FLAC frames)."""
    raw = path.read_bytes()
    if path.suffix == ".wav":
        at = raw.index(b"data")
        return raw[at : at + 8 + int.from_bytes(raw[at + 4 : at + 8], "little")]
    if path.suffix == ".aiff":
        at = raw.index(b"SSND")
        return raw[at : at + 8 + int.from_bytes(raw[at + 4 : at + 8], "big")]
    if path.suffix == ".flac":
        return raw[_flac_audio_offset(raw) :]
    return b""


def _flac_audio_offset(raw: bytes) -> int:
    pos = 4
    while True:
        header = raw[pos]
        size = int.from_bytes(raw[pos + 1 : pos + 4], "big")
        pos += 4 + size
        if header & 0x80:
            return pos


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_multi_genre_round_trip_keeps_everything_else(make_audio, fmt):
    path = decorate(make_audio(f"song.{fmt}", seconds=1.0), genres=["Old Genre"])
    before_samples = decoded(path)
    before_other = plain_other_tags(path)
    before_payload = audio_payload(path)
    assert plain_cover(path) == COVER
    assert len(before_other) >= 4  # title, artist, album, the custom field (and cover art where it is a tag)

    write_genres(path, ["Rock", "Hip-Hop", "Électro"])

    assert plain_genres(path) == ["Rock", "Hip-Hop", "Électro"]  # separate values, v2.4 / Vorbis / MP4
    assert plain_cover(path) == COVER
    assert plain_other_tags(path) == before_other
    np.testing.assert_array_equal(decoded(path), before_samples)
    assert audio_payload(path) == before_payload
    info = read_tags(path)
    assert info == TagInfo(
        "Song Title", "Some Artist", "An Album", info.duration, ("Rock", "Hip-Hop", "Électro")
    )
    assert info.duration == pytest.approx(1.0, abs=0.05)
    if fmt in ID3_FORMATS:
        assert mutagen.File(path).tags.version == (2, 4, 0)


@pytest.mark.parametrize("fmt", ID3_FORMATS)
@pytest.mark.parametrize("separator", ["; ", "/"])
def test_id3v23_joins_genres_with_the_separator(make_audio, fmt, separator):
    path = decorate(make_audio(f"song.{fmt}", seconds=1.0))
    write_genres(path, ["Rock", "Jazz Fusion"], id3_version=3, id3_separator=separator)
    f = mutagen.File(path)
    assert f.tags.version == (2, 3, 0)
    assert plain_genres(path) == [f"Rock{separator}Jazz Fusion"]
    assert plain_cover(path) == COVER
    assert read_tags(path, id3_separator=separator).genres == ("Rock", "Jazz Fusion")


def test_id3v23_refuses_a_genre_containing_the_separator(make_audio):
    path = make_audio("song.mp3", seconds=1.0)
    before = path.read_bytes()
    with pytest.raises(TagError, match="separator") as err:
        write_genres(path, ["Rock/Pop"], id3_version=3, id3_separator="/")
    assert err.value.path == path
    assert path.read_bytes() == before


def test_reads_id3v23_and_numeric_genres_written_by_other_software(make_audio):
    path = make_audio("old.mp3", seconds=1.0)
    f = mutagen.File(path)
    f.add_tags()
    f.tags.add(TCON(encoding=1, text=["(17)"]))
    f.save(v2_version=3)
    assert read_tags(path).genres == ("Rock",)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_empty_list_removes_the_genre_field(make_audio, fmt):
    path = decorate(make_audio(f"song.{fmt}", seconds=1.0), genres=["Rock", "Pop"])
    write_genres(path, [])
    assert plain_genres(path) == []
    assert plain_cover(path) == COVER
    assert read_tags(path).title == "Song Title"


@pytest.mark.parametrize("fmt", ["wav", "aiff", "mp3", "flac"])
def test_files_without_any_tag_block_get_one(make_audio, fmt):
    path = make_audio(f"bare.{fmt}", seconds=1.0)
    before = decoded(path)
    if fmt != "flac":  # libsndfile writes a Vorbis comment block into FLAC; the others have no tags
        assert mutagen.File(path).tags is None
    assert read_tags(path).genres == ()
    write_genres(path, ["Ambient"])
    assert plain_genres(path) == ["Ambient"]
    np.testing.assert_array_equal(decoded(path), before)


def test_genres_are_cleaned_before_writing(make_audio):
    path = make_audio("song.flac", seconds=1.0)
    write_genres(path, ["  Rock ", "", "rock", "Pop"])
    assert plain_genres(path) == ["Rock", "Pop"]


# ----------------------------------------------------------------------------------- bad input / safety
def _listing(folder):
    return sorted(p.name for p in folder.iterdir())


def test_missing_file_gives_tag_error_naming_it(tmp_path):
    missing = tmp_path / "gone.mp3"
    for call in (lambda: read_tags(missing), lambda: write_genres(missing, ["Rock"])):
        with pytest.raises(TagError, match="not found") as err:
            call()
        assert err.value.path == missing and str(missing) in str(err.value)


def test_empty_and_text_files_give_clear_tag_errors(tmp_path):
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    text = tmp_path / "notes.mp3"
    text.write_text("this is not music\n" * 20)
    with pytest.raises(TagError, match=r"empty \(0 bytes\)"):
        read_tags(empty)
    for call in (read_tags, lambda p: write_genres(p, ["Rock"])):
        with pytest.raises(TagError, match="not an audio file") as err:
            call(text)
        assert str(text) in str(err.value)
    assert text.read_text() == "this is not music\n" * 20
    assert _listing(tmp_path) == ["empty.flac", "notes.mp3"]


@pytest.mark.parametrize("fmt", ["mp3", "flac", "m4a"])
def test_read_only_file_is_refused_and_unchanged(make_audio, fmt):
    path = decorate(make_audio(f"locked.{fmt}", seconds=1.0), genres=["Rock"])
    before = path.read_bytes()
    path.chmod(0o444)
    try:
        with pytest.raises(TagError, match="read-only") as err:
            write_genres(path, ["Jazz"])
        assert err.value.path == path
        assert path.read_bytes() == before
        assert _listing(path.parent) == [path.name]
    finally:
        path.chmod(0o644)


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root may write any file")
def test_file_owned_by_someone_else_is_refused(make_audio):
    path = make_audio("theirs.mp3", seconds=1.0)
    path.parent.chmod(0o555)
    try:
        with pytest.raises(TagError, match="not writable"):
            write_genres(path, ["Jazz"])
    finally:
        path.parent.chmod(0o755)


def test_file_changed_since_scan_is_refused(make_audio):
    path = make_audio("moved.flac", seconds=1.0)
    scanned_mtime = path.stat().st_mtime
    os.utime(path, (scanned_mtime + 10, scanned_mtime + 10))  # someone else edited it after the scan
    before = path.read_bytes()
    with pytest.raises(TagError, match="changed on disk since it was scanned"):
        write_genres(path, ["Rock"], expected_mtime=scanned_mtime)
    assert path.read_bytes() == before
    write_genres(path, ["Rock"], expected_mtime=path.stat().st_mtime)
    assert plain_genres(path) == ["Rock"]


def test_file_changed_during_the_write_is_not_clobbered(make_audio, monkeypatch):
    path = make_audio("busy.mp3", seconds=1.0)
    real_copy = shutil.copyfile

    def copy_then_other_program_writes(src, dst, **kw):
        result = real_copy(src, dst, **kw)
        with open(path, "ab") as fh:  # another program appends while we work on our copy
            fh.write(b"\0" * 10)
        return result

    monkeypatch.setattr(tags_mod.shutil, "copyfile", copy_then_other_program_writes)
    with pytest.raises(TagError, match="changed while"):
        write_genres(path, ["Rock"])
    assert _listing(path.parent) == [path.name]
    assert plain_genres(path) == []


@pytest.mark.parametrize("where", ["os.replace", "os.fsync"])
@pytest.mark.parametrize("fmt", ["mp3", "ogg"])
def test_failure_mid_write_leaves_original_and_no_temp_file(make_audio, monkeypatch, where, fmt):
    path = decorate(make_audio(f"song.{fmt}", seconds=1.0), genres=["Rock"])
    before = path.read_bytes()

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, where.split(".")[1], disk_full)
    with pytest.raises(TagError, match="disk is full") as err:
        write_genres(path, ["Jazz", "Blues"])
    monkeypatch.undo()
    assert err.value.path == path and "not changed" in err.value.reason
    assert path.read_bytes() == before
    assert _listing(path.parent) == [path.name]


def test_crash_inside_mutagen_save_leaves_original(make_audio, monkeypatch):
    """The copy is half-written when the save dies: the original must not notice."""
    path = decorate(make_audio("song.flac", seconds=1.0), genres=["Rock"])
    before = path.read_bytes()

    def save_then_die(self, *args, **kwargs):
        with open(self.filename, "r+b") as fh:
            fh.truncate(100)
        raise mutagen.MutagenError("simulated crash while writing")

    monkeypatch.setattr(FLAC, "save", save_then_die)
    with pytest.raises(TagError, match="simulated crash"):
        write_genres(path, ["Jazz"])
    assert path.read_bytes() == before
    assert _listing(path.parent) == [path.name]


def test_permission_bits_and_symlinks_are_preserved(make_audio):
    path = make_audio("song.ogg", seconds=1.0)
    path.chmod(0o640)
    link = path.with_name("link.ogg")
    link.symlink_to(path.name)
    write_genres(link, ["Rock"])
    assert link.is_symlink()
    assert plain_genres(path) == ["Rock"]
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@needs_shared_data
def test_real_library_tags_read(tmp_path):
    library = SHARED_DATA / "library"
    files = sorted(p for p in library.rglob("*") if p.suffix in (".ogg", ".opus", ".mp3"))
    assert len(files) >= 20
    infos = {p.name: read_tags(p) for p in files}
    assert all(i.duration and i.duration > 10 for i in infos.values())
    assert infos["000002.mp3"].genres == ("Hip-Hop",)
    # A real file keeps all its other tags when we change its genre (on a copy: the data is read-only).
    copy = tmp_path / "000002.mp3"
    shutil.copyfile(library / "fma-clips" / "000002.mp3", copy)
    before = plain_other_tags(copy)
    write_genres(copy, ["Rap", "Hip-Hop"])
    assert plain_genres(copy) == ["Rap", "Hip-Hop"]
    assert plain_other_tags(copy) == before
