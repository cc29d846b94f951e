"""Decoding stays bounded and honest whatever the header says: a real streaming-header WAV (data size
0xFFFFFFFF, as `ffmpeg ... -f wav -` writes) gets its true duration and costs a few excerpts, not the whole
file; a truncated Ogg is reported, not classified from the half that survived; a 1-sample file is an error."""

from __future__ import annotations

import struct
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from music_reclass_gui.core import audio
from music_reclass_gui.core.errors import DecodeError
from music_reclass_gui.inference.excerpts import EXCERPT_S, N_EXCERPTS, decode_excerpts
from tests.conftest import tone, write_audio


def streaming_wav(path: Path, seconds: float, sr: int = 44100) -> Path:
    """A real stereo PCM WAV written block by block, then given the header a pipe writer leaves: RIFF and
    data sizes unknown (0xFFFFFFFF)."""
    with sf.SoundFile(path, "w", samplerate=sr, channels=2, subtype="PCM_16") as f:
        for start in range(0, int(seconds), 10):
            block = tone(min(10.0, seconds - start), sr, freq=220.0 + start)
            f.write(np.stack([block, block], axis=1))
    with open(path, "r+b") as fh:
        head = fh.read(4096)
        fh.seek(4)
        fh.write(struct.pack("<I", 0xFFFFFFFF))
        fh.seek(head.index(b"data") + 4)
        fh.write(struct.pack("<I", 0xFFFFFFFF))
    return path


@pytest.fixture(scope="module")
def six_minute_stream(tmp_path_factory) -> Path:
    return streaming_wav(tmp_path_factory.mktemp("stream") / "live.wav", 360.0)


def test_streaming_wav_duration_and_excerpts_stay_bounded(six_minute_stream: Path) -> None:
    assert audio.audio_duration(six_minute_stream) == pytest.approx(360.0, abs=0.1), "not 24,348 s"
    tracemalloc.start()
    try:
        waves = decode_excerpts(six_minute_stream, 16000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(waves) == N_EXCERPTS and all(w.size == int(EXCERPT_S * 16000) for w in waves)
    assert all(np.abs(w).max() > 0.1 for w in waves), "excerpts hold the music, not silence"
    # The whole file as float32 stereo is 127 MB; four 6 s excerpts need a few MB.
    assert peak < 24 * 2**20, f"decoding held {peak / 2**20:.0f} MiB"


def test_a_whole_file_decode_is_capped(six_minute_stream: Path, monkeypatch) -> None:
    monkeypatch.setattr(audio, "MAX_DECODE_S", 60.0)
    tracemalloc.start()
    try:
        data = audio.load_audio(six_minute_stream, 16000)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert data.size == 60 * 16000
    assert peak < 48 * 2**20, f"decoding held {peak / 2**20:.0f} MiB"


def test_a_truncated_ogg_is_reported_not_classified_from_its_surviving_half(tmp_path: Path) -> None:
    path = write_audio(tmp_path / "long.ogg", tone(80.0, 22050), 22050)  # 40 s survive: past the 31 s rule
    assert len(decode_excerpts(path, 16000)) == N_EXCERPTS
    data = path.read_bytes()
    cut = tmp_path / "cut.ogg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(DecodeError, match="truncated") as info:
        decode_excerpts(cut, 16000)
    assert info.value.path == cut


@pytest.mark.parametrize(("n", "rate"), [(1, 16000), (4410, 44100)])
def test_too_little_audio_is_an_error_not_a_prediction(tmp_path: Path, n: int, rate: int) -> None:
    path = tmp_path / "blip.wav"
    sf.write(path, np.full(n, 0.5, dtype=np.float32), rate, subtype="PCM_16")
    with pytest.raises(DecodeError, match="too little audio"):
        decode_excerpts(path, 16000)
