"""Crash recovery: a child process runs an operation through the public API and dies (os._exit) at a
chosen point between steps; recover_interrupted() must then leave nothing lost, nothing duplicated and a
consistent journal, and the recovered operation must still undo exactly."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from music_reclass_gui.core.organize import list_operations, recover_interrupted, undo
from music_reclass_gui.core.organize.journal import iter_operations
from music_reclass_gui.core.tags import read_tags, write_genres

CRASH = 77

CHILD = textwrap.dedent(
    """
    import errno, json, os, sys
    from pathlib import Path
    from music_reclass_gui.core.organize import journal, fileops
    from music_reclass_gui.core import organize, tags

    job = json.loads(sys.argv[1])
    seen = {}

    def hook(point, step):
        seen[point] = seen.get(point, 0) + 1
        if point == job["point"] and seen[point] == job["nth"]:
            os._exit(77)

    journal.fault_hook = hook
    if job.get("force_copy"):  # behave as if every destination were on another filesystem
        real_link = os.link
        def link(a, b, *args, **kw):
            if not str(a).endswith(".part"):
                raise OSError(errno.EXDEV, "cross-device")
            return real_link(a, b, *args, **kw)
        fileops.os.link = link
    if job.get("die_inside_write"):  # die while the tag writer's temp copy exists beside the file
        real_write = tags.write_genres
        def write(path, genres, **kw):
            p = Path(path)
            seen["inside"] = seen.get("inside", 0) + 1
            if seen["inside"] == job["nth"]:
                (p.parent / f".{p.name}.abc123.mrtmp").write_bytes(p.read_bytes()[:100])
                os._exit(77)
            return real_write(path, genres, **kw)
        tags.write_genres = write
    if job["what"] == "move":
        plan = organize.plan_moves([(Path(p), g) for p, g in job["pairs"]], Path(job["out"]))
        organize.execute_plan(plan, remove_empty_dirs=True)
    elif job["what"] == "tags":
        organize.apply_tag_changes([organize.TagChange(Path(p), tuple(g)) for p, g in job["changes"]])
    elif job["what"] == "undo":
        organize.undo()
    print("finished without crashing")
    """
)


def run_child(job: dict) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(job)], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == CRASH, (
        f"child did not crash as planned: {proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    )


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha(p) for p in sorted(root.rglob("*")) if p.is_file()}


def assert_journal_consistent() -> None:
    for op in iter_operations():
        assert op.end is not None, f"{op.op_id} left open"
        assert op.pending == [], f"{op.op_id} has steps with an intent but no outcome"


def assert_each_file_exactly_once(root: Path, originals: dict[str, str]) -> None:
    contents = sorted(snapshot(root).values())
    assert contents == sorted(originals.values()), "a file was lost or duplicated"
    assert not [p for p in root.rglob("*") if p.name.endswith((".part", ".mrtmp"))], "temp files left"


@pytest.fixture
def library(tmp_path: Path, make_audio):
    src = tmp_path / "in"
    pairs = [
        (make_audio("a.mp3", seconds=0.4, freq=300, folder=src), "Rock"),
        (make_audio("b.flac", seconds=0.4, freq=400, folder=src / "album"), "Jazz"),
        (make_audio("c.ogg", seconds=0.4, freq=500, folder=src / "album"), "Rock"),
    ]
    return src, pairs


# Points: "intent" = the journal says a step starts, nothing done yet; "copied" = verified temp copy
# exists (copy path); "placed" = the file exists at source AND destination; "acted" = moved, no done line.
MOVE_CASES = [
    ("intent", 1, False, "after 0 of 3"),  # the very first mkdir intent
    ("intent", 3, False, "a.mp3 had not been moved yet"),  # steps: mkdir out, mkdir Rock, move a
    ("placed", 2, False, "finished moving b.flac"),  # linked into place, source not yet removed
    ("acted", 3, False, "c.ogg had already reached"),  # fully moved, done line never written
    ("copied", 2, True, "b.flac had not been moved yet"),  # copy path: verified temp copy, not in place
    ("placed", 1, True, "finished moving a.mp3"),  # copy path: copy in place, source still there
]


@pytest.mark.parametrize(("point", "nth", "force_copy", "expect"), MOVE_CASES)
def test_interrupted_move_is_resolved(
    tmp_path: Path, library, point: str, nth: int, force_copy: bool, expect: str
) -> None:
    src, pairs = library
    out = tmp_path / "out"
    originals = snapshot(tmp_path)
    run_child(
        {
            "what": "move",
            "pairs": [(str(p), g) for p, g in pairs],
            "out": str(out),
            "point": point,
            "nth": nth,
            "force_copy": force_copy,
        }
    )

    assert any(p.name.endswith(".part") for p in tmp_path.rglob("*")) == (point == "copied")
    messages = recover_interrupted()
    assert messages and "interrupted" in messages[0] and expect in messages[0], messages
    assert_journal_consistent()
    assert_each_file_exactly_once(tmp_path, originals)
    assert recover_interrupted() == [], "recovery is done once"

    (summary,) = list_operations()
    assert summary.status == "interrupted"
    if summary.n_items:
        assert summary.can_undo
        undo()
    assert snapshot(tmp_path) == originals, "undo of the recovered operation restores everything exactly"
    assert_journal_consistent()


def test_crash_during_undo_is_finished_on_next_start(tmp_path: Path, library) -> None:
    src, pairs = library
    out = tmp_path / "out"
    originals = snapshot(tmp_path)
    from music_reclass_gui.core.organize import execute_plan, plan_moves

    execute_plan(plan_moves(pairs, out))
    run_child({"what": "undo", "point": "placed", "nth": 2})  # second file back in place, copy not removed
    messages = recover_interrupted()
    assert any("Finished undoing" in m for m in messages), messages
    assert snapshot(tmp_path) == originals
    assert_journal_consistent()
    move_op = list_operations()[0]
    assert move_op.undone and not move_op.can_undo


@pytest.fixture
def tagged(tmp_path: Path, make_audio):
    files = [make_audio(n, seconds=0.4, folder=tmp_path / "lib") for n in ("a.mp3", "b.flac", "c.ogg")]
    for f in files:
        write_genres(f, ["Old"])
    return files


@pytest.mark.parametrize(
    ("point", "nth", "inside"), [("intent", 2, False), ("written", 2, False), ("inside", 3, True)]
)
def test_interrupted_tag_writes_are_resolved(
    tmp_path: Path, tagged, point: str, nth: int, inside: bool
) -> None:
    run_child(
        {
            "what": "tags",
            "changes": [(str(f), ["New", "Second"]) for f in tagged],
            "point": point,
            "nth": nth,
            "die_inside_write": inside,
        }
    )
    genres = [read_tags(f).genres for f in tagged]
    messages = recover_interrupted()
    assert messages and "interrupted" in messages[0]
    assert_journal_consistent()
    hidden = [p.name for p in (tmp_path / "lib").glob(".*")]
    assert all(name.endswith(".mrorig") for name in hidden), "only the originals kept for undo are hidden"
    assert [read_tags(f).genres for f in tagged] == genres, "recovery does not rewrite tags"
    expected_new = {"intent": 1, "written": 2, "inside": 2}[point]
    assert genres == [("New", "Second")] * expected_new + [("Old",)] * (3 - expected_new)
    (op,) = list_operations()
    assert op.n_items == expected_new and op.can_undo
    undo()
    assert [read_tags(f).genres for f in tagged] == [("Old",)] * 3
    assert not list((tmp_path / "lib").glob(".*")), "undo put the kept originals back"
