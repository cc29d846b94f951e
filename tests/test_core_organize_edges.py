"""Smaller organiser edges from issue 12 item 8: names differing only by case on a case-sensitive disk, a
symlinked OUT/<Genre> leading elsewhere, and the empty folders a stale plan or a kill used to leave."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from music_reclass_gui.core.organize import execute_plan, plan_moves, recover_interrupted
from tests.test_core_organize_recovery import run_child


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_names_that_differ_only_by_case_are_two_tracks(tmp_path: Path, make_audio) -> None:
    src = tmp_path / "in"
    upper = make_audio("Song.mp3", seconds=0.3, freq=300, folder=src)
    lower = make_audio("song.mp3", seconds=0.3, freq=600, folder=src)
    if os.path.samefile(upper, lower) or len(os.listdir(src)) != 2:
        pytest.skip("this filesystem is case-insensitive")
    contents = {sha(upper), sha(lower)}
    plan = plan_moves([(upper, "Rock"), (lower, "Rock")], tmp_path / "out")
    assert plan.skipped == [] and len(plan.moves) == 2, plan.skipped
    report = execute_plan(plan)
    assert report.failed == []
    assert {sha(m.dst) for m in plan.moves} == contents and not list(src.iterdir())


def test_a_symlinked_genre_folder_never_sends_files_outside_out(tmp_path: Path, make_audio) -> None:
    src, out, elsewhere = tmp_path / "in", tmp_path / "out", tmp_path / "elsewhere"
    rock = make_audio("rock.mp3", seconds=0.3, folder=src)
    jazz = make_audio("jazz.flac", seconds=0.3, folder=src)
    elsewhere.mkdir()
    out.mkdir()
    (out / "Rock").symlink_to(elsewhere, target_is_directory=True)
    report = execute_plan(plan_moves([(rock, "Rock"), (jazz, "Jazz")], out))
    assert [(p, "outside the output folder" in why) for p, why in report.failed] == [(rock, True)]
    assert rock.exists() and not list(elsewhere.iterdir()), "nothing went through the link"
    assert (out / "Jazz" / "jazz.flac").exists()


def test_a_stale_plan_leaves_no_empty_genre_folder(tmp_path: Path, make_audio) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    gone = make_audio("gone.mp3", seconds=0.3, folder=src)
    kept = make_audio("kept.flac", seconds=0.3, folder=src)
    plan = plan_moves([(gone, "Metal"), (kept, "Jazz")], out)
    gone.unlink()  # deleted after the plan was shown
    report = execute_plan(plan)
    assert [p for p, _ in report.failed] == [gone]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == ["Jazz", "Jazz/kept.flac"]


def test_a_kill_before_the_first_file_arrives_leaves_no_empty_folders(tmp_path: Path, make_audio) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    track = make_audio("a.mp3", seconds=0.3, folder=src)
    # Steps: mkdir out, mkdir out/Rock, move a.mp3: die when the move's intent is written.
    run_child({"what": "move", "pairs": [(str(track), "Rock")], "out": str(out), "point": "intent", "nth": 3})
    assert (out / "Rock").is_dir() and not list((out / "Rock").iterdir())
    messages = recover_interrupted()
    assert messages and "had not been moved yet" in messages[0]
    assert track.exists() and not out.exists(), "the folders the killed operation created are gone"
