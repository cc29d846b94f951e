"""The 57 GTZAN features of the well-known `features_30_sec.csv` table, computed from audio.

The table was made with librosa at its defaults (22050 Hz mono, n_fft=2048, hop 512) on each whole 30 s
clip; every frame-wise feature is summarised by its mean and variance over the clip. We reproduce that
recipe so a model trained on the table runs on a user's own files. `docs/gtzan-features-parity.md` shows
how close each column comes to the table on real GTZAN clips, and why some columns cannot match exactly.

Long tracks: the table describes 30 s clips. Audio of up to ~31 s is used whole (a GTZAN clip gives the
table's numbers). For longer tracks we use the app's excerpt plan (inference/excerpts.py: a few 6 s excerpts
between 10 % and 90 % of the track) joined end to end, so training-from-audio, evaluation and
the app all see the same samples and the engine decodes each file only once for every model. (A single
middle 30 s would need a per-extractor excerpt plan in the engine; each join touches ~4 of the STFT frames.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 22050
N_MFCC = 20
# librosa < 0.10 (which made the table) padded centred STFT frames by reflection; 0.10 switched the default
# to zeros, which shifts every frame-wise feature by ~0.1 %. Reflect padding reproduces the table exactly.
PAD_MODE = "reflect"

_BASE_FEATURES = (
    "chroma_stft",
    "rms",
    "spectral_centroid",
    "spectral_bandwidth",
    "rolloff",
    "zero_crossing_rate",
    "harmony",
    "perceptr",
)

# Column order exactly as in features_30_sec.csv (after `filename` and `length`, before `label`).
FEATURE_NAMES: tuple[str, ...] = (
    *(f"{base}_{stat}" for base in _BASE_FEATURES for stat in ("mean", "var")),
    "tempo",
    *(f"mfcc{i}_{stat}" for i in range(1, N_MFCC + 1) for stat in ("mean", "var")),
)
assert len(FEATURE_NAMES) == 57


def _mean_var(x: np.ndarray) -> tuple[float, float]:
    # The table used numpy's population variance (ddof=0) of the frame values.
    return float(np.mean(x)), float(np.var(x))


def extract_gtzan57(y: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """57 features (float64, order of FEATURE_NAMES) from mono samples at `sr` (must be 22050 Hz,
    the rate the table was computed at)."""
    import librosa

    if sr != SAMPLE_RATE:
        raise ValueError(f"GTZAN features are defined at {SAMPLE_RATE} Hz, got {sr} Hz")
    y = np.ascontiguousarray(y, dtype=np.float32)
    if y.ndim != 1 or y.size < 2048:
        raise ValueError("need at least 2048 mono samples (about 0.1 s) to compute GTZAN features")
    pad = {"pad_mode": PAD_MODE}
    values: list[float] = []
    values += _mean_var(librosa.feature.chroma_stft(y=y, sr=sr, **pad))
    values += _mean_var(librosa.feature.rms(y=y, **pad))
    values += _mean_var(librosa.feature.spectral_centroid(y=y, sr=sr, **pad))
    values += _mean_var(librosa.feature.spectral_bandwidth(y=y, sr=sr, **pad))
    values += _mean_var(librosa.feature.spectral_rolloff(y=y, sr=sr, **pad))
    values += _mean_var(librosa.feature.zero_crossing_rate(y))
    # "harmony"/"perceptr" are the HPSS harmonic and percussive *waveforms* (not spectrograms).
    harmonic, percussive = librosa.effects.hpss(y, **pad)
    values += _mean_var(harmonic)
    values += _mean_var(percussive)
    # Tempo keeps librosa's current default onset envelope: it reproduces the table's tempo on every
    # checked clip, whereas a reflect-padded envelope moved one clip's tempo by a factor (see parity doc).
    tempo, _ = librosa.beat.beat_track(y=y, sr=sr)
    values.append(float(np.atleast_1d(tempo)[0]))
    mfcc = librosa.feature.mfcc(y=y, sr=sr, n_mfcc=N_MFCC, **pad)
    for row in mfcc:
        values += _mean_var(row)
    out = np.asarray(values, dtype=np.float64)
    assert out.shape == (57,)
    return out


def waves_for_file(path: str | Path, sr: int) -> list[np.ndarray]:
    """The excerpts the app analyses for ``path`` at ``sr`` Hz (whole clip, or the excerpt plan of a long
    track). Raises DecodeError naming the file."""
    from music_reclass_gui.inference.excerpts import decode_excerpts

    return decode_excerpts(path, sr)


def gtzan57_from_waves(waves: list[np.ndarray]) -> np.ndarray:
    """57 features of a track given its decoded excerpts at 22050 Hz (joined end to end)."""
    return extract_gtzan57(np.concatenate([np.asarray(w, dtype=np.float32) for w in waves]), SAMPLE_RATE)


def gtzan57_from_file(path: str | Path) -> np.ndarray:
    """57 features of an audio file (see the module docstring for the part of a long track used)."""
    return gtzan57_from_waves(waves_for_file(path, SAMPLE_RATE))
