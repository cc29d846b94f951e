"""`music-reclass organize` / `undo` on real tagged files, run through the real command-line entry point."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest

from music_reclass_gui.cli import main
from music_reclass_gui.core.organize import list_operations
from music_reclass_gui.core.tags import read_tags, write_genres


def full_state(root: Path) -> dict[str, tuple]:
    """Every entry under root: folders, and files with size, mtime and SHA-256."""
    out: dict[str, tuple] = {}
    for p in sorted(root.rglob("*")):
        st = p.stat()
        out[str(p.relative_to(root))] = (
            ("dir",)
            if p.is_dir()
            else (st.st_size, st.st_mtime_ns, hashlib.sha256(p.read_bytes()).hexdigest())
        )
    return out


@pytest.fixture
def tagged_library(tmp_path: Path, make_audio):
    lib = tmp_path / "lib"
    files = {
        "a.mp3": ["Rock", "Blues"],
        "album/b.flac": ["Jazz"],
        "album/c.ogg": ["rock"],  # same folder as "Rock" (case-insensitive merge)
        "d.opus": ["Hip\u2010Hop"],
        "e.wav": [],  # no genre
    }
    paths = {}
    for rel, genres in files.items():
        path = make_audio(
            Path(rel).name, seconds=0.4, freq=200 + 50 * len(paths), folder=lib / Path(rel).parent
        )
        if genres:
            write_genres(path, genres)
        paths[rel] = path
    (lib / "album" / "b.lrc").write_text("[00:00.10] lyrics\n")
    return lib, paths


def test_dry_run_changes_nothing(tmp_path: Path, tagged_library, capsys) -> None:
    lib, paths = tagged_library
    out = tmp_path / "out"
    before = full_state(tmp_path)
    assert (
        main(
            [
                "organize",
                str(lib),
                "--to",
                str(out),
                "--by",
                "tag",
                "--dry-run",
                "--unsorted",
                "--remove-empty-dirs",
            ]
        )
        == 0
    )
    assert full_state(tmp_path) == before, "a dry run touches nothing: names, sizes, times, contents"
    assert list_operations() == []
    printed = capsys.readouterr().out
    assert f"{paths['album/b.flac']}  ->  {out / 'Jazz' / 'b.flac'}" in printed
    assert "b.lrc  ->  b.lrc" in printed
    assert str(out / "Unsorted" / "e.wav") in printed


def test_dry_run_json_plan(tmp_path: Path, tagged_library, capsys) -> None:
    lib, paths = tagged_library
    out = tmp_path / "out"
    assert main(["organize", str(lib), "--to", str(out), "--dry-run", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    moves = {
        Path(r["source"]).name: Path(r["target"]).relative_to(out).as_posix()
        for r in lines
        if r["type"] == "move" and "of" not in r
    }
    assert moves == {
        "a.mp3": "Rock/a.mp3",
        "b.flac": "Jazz/b.flac",
        "c.ogg": "Rock/c.ogg",
        "d.opus": "Hip-Hop/d.opus",
    }
    assert [(Path(r["path"]).name, r["reason"]) for r in lines if r["type"] == "skip"] == [
        ("e.wav", "no genre")
    ]
    assert [(Path(r["source"]).name, r["of"]) for r in lines if "of" in r] == [
        ("b.lrc", str(paths["album/b.flac"]))
    ]
    assert lines[-1]["type"] == "summary" and lines[-1]["counts"] == {"Rock": 2, "Jazz": 1, "Hip-Hop": 1}
    assert (lines[-1]["tracks"], lines[-1]["files_moved"], lines[-1]["skipped"]) == (4, 5, 1)


def test_organize_by_tag_then_undo(tmp_path: Path, tagged_library, capsys) -> None:
    lib, paths = tagged_library
    out = tmp_path / "out"
    before = full_state(lib)
    assert main(["organize", str(lib), "--to", str(out), "--by", "tag", "--remove-empty-dirs", "--yes"]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        "Hip-Hop/d.opus",
        "Jazz/b.flac",
        "Jazz/b.lrc",
        "Rock/a.mp3",
        "Rock/c.ogg",
    ]
    assert read_tags(out / "Rock" / "a.mp3").genres == ("Rock", "Blues"), (
        "tags travel with the file untouched"
    )
    assert sorted(p.relative_to(lib).as_posix() for p in lib.rglob("*")) == ["e.wav"], (
        "album/ was emptied and removed"
    )
    err = capsys.readouterr().err
    (op,) = list_operations()
    assert f"music-reclass undo {op.op_id}" in err

    assert main(["undo", "--list"]) == 0
    listing = capsys.readouterr().out
    assert op.op_id in listing and "move" in listing and "[can undo]" in listing and "5 file(s)" in listing

    assert main(["undo"]) == 0
    assert full_state(lib) == before, "paths, contents and times restored"
    assert not out.exists()
    assert main(["undo", "--list"]) == 0
    assert "[undone]" in capsys.readouterr().out
    assert main(["undo"]) == 3
    assert "nothing to undo" in capsys.readouterr().err


def test_undo_refusal_names_the_changed_file(tmp_path: Path, tagged_library, capsys) -> None:
    lib, paths = tagged_library
    out = tmp_path / "out"
    assert main(["organize", str(lib), "--to", str(out)]) == 0
    moved = out / "Jazz" / "b.flac"
    write_genres(moved, ["Fusion"])  # the user edits a file after organising
    assert main(["undo"]) == 1  # the rest is undone; the edited file is named and left where it is
    err = capsys.readouterr().err
    assert str(moved) in err and "cannot undo" in err
    assert moved.exists() and not paths["album/b.flac"].exists(), "the edited file stays"
    assert all(p.exists() for rel, p in paths.items() if not rel.startswith("album/b."))


def test_read_only_output_is_a_clear_error(tmp_path: Path, tagged_library, capsys) -> None:
    lib, _ = tagged_library
    out = tmp_path / "out"
    out.mkdir()
    before = full_state(tmp_path)
    out.chmod(0o555)
    try:
        assert main(["organize", str(lib), "--to", str(out)]) == 3
    finally:
        out.chmod(0o755)
    assert "read-only" in capsys.readouterr().err
    assert full_state(tmp_path) == before


def test_recovery_messages_go_to_stderr(tmp_path: Path, capsys) -> None:
    from music_reclass_gui.core.organize.journal import JournalWriter

    with JournalWriter("move", 1):  # an operation that never ended (as after a crash)
        pass
    assert main(["undo", "--list"]) == 0
    captured = capsys.readouterr()
    assert "was interrupted" in captured.err and "interrupted" in captured.out


@pytest.mark.slow
def test_organize_by_prediction_with_the_default_model(tmp_path: Path, make_audio, capsys) -> None:
    if not (Path(__file__).resolve().parents[1] / "models" / "msd_musicnn.pt").exists():
        pytest.skip("default model weights absent")
    lib = tmp_path / "lib"
    for i in range(2):
        make_audio(f"t{i}.wav", seconds=4.0, freq=220 * (i + 1), folder=lib)
    out = tmp_path / "out"
    assert main(["organize", str(lib), "--to", str(out), "--by", "prediction", "--json", "--dry-run"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    moves = [r for r in lines if r["type"] == "move"]
    assert len(moves) == 2 and all(Path(r["dst"]).parent.parent == out for r in moves)
    assert not out.exists() and len(os.listdir(lib)) == 2
