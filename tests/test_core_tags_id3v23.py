"""Real ID3v2.3 files (written by mutagen with v2_version=3) carrying the v2.3-only frames TYER, TDAT, TORY,
TRDA and TSIZ: a genre write keeps the tag's version and every other frame exactly; `--id3v23` never puts
v2.4-only frames (TDRC, TDOR) into a v2.3 tag and converts a v2.4 tag's dates to their v2.3 frames."""

from __future__ import annotations

from pathlib import Path

import pytest
from mutagen.id3 import ID3, TCON, TDAT, TDRC, TIT2, TORY, TPE1, TRDA, TSIZ, TYER
from mutagen.wave import WAVE

from music_reclass_gui.core.tags import read_tags, write_genres

V23_FRAMES = {"TYER": "1987", "TDAT": "2403", "TORY": "1985", "TRDA": "March 24th, 1987", "TSIZ": "123456"}


def raw_frames(path: Path) -> tuple[tuple[int, int, int], dict[str, list[str]]]:
    tags = ID3(path, translate=False) if path.suffix == ".mp3" else WAVE(path, translate=False).tags
    return tags.version, {key: [str(t) for t in frame.text] for key, frame in tags.items()}


def audio_bytes(path: Path) -> bytes:
    """Everything after the ID3v2 tag (MP3) or the whole RIFF data chunk: must never change."""
    data = path.read_bytes()
    if data[:3] == b"ID3":
        size = int.from_bytes(bytes(b & 0x7F for b in data[6:10]), "big")  # syncsafe
        return data[10 + size :]
    at = data.index(b"data")
    return data[at : at + 8 + int.from_bytes(data[at + 4 : at + 8], "little")]


@pytest.fixture(params=["mp3", "wav"])
def v23_file(request, make_audio) -> Path:
    path = make_audio(f"old.{request.param}", seconds=0.5)
    wav = WAVE(path) if request.param == "wav" else None
    if wav is not None:
        wav.add_tags()
    tags = wav.tags if wav is not None else ID3()
    tags.add(TIT2(encoding=1, text="Old Song"))
    tags.add(TPE1(encoding=1, text="Someone"))
    tags.add(TCON(encoding=1, text="Pop"))
    for key, cls in (("TYER", TYER), ("TDAT", TDAT), ("TORY", TORY), ("TRDA", TRDA), ("TSIZ", TSIZ)):
        tags.add(cls(encoding=1, text=V23_FRAMES[key]))
    (wav or tags).save(path, v2_version=3)
    version, frames = raw_frames(path)
    assert version == (2, 3, 0) and all(frames[k] == [v] for k, v in V23_FRAMES.items())
    return path


@pytest.mark.parametrize("id3_version", [4, 3])
def test_a_genre_write_keeps_a_v23_tag_and_all_its_frames(v23_file: Path, id3_version: int) -> None:
    version_before, before = raw_frames(v23_file)
    audio = audio_bytes(v23_file)
    write_genres(v23_file, ["Rock", "Blues"], id3_version=id3_version)
    version, after = raw_frames(v23_file)
    assert version == (2, 3, 0), "the tag keeps its version"
    assert after.pop("TCON") == ["Rock; Blues"]
    before.pop("TCON")
    assert after == before, "every other frame is kept as stored (no TDRC/TDOR, TRDA and TSIZ not dropped)"
    assert read_tags(v23_file).genres == ("Rock", "Blues")
    assert audio_bytes(v23_file) == audio


def test_id3v23_converts_a_v24_tag_without_v24_only_frames(make_audio) -> None:
    path = make_audio("new.mp3", seconds=0.5)
    tags = ID3()
    tags.add(TDRC(encoding=3, text="1999-05-17"))
    tags.add(TIT2(encoding=3, text="Newer"))
    tags.save(path, v2_version=4)
    write_genres(path, ["Jazz"], id3_version=3)
    version, frames = raw_frames(path)
    assert version == (2, 3, 0)
    assert "TDRC" not in frames and "TDOR" not in frames
    assert frames["TYER"] == ["1999"] and frames["TDAT"] == ["1705"] and frames["TIT2"] == ["Newer"]
    assert read_tags(path).genres == ("Jazz",)
