"""What the training package knows about public datasets: how to recognise them, their licence terms, and
the settings the project spec fixes for them. Faces (the CLI) ask here instead of deciding."""

from __future__ import annotations

import re

# A GTZAN clip's file name: "<genre>.NNNNN.wav" (or .au, as in the original archive).
GTZAN_NAME = re.compile(r"[a-z]+\.\d{5}\.(wav|au)")
GTZAN_LICENCE = (
    "GTZAN has no licence and is for research only; these weights are derived from its features and are "
    "shipped for research and personal use."
)
GTZAN_FEATURES_SOURCE = (
    "GTZAN (Tzanetakis & Cook 2002) 57-feature table (librosa features of the 30 s clips); weights trained "
    "by music-reclass"
)
FMA_MLP_EPOCHS = 7  # the spec's epoch count for the 518-feature FMA MLP


def is_gtzan_table(keys: list[str]) -> bool:
    """True when every row of a features table names a GTZAN clip."""
    return bool(keys) and all(GTZAN_NAME.fullmatch(k) for k in keys)
