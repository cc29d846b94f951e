"""A real concurrent writer: another process rewrites a track's genre in a loop (as `tags --set-genre`, the
GUI or any tagger would) while `execute_plan` moves that track, same drive and across drives (/dev/shm).
No successful write may be lost: the newest genre the writer was told it wrote must be in a file on disk."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path

import pytest

from music_reclass_gui.core.organize import execute_plan, journal, plan_moves
from music_reclass_gui.core.tags import read_tags

WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from music_reclass_gui.core.errors import TagError
    from music_reclass_gui.core.tags import write_genres

    path, stop = Path(sys.argv[1]), Path(sys.argv[2])
    i = 0
    while not stop.exists():
        i += 1
        try:
            write_genres(path, [f"W{i}"])
        except TagError:
            continue
        print(f"ok {i}", flush=True)
    """
)


class Writer:
    """Runs WRITER in a child process and follows which writes it reported as successful."""

    def __init__(self, path: Path, stop: Path):
        self.stop = stop
        self.successes: list[int] = []
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(stop)], stdout=subprocess.PIPE, text=True
        )
        self._reader = threading.Thread(target=self._follow, daemon=True)
        self._reader.start()

    def _follow(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.successes.append(int(line.split()[1]))

    def wait_for_writes(self, n: int, timeout: float = 60.0) -> None:
        goal = len(self.successes) + n
        deadline = time.monotonic() + timeout
        while len(self.successes) < goal:
            assert time.monotonic() < deadline, "the writer made no progress"
            assert self.proc.poll() is None, "the writer died"
            time.sleep(0.005)

    def finish(self) -> int:
        self.stop.touch()
        self.proc.wait(timeout=60)
        self._reader.join(timeout=10)
        return self.successes[-1]


def genre_indices(*paths: Path) -> set[int]:
    out = set()
    for p in paths:
        if p.exists():
            out.update(int(g[1:]) for g in read_tags(p).genres)
    return out


@pytest.fixture
def shm_dir(tmp_path: Path):
    shm = Path("/dev/shm")
    if not shm.is_dir() or os.stat(shm).st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem (/dev/shm) on this machine for a cross-drive move")
    folder = Path(tempfile.mkdtemp(dir=shm, prefix="mrc-race-"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.parametrize("where", ["same-drive", "cross-drive"])
def test_a_write_that_lands_during_a_move_is_never_lost(
    tmp_path: Path, make_audio, monkeypatch, where: str, request
) -> None:
    out = (request.getfixturevalue("shm_dir") if where == "cross-drive" else tmp_path) / "out"
    track = make_audio("song.mp3", seconds=1.0, folder=tmp_path / "in")
    writer = Writer(track, tmp_path / "stop")
    writer.wait_for_writes(3)
    # The move pauses at its most dangerous point (copy verified / hard link made, source not yet removed)
    # until the other process has completed two more writes to the source.
    point = "copied" if where == "cross-drive" else "placed"
    monkeypatch.setattr(
        journal, "fault_hook", lambda p, step: writer.wait_for_writes(2) if p == point else None
    )
    plan = plan_moves([(track, "Rock")], out)
    report = execute_plan(plan)
    monkeypatch.setattr(journal, "fault_hook", None)
    last = writer.finish()

    dst = plan.moves[0].dst
    assert track.exists() != dst.exists(), "exactly one copy of the track"
    assert max(genre_indices(track, dst)) == last, f"the write W{last} the writer was told succeeded is lost"
    # Usually "changed by another program"; link() itself may also lose the race (ENOENT on a replaced inode)
    assert report.failed and "it was left where it was" in report.failed[0][1]
    assert not [p for p in out.rglob("*") if p.is_file()], "no stale copy left at the destination"
