"""The staged early-stopping ensemble: a track that stops at stage 1 never runs the later stages'
extractors; threshold 0 always stops at stage 1, a threshold above 1 always runs every stage; the shipped
ensemble loads and says which stage decided."""

from __future__ import annotations

import json

import numpy as np
import pytest

from music_reclass_gui.core.appdirs import shipped_models_dir, user_models_dir
from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference import registry
from music_reclass_gui.inference.engine import Classifier
from music_reclass_gui.inference.extractors import MusicnnExtractor
from music_reclass_gui.inference.heads import build_head_mlp, save_head
from music_reclass_gui.inference.kinds_ensemble import STAGE_TAG, decide
from tests.conftest import SHARED_DATA, needs_shared_data

LABELS = ["Jazz", "Rock"]


def _head(path, model: str) -> None:
    net = build_head_mlp(200, [], len(LABELS))
    save_head(
        path,
        inputs=[[model, "embedding"]],
        labels=LABELS,
        mean=np.zeros(200),
        std=np.ones(200),
        hidden=[],
        state_dict=net.state_dict(),
        temperature=1.0,
    )


def _install_ensemble(name: str, threshold: float) -> None:
    folder = user_models_dir()
    _head(folder / "toy_stage1.pt", "msd-musicnn")
    if not (folder / "toy-final.json").exists():
        _head(folder / "toy_final.pt", "mtt-musicnn")
        registry.write_user_card(
            {"name": "toy-final", "kind": "head", "labels": LABELS, "weights": "toy_final.pt"}
        )
    registry.write_user_card(
        {
            "name": name,
            "kind": "ensemble",
            "labels": LABELS,
            "stages": [{"name": "msd", "head": "toy_stage1.pt"}, {"name": "final", "model": "toy-final"}],
            "threshold": threshold,
            "combine": "mean",
        }
    )


@pytest.fixture
def extractor_calls(monkeypatch):
    calls: list[str] = []
    real = MusicnnExtractor.extract

    def counting(self, tracks):
        calls.extend([self.name] * len(tracks))
        return real(self, tracks)

    monkeypatch.setattr(MusicnnExtractor, "extract", counting)
    return calls


@pytest.mark.parametrize(
    ("threshold", "stage", "ran"), [(0.0, 1, ["msd-musicnn"]), (1.5, 2, ["msd-musicnn", "mtt-musicnn"])]
)
def test_early_stop_skips_later_stage_extractors(make_audio, extractor_calls, threshold, stage, ran):
    _install_ensemble(f"toy-ens-{stage}", threshold)
    a, b = make_audio("a.wav", seconds=3.5, freq=300.0), make_audio("b.flac", seconds=3.5, freq=2000.0)
    clf = Classifier(f"toy-ens-{stage}", device="cpu", use_cache=False)
    results = list(clf.classify_many([a, b]))
    assert [r.tags[STAGE_TAG] for r in results] == [float(stage)] * 2
    assert sorted(set(extractor_calls)) == ran
    assert extractor_calls.count("msd-musicnn") == 2  # stage 1 ran once per track, batched
    assert extractor_calls.count("mtt-musicnn") == (2 if stage == 2 else 0)
    for r in results:
        assert r.genre in LABELS and abs(sum(p.confidence for p in r.top_predictions) - 1.0) < 1e-4


def test_later_stage_features_come_from_the_cache(make_audio, extractor_calls):
    _install_ensemble("toy-ens-cache", 1.5)
    a = make_audio("a.wav", seconds=3.5)
    clf = Classifier("toy-ens-cache", device="cpu")
    first = clf.classify(a)
    assert not first.cached and extractor_calls == ["msd-musicnn", "mtt-musicnn"]
    again = clf.classify(a)
    assert again.cached and extractor_calls == ["msd-musicnn", "mtt-musicnn"]  # nothing recomputed
    assert again.genre == first.genre


def test_decide_follows_threshold_and_rule():
    p1, p2 = np.array([0.7, 0.3]), np.array([0.1, 0.9])
    assert decide([p1, p2], 0.6, "mean")[0] == 0
    k, p = decide([p1, p2], 0.8, "mean")
    assert k == 1 and np.allclose(p, [0.4, 0.6])
    k, p = decide([p1, p2], 0.8, "last")
    assert k == 1 and np.allclose(p, p2)


def test_bad_ensemble_cards_are_clear_errors():
    registry.write_user_card({"name": "no-stages", "kind": "ensemble", "labels": LABELS})
    with pytest.raises(ModelError, match="stages"):
        registry.load_model("no-stages")
    registry.write_user_card(
        {"name": "self-ref", "kind": "ensemble", "labels": LABELS, "stages": [{"model": "self-ref"}]}
    )
    with pytest.raises(ModelError, match="own stage"):
        registry.load_model("self-ref")


@needs_shared_data
def test_shipped_ensemble_loads_and_reports_its_stage():
    card = json.loads((shipped_models_dir() / "ensemble.json").read_text())
    assert card["kind"] == "ensemble" and len(card["metrics"]["per_stage"]) == len(card["stages"])
    clf = Classifier("ensemble", device="cpu", top_k=10)
    assert clf.labels == registry.find_card("gtzan").labels
    final = Classifier(card["stages"][-1]["model"], device="cpu", top_k=10)
    # real clips no stage was trained on (the GTZAN clips were): the shared library's FMA clips
    for name in ("000002.mp3", "000010.mp3", "001040.mp3"):
        path = SHARED_DATA / "library" / "fma-clips" / name
        res = clf.classify(path)
        if res.tags[STAGE_TAG] == 1.0:  # stopped early: only when stage 1 was sure enough
            assert res.confidence >= card["threshold"], name
        else:  # ran to the end: with combine "last" the answer is the final stage's own
            assert res.tags[STAGE_TAG] == 2.0 and card["combine"] == "last"
            alone = final.classify(path)
            assert res.genre == alone.genre and res.confidence == pytest.approx(alone.confidence, abs=1e-3)
