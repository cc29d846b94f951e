"""Decoding real files of every format: full, excerpts, resampling, and a clear error for each bad input."""

from __future__ import annotations

import os
import struct

import numpy as np
import pytest

from music_reclass_gui.core import audio as audio_mod
from music_reclass_gui.core.audio import SUPPORTED_EXTENSIONS, audio_duration, load_audio, sniff_format
from music_reclass_gui.core.errors import DecodeError
from tests.conftest import ALL_FORMATS, SHARED_DATA, needs_shared_data, tone, write_audio

LOSSLESS = ("wav", "flac", "aiff")


def dominant_freq(x: np.ndarray, sr: int) -> float:
    spectrum = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    return float(np.fft.rfftfreq(x.size, 1 / sr)[np.argmax(spectrum)])


def two_part_signal(sr: int = 44100) -> np.ndarray:
    """2 s of 440 Hz then 2 s of 1500 Hz: an excerpt's content tells where it came from."""
    return np.concatenate([tone(2.0, sr, 440.0), tone(2.0, sr, 1500.0, seed=1)])


@pytest.fixture(scope="module")
def two_part_files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("two_part")
    return {fmt: write_audio(folder / f"two.{fmt}", two_part_signal()) for fmt in ALL_FORMATS}


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_full_decode_is_mono_float32_at_requested_rate(make_audio, fmt):
    path = make_audio(f"a.{fmt}", seconds=2.0, freq=440.0)
    x = load_audio(path, 22050)
    assert x.dtype == np.float32 and x.ndim == 1
    assert x.size == pytest.approx(2.0 * 22050, abs=0.03 * 22050)  # AAC adds up to ~1k priming samples
    assert dominant_freq(x, 22050) == pytest.approx(440.0, abs=5)
    assert 0.3 < np.abs(x).max() < 0.6  # the 0.4 sine survives, not clipped or silent
    assert audio_duration(path) == pytest.approx(2.0, abs=0.05)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
