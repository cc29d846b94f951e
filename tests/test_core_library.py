"""Library scan over real folders: by extension and content, hidden/looping/unreadable/odd names survive."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import mutagen
import pytest

from music_reclass_gui.core import library as library_mod
from music_reclass_gui.core.library import Track, scan
from tests.conftest import SHARED_DATA, needs_shared_data, tone, write_audio


@pytest.fixture(scope="module")
def templates(tmp_path_factory):
    """One short real file per format, tagged with a genre, to copy around cheaply."""
    folder = tmp_path_factory.mktemp("templates")
    out = {}
    for fmt in ("wav", "flac", "ogg", "opus", "mp3", "aiff", "m4a"):
        path = write_audio(folder / f"t.{fmt}", tone(0.5, 44100), 44100)
        f = mutagen.File(path)
        if f.tags is None:
            f.add_tags()
        if fmt in ("mp3", "wav", "aiff"):
            from mutagen.id3 import TCON, TIT2

            f.tags.add(TIT2(encoding=3, text=[f"{fmt} title"]))
            f.tags.add(TCON(encoding=3, text=["Jazz"]))
        elif fmt == "m4a":
            f.tags["\xa9nam"], f.tags["\xa9gen"] = [f"{fmt} title"], ["Jazz"]
        else:
            f.tags["TITLE"], f.tags["GENRE"] = [f"{fmt} title"], ["Jazz"]
        f.save()
        out[fmt] = path
    return out


def put(templates, target: Path, fmt: str) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(templates[fmt], target)
    return target


def names(tracks, root):
    return [str(t.path.relative_to(root)) for t in tracks]


def test_finds_audio_by_extension_and_content_in_sorted_order(tmp_path, templates):
    root = tmp_path / "music"
    put(templates, root / "B artist" / "02 song.flac", "flac")
    put(templates, root / "B artist" / "01 song.MP3", "mp3")
    put(templates, root / "a artist" / "x.opus", "opus")
    put(templates, root / "a artist" / "y.ogg", "ogg")
    put(templates, root / "top.wav", "wav")
    put(templates, root / "top.aiff", "aiff")
    put(templates, root / "top.m4a", "m4a")
    put(templates, root / "no_extension", "flac")  # extensionless, found by its fLaC magic
    put(templates, root / "renamed.dat", "mp3")  # mis-named, found by ID3 magic
    put(templates, root / "cover.jpg.wav.bak", "wav")  # RIFF content behind a silly name
    (root / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0" + b"\0" * 100)
    (root / "readme.txt").write_text("not music")
    (root / "fake.mp3").write_text("I am a text file pretending to be an MP3\n" * 5)

    tracks = list(scan(root))
    assert names(tracks, root) == [
        "cover.jpg.wav.bak",
        "fake.mp3",
        "no_extension",
        "renamed.dat",
        "top.aiff",
        "top.m4a",
        "top.wav",
        "a artist/x.opus",
        "a artist/y.ogg",
        "B artist/01 song.MP3",
        "B artist/02 song.flac",
    ]
    by_name = {t.path.name: t for t in tracks}
    assert by_name["fake.mp3"].tags is None and "not an audio file" in by_name["fake.mp3"].error
    for name, track in by_name.items():
        if name != "fake.mp3":
            assert track.error is None, (name, track.error)
            assert track.tags.genres == ("Jazz",), name
            assert track.tags.duration == pytest.approx(0.5, abs=0.05)
        st = os.stat(track.path)
        assert (track.size, track.mtime) == (st.st_size, st.st_mtime)
        assert track.path.is_absolute()
    assert list(scan(root)) == tracks  # deterministic


def test_hidden_entries_are_skipped(tmp_path, templates):
    put(templates, tmp_path / ".hidden_dir" / "a.mp3", "mp3")
    put(templates, tmp_path / ".hidden.flac", "flac")
    put(templates, tmp_path / "visible" / "._AppleDouble.mp3", "mp3")
    put(templates, tmp_path / "visible" / "b.ogg", "ogg")
    assert names(scan(tmp_path), tmp_path) == ["visible/b.ogg"]


def test_dropped_files_and_folders_are_deduplicated(tmp_path, templates):
    a = put(templates, tmp_path / "lib" / "a.flac", "flac")
    put(templates, tmp_path / "lib" / "sub" / "b.mp3", "mp3")
    loose = put(templates, tmp_path / "loose.ogg", "ogg")
    (tmp_path / "lib" / "link_to_a.flac").symlink_to(a)
    dropped = [a, tmp_path / "lib", tmp_path / "lib" / "sub", loose, str(loose), tmp_path / "missing.mp3"]
    problems = []
    tracks = list(scan(dropped, on_error=lambda p, r: problems.append((p, r))))
    assert names(tracks, tmp_path) == ["lib/a.flac", "lib/sub/b.mp3", "loose.ogg"]
    assert problems and problems[0][0].name == "missing.mp3"


def test_symlink_loops_terminate_and_list_each_file_once(tmp_path, templates):
    root = tmp_path / "root"
    put(templates, root / "a" / "song.mp3", "mp3")
    (root / "a" / "back_to_root").symlink_to(root)  # a -> root -> a -> ...
    (root / "a" / "self").symlink_to(root / "a")
    (root / "b").symlink_to(root / "a")  # the same folder under a second name
    (root / "dangling.mp3").symlink_to(tmp_path / "nowhere.mp3")
    tracks = list(scan(root))
    assert len(tracks) == 1 and tracks[0].path.name == "song.mp3"


def test_unreadable_folder_is_reported_and_skipped(tmp_path, templates, monkeypatch):
    put(templates, tmp_path / "ok" / "a.mp3", "mp3")
    locked = tmp_path / "locked"
    put(templates, locked / "b.mp3", "mp3")
    real_scandir = os.scandir

    def scandir(path):
        if os.fspath(path) == str(locked):  # what the OS does for a mode-000 folder and a normal user
            raise PermissionError(13, "Permission denied", os.fspath(path))
        return real_scandir(path)

    monkeypatch.setattr(library_mod.os, "scandir", scandir)
    problems = []
    tracks = list(scan(tmp_path, on_error=lambda p, r: problems.append((p, r))))
    assert names(tracks, tmp_path) == ["ok/a.mp3"]
    assert problems == [(locked, "cannot read folder: Permission denied")]


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read a mode-000 folder")
def test_unreadable_folder_real_permissions(tmp_path, templates):
    put(templates, tmp_path / "ok" / "a.mp3", "mp3")
    put(templates, tmp_path / "locked" / "b.mp3", "mp3")
    (tmp_path / "locked").chmod(0)
    try:
        assert names(scan(tmp_path), tmp_path) == ["ok/a.mp3"]
    finally:
        (tmp_path / "locked").chmod(0o755)


def test_non_utf8_names_scan_and_print(tmp_path, templates):
    if os.name != "posix":
        pytest.skip("bytes file names are a POSIX thing")
    raw_dir = os.path.join(os.fsencode(tmp_path), b"Bj\xf6rk")
    os.mkdir(raw_dir)
    shutil.copyfile(templates["flac"], os.path.join(raw_dir, b"J\xf3ga \xff.flac"))
    tracks = list(scan(os.fsdecode(tmp_path)))  # str in, surrogate-escaped str inside
    assert len(tracks) == 1 and tracks[0].error is None
    assert tracks[0].tags.genres == ("Jazz",)
    assert os.fsencode(tracks[0].path).endswith(b"Bj\xf6rk/J\xf3ga \xff.flac")
    line = json.dumps({"path": os.fsencode(tracks[0].path).decode("utf-8", "replace")}, ensure_ascii=False)
    line.encode("utf-8")  # printable: no lone surrogates left
    assert list(scan([raw_dir])) == tracks  # bytes paths work too


def test_cancel_stops_the_scan(tmp_path, templates):
    for i in range(10):
        put(templates, tmp_path / f"{i:02d}.mp3", "mp3")
    got: list[Track] = []
    for track in scan(tmp_path, cancelled=lambda: len(got) >= 3):
        got.append(track)
    assert len(got) == 3


def test_without_tags_only_file_facts(tmp_path, templates):
    put(templates, tmp_path / "a.mp3", "mp3")
    (tmp_path / "b.mp3").write_text("text")
    tracks = list(scan(tmp_path, read_tags=False))
    assert [(t.path.name, t.tags, t.error) for t in tracks] == [("a.mp3", None, None), ("b.mp3", None, None)]


def test_tag_read_failure_never_raises(tmp_path, templates, monkeypatch):
    put(templates, tmp_path / "a.mp3", "mp3")
    put(templates, tmp_path / "b.flac", "flac")

    def broken(path, **kwargs):
        raise RuntimeError("library bug")

    monkeypatch.setattr(library_mod._tags, "read_tags", broken)
    tracks = list(scan(tmp_path))
    assert [t.error for t in tracks] == ["unexpected RuntimeError: library bug"] * 2


@needs_shared_data
def test_real_library_scan():
    library = SHARED_DATA / "library"
    tracks = list(scan(library))
    assert len(tracks) == 29
    assert all(t.error is None and t.tags.duration > 10 for t in tracks), [t.error for t in tracks]
    assert not any("LICENSES" in t.path.parts for t in tracks)
    fma = [t for t in tracks if t.path.parent.name == "fma-clips"]
    assert len(fma) == 12 and all(t.tags.genres for t in fma)
