"""The 518 FMA features: shape, finiteness and names exactly as FMA's features.csv header has them."""

from __future__ import annotations

import numpy as np
from conftest import SHARED_DATA, needs_shared_data, tone

from music_reclass_gui.training.features_fma import (
    COLUMNS,
    FEATURE_SIZES,
    SAMPLE_RATE,
    STATISTICS,
    extract_fma518,
    feature_names,
    fma518_from_file,
)


def test_columns_are_fmas_sorted_multiindex():
    assert len(COLUMNS) == 518 == 7 * sum(FEATURE_SIZES.values())
    assert list(COLUMNS) == sorted(COLUMNS)  # pandas' sort_values order, as features.csv is written
    assert COLUMNS[0] == ("chroma_cens", "kurtosis", "01")
    assert ("mfcc", "median", "20") in COLUMNS and ("tonnetz", "std", "06") in COLUMNS
    assert {c[1] for c in COLUMNS} == set(STATISTICS)
    assert feature_names()[:2] == ["chroma_cens.kurtosis.01", "chroma_cens.kurtosis.02"]


def test_synthetic_tone_gives_sensible_values():
    f = extract_fma518(tone(3.0, SAMPLE_RATE, 440.0), SAMPLE_RATE)
    assert f.shape == (518,) and np.isfinite(f).all()
    chroma = [f[COLUMNS.index(("chroma_stft", "mean", f"{i:02d}"))] for i in range(1, 13)]
    assert int(np.argmax(chroma)) == 9  # 440 Hz is an A: chroma bin 10 of C..B


@needs_shared_data
def test_real_fma_clip():
    f = fma518_from_file(SHARED_DATA / "library" / "fma-clips" / "000002.mp3")
    assert f.shape == (518,) and np.isfinite(f).all()
    assert f[COLUMNS.index(("spectral_centroid", "mean", "01"))] > 100  # Hz, real music
