"""Long commands draw a progress line on stderr when it is a terminal (organize, undo, the tag writes of
`batch --write-tags`, `evaluate --dataset`), and nothing when it is not (pipes and logs stay clean)."""

from __future__ import annotations

import io
import json
import os
import sys

import pytest

from music_reclass_gui.cli import main
from music_reclass_gui.core.tags import read_tags, write_genres
from tests.conftest import SHARED_DATA, needs_shared_data


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture
def library(tmp_path, make_audio):
    lib = tmp_path / "lib"
    for i, genre in enumerate(("Rock", "Jazz", "Folk")):
        write_genres(make_audio(f"t{i}.flac", seconds=0.4, freq=200 + 90 * i, folder=lib), [genre])
    return lib


def test_organize_and_undo_show_progress_on_a_terminal(library, tmp_path, monkeypatch):
    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["organize", str(library), "--to", str(tmp_path / "out")]) == 0
    text = tty.getvalue()
    assert "\r[" in text and "3/3" in text and "moving" in text and "#" * 30 in text
    tty.seek(0), tty.truncate()
    assert main(["undo"]) == 0
    text = tty.getvalue()
    assert "3/3" in text and "restoring" in text and "Restored 3 file(s), 0 failed." in text


def test_no_progress_line_when_stderr_is_not_a_terminal(library, tmp_path, monkeypatch):
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    assert main(["organize", str(library), "--to", str(tmp_path / "out")]) == 0
    assert main(["undo"]) == 0
    assert "\r[" not in pipe.getvalue() and "Restored 3 file(s)" in pipe.getvalue()


def test_batch_write_phase_shows_progress(tmp_path, make_audio, monkeypatch, capsys):
    lib = tmp_path / "music"
    for i in range(2):
        make_audio(f"s{i}.ogg", seconds=3.0, freq=300 + 200 * i, folder=lib)
    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["batch", str(lib), "--device", "cpu", "--write-tags"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["tags_written"]["written"] == 2
    text = tty.getvalue()
    last = text.rstrip("\n").split("\r")[-1]  # what the terminal shows last
    assert "classifying" in text and "2/2" in last and "writing tags" in last
    assert all(read_tags(r["audio_path"]).genres == (r["genre"],) for r in summary["results"])


@needs_shared_data
def test_evaluate_dataset_shows_progress(tmp_path, monkeypatch, capsys):
    data = tmp_path / "eval"
    for g, n in (("metal", "metal.00002.wav"), ("hiphop", "hiphop.00003.wav")):
        (data / g).mkdir(parents=True)
        os.symlink(SHARED_DATA / "gtzan" / "clips" / g / n, data / g / n)
    tty = Terminal()
    monkeypatch.setattr(sys, "stderr", tty)
    assert main(["evaluate", "--model", "msd-musicnn", "--dataset", str(data), "--device", "cpu"]) == 0
    assert json.loads(capsys.readouterr().out)["n"] == 2
    assert "2/2" in tty.getvalue() and "evaluating" in tty.getvalue()
