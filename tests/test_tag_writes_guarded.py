"""Every genre write goes through the journal and the operation lock, and never lands on a file that is not
the one that was scanned: `tags --set-genre` is undoable and waits for (then refuses beside) a running move;
`batch --write-tags` refuses a file another program replaced between classification and writing."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from music_reclass_gui.cli import main
from music_reclass_gui.core.organize import list_operations
from music_reclass_gui.core.tags import read_tags, write_genres
from tests.conftest import tone, write_audio


def test_tags_set_genre_is_journaled_and_undoable(tmp_path: Path, make_audio, capsys) -> None:
    files = [make_audio(n, seconds=0.5, folder=tmp_path) for n in ("a.mp3", "b.flac")]
    for f in files:
        write_genres(f, ["Old"])
    assert main(["tags", *map(str, files), "--set-genre", "Jazz"]) == 0
    assert [read_tags(f).genres for f in files] == [("Jazz",)] * 2
    (op,) = list_operations()
    assert op.kind == "tags" and op.n_items == 2 and op.can_undo
    capsys.readouterr()
    assert main(["undo", "--list"]) == 0 and op.op_id in capsys.readouterr().out
    assert main(["undo"]) == 0
    assert [read_tags(f).genres for f in files] == [("Old",)] * 2


HOLD_A_MOVE = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from music_reclass_gui.core import organize
    from music_reclass_gui.core.organize import journal

    src, out, flag = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3])
    def hook(point, step):
        if point == "placed":
            print("moving", flush=True)
            while not flag.exists():
                time.sleep(0.05)
    journal.fault_hook = hook
    organize.execute_plan(organize.plan_moves([(src, "Rock")], out))
    """
)


def test_tags_set_genre_takes_the_same_lock_as_moves(tmp_path: Path, make_audio, capsys) -> None:
    moving = make_audio("moving.mp3", seconds=0.5, folder=tmp_path / "in")
    other = make_audio("other.mp3", seconds=0.5, folder=tmp_path)
    write_genres(other, ["Old"])
    flag = tmp_path / "go-on"
    child = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_MOVE, str(moving), str(tmp_path / "out"), str(flag)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "moving"
        before = hashlib.sha256(other.read_bytes()).hexdigest()
        start = time.monotonic()
        assert main(["tags", str(other), "--set-genre", "Jazz"]) == 3
        assert time.monotonic() - start >= 4.0, "it waited for the running operation first"
        assert "another Music ReClass operation is running" in capsys.readouterr().err
        assert hashlib.sha256(other.read_bytes()).hexdigest() == before, "nothing written beside the move"
    finally:
        flag.touch()
        child.wait(timeout=60)
    assert main(["tags", str(other), "--set-genre", "Jazz"]) == 0
    assert read_tags(other).genres == ("Jazz",)


def test_batch_write_tags_refuses_a_file_replaced_after_classification(
    tmp_path: Path, default_classifier, monkeypatch, capsys
) -> None:
    from music_reclass_gui.cli import classify_cmd

    folder = tmp_path / "music"
    folder.mkdir()
    files = [
        write_audio(folder / name, tone(4.0, 22050, freq), 22050)
        for name, freq in (("a.mp3", 220), ("b.flac", 440), ("c.ogg", 880))
    ]
    replaced = files[1]
    real = default_classifier.classify_many

    def classify_then_another_program_replaces_b(paths, **kw):
        yield from real(paths, **kw)
        code = (
            "import os, sys; from tests.conftest import tone, write_audio; "
            "from music_reclass_gui.core.tags import write_genres; "
            "p = sys.argv[1]; t = p + '.new.flac'; write_audio(t, tone(3.0, 22050, 90.0), 22050); "
            "write_genres(t, ['Replacement']); os.replace(t, p)"
        )
        subprocess.run([sys.executable, "-c", code, str(replaced)], check=True, cwd=Path(__file__).parents[1])

    monkeypatch.setattr(default_classifier, "classify_many", classify_then_another_program_replaces_b)
    monkeypatch.setattr(classify_cmd, "_classifier", lambda args, jobs=None: default_classifier)
    code = main(["batch", str(folder), "--device", "cpu", "--write-tags", "--per-track"])
    summary = json.loads(capsys.readouterr().out)
    new_bytes = replaced.read_bytes()
    assert code == 1
    assert read_tags(replaced).genres == ("Replacement",), "the replacement did not get the old file's genre"
    (failure,) = summary["tags_written"]["failed"]
    assert (
        failure["audio_path"] == str(replaced) and "changed on disk since it was scanned" in failure["error"]
    )
    assert hashlib.sha256(replaced.read_bytes()).hexdigest() == hashlib.sha256(new_bytes).hexdigest()
    written = {Path(r["audio_path"]): r["genre"] for r in summary["results"]}
    for f in (files[0], files[2]):
        assert read_tags(f).genres == (written[f],)
