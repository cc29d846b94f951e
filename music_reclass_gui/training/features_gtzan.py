"""The 57 GTZAN features (``features_30_sec.csv``) for training code.

The recipe itself lives in ``inference/features_gtzan57.py`` because the app runs it when classifying
with a features model, and inference must not import training. Parity with the table on real clips:
``docs/gtzan-features-parity.md`` and ``tests/test_training_features_gtzan.py``.
"""

from __future__ import annotations

from music_reclass_gui.inference.features_gtzan57 import (
    FEATURE_NAMES,
    N_MFCC,
    PAD_MODE,
    SAMPLE_RATE,
    extract_gtzan57,
    gtzan57_from_file,
    gtzan57_from_waves,
    waves_for_file,
)

__all__ = [
    "FEATURE_NAMES",
    "N_MFCC",
    "PAD_MODE",
    "SAMPLE_RATE",
    "extract_gtzan57",
    "gtzan57_from_file",
    "gtzan57_from_waves",
    "waves_for_file",
]
