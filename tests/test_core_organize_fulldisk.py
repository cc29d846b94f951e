"""A real full disk under the journal: the data folder is a 64 KiB tmpfs, filled to several levels, then the
`organize` and `undo` commands run as separate processes. No traceback, no torn journal line, no file lost,
and undo (once there is room again) puts every file back; it never reports a file restored that is not.
A torn journal tail (a power loss mid-append) must not swallow the records recovery appends after it."""

from __future__ import annotations

import errno
import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from music_reclass_gui.core.organize import (
    execute_plan,
    list_operations,
    plan_moves,
    recover_interrupted,
    undo,
)
from music_reclass_gui.core.organize.journal import journal_dir
from music_reclass_gui.core.tags import write_genres

NAMES = ("a.mp3", "b.flac", "c.ogg", "d.wav", "e.opus", "f.mp3")


def contents(*roots: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest() for r in roots for p in r.rglob("*") if p.is_file()
    }


@pytest.fixture
def small_tmpfs(tmp_path: Path):
    """A real 64 KiB tmpfs (the kernel's own ENOSPC), mounted for this test only."""
    mnt = tmp_path / "data"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(mnt)], capture_output=True)
    if proc.returncode != 0:
        pytest.skip(f"the OS refused to mount a 64 KiB tmpfs here ({proc.stderr.decode().strip()})")
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(folder: Path, leave_free: int) -> Path:
    """Fill the filesystem with one file, then give back `leave_free` bytes."""
    filler = folder / "filler"
    with open(filler, "wb", buffering=0) as fh:
        try:
            while True:
                fh.write(b"\xff" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC
    size = filler.stat().st_size
    os.truncate(filler, max(0, size - leave_free))
    return filler


def cli(*args: str, data: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "MUSIC_RECLASS_DATA_DIR": str(data)}
    return subprocess.run(
        [sys.executable, "-m", "music_reclass_gui.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


@pytest.mark.parametrize("free_kib", [0, 4, 20])
def test_organize_and_undo_on_a_full_journal_disk(tmp_path: Path, make_audio, small_tmpfs, free_kib) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    for i, name in enumerate(NAMES):
        write_genres(
            make_audio(name, seconds=0.3, freq=300 + 50 * i, folder=src), ["Rock" if i % 2 else "Jazz"]
        )
    originals = contents(src)
    (small_tmpfs / "journal").mkdir()
    filler = fill(small_tmpfs, free_kib * 1024)

    org = cli("organize", str(src), "--to", str(out), "--by", "tag", data=small_tmpfs)
    assert "Traceback" not in org.stderr, org.stderr
    if org.returncode != 0:
        assert "disk is full" in org.stderr, org.stderr
    assert sorted(contents(src, out).values()) == sorted(originals.values()), "a file was lost or duplicated"
    for torn in (small_tmpfs / "journal").glob("*.jsonl"):
        assert torn.read_bytes().endswith(b"\n"), "a torn journal line was left behind"

    while_full = cli("undo", "--list", data=small_tmpfs)
    assert "Traceback" not in while_full.stderr and while_full.returncode == 0, while_full.stderr

    filler.unlink()
    back = cli("undo", data=small_tmpfs)
    assert "Traceback" not in back.stderr, back.stderr
    if contents(out):
        assert back.returncode == 0 and ", 0 failed" in back.stderr, back.stderr
    assert contents(src) == originals, f"not every file is back where it was:\n{org.stderr}\n{back.stderr}"
    assert not contents(out)


def test_a_torn_journal_tail_does_not_swallow_what_recovery_appends(tmp_path: Path, make_audio) -> None:
    src, out = tmp_path / "in", tmp_path / "out"
    files = [make_audio(n, seconds=0.3, freq=300 + 40 * i, folder=src) for i, n in enumerate(NAMES[:3])]
    originals = contents(src)
    report = execute_plan(plan_moves([(f, "Rock") for f in files], out))
    journal = journal_dir() / f"{report.op_id}.jsonl"
    lines = journal.read_bytes().splitlines(keepends=True)
    # Power loss while the last move's "done" line was being appended: keep half of it, drop the rest.
    last_done = max(i for i, line in enumerate(lines) if b'"type": "done"' in line)
    journal.write_bytes(b"".join(lines[:last_done]) + lines[last_done][:25])

    messages = recover_interrupted()
    assert messages and "interrupted" in messages[0] and "had already reached" in messages[0], messages
    (op,) = list_operations()
    assert op.n_items == 3 and op.can_undo, "the recovered step is recorded, not swallowed by the torn line"
    assert undo().failed == []
    assert contents(src) == originals
