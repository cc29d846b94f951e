"""Journaled tag writes on real files, their undo, and undo across mixed move/tag operations."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from music_reclass_gui.core.errors import OrganizeError
from music_reclass_gui.core.organize import (
    TagChange,
    apply_tag_changes,
    execute_plan,
    list_operations,
    plan_moves,
    undo,
)
from music_reclass_gui.core.organize.journal import journal_dir
from music_reclass_gui.core.tags import read_tags, write_genres

FORMATS = ("mp3", "flac", "ogg", "m4a", "wav")


@pytest.fixture
def files(tmp_path: Path, make_audio) -> list[Path]:
    out = []
    for i, ext in enumerate(FORMATS):
        path = make_audio(f"t{i}.{ext}", seconds=0.4, folder=tmp_path / "lib")
        if i % 2 == 0:
            write_genres(path, [f"Old{i}"])
        out.append(path)
    return out


def test_tag_changes_are_journaled_and_undone_exactly(tmp_path: Path, files: list[Path]) -> None:
    old = [read_tags(f).genres for f in files]
    assert old == [("Old0",), (), ("Old2",), (), ("Old4",)]
    broken = tmp_path / "lib" / "broken.mp3"
    broken.write_bytes(b"not audio at all")
    same = files[0]
    same_mtime = same.stat().st_mtime_ns
    changes = [TagChange(same, ("Old0",))] + [TagChange(f, ("New", "Other")) for f in files[1:]]
    changes.append(TagChange(broken, ("New",)))
    progress = []
    report = apply_tag_changes(changes, progress=lambda i, n: progress.append((i, n)))
    assert report.kind == "tags" and report.done == files
    assert [p for p, _ in report.failed] == [broken] and report.failed[0][1]
    assert progress[-1] == (6, 6)
    assert same.stat().st_mtime_ns == same_mtime, "a file already holding the genres is not rewritten"
    assert [read_tags(f).genres for f in files[1:]] == [("New", "Other")] * 4

    records = [json.loads(x) for x in (journal_dir() / f"{report.op_id}.jsonl").read_text().splitlines()]
    intents = [r for r in records if r["type"] == "intent"]
    assert [(Path(r["path"]).name, r["old_genres"], r["new_genres"]) for r in intents] == [
        (f.name, list(o), ["New", "Other"]) for f, o in zip(files[1:], old[1:], strict=True)
    ]
    dones = [r for r in records if r["type"] == "done"]
    assert all(r["size"] > 0 and r["ino"] and "sha256" not in r for r in dones) and len(dones) == 4

    (summary,) = list_operations()
    assert summary.kind == "tags" and summary.n_items == 4 and summary.can_undo
    back = undo()
    assert back.failed == [] and len(back.done) == 4
    assert [read_tags(f).genres for f in files] == old, "old genres back, empty ones removed again"


def test_undo_of_tags_leaves_a_file_edited_since_and_undoes_the_rest(files: list[Path]) -> None:
    before = [read_tags(f).genres for f in files]
    report = apply_tag_changes([TagChange(f, ("Ambient",)) for f in files])
    write_genres(files[3], ["Changed by another app"])
    back = undo(report.op_id)
    assert [p for p, _ in back.failed] == [files[3]] and "cannot undo" in back.failed[0][1]
    expected = [g if i != 3 else ("Changed by another app",) for i, g in enumerate(before)]
    assert [read_tags(f).genres for f in files] == expected
    with pytest.raises(OrganizeError) as info:  # only the edited file is left: a clear refusal
        undo(report.op_id)
    assert info.value.path == files[3]


def test_id3v23_options_are_kept_for_the_undo(files: list[Path]) -> None:
    mp3 = files[0]
    before = mp3.read_bytes()
    apply_tag_changes([TagChange(mp3, ("Rock", "Pop"))], id3_version=3, id3_separator="; ")
    from mutagen.id3 import ID3

    assert ID3(mp3).version[:2] == (2, 3)
    undo()  # the original file was kept: undo puts back its exact bytes, tag version included
    assert read_tags(mp3).genres == ("Old0",) and mp3.read_bytes() == before


def test_move_then_tag_then_undo_both_in_order(tmp_path: Path, files: list[Path]) -> None:
    out = tmp_path / "out"
    moved = execute_plan(plan_moves([(f, "Rock") for f in files], out))
    tagged = apply_tag_changes([TagChange(dst, ("Retagged",)) for dst in moved.done])
    with pytest.raises(OrganizeError, match="undo that one first"):
        undo(moved.op_id)
    undo()  # the tag operation
    assert [read_tags(p).genres for p in moved.done] == [("Old0",), (), ("Old2",), (), ("Old4",)]
    undo()  # the move: the files changed bytes since the move, but exactly as the journal recorded
    assert all(f.exists() for f in files) and not out.exists()
    assert [s.undone for s in list_operations() if s.kind != "undo"] == [True, True]
    assert tagged.op_id != moved.op_id
