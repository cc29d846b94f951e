"""The 518 FMA features, as the FMA dataset's ``features.py`` (Defferrard et al., 2017) defines them.

Per track: zcr (1), chroma_cqt / chroma_cens (12 each, from one 7-octave CQT), tonnetz (6, computed from
chroma_cens as FMA does), chroma_stft (12), rmse (1), spectral centroid / bandwidth / rolloff (1 each),
spectral contrast (7), 20 MFCC; each frame-wise feature summarised by 7 statistics (mean, std, skew,
kurtosis, median, min, max) = 518 values. Columns follow ``features.csv``: the (feature, statistics,
number) tuples sorted lexicographically, as pandas' ``sort_values`` left them.

FMA decoded each file at its native rate (``librosa.load(sr=None)``); that is 44.1 kHz for nearly all FMA
mp3s, so we decode at 44.1 kHz. librosa of FMA's time padded centred frames by reflection (the default
before 0.10); we ask for the same.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

SAMPLE_RATE = 44100
PAD_MODE = "reflect"

FEATURE_SIZES = {
    "chroma_stft": 12,
    "chroma_cqt": 12,
    "chroma_cens": 12,
    "tonnetz": 6,
    "mfcc": 20,
    "rmse": 1,
    "zcr": 1,
    "spectral_centroid": 1,
    "spectral_bandwidth": 1,
    "spectral_contrast": 7,
    "spectral_rolloff": 1,
}
STATISTICS = ("mean", "std", "skew", "kurtosis", "median", "min", "max")

COLUMNS: tuple[tuple[str, str, str], ...] = tuple(
    sorted(
        (name, stat, f"{i + 1:02d}")
        for name, size in FEATURE_SIZES.items()
        for stat in STATISTICS
        for i in range(size)
    )
)
assert len(COLUMNS) == 518


def feature_names() -> list[str]:
    """Flat column names ``feature.statistics.number`` in features.csv order (as datasets.py reads them)."""
    return [".".join(c) for c in COLUMNS]


_INDEX = {c: j for j, c in enumerate(COLUMNS)}


def _stats(values: np.ndarray) -> dict[str, np.ndarray]:
    from scipy import stats

    values = np.asarray(values, dtype=np.float64)  # (k, frames)
    return {
        "mean": values.mean(axis=1),
        "std": values.std(axis=1),
        "skew": stats.skew(values, axis=1),
        "kurtosis": stats.kurtosis(values, axis=1),
        "median": np.median(values, axis=1),
        "min": values.min(axis=1),
        "max": values.max(axis=1),
    }


def extract_fma518(x: np.ndarray, sr: int = SAMPLE_RATE) -> np.ndarray:
    """518 features (float64, COLUMNS order) of mono samples ``x`` at ``sr`` Hz."""
    import librosa

    x = np.ascontiguousarray(x, dtype=np.float32)
    if x.ndim != 1 or x.size < 2048:
        raise ValueError("need at least 2048 mono samples to compute FMA features")
    out = np.full(len(COLUMNS), np.nan, dtype=np.float64)

    def put(name: str, values: np.ndarray) -> None:
        for stat, vec in _stats(values).items():
            for i, v in enumerate(np.atleast_1d(vec)):
                out[_INDEX[(name, stat, f"{i + 1:02d}")]] = v

    put("zcr", librosa.feature.zero_crossing_rate(x, frame_length=2048, hop_length=512))
    cqt = np.abs(
        librosa.cqt(
            x, sr=sr, hop_length=512, bins_per_octave=12, n_bins=7 * 12, tuning=None, pad_mode=PAD_MODE
        )
    )
    put("chroma_cqt", librosa.feature.chroma_cqt(C=cqt, n_chroma=12, n_octaves=7))
    cens = librosa.feature.chroma_cens(C=cqt, n_chroma=12, n_octaves=7)
    put("chroma_cens", cens)
    put("tonnetz", librosa.feature.tonnetz(chroma=cens))  # FMA computes tonnetz from chroma_cens
    del cqt
    stft = np.abs(librosa.stft(x, n_fft=2048, hop_length=512, pad_mode=PAD_MODE))
    put("chroma_stft", librosa.feature.chroma_stft(S=stft**2, n_chroma=12))
    put("rmse", librosa.feature.rms(S=stft))
    put("spectral_centroid", librosa.feature.spectral_centroid(S=stft))
    put("spectral_bandwidth", librosa.feature.spectral_bandwidth(S=stft))
    put("spectral_contrast", librosa.feature.spectral_contrast(S=stft, n_bands=6))
    put("spectral_rolloff", librosa.feature.spectral_rolloff(S=stft))
    mel = librosa.feature.melspectrogram(sr=sr, S=stft**2)
    put("mfcc", librosa.feature.mfcc(S=librosa.power_to_db(mel), n_mfcc=20))
    # skew/kurtosis of a constant row (silence, a pure tone's chroma) are NaN; FMA left such tracks out, a
    # classifier needs a number: 0 is the skew/excess kurtosis of a symmetric, normal-tailed distribution.
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)


def fma518_from_file(path: str | Path) -> np.ndarray:
    """518 features of a file: FMA clips are 30 s, so longer tracks use the app's excerpt plan (see
    features_gtzan.waves_for_file), at 44.1 kHz."""
    from music_reclass_gui.inference.features_gtzan57 import waves_for_file

    return extract_fma518(np.concatenate(waves_for_file(path, SAMPLE_RATE)), SAMPLE_RATE)
