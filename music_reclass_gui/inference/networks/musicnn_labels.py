"""The two musicnn taggers' names, label lists and weights files, without torch (the registry and the
ONNX path need the labels; only the PyTorch network in musicnn.py needs torch)."""

from __future__ import annotations

import json
from pathlib import Path

from music_reclass_gui.core.errors import ModelError

# Exact label lists from musicnn/configuration.py (order = output index).
MTT_LABELS = ['guitar', 'classical', 'slow', 'techno', 'strings', 'drums', 'electronic', 'rock', 'fast', 'piano', 'ambient', 'beat', 'violin', 'vocal', 'synth', 'female', 'indian', 'opera', 'male', 'singing', 'vocals', 'no vocals', 'harpsichord', 'loud', 'quiet', 'flute', 'woman', 'male vocal', 'no vocal', 'pop', 'soft', 'sitar', 'solo', 'man', 'classic', 'choir', 'voice', 'new age', 'dance', 'male voice', 'female vocal', 'beats', 'harp', 'cello', 'no voice', 'weird', 'country', 'metal', 'female voice', 'choral']  # fmt: skip
MSD_LABELS = ['rock', 'pop', 'alternative', 'indie', 'electronic', 'female vocalists', 'dance', '00s', 'alternative rock', 'jazz', 'beautiful', 'metal', 'chillout', 'male vocalists', 'classic rock', 'soul', 'indie rock', 'Mellow', 'electronica', '80s', 'folk', '90s', 'chill', 'instrumental', 'punk', 'oldies', 'blues', 'hard rock', 'ambient', 'acoustic', 'experimental', 'female vocalist', 'guitar', 'Hip-Hop', '70s', 'party', 'country', 'easy listening', 'sexy', 'catchy', 'funk', 'electro', 'heavy metal', 'Progressive rock', '60s', 'rnb', 'indie pop', 'sad', 'House', 'happy']  # fmt: skip

# model name -> (label list, weights file). Model cards in models/ repeat the labels for the registry.
MODELS: dict[str, tuple[list[str], str]] = {
    "msd-musicnn": (MSD_LABELS, "msd_musicnn.pt"),
    "mtt-musicnn": (MTT_LABELS, "mtt_musicnn.pt"),
}


def card_entry(name: str, models_dir: Path) -> tuple[list[str], str]:
    """(labels, weights file name) of a shipped tagger: the model card when present (so a card is the single
    source for the registry), else musicnn's configuration lists."""
    if name not in MODELS:
        raise ModelError(None, f"unknown musicnn model {name!r}; expected one of {sorted(MODELS)}")
    labels, weights_name = MODELS[name]
    card = Path(models_dir) / f"{name}.json"
    if card.is_file():
        try:
            meta = json.loads(card.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ModelError(card, f"model card is unreadable: {exc}") from exc
        labels = meta.get("labels", labels)
        weights_name = meta.get("weights", weights_name)
    return list(labels), weights_name


def tagger_labels(name: str, models_dir: str | Path) -> list[str]:
    """The tag labels of a shipped tagger, in output order (without loading its weights)."""
    return card_entry(name, Path(models_dir))[0]
