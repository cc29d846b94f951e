"""Undoing a genre write puts back the exact bytes when the file was not changed since: a WAV that had no
ID3 chunk gets none, an Ogg does not grow. The original is kept (hard-linked, no copy) until the operation is
final, i.e. until the next journaled operation; after that undo still restores the genres by rewriting."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from music_reclass_gui.core.organize import TagChange, apply_tag_changes, execute_plan, plan_moves, undo
from music_reclass_gui.core.tags import read_tags


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.mark.parametrize("name", ["bare.wav", "stream.ogg", "song.mp3", "song.flac"])
def test_undo_restores_the_exact_bytes(tmp_path: Path, make_audio, name: str) -> None:
    path = make_audio(name, seconds=0.5, folder=tmp_path / "lib")
    before, mtime = sha(path), path.stat().st_mtime_ns
    apply_tag_changes([TagChange(path, ("Rock",))])
    assert read_tags(path).genres == ("Rock",) and sha(path) != before
    assert undo().failed == []
    assert sha(path) == before and path.stat().st_mtime_ns == mtime, "the very same bytes and time"
    assert sorted(p.name for p in (tmp_path / "lib").iterdir()) == [name], "no backup left behind"


def test_after_the_next_operation_undo_rewrites_the_genres(tmp_path: Path, make_audio) -> None:
    lib = tmp_path / "lib"
    path = make_audio("a.ogg", seconds=0.5, folder=lib)
    other = make_audio("b.flac", seconds=0.5, folder=lib)
    first = apply_tag_changes([TagChange(path, ("Rock",))])
    assert any(p.name.endswith(".mrorig") for p in lib.iterdir())
    execute_plan(plan_moves([(other, "Jazz")], tmp_path / "out"))  # the tag write is final now
    assert sorted(p.name for p in lib.iterdir()) == ["a.ogg"], "the kept original was dropped"
    assert undo(first.op_id).failed == []
    assert read_tags(path).genres == ()
