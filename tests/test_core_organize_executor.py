"""Executing plans on real audio files: within and across filesystems, clashes, sidecars, read-only
destinations, undo restoring paths and SHA-256 exactly, and undo refusing when a file changed."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from music_reclass_gui.core.errors import OrganizeError
from music_reclass_gui.core.organize import execute_plan, fileops, list_operations, plan_moves, undo
from music_reclass_gui.core.organize.journal import journal_dir, read_operation


def sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def snapshot(*roots: Path) -> dict[str, str]:
    """Every file under the roots -> SHA-256 (folders as 'dir'): the user-visible state of the disk."""
    out = {}
    for root in roots:
        for p in sorted(root.rglob("*")):
            out[str(p)] = "dir" if p.is_dir() else sha(p)
    return out


@pytest.fixture
def library(tmp_path: Path, make_audio):
    src = tmp_path / "in"
    files = {
        make_audio("a.mp3", seconds=0.5, freq=300, folder=src): "Rock",
        make_audio("b.flac", seconds=0.5, freq=400, folder=src / "album"): "Jazz",
        make_audio("c.ogg", seconds=0.5, freq=500, folder=src / "album"): "Rock",
        make_audio("d.wav", seconds=0.5, freq=600, folder=src): "Hip\u2010Hop",
    }
    return src, files


@pytest.fixture
def other_fs(tmp_path: Path):
    """A folder on a different filesystem (tmpfs /dev/shm) if this machine has one."""
    shm = Path("/dev/shm")
    if not shm.is_dir() or not os.access(shm, os.W_OK) or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem available (the forced copy-path test covers this case)")
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="mrc-test-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def journal_records(op_id: str) -> list[dict]:
    return [json.loads(line) for line in (journal_dir() / f"{op_id}.jsonl").read_text().splitlines()]


def assert_moved(files: dict[Path, str], before: dict[str, str], plan, report) -> None:
    assert report.failed == [] and not report.cancelled
    for move in plan.moves:
        assert not move.src.exists()
        assert sha(move.dst) == before[str(move.src)]


def test_move_within_filesystem_then_undo_restores_exactly(tmp_path: Path, library) -> None:
    src, files = library
    out = tmp_path / "out"
    before = snapshot(src)
    plan = plan_moves(list(files.items()), out, source_root=src)
    report = execute_plan(plan, remove_empty_dirs=True)
    assert_moved(files, before, plan, report)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.*")) == [
        "Hip-Hop/d.wav",
        "Jazz/b.flac",
        "Rock/a.mp3",
        "Rock/c.ogg",
    ]
    assert not (src / "album").exists(), "the emptied folder was removed on request"
    assert src.exists(), "the folder the user named is kept"
    records = journal_records(report.op_id)
    intents = [r for r in records if r["type"] == "intent" and r["action"] == "move"]
    assert len(intents) == 4 and all(r["size"] > 0 and r["ino"] for r in intents)
    assert not any("sha256" in r for r in records), "a same-drive link + unlink reads no file to hash it"
    assert records[-1] == {**records[-1], "type": "end", "status": "complete"}

    (summary,) = list_operations()
    assert summary.op_id == report.op_id and summary.can_undo and summary.n_items == 4
    back = undo()
    assert back.failed == []
    assert snapshot(src) == before, "every path and every SHA-256 is back"
    assert not out.exists(), "folders the operation created are gone again"
    (op, undo_op) = list_operations()
    assert op.undone and not op.can_undo and undo_op.kind == "undo"
    with pytest.raises(OrganizeError, match="nothing to undo"):
        undo()


def test_move_across_filesystems(library, other_fs: Path) -> None:
    src, files = library
    out = other_fs / "out"
    before = snapshot(src)
    mtimes = {p: p.stat().st_mtime_ns for p in files}
    plan = plan_moves(list(files.items()), out)
    report = execute_plan(plan)
    assert_moved(files, before, plan, report)
    assert os.stat(out).st_dev != os.stat(src).st_dev
    assert not list(out.rglob(".*")), "no temp copies left"
    for move in plan.moves:  # the copy keeps the modification time
        assert move.dst.stat().st_mtime_ns == mtimes[move.src]
    undo()
    assert snapshot(src) == before


def test_forced_copy_path_verifies_and_never_leaves_half_files(tmp_path: Path, library, monkeypatch) -> None:
    """Same filesystem, but link() says EXDEV (as across devices): the copy + fsync + verify path runs."""
    src, files = library
    real_link = os.link
    calls = []

    def cross_device_link(a, b, *args, **kw):
        if not str(a).endswith(".part"):
            calls.append(a)
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        return real_link(a, b, *args, **kw)

    monkeypatch.setattr(fileops.os, "link", cross_device_link)
    before = snapshot(src)
    out = tmp_path / "out"
    plan = plan_moves(list(files.items()), out)
    report = execute_plan(plan)
    assert len(calls) == 4, "every move went through the copy path"
    assert_moved(files, before, plan, report)
    undo()
    assert snapshot(src) == before

    # A copy that comes out different is detected, the original kept, nothing half-written left behind.
    real_copy = fileops._copy_stream

    def corrupting_copy(fi, fo, digest):
        real_copy(fi, fo, digest)
        fo.write(b"garbage")

    monkeypatch.setattr(fileops, "_copy_stream", corrupting_copy)
    report = execute_plan(plan_moves(list(files.items()), out))
    assert len(report.failed) == 4 and all("did not match" in why for _, why in report.failed)
    assert snapshot(src) == before
    assert not [p for p in out.rglob("*") if p.is_file()]


def test_clash_never_overwrites_even_if_file_appears_after_planning(tmp_path: Path, make_audio) -> None:
    src = tmp_path / "in"
    a = make_audio("song.mp3", seconds=0.5, freq=300, folder=src / "x")
    b = make_audio("song.mp3", seconds=0.5, freq=350, folder=src / "y")
    out = tmp_path / "out"
    existing = make_audio("song.mp3", seconds=0.5, freq=900, folder=out / "Rock")
    keep = sha(existing)
    plan = plan_moves([(a, "Rock"), (b, "Rock")], out)
    assert [m.dst.name for m in plan.moves] == ["song (2).mp3", "song (3).mp3"]
    assert all(m.clash for m in plan.moves)
    intruder = make_audio("song (3).mp3", seconds=0.5, freq=999, folder=out / "Rock")  # appears meanwhile
    intruder_sha, b_sha = sha(intruder), sha(b)
    report = execute_plan(plan)
    assert sha(existing) == keep and sha(intruder) == intruder_sha, "nothing overwritten"
    assert report.done == [out / "Rock" / "song (2).mp3"]
    assert report.failed == [(b, "a file with this name already exists there; nothing was overwritten")]
    assert sha(b) == b_sha, "the file that could not move is untouched"


def test_sidecars_move_with_their_track_and_come_back(tmp_path: Path, make_audio) -> None:
    src = tmp_path / "in"
    track = make_audio("live.flac", seconds=0.5, folder=src)
    (src / "live.lrc").write_text("[00:01.00] hello\n")
    (src / "live.cue").write_text('FILE "live.flac" WAVE\n')
    before = snapshot(src)
    out = tmp_path / "out"
    report = execute_plan(plan_moves([(track, "Live")], out))
    assert sorted(p.name for p in (out / "Live").iterdir()) == ["live.cue", "live.flac", "live.lrc"]
    assert len(report.moved) == 3 and report.done == [out / "Live" / "live.flac"]
    undo(report.op_id)
    assert snapshot(src) == before


def test_weird_genres_stay_inside_out_root(tmp_path: Path, make_audio) -> None:
    src = tmp_path / "in"
    genres = ["../../etc", "CON", "a/b", "x" * 300, "\u202eevil\u200f", "/abs", "..", "nul.txt", "🎸"]
    pairs = [(make_audio(f"t{i}.wav", seconds=0.2, folder=src), g) for i, g in enumerate(genres)]
    pairs.append((make_audio("t_empty.wav", seconds=0.2, folder=src), ""))
    out = tmp_path / "deep" / "out"
    report = execute_plan(plan_moves(pairs, out, unsorted="Unsorted"))
    assert report.failed == []
    everything = {p for p in tmp_path.rglob("*") if p.is_file()}
    assert everything == {p for p in out.rglob("*") if p.is_file()}, "no file landed outside out_root"
    assert len(everything) == len(pairs)
    assert all(p.parent.parent == out for p in everything)


def test_read_only_destination_is_a_clear_error_and_nothing_moves(
    tmp_path: Path, library, monkeypatch
) -> None:
    """Honest note: tests run as root here, where the kernel ignores mode bits; so this proves the
    pre-flight check (mode bits + os.access) refuses before any file moves, not that the OS would."""
    src, files = library
    out = tmp_path / "out"
    out.mkdir()
    before = snapshot(src, out)
    out.chmod(0o555)
    try:
        with pytest.raises(OrganizeError) as info:
            execute_plan(plan_moves(list(files.items()), out))
        assert info.value.path == out and "read-only" in info.value.reason
        assert snapshot(src, out) == before
        assert list_operations() == [], "refused before an operation was even started"
    finally:
        out.chmod(0o755)

    # A folder os.access() reports unwritable (e.g. a read-only network share), mode bits notwithstanding.
    real_access = os.access
    monkeypatch.setattr(
        fileops.os, "access", lambda p, mode: False if Path(p) == out else real_access(p, mode)
    )
    with pytest.raises(OrganizeError, match="read-only"):
        execute_plan(plan_moves(list(files.items()), out))
    assert snapshot(src, out) == before


def test_undo_refuses_when_a_file_changed_or_vanished(tmp_path: Path, library) -> None:
    src, files = library
    out = tmp_path / "out"
    only = next(p for p in files if p.name == "b.flac")  # an operation of one file: nothing else to undo
    report = execute_plan(plan_moves([(only, files[only])], out))
    moved = dict(report.moved)
    victim = moved[only]
    with open(victim, "ab") as fh:
        fh.write(b"\0")
    state = snapshot(tmp_path)
    with pytest.raises(OrganizeError) as info:
        undo()
    assert info.value.path == victim and "changed" in info.value.reason
    assert snapshot(tmp_path) == state, "a refused undo changes nothing"

    victim.unlink()
    state = snapshot(tmp_path)
    with pytest.raises(OrganizeError, match="moved or deleted") as info:
        undo(report.op_id)
    assert info.value.path == victim
    assert snapshot(tmp_path) == state


def test_undo_refuses_same_size_edits_and_touched_files(tmp_path: Path, library) -> None:
    src, files = library
    report = execute_plan(plan_moves(list(files.items()), tmp_path / "out"))
    moved = dict(report.moved)
    edited = moved[next(p for p in files if p.name == "c.ogg")]
    st = edited.stat()
    data = bytearray(edited.read_bytes())
    data[-1] ^= 0xFF  # same size, same mtime set back: the change time (ctime) still tells, unread
    edited.write_bytes(bytes(data))
    os.utime(edited, ns=(st.st_atime_ns, st.st_mtime_ns))
    # The hand-edited file is left alone and named; every other file of the operation goes back.
    report = undo()
    assert [(p, "changed since" in why) for p, why in report.failed] == [(edited, True)]
    assert sorted(report.done) == sorted(p for p in files if p.name != "c.ogg")
    assert all(p.exists() for p in files if p.name != "c.ogg") and edited.exists()
    (op, _) = list_operations()
    assert not op.undone and op.can_undo, "the operation stays undoable for the file that was kept"
    with pytest.raises(OrganizeError, match="changed since") as info:
        undo(op.op_id)  # nothing else left to undo: a clear refusal, nothing changed
    assert info.value.path == edited


def test_undo_of_earlier_operation_only_if_independent(tmp_path: Path, make_audio) -> None:
    src = tmp_path / "in"
    a = make_audio("a.mp3", seconds=0.3, folder=src)
    b = make_audio("b.mp3", seconds=0.3, freq=800, folder=src)
    out = tmp_path / "out"
    first = execute_plan(plan_moves([(a, "Rock")], out))
    second = execute_plan(plan_moves([(b, "Pop")], out))
    third = execute_plan(plan_moves([(out / "Rock" / "a.mp3", "Metal")], out))  # touches first's file
    with pytest.raises(OrganizeError, match=third.op_id) as info:
        undo(first.op_id)
    assert info.value.path is not None and info.value.path.name == "a.mp3"
    undo(second.op_id)  # independent: fine
    assert b.exists() and not (out / "Pop" / "b.mp3").exists()
    undo()  # the last not-yet-undone operation is `third`
    assert (out / "Rock" / "a.mp3").exists()
    undo(first.op_id)  # now allowed
    assert a.exists()
    kinds = [(s.kind, s.undone) for s in list_operations()]
    assert kinds == [
        ("move", True),
        ("move", True),
        ("move", True),
        ("undo", False),
        ("undo", False),
        ("undo", False),
    ]


def test_cancel_stops_between_files_and_the_rest_can_be_undone(tmp_path: Path, library) -> None:
    src, files = library
    before = snapshot(src)
    seen = []
    report = execute_plan(
        plan_moves(list(files.items()), tmp_path / "out"),
        progress=lambda i, n: seen.append((i, n)),
        cancelled=lambda: len(seen) >= 2,
    )
    assert report.cancelled and len(report.done) == 2 and seen == [(1, 4), (2, 4)]
    assert read_operation(journal_dir() / f"{report.op_id}.jsonl").end["status"] == "cancelled"
    undo()
    assert snapshot(src) == before
