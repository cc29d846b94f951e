"""The 518 FMA features (FMA's ``features.py``) for training code.

The recipe itself lives in ``inference/features_fma518.py`` because the app runs it when classifying with
an FMA features model, and inference must not import training.
"""

from __future__ import annotations

from music_reclass_gui.inference.features_fma518 import (
    COLUMNS,
    FEATURE_SIZES,
    SAMPLE_RATE,
    STATISTICS,
    extract_fma518,
    feature_names,
    fma518_from_file,
)

__all__ = [
    "COLUMNS",
    "FEATURE_SIZES",
    "SAMPLE_RATE",
    "STATISTICS",
    "extract_fma518",
    "feature_names",
    "fma518_from_file",
]
