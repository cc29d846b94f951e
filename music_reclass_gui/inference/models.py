"""Built-in genre model kinds: a musicnn tagger used directly ("musicnn") and a head over its features ("head").

What a tagger's confidence means: the tagger scores each of its labels independently (sigmoid, multi-label).
Its genre labels are mapped through the genre map (synonyms merged by taking the highest score), and the
genre scores are turned into one distribution over the model's genres with a fitted temperature:
``p_g = s_g ** (1/T) / sum_h s_h ** (1/T)``. T comes from the card's ``calibration.temperature`` (fit by
``tools/calibrate_tagger.py`` on real GTZAN clips whose genre the tagger knows; the card records the ECE and
accuracy measured there). Without a calibration block T = 1 and ``calibrated`` is False.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.core.genres import load_genre_map, unique_genres
from music_reclass_gui.inference.device import Device
from music_reclass_gui.inference.extractors import musicnn_extractor
from music_reclass_gui.inference.heads import Head, head_input
from music_reclass_gui.inference.registry import ModelCard, register_kind

FeatureSet = Mapping[str, Mapping[str, np.ndarray]]  # extractor key -> feature name -> array


@dataclass
class ModelOutput:
    probs: np.ndarray  # (len(model.labels),) sums to 1
    tags: dict[str, float]  # raw scores of all the model's own labels, genre or not
    embedding: np.ndarray | None
    # (len(model.labels),) each genre's own calibrated probability (multi-label models, e.g. kind "fused");
    # None for single-label models, whose probs are one distribution over mutually exclusive genres
    label_probs: np.ndarray | None = None


def tagger_genre_probs(scores: np.ndarray, groups: list[list[int]], temperature: float) -> np.ndarray:
    """Per-genre max of its labels' sigmoid scores -> tempered, normalised distribution (see module doc)."""
    s = np.array([max(float(scores[i]) for i in idx) for idx in groups], dtype=np.float64)
    logs = np.log(np.clip(s, 1e-7, 1.0)) / max(temperature, 1e-3)
    e = np.exp(logs - logs.max())
    return (e / e.sum()).astype(np.float32)


class TaggerGenreModel:
    """A pretrained musicnn tagger proposing the genres among its labels."""

    def __init__(self, card: ModelCard, device: Device) -> None:
        self.name = card.name
        self.card = card
        ext = musicnn_extractor(card.name, device)
        self.extractors = [ext]
        self.tag_labels = list(ext.labels)
        gmap = load_genre_map()
        mapping = gmap.label_to_genre(self.tag_labels)
        if not mapping:
            raise ModelError(card.path, "none of this tagger's labels is a genre in the genre map")
        self.labels = unique_genres(mapping.values())
        self.groups = [
            [i for i, lab in enumerate(self.tag_labels) if mapping.get(lab) == g] for g in self.labels
        ]
        temp = card.calibration.get("temperature")
        self.calibrated = isinstance(temp, (int, float)) and temp > 0
        self.temperature = float(temp) if self.calibrated else 1.0

    def predict(self, features: FeatureSet) -> ModelOutput:
        f = features[self.extractors[0].key]
        scores = np.asarray(f["tags"], dtype=np.float32)
        probs = tagger_genre_probs(scores, self.groups, self.temperature)
        tags = {lab: float(v) for lab, v in zip(self.tag_labels, scores, strict=True)}
        return ModelOutput(probs, tags, np.asarray(f["embedding"], dtype=np.float32))


class HeadGenreModel:
    """A trained head (heads.py) over the features of one or more musicnn extractors."""

    def __init__(self, card: ModelCard, device: Device) -> None:
        if card.weights is None:
            raise ModelError(card.path, "a 'head' model card needs a 'weights' file")
        self.name = card.name
        self.card = card
        self.head = Head(card.weights)
        models = list(dict.fromkeys(m for m, _ in self.head.inputs))
        self.extractors = [musicnn_extractor(m, device) for m in models]
        self._ext_of = dict(zip(models, self.extractors, strict=True))  # tagger name -> extractor
        if card.raw.get("label_spelling") == "library":  # a personal model proposes the library's spellings
            self.labels = list(self.head.labels)
        else:
            gmap = load_genre_map()
            self.labels = [gmap.normalize(lab) for lab in self.head.labels]
        self.calibrated = bool(card.calibration) or self.head.temperature != 1.0

    def predict(self, features: FeatureSet) -> ModelOutput:
        by_model = {m: features[e.key] for m, e in self._ext_of.items()}
        probs = self.head.predict_proba(head_input(by_model, self.head.inputs)).astype(np.float32)
        tags = {lab: float(p) for lab, p in zip(self.head.labels, probs, strict=True)}
        first = by_model[next(iter(by_model))]
        emb = first.get("embedding")
        return ModelOutput(probs, tags, None if emb is None else np.asarray(emb, dtype=np.float32))


register_kind("musicnn", TaggerGenreModel)
register_kind("head", HeadGenreModel)
