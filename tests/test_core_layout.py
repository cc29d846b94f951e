"""core.layout templates and album extras in the planner/executor: library-shaped, safe, never losing a cover."""

from __future__ import annotations

import hashlib
from pathlib import Path, PurePath

import pytest

from music_reclass_gui.core.layout import DEFAULT_LAYOUT, LayoutError, check_layout, render, track_fields
from music_reclass_gui.core.organize import execute_plan, plan_moves, undo
from music_reclass_gui.core.organize.extras import only_extras_left
from music_reclass_gui.core.tags import TagInfo


def _fields(name="01 a.flac", **tags) -> dict[str, str]:
    return track_fields(Path("/lib/x") / name, TagInfo(**tags), Path("/lib"))


def test_default_layout_and_its_fall_backs():
    full = _fields(album="Blue", artist="Ann", albumartist="Ann & Co")
    assert render(DEFAULT_LAYOUT, "Jazz", full, ".flac") == PurePath("Jazz/Ann & Co/Blue/01 a.flac")
    assert render(DEFAULT_LAYOUT, "Jazz", _fields(artist="Ann"), ".flac") == PurePath("Jazz/Ann/01 a.flac")
    assert render(DEFAULT_LAYOUT, "Jazz", _fields(), ".flac") == PurePath("Jazz/01 a.flac")
    assert render("{genre}/{relpath}", "Jazz", _fields(), ".flac") == PurePath("Jazz/x/01 a.flac")
    tmpl = "{genre}/{year} - {album}/{track} {title}.{ext}"
    got = render(tmpl, "Jazz", _fields(album="Blue", year="1999-05-01", track="3/9", title="So"), ".flac")
    assert got == PurePath("Jazz/1999 - Blue/03 So.flac")


def test_every_field_is_sanitised_and_stays_inside():
    evil = _fields(album="../../etc", artist="AC/DC", albumartist="CON")
    rel = render(DEFAULT_LAYOUT, "Rock", evil, ".flac")
    assert rel.parts[:3] == ("Rock", "_CON", "etc") and ".." not in rel.parts
    for bad in (
        "/abs/{filename}",
        "{genre}/../{filename}",
        "{genre}/{nope}/{filename}",
        "{genre}/{album}",
        "",
    ):
        with pytest.raises(LayoutError):
            check_layout(bad)


def test_only_extras_left():
    assert only_extras_left(["cover.jpg", "rip.log", "Thumbs.db"]) and only_extras_left([])
    assert not only_extras_left(["cover.jpg", "notes.docx"])


def _sha(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in root.rglob("*")
        if p.is_file()
    }


def test_extras_travel_with_a_whole_album_and_are_copied_for_a_split_one(tmp_path, make_audio):
    lib, out = tmp_path / "lib", tmp_path / "out"
    whole = [make_audio(f"{i}.flac", seconds=0.3, folder=lib / "A") for i in (1, 2)]
    split = [make_audio(f"{i}.flac", seconds=0.3, folder=lib / "B") for i in (1, 2)]
    stays = make_audio("3.flac", seconds=0.3, folder=lib / "C")
    moving = make_audio("4.flac", seconds=0.3, folder=lib / "C")
    for folder in ("A", "B", "C"):
        (lib / folder / "cover.jpg").write_bytes(folder.encode() * 100)
    (lib / "A" / "rip.log").write_text("EAC log")
    before = _sha(tmp_path)
    tags = {p: TagInfo(album="Al", artist="Ar") for p in whole}
    pairs = [(whole[0], "Rock"), (whole[1], "Rock"), (split[0], "Rock"), (split[1], "Jazz"), (moving, "Pop")]
    plan = plan_moves(pairs, out, source_root=lib, layout=DEFAULT_LAYOUT, tags=tags)
    report = execute_plan(plan, remove_empty_dirs=True)
    assert not report.failed
    assert (out / "Rock" / "Ar" / "Al" / "cover.jpg").read_bytes() == b"A" * 100
    assert (out / "Rock" / "Ar" / "Al" / "rip.log").is_file() and not (lib / "A").exists()  # emptied: removed
    # album B split over two genres: the cover is in both, and B is empty (its cover moved with the bigger part)
    assert (
        (out / "Rock" / "cover.jpg").read_bytes() == (out / "Jazz" / "cover.jpg").read_bytes() == b"B" * 100
    )
    # folder C keeps a track: its cover is copied, the original stays
    assert (lib / "C" / "cover.jpg").read_bytes() == (out / "Pop" / "cover.jpg").read_bytes() == b"C" * 100
    assert stays.exists()
    undo(report.op_id)
    assert _sha(tmp_path) == before  # every path and byte back, copies gone
    assert not out.exists() or not any(out.rglob("*.*"))


def test_an_interrupted_extra_copy_is_recovered_and_undone(tmp_path, make_audio):
    """The process dies right after a cover was copied for a split album: recovery records the copy, and
    undo removes it and brings every file back."""
    from test_core_organize_recovery import assert_journal_consistent, run_child, snapshot

    from music_reclass_gui.core.organize import recover_interrupted

    src = tmp_path / "in"
    pairs = [
        (make_audio("a.mp3", seconds=0.4, freq=300, folder=src), "Rock"),
        (make_audio("b.flac", seconds=0.4, freq=400, folder=src / "album"), "Jazz"),
        (make_audio("c.ogg", seconds=0.4, freq=500, folder=src / "album"), "Rock"),
    ]
    (src / "album" / "cover.jpg").write_bytes(b"cover" * 50)
    originals = snapshot(tmp_path)
    job = {"what": "move", "pairs": [(str(p), g) for p, g in pairs], "out": str(tmp_path / "out")}
    run_child({**job, "point": "acted", "nth": 3})  # a moved, b moved, the cover copied to Rock: no done line
    assert (tmp_path / "out" / "Rock" / "cover.jpg").read_bytes() == b"cover" * 50
    messages = recover_interrupted()
    assert messages and "interrupted after 2 of 3" in messages[0], messages
    assert_journal_consistent()
    undo()
    assert snapshot(tmp_path) == originals
