"""`music-reclass classify / batch / models`: JSON schemas, per-file failures, exit codes, --write-tags."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
import torch

from music_reclass_gui.cli import main
from music_reclass_gui.core.tags import read_tags
from tests.conftest import tone, write_audio

RESULT_KEYS = {"audio_path", "model", "genre", "confidence", "top_predictions", "processing_time"}


@pytest.fixture
def music(tmp_path):
    folder = tmp_path / "music"
    (folder / "sub").mkdir(parents=True)
    specs = [("a.mp3", 4.0, 220), ("sub/b.ogg", 5.0, 880), ("c.flac", 3.5, 440)]
    files = [write_audio(folder / name, tone(secs, 22050, freq), 22050) for name, secs, freq in specs]
    corrupt = folder / "broken.flac"
    corrupt.write_bytes(b"fLaC" + os.urandom(2000))
    text = folder / "readme.mp3"
    text.write_text("not audio at all\n" * 40)
    return folder, files, corrupt, text


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def test_classify_prints_one_json_line_per_file(music, capsys):
    _, files, corrupt, text = music
    code = main(
        ["classify", str(files[0]), str(corrupt), str(files[2]), str(text), "--device", "cpu", "--top-k", "2"]
    )
    lines = _lines(capsys.readouterr().out)
    assert code == 1 and len(lines) == 4
    for ok in (lines[0], lines[2]):
        assert set(ok) == RESULT_KEYS and ok["model"] == "broad"
        assert len(ok["top_predictions"]) == 2 and ok["top_predictions"][0] == {
            "genre": ok["genre"],
            "confidence": ok["confidence"],
        }
    for bad, path in ((lines[1], corrupt), (lines[3], text)):
        assert (
            set(bad) == {"audio_path", "error"}
            and bad["audio_path"] == str(path)
            and path.name in bad["error"]
        )


def test_classify_tags_carry_every_label(music, capsys):
    _, files, _, _ = music
    assert main(["classify", str(files[2]), "--tags", "--no-cache", "--device", "cpu"]) == 0
    (line,) = _lines(capsys.readouterr().out)  # the default: its genres, then both taggers' raw scores
    assert len(line["tags"]) == 20 + 50 + 50
    assert {"Electronic", "msd-musicnn:female vocalists", "mtt-musicnn:no vocals"} <= set(line["tags"])
    assert main(["classify", str(files[2]), "--tags", "--model", "msd-musicnn", "--device", "cpu"]) == 0
    (line,) = _lines(capsys.readouterr().out)
    assert len(line["tags"]) == 50 and {"female vocalists", "00s", "Hip-Hop"} <= set(line["tags"])


def test_batch_summary_without_writing(music, capsys):
    folder, files, corrupt, text = music
    before = {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files}
    code = main(["batch", str(folder), "--device", "cpu", "--jobs", "2"])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)
    assert code == 1
    assert set(summary) == {"total_files", "processed", "failed", "results", "errors"}
    assert (summary["total_files"], summary["processed"], summary["failed"]) == (5, 3, 2)
    assert {r["audio_path"] for r in summary["results"]} == {str(p) for p in files}
    assert {e["audio_path"] for e in summary["errors"]} == {str(corrupt), str(text)}
    assert all(set(r) == RESULT_KEYS for r in summary["results"])
    assert (
        "[#" not in captured.err and "/min" not in captured.err
    )  # no progress bar: stderr is not a terminal
    assert {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in files} == before  # nothing written


def test_batch_write_tags_writes_the_top_genre(music, capsys):
    folder, files, _, _ = music
    main(["batch", str(folder), "--device", "cpu", "--write-tags"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["tags_written"]["written"] == 3 and summary["tags_written"]["failed"] == []
    for r in summary["results"]:
        assert read_tags(r["audio_path"]).genres == (r["genre"],)


def test_models_lists_installed_models(capsys):
    assert main(["models", "--json"]) == 0
    cards = {c["name"]: c for c in _lines(capsys.readouterr().out)}
    assert {"msd-musicnn", "mtt-musicnn"} <= set(cards)
    msd = cards["msd-musicnn"]
    assert (
        msd["licence"] == "ISC"
        and len(msd["labels"]) == 50
        and msd["metrics"]
        and msd["calibration"]["temperature"] > 0
    )
    assert main(["models"]) == 0
    assert "msd-musicnn" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA is available here")
def test_cuda_on_a_cpu_machine_exits_2_with_a_reason(music, capsys):
    _, files, _, _ = music
    assert main(["classify", str(files[0]), "--device", "cuda"]) == 3
    assert "CUDA is not available" in capsys.readouterr().err
