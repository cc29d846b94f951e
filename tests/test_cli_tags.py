"""`music-reclass tags`: JSON lines out, genres in, errors named on stderr, the batch carries on."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import mutagen
import pytest

from music_reclass_gui.cli import main


def run_cli(capsys, *args: str) -> tuple[int, list[dict], str]:
    code = main(["tags", *args])
    out, err = capsys.readouterr()
    return code, [json.loads(line) for line in out.splitlines()], err


def test_prints_one_json_line_per_file(make_audio, capsys):
    a = make_audio("a.flac", seconds=1.0)
    b = make_audio("b.mp3", seconds=1.0)
    f = mutagen.File(a)
    f.tags["TITLE"], f.tags["ARTIST"], f.tags["ALBUM"], f.tags["GENRE"] = (
        ["T"],
        ["Ar"],
        ["Al"],
        ["Rock", "Pop"],
    )
    f.save()
    code, rows, err = run_cli(capsys, str(a), str(b))
    assert code == 0 and err == ""
    assert rows[0] == {
        "path": str(a),
        "title": "T",
        "artist": "Ar",
        "album": "Al",
        "duration": 1.0,
        "genres": ["Rock", "Pop"],
    }
    assert rows[1]["path"] == str(b) and rows[1]["genres"] == [] and rows[1]["title"] is None


@pytest.mark.parametrize("fmt", ["mp3", "opus", "m4a", "aiff"])
def test_set_genre_writes_and_prints_what_was_read_back(make_audio, capsys, fmt):
    path = make_audio(f"song.{fmt}", seconds=1.0)
    code, rows, _ = run_cli(capsys, str(path), "--set-genre", "Hip-Hop", "--set-genre", "Jazz")
    assert code == 0 and rows[0]["genres"] == ["Hip-Hop", "Jazz"]
    tags = mutagen.File(path).tags
    key = {"mp3": "TCON", "aiff": "TCON", "opus": "genre", "m4a": "\xa9gen"}[fmt]
    values = tags[key].text if key == "TCON" else tags[key]
    assert list(values) == ["Hip-Hop", "Jazz"]


def test_id3v23_with_separator(make_audio, capsys):
    path = make_audio("old.mp3", seconds=1.0)
    code, rows, _ = run_cli(
        capsys, str(path), "--set-genre", "Rock", "--set-genre", "Blues", "--id3v23", "--separator", " / "
    )
    assert code == 0 and rows[0]["genres"] == ["Rock", "Blues"]
    f = mutagen.File(path)
    assert f.tags.version == (2, 3, 0) and f.tags["TCON"].text == ["Rock / Blues"]


@pytest.mark.parametrize("blank", ["", " ", "\t "])
def test_a_blank_genre_is_refused_and_the_file_keeps_its_genre(make_audio, capsys, blank):
    song = make_audio("a.flac", seconds=1.0)
    assert run_cli(capsys, str(song), "--set-genre", "Jazz")[0] == 0
    before = song.read_bytes()
    with pytest.raises(SystemExit) as exc:
        main(["tags", str(song), "--set-genre", blank])
    assert exc.value.code == 2
    assert "a genre cannot be blank; use --clear-genres" in capsys.readouterr().err
    assert song.read_bytes() == before and mutagen.File(song).tags["GENRE"] == ["Jazz"]


def test_clear_genres(make_audio, capsys):
    path = make_audio("song.ogg", seconds=1.0)
    run_cli(capsys, str(path), "--set-genre", "Rock")
    code, rows, _ = run_cli(capsys, str(path), "--clear-genres")
    assert code == 0 and rows[0]["genres"] == [] and "genre" not in mutagen.File(path).tags


def test_errors_name_the_file_and_the_others_still_run(make_audio, tmp_path, capsys):
    good1 = make_audio("good1.flac", seconds=1.0)
    text = tmp_path / "notes.mp3"
    text.write_text("not music\n" * 10)
    missing = tmp_path / "missing.ogg"
    good2 = make_audio("good2.wav", seconds=1.0)
    code, rows, err = run_cli(capsys, str(good1), str(text), str(missing), str(good2), "--set-genre", "Soul")
    assert code == 1
    assert [r["path"] for r in rows] == [str(good1), str(good2)]
    assert all(r["genres"] == ["Soul"] for r in rows)
    lines = [line for line in err.strip().splitlines() if not line.startswith("Undo with:")]
    assert len(lines) == 2
    assert str(text) in lines[0] and "not an audio file" in lines[0]
    assert str(missing) in lines[1] and "not found" in lines[1]
    assert text.read_text() == "not music\n" * 10


def test_undecodable_file_name_prints_in_a_real_process(make_audio, tmp_path):
    if os.name != "posix":
        pytest.skip("bytes file names are a POSIX thing")
    src = make_audio("src.flac", seconds=1.0)
    raw = os.path.join(os.fsencode(tmp_path), b"caf\xe9 \xff.flac")
    os.rename(src, raw)
    missing = os.path.join(os.fsencode(tmp_path), b"gone \xfe.mp3")
    env = dict(os.environ, PYTHONIOENCODING="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "music_reclass_gui.cli", "tags", raw, missing, "--set-genre", "Jazz"],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 1, proc.stderr
    row = json.loads(proc.stdout.decode("utf-8"))
    assert row["path"].endswith("caf\ufffd \ufffd.flac") and row["genres"] == ["Jazz"]
    assert "gone \ufffd.mp3" in proc.stderr.decode("utf-8") and "Traceback" not in proc.stderr.decode("utf-8")