@pytest.mark.parametrize(("offset", "expected_hz"), [(0.5, 440.0), (2.5, 1500.0)])
def test_excerpt_has_right_length_and_right_part(two_part_files, fmt, offset, expected_hz):
    x = load_audio(two_part_files[fmt], 16000, offset=offset, duration=1.0)
    assert x.size == 16000
    assert dominant_freq(x, 16000) == pytest.approx(expected_hz, abs=10)


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_excerpt_matches_the_same_samples_of_a_full_decode(two_part_files, fmt):
    path = two_part_files[fmt]
    full = load_audio(path, 44100)
    part = load_audio(path, 44100, offset=1.5, duration=1.0)
    start = int(1.5 * 44100)
    reference = full[start : start + part.size]
    if fmt in LOSSLESS:
        np.testing.assert_array_equal(part, reference)
    else:  # lossy decoders may differ a little right after a seek, never in where the audio is
        corr = np.corrcoef(part[4410:], reference[4410:])[0, 1]
        assert corr > 0.98, corr
    # the switch from 440 Hz to 1500 Hz sits half-way through this excerpt
    assert dominant_freq(part[: part.size // 2 - 2000], 44100) == pytest.approx(440, abs=10)
    assert dominant_freq(part[part.size // 2 + 2000 :], 44100) == pytest.approx(1500, abs=10)


def test_excerpt_past_the_end_is_shorter_and_offset_beyond_end_is_empty(two_part_files):
    path = two_part_files["flac"]
    assert load_audio(path, 8000, offset=3.5, duration=5.0).size == pytest.approx(4000, abs=2)
    assert load_audio(path, 8000, offset=10.0, duration=1.0).size == 0


def test_stereo_is_averaged_to_mono(tmp_path):
    import soundfile as sf

    left = tone(1.0, 44100, 440.0)
    path = tmp_path / "stereo.wav"
    sf.write(path, np.stack([left, np.zeros_like(left)], axis=1), 44100, subtype="FLOAT")
    np.testing.assert_allclose(load_audio(path, 44100), left / 2, atol=1e-7)


def test_sniff_recognises_every_format_we_write(two_part_files):
    expected = {
        "wav": "wav",
        "flac": "flac",
        "ogg": "ogg",
        "opus": "opus",
        "mp3": "mp3",
        "aiff": "aiff",
        "m4a": "m4a",
    }
    for fmt, path in two_part_files.items():
        assert sniff_format(path.read_bytes()[:64]) == expected[fmt]
        assert path.suffix in SUPPORTED_EXTENSIONS
    assert sniff_format(b"hello world, not audio at all") is None
    assert sniff_format(b"\x89PNG\r\n\x1a\n") is None
    assert sniff_format(b"\xff\xd8\xff\xe0JFIF") is None  # JPEG must not pass as MPEG sync
    assert sniff_format(b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00") is None  # a phone photo, not M4A


def test_misnamed_file_decodes_by_content(two_part_files, tmp_path):
    misnamed = tmp_path / "actually_flac.mp3"
    misnamed.write_bytes(two_part_files["flac"].read_bytes())
    extensionless = tmp_path / "track01"
    extensionless.write_bytes(two_part_files["m4a"].read_bytes())
    assert load_audio(misnamed, 8000).size == pytest.approx(32000, abs=10)
    assert load_audio(extensionless, 8000).size == pytest.approx(32000, abs=800)


def test_non_utf8_file_name_decodes(two_part_files, tmp_path):
    if os.name != "posix":
        pytest.skip("bytes file names are a POSIX thing")
    name = os.fsdecode(b"caf\xe9-\xff.ogg")
    path = tmp_path / name
    path.write_bytes(two_part_files["ogg"].read_bytes())
    assert load_audio(path, 8000, offset=1.0, duration=0.5).size == 4000


# ------------------------------------------------------------------------------------------- bad input
def _raises(path, match, **kwargs) -> DecodeError:
    with pytest.raises(DecodeError, match=match) as err:
        load_audio(path, 22050, **kwargs)
    assert err.value.path == path
    assert str(path) in str(err.value)
    return err.value


def test_missing_file(tmp_path):
    _raises(tmp_path / "nope.flac", "file not found")
    with pytest.raises(DecodeError, match="file not found"):
        audio_duration(tmp_path / "nope.flac")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.mp3"
    path.write_bytes(b"")
    _raises(path, r"file is empty \(0 bytes\)")
    with pytest.raises(DecodeError, match="empty"):
        audio_duration(path)


def test_folder_instead_of_file(tmp_path):
    _raises(tmp_path, "folder")


@pytest.mark.parametrize("name", ["notes.mp3", "notes.m4a", "notes.wav", "notes"])
def test_text_file_is_not_audio(tmp_path, name):
    path = tmp_path / name
    path.write_text("Track list:\n1. Intro\n2. Outro\n" * 10)
    _raises(path, "not an audio file")


def test_random_binary_is_not_audio(tmp_path):
    path = tmp_path / "blob.ogg"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    _raises(path, "not an audio file")


@pytest.mark.parametrize("fmt", ALL_FORMATS)
def test_truncated_file(make_audio, fmt):
    path = make_audio(f"cut.{fmt}", seconds=3.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    err = _raises(path, "truncated")
    assert "truncated" in err.reason


def test_truncated_excerpt_inside_the_intact_part_still_decodes(make_audio):
    path = make_audio("cut.wav", seconds=3.0)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert load_audio(path, 8000, offset=0.2, duration=0.5).size == 4000
    _raises(path, "truncated", offset=1.0, duration=1.0)


def test_unsupported_codec(make_audio):
    """A WAV whose format tag names an encoding no decoder knows."""
    path = make_audio("odd.wav", seconds=1.0)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<H", raw, raw.index(b"fmt ") + 8, 0x1234)
    path.write_bytes(bytes(raw))
    _raises(path, "unsupported codec.*0x1234")


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root can read a mode-000 file")
def test_unreadable_file_real_permissions(make_audio):
    path = make_audio("secret.flac", seconds=1.0)
    path.chmod(0)
    try:
        _raises(path, "permission denied")
    finally:
        path.chmod(0o644)


def test_unreadable_file_reason(make_audio, monkeypatch):
    """Runs as root too: the OS refusal (as open() raises it for an ordinary user) becomes our reason."""
    path = make_audio("secret.flac", seconds=1.0)

    def denied(file, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(file))

    monkeypatch.setattr(audio_mod, "open", denied, raising=False)
    _raises(path, "permission denied")


@needs_shared_data
def test_every_file_of_the_real_library_decodes():
    files = sorted(p for p in (SHARED_DATA / "library").rglob("*") if p.suffix in (".ogg", ".opus", ".mp3"))
    assert len(files) >= 20
    for path in files:
        duration = audio_duration(path)
        assert duration > 10, path
        head = load_audio(path, 22050, offset=0.0, duration=2.0)
        tail = load_audio(path, 22050, offset=duration - 3.0, duration=2.0)  # seeks near the real end
        assert head.size == tail.size == 44100, path
        assert np.isfinite(tail).all() and np.abs(tail).max() > 1e-3, path
        if path.suffix == ".mp3":  # 30 s clips: cheap to decode whole and check the seek landed right
            full = load_audio(path, 22050)
            start = int(round((duration - 3.0) * 22050))
            assert np.corrcoef(full[start + 2000 : start + 44100], tail[2000:])[0, 1] > 0.99, path
