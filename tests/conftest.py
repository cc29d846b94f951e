"""Shared fixtures: real audio files of every format, isolated user folders, offscreen Qt."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
ALL_FORMATS = ("wav", "flac", "ogg", "opus", "mp3", "aiff", "m4a")

needs_shared_data = pytest.mark.skipif(
    not SHARED_DATA.is_dir(), reason=f"real data folder {SHARED_DATA} is absent"
)


def tone(seconds: float = 2.0, sr: int = 44100, freq: float = 440.0, seed: int = 0) -> np.ndarray:
    """A recognisable signal: a sine plus a little noise, mono float32."""
    t = np.arange(int(seconds * sr)) / sr
    rng = np.random.default_rng(seed)
    return (0.4 * np.sin(2 * np.pi * freq * t) + 0.02 * rng.standard_normal(t.size)).astype(np.float32)


def write_audio(path: Path, samples: np.ndarray, sr: int = 44100) -> Path:
    """Write real audio in the format named by the extension (soundfile, or PyAV for M4A/AAC)."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext in ("m4a", "mp4", "aac"):
        import av

        with av.open(str(path), "w", format="ipod" if ext == "m4a" else None) as container:
            stream = container.add_stream("aac", rate=sr)
            stream.layout = "mono"
            frame_size = 1024
            for start in range(0, samples.size, frame_size):
                chunk = samples[start : start + frame_size].reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(
                    np.ascontiguousarray(chunk, dtype=np.float32), format="fltp", layout="mono"
                )
                frame.sample_rate = sr
                frame.pts = start
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode(None):
                container.mux(packet)
        return path
    import soundfile as sf

    fmt = {
        "wav": "WAV",
        "flac": "FLAC",
        "ogg": "OGG",
        "opus": "OGG",
        "mp3": "MP3",
        "aiff": "AIFF",
        "aif": "AIFF",
    }[ext]
    subtype = {
        "ogg": "VORBIS",
        "opus": "OPUS",
        "mp3": "MPEG_LAYER_III",
        "wav": "PCM_16",
        "flac": "PCM_16",
        "aiff": "PCM_16",
        "aif": "PCM_16",
    }[ext]
    if ext == "opus" and sr not in (8000, 12000, 16000, 24000, 48000):
        import soxr

        samples = soxr.resample(samples, sr, 48000).astype(np.float32)
        sr = 48000
    sf.write(str(path), samples, sr, format=fmt, subtype=subtype)
    return path


@pytest.fixture
def make_audio(tmp_path):
    """make_audio("name.flac", seconds=2.0, freq=440) -> Path of a real file in tmp_path."""

    def _make(
        name: str, seconds: float = 2.0, sr: int = 44100, freq: float = 440.0, folder: Path | None = None
    ) -> Path:
        target = (folder or tmp_path) / name
        target.parent.mkdir(parents=True, exist_ok=True)
        return write_audio(target, tone(seconds, sr, freq), sr)

    return _make


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path_factory, monkeypatch):
    """Never touch the real user cache/data/config folders from a test."""
    base = tmp_path_factory.mktemp("userdirs")
    for name in ("CACHE", "DATA", "CONFIG"):
        monkeypatch.setenv(f"MUSIC_RECLASS_{name}_DIR", str(base / name.lower()))
    monkeypatch.delenv("MUSIC_RECLASS_USER_MODELS_DIR", raising=False)
    return base


# A small real library for learning personal genres (tests/test_training_personal.py, test_ui_learn_dialog.py):
# GTZAN clips copied once per session with genre tags in the library's own spellings, plus one session-wide
# feature cache, so the musicnn features of the clips are computed once however many tests train on them.
PERSONAL_SPELLINGS: dict[
    str, list[str]
] = {  # GTZAN genre -> tags of its first clips; the next clip is untagged
    "classical": ["Classical Music"] * 4,
    "hiphop": ["Hip Hop", "Hip Hop", "hip-hop", "HipHop"],
    "jazz": ["Jazz"] * 4,
    "metal": ["Metal"] * 4,
    "reggae": ["Reggae"] * 4,
    "rock": ["rock"] * 4,
    "blues": ["Blues"] * 2,  # too few: left out at any minimum above 2
}


@pytest.fixture(scope="session")
def personal_library(tmp_path_factory) -> tuple[Path, Path, dict[Path, str]]:
    """(library folder, feature cache folder, {untagged clip: its library spelling}) built from real clips."""
    import shutil

    from music_reclass_gui.core.tags import write_genres

    clips = SHARED_DATA / "gtzan" / "clips"
    if not clips.is_dir():
        pytest.skip(f"real GTZAN clips {clips} are absent")
    lib = tmp_path_factory.mktemp("personal-library")
    untagged: dict[Path, str] = {}
    for genre, tags in PERSONAL_SPELLINGS.items():
        files = sorted((clips / genre).glob("*.wav"))
        for i, src in enumerate(files[: len(tags) + (genre != "blues")]):
            dst = lib / src.name
            shutil.copyfile(src, dst)
            dst.chmod(0o644)
            if i < len(tags):
                write_genres(dst, [tags[i]])
            else:
                untagged[dst] = tags[0]
    return lib, tmp_path_factory.mktemp("personal-cache"), untagged


@pytest.fixture(scope="session")
def default_classifier(tmp_path_factory):
    """The real default model on the CPU, loaded once for the session (its feature cache in a temp folder)."""
    from music_reclass_gui.inference.engine import Classifier

    mp = pytest.MonkeyPatch()
    mp.setenv("MUSIC_RECLASS_CACHE_DIR", str(tmp_path_factory.mktemp("model-cache")))
    try:
        yield Classifier(device="cpu")
    finally:
        mp.undo()


# Albums built from real GTZAN clips (tests/test_core_albums.py, test_cli_albums.py): each track converted to a
# real format and tagged with album, artist, album artist, title and track number by the test itself.
def make_album_track(
    src: Path, dst: Path, *, album: str | None, artist: str | None, albumartist: str | None = None, n: int = 1
) -> Path:
    """Copy a real clip to `dst` (format from its extension) with the given tags; returns dst."""
    import mutagen
    import soundfile as sf

    dst.parent.mkdir(parents=True, exist_ok=True)
    samples, sr = sf.read(str(src), dtype="float32")
    write_audio(dst, samples, sr)
    f = mutagen.File(dst, easy=True)
    if f.tags is None:
        f.add_tags()
    for key, value in {
        "album": album,
        "artist": artist,
        "albumartist": albumartist,
        "title": f"{src.stem}",
        "tracknumber": str(n),
    }.items():
        if value:
            f[key] = [value]
    f.save()
    return dst


def gtzan_clips(genre: str) -> list[Path]:
    clips = SHARED_DATA / "gtzan" / "clips" / genre
    if not clips.is_dir():
        pytest.skip(f"real GTZAN clips {clips} are absent")
    return sorted(clips.glob("*.wav"))
