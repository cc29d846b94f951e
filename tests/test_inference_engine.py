"""The Classifier on real musicnn weights: excerpt plan, cross-track batching, cache hits, failures, registry."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from music_reclass_gui.core import audio
from music_reclass_gui.core.appdirs import user_models_dir
from music_reclass_gui.core.errors import DecodeError, ModelError
from music_reclass_gui.inference import registry
from music_reclass_gui.inference.backends import available_backends
from music_reclass_gui.inference.engine import (
    DEFAULT_MODEL,
    ClassificationFailure,
    ClassificationResult,
    Classifier,
)
from music_reclass_gui.inference.excerpts import EXCERPT_S, N_EXCERPTS, decode_excerpts, plan_excerpts
from music_reclass_gui.inference.heads import build_head_mlp, save_head
from tests.conftest import SHARED_DATA, needs_shared_data, tone, write_audio


@pytest.fixture(scope="module")
def clf_factory():
    made = {}

    def make(**kw) -> Classifier:
        key = tuple(sorted(kw.items()))
        if key not in made:
            made[key] = Classifier(**kw)
        return made[key]

    return make


@pytest.fixture
def count_decodes(monkeypatch):
    calls = []
    real = audio.load_audio

    def counting(path, sr, offset=0.0, duration=None):
        calls.append((str(path), offset, duration))
        return real(path, sr, offset=offset, duration=duration)

    monkeypatch.setattr(audio, "load_audio", counting)
    return calls


# ----------------------------------------------------------------------------------------- excerpt plan
@pytest.mark.parametrize("duration", [0.5, 2.9, 10.0, 30.0, 30.9])
def test_short_tracks_are_analysed_whole(duration):
    assert plan_excerpts(duration) == [(0.0, None)]


@pytest.mark.parametrize("duration", [45.0, 240.0, 3600.0])
def test_long_tracks_get_a_bounded_spread_of_excerpts(duration):
    plan = plan_excerpts(duration)
    assert len(plan) == N_EXCERPTS and all(d == EXCERPT_S for _, d in plan)
    starts = [o for o, _ in plan]
    assert starts == sorted(starts) and starts[0] >= 0.1 * duration - EXCERPT_S / 2
    assert starts[-1] + EXCERPT_S <= 0.9 * duration + EXCERPT_S / 2
    gaps = np.diff(starts)
    assert np.allclose(gaps, gaps[0], atol=0.01)  # evenly spaced


def test_long_file_decodes_only_its_excerpts(tmp_path, count_decodes):
    path = write_audio(tmp_path / "long.flac", tone(40.0, 22050), 22050)
    waves = decode_excerpts(path, 16000)
    assert len(count_decodes) == N_EXCERPTS and all(d == EXCERPT_S for _, _, d in count_decodes)
    assert all(abs(w.size - EXCERPT_S * 16000) < 400 for w in waves)


# ----------------------------------------------------------------------------------------- classifier
def test_result_schema_and_cache_hits(tmp_path, clf_factory, count_decodes):
    files = [
        write_audio(tmp_path / f"t{i}.{ext}", tone(s, 22050, f), 22050)
        for i, (ext, s, f) in enumerate([("wav", 4.0, 220), ("ogg", 7.0, 660), ("flac", 40.0, 440)])
    ]
    clf = clf_factory(device="cpu")
    assert clf.model_name == DEFAULT_MODEL and clf.device.type == "cpu" and clf.device_description == "CPU"
    first = list(clf.classify_many(files))
    assert [r.audio_path for r in first] == files  # input order
    for r in first:
        assert isinstance(r, ClassificationResult) and not r.cached
        assert r.genre in clf.labels and r.top_predictions[0].genre == r.genre
        confs = [p.confidence for p in r.top_predictions]
        assert len(confs) == 3 and confs == sorted(confs, reverse=True) and all(0 < c < 1 for c in confs)
        assert [p.genre for p in r.labels[:3]] == [p.genre for p in r.top_predictions]  # own probabilities
        assert len(r.tags) == 120 and "msd-musicnn:female vocalists" in r.tags and r.embedding.shape == (200,)
        assert r.processing_time > 0
    n_decodes = len(count_decodes)
    assert n_decodes == 2 + N_EXCERPTS  # whole short files, excerpts of the long one

    second = list(clf.classify_many(files))
    assert len(count_decodes) == n_decodes  # no decoding at all on the second run
    assert all(r.cached for r in second)
    assert [r.tags for r in second] == [pytest.approx(r.tags, abs=1e-6) for r in first]

    # the ogg file changes: new content, newer mtime -> recomputed, the others still cached
    write_audio(files[1], tone(7.0, 22050, 3000.0, seed=5), 22050)
    st = files[1].stat()
    os.utime(files[1], ns=(st.st_atime_ns, st.st_mtime_ns + 2_000_000_000))
    third = list(clf.classify_many(files))
    assert [r.cached for r in third] == [True, False, True]
    assert [c[0] for c in count_decodes[n_decodes:]] == [str(files[1])]
    assert third[1].tags != pytest.approx(first[1].tags, abs=1e-4)


def test_bad_files_fail_alone(tmp_path, clf_factory):
    good = write_audio(tmp_path / "good.wav", tone(3.0, 16000), 16000)
    corrupt = tmp_path / "corrupt.flac"
    corrupt.write_bytes(b"fLaC" + os.urandom(3000))
    text = tmp_path / "notes.mp3"
    text.write_text("this is not music\n" * 50)
    missing = tmp_path / "missing.ogg"
    out = list(clf_factory(device="cpu", use_cache=False).classify_many([corrupt, good, text, missing]))
    assert [type(o) for o in out] == [
        ClassificationFailure,
        ClassificationResult,
        ClassificationFailure,
        ClassificationFailure,
    ]
    for o, name in zip([out[0], out[2], out[3]], ["corrupt.flac", "notes.mp3", "missing.ogg"], strict=True):
        assert name in o.error and o.to_json() == {"audio_path": str(o.audio_path), "error": o.error}
    with pytest.raises(DecodeError):
        clf_factory(device="cpu", use_cache=False).classify(text)


def test_cancel_stops_early(tmp_path, clf_factory):
    files = [write_audio(tmp_path / f"c{i}.wav", tone(3.0, 16000, 200 + 50 * i), 16000) for i in range(12)]
    seen = []
    for r in clf_factory(device="cpu", use_cache=False).classify_many(
        files, cancelled=lambda: len(seen) >= 1
    ):
        seen.append(r)
    assert 1 <= len(seen) < len(files)


@needs_shared_data
def test_real_hiphop_clip_is_hiphop(clf_factory):
    r = clf_factory(device="cpu", use_cache=False).classify(
        SHARED_DATA / "library" / "fma-clips" / "000002.mp3"
    )
    assert r.genre == "Hip-Hop" and r.confidence > 0.5
    assert r.tags["Hip-Hop"] > 0.5


def test_cuda_request_without_cuda_is_a_clear_error():
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    with pytest.raises(ModelError, match="CUDA is not available"):
        Classifier(device="cuda")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_cuda_matches_cpu(tmp_path, clf_factory):
    path = write_audio(tmp_path / "x.wav", tone(6.0, 16000, 330), 16000)
    gpu = Classifier(device="cuda", use_cache=False).classify(path)
    cpu = clf_factory(device="cpu", use_cache=False).classify(path)
    assert gpu.genre == cpu.genre and gpu.confidence == pytest.approx(cpu.confidence, abs=2e-3)


# ----------------------------------------------------------------------------------------- registry
def test_shipped_models_listed_and_bad_cards_reported():
    folder = user_models_dir()
    (folder / "garbage.json").write_text("{not json")
    (folder / "noweights.json").write_text(
        json.dumps({"name": "noweights", "kind": "head", "labels": ["a"], "weights": "gone.pt"})
    )
    errors: list[ModelError] = []
    names = {c.name for c in registry.list_models(errors)}
    assert {"msd-musicnn", "mtt-musicnn"} <= names and not {"garbage", "noweights"} & names
    assert {e.path.name for e in errors} == {"garbage.json", "gone.pt"}
    with pytest.raises(ModelError, match="gone.pt"):
        registry.load_model("noweights")
    with pytest.raises(ModelError, match="no model called"):
        registry.load_model("does-not-exist")


def test_head_model_round_trip(tmp_path):
    """A head over two extractors, written through the public API, loads and classifies; then is removed."""
    labels = ["hiphop", "rock", "classical"]
    inputs = [["msd-musicnn", "embedding"], ["mtt-musicnn", "tags"]]
    net = build_head_mlp(250, [16], len(labels))
    weights = save_head(
        tmp_path / "h.pt",
        inputs=inputs,
        labels=labels,
        mean=np.zeros(250),
        std=np.ones(250),
        hidden=[16],
        state_dict=net.state_dict(),
        temperature=1.5,
    )
    registry.write_user_card(
        {"name": "toy-head", "kind": "head", "labels": labels, "weights": "toy_head.pt"},
        {"toy_head.pt": weights},
    )
    clf = Classifier("toy-head", device="cpu", use_cache=False, top_k=2)
    assert clf.labels == ["Hip-Hop", "Rock", "Classical"]
    assert {e.key.split(":")[0] for e in clf.model.extractors} == {"msd-musicnn", "mtt-musicnn"}
    r = clf.classify(write_audio(tmp_path / "x.wav", tone(3.5, 16000), 16000))
    assert r.genre in clf.labels and len(r.top_predictions) == 2 and set(r.tags) == set(labels)
    registry.remove_user_model("toy-head")
    assert (
        not (user_models_dir() / "toy-head.json").exists()
        and not (user_models_dir() / "toy_head.pt").exists()
    )
    with pytest.raises(ModelError, match="shipped"):
        registry.remove_user_model("msd-musicnn")


def test_register_kind_adds_a_model_kind():
    class Const:
        def __init__(self, card, device):
            self.name, self.labels, self.extractors, self.calibrated = card.name, card.labels, [], False

    registry.register_kind("const-test", Const)
    registry.write_user_card({"name": "const", "kind": "const-test", "labels": ["Jazz"]})
    assert isinstance(registry.load_model("const"), Const)


@pytest.mark.parametrize("seconds", [0.8, 7.3, 31.0])
def test_batched_extractor_matches_the_reference_tagger(seconds):
    """Cropping and batching the front end across excerpts must not change musicnn's numbers (float
    backends; the int8 graph's tolerance is checked in test_inference_backends.py)."""
    from music_reclass_gui.inference.extractors import MusicnnExtractor
    from music_reclass_gui.inference.registry import find_card

    card = find_card("msd-musicnn")
    backend = "onnx" if "onnx" in available_backends() else "torch"
    ext = MusicnnExtractor(
        "msd-musicnn", card.path.parent, card.weights, torch.device("cpu"), backend=backend
    )
    wave = tone(seconds, 16000, 523.0, seed=3) + 0.1 * tone(seconds, 16000, 97.0, seed=4)
    other = tone(6.0, 16000, 1000.0)
    ref_tags, ref_emb = ext.net.tag_waveform(wave)
    feats = ext.extract([[other, other], [wave], [other]])
    assert feats[1]["n_patches"] == ref_tags.shape[0]
    assert np.allclose(feats[1]["tags"], ref_tags.mean(0).numpy(), atol=1e-5)
    assert np.allclose(feats[1]["embedding"], ref_emb.mean(0).numpy(), atol=1e-4)
