"""`train head`: a calibrated head on the musicnn features, trained on real audio files, honest CV, and the
shipped `gtzan` model classifying real GTZAN clips through the Classifier and the CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from music_reclass_gui.cli import main
from music_reclass_gui.core.appdirs import shipped_models_dir, user_models_dir
from music_reclass_gui.inference.engine import Classifier
from music_reclass_gui.training import transfer
from music_reclass_gui.training.datasets import DatasetError
from tests.conftest import SHARED_DATA, needs_shared_data, write_audio

SR = 16000
GENRES = {"hiphop": 90.0, "classical": 880.0, "metal": 3000.0}  # folder names mapped via the genre map


def clip(freq: float, seed: int, seconds: float = 3.2) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = freq * (1 + 0.02 * rng.standard_normal())
    x = 0.3 * np.sin(2 * np.pi * f * t) + 0.05 * rng.standard_normal(t.size)
    return x.astype(np.float32)


@pytest.fixture
def genre_dataset(tmp_path):
    root = tmp_path / "dataset"
    for g, freq in GENRES.items():
        (root / g).mkdir(parents=True)
        for i in range(4):
            write_audio(root / g / f"{g}.{i:05d}.wav", clip(freq, seed=i + int(freq)), SR)
    return root


def run_cli(capsys, *argv) -> tuple[int, dict | None, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    lines = cap.out.strip().splitlines()
    return rc, (json.loads(lines[-1]) if lines else None), cap.err


def test_train_head_on_audio_folders_then_classify(genre_dataset, capsys):
    rc, out, _ = run_cli(
        capsys,
        *("train", "head", "--dataset", genre_dataset, "--name", "toy-head", "--inputs", "msd-emb"),
        *("--model", "linear", "--folds", "2", "--quiet"),
    )
    assert rc == 0, out
    card = json.loads((user_models_dir() / "toy-head.json").read_text())
    assert card["kind"] == "head" and card["labels"] == ["Classical", "Hip-Hop", "Metal"]
    m = card["metrics"]
    assert m["n"] == 12 and "contiguous_cv" in m
    # three tones an octave and more apart: cross-validation must find them (chance is 1/3)
    assert m["accuracy"] >= 0.75 and m["contiguous_cv"]["accuracy"] >= 0.75
    assert m["accuracy"] == round(sum(m["confusion"][i][i] for i in range(3)) / 12, 4)
    assert {"ece", "ece_uncalibrated"} <= set(m) and card["calibration"]["temperature"] > 0
    assert len(card["train_keys"]) == 12 and "train head" in card["reproduce"]
    clf = Classifier("toy-head", device="cpu")
    probe = write_audio(genre_dataset.parent / "probe.flac", clip(880.0, seed=999), SR)  # not a training clip
    res = clf.classify(probe)
    assert res.genre == "Classical" and abs(sum(res.tags.values()) - 1.0) < 1e-4


def test_contiguous_folds_keep_neighbours_together_and_never_overlap():
    keys = [f"{g}/{g}.{i:05d}.wav" for g in ("a", "b") for i in (7, 0, 3, 1, 9, 4)]
    labels = [k.split("/")[0] for k in keys]
    splits = transfer.contiguous_folds(keys, labels, 2)
    seen = []
    for sp in splits:
        assert not set(sp.train) & set(sp.eval)
        seen += sp.eval
        for g in ("a", "b"):
            numbers = sorted(int(keys[i][-9:-4]) for i in sp.eval if labels[i] == g)
            assert numbers in ([0, 1, 3], [4, 7, 9])  # blocks of neighbouring numbers
    assert sorted(seen) == list(range(len(keys)))
    with pytest.raises(DatasetError):
        transfer.contiguous_folds(keys, labels, 7)


def test_cross_validation_never_trains_on_the_items_it_scores(monkeypatch):
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), 4)
    x = rng.standard_normal((12, 5)) + y[:, None]
    x[:, 0] = np.arange(12)  # each row identifiable
    keys = [f"g{c}/f{i}.wav" for i, c in enumerate(y)]
    labels = [str(c) for c in y]
    seen_train: list[set[int]] = []
    real = transfer.fit_head

    def spy(x_tr, y_tr, n, cfg, seed=0):
        seen_train.append({int(v) for v in x_tr[:, 0]})
        return real(x_tr, y_tr, n, cfg, seed)

    monkeypatch.setattr(transfer, "fit_head", spy)
    splits = transfer.contiguous_folds(keys, labels, 2)
    z = transfer.oof_logits(x, y, keys, splits, transfer.HeadConfig("msd-emb", (), 1.0), 0)
    assert z.shape == (12, 3)
    for sp, trained in zip(splits, seen_train, strict=True):
        assert trained.isdisjoint(sp.eval) and trained == set(sp.train)


# ------------------------------------------------------------------ the shipped model, on real clips
# Real clips the shipped GTZAN models never saw: the shared library's FMA clips whose own genre tag is one of
# GTZAN's ten (every such clip, none picked by result). The GTZAN clips themselves were all training data.
HELD_OUT_FMA = {"000002.mp3": "Hip-Hop", "000005.mp3": "Hip-Hop", "000010.mp3": "Pop", "001040.mp3": "Rock"}


@needs_shared_data
def test_shipped_gtzan_model_on_held_out_real_clips(capsys):
    card = json.loads((shipped_models_dir() / "gtzan.json").read_text())
    assert card["kind"] == "head" and "Hip-Hop" in card["labels"] and len(card["labels"]) == 10
    folder = SHARED_DATA / "library" / "fma-clips"
    clf = Classifier("gtzan", device="cpu")
    results = {Path(r.audio_path).name: r for r in clf.classify_many([folder / n for n in HELD_OUT_FMA])}
    right = [n for n, r in results.items() if r.genre == HELD_OUT_FMA[n]]
    assert len(right) >= 2, {n: r.genre for n, r in results.items()}  # 2 of 4 measured; chance is 1 in 10
    rc, out, _ = run_cli(capsys, "classify", "--model", "gtzan", folder / right[0])
    assert rc == 0, out
    assert out["genre"] == results[right[0]].genre and out["model"] == "gtzan"


@needs_shared_data
def test_evaluate_gtzan_warns_that_its_clips_were_training_data(tmp_path, capsys):
    data = tmp_path / "eval"
    for g, n in (("metal", "metal.00002.wav"), ("hiphop", "hiphop.00003.wav")):
        (data / g).mkdir(parents=True)
        os.symlink(SHARED_DATA / "gtzan" / "clips" / g / n, data / g / n)
    rc, out, err = run_cli(capsys, "evaluate", "--model", "gtzan", "--dataset", data)
    assert rc == 0
    assert out["n"] == 2 and out["n_seen_in_training"] == 2
    assert "were in this model's training data" in err


def test_training_features_never_come_from_the_int8_graph(monkeypatch):
    """Trained weights must not depend on the CPU they were trained on: even where `auto` would run the int8
    taggers (a CPU with VNNI), training extracts with the float network (so `train broad` reproduces the
    shipped head byte for byte)."""
    from music_reclass_gui.inference import backends
    from music_reclass_gui.inference.device import Device
    from music_reclass_gui.inference.excerpts import decode_excerpts
    from music_reclass_gui.inference.extractors import MusicnnExtractor
    from music_reclass_gui.inference.registry import find_card
    from tests.conftest import SHARED_DATA

    if not backends.onnx_runtime_available():
        pytest.skip("the fast extra is not installed: training runs PyTorch, which has no int8 path")
    monkeypatch.setattr(backends, "cpu_has_vnni", lambda: True)
    clip = sorted((SHARED_DATA / "gtzan" / "clips" / "metal").glob("*.wav"))[0]
    (got,), errors = transfer.musicnn_features([clip], ("msd-musicnn",), use_cache=False, progress=False)
    assert not errors
    card = find_card("msd-musicnn")
    float_ext = MusicnnExtractor("msd-musicnn", card.path.parent, card.weights, Device("cpu"), backend="onnx")
    int8_ext = MusicnnExtractor(
        "msd-musicnn", card.path.parent, card.weights, Device("cpu"), backend="onnx-int8"
    )
    waves = [decode_excerpts(clip, 16000)]
    want, int8 = float_ext.extract(waves)[0], int8_ext.extract(waves)[0]
    assert not np.array_equal(want["tags"], int8["tags"])  # the two graphs are distinguishable here
    np.testing.assert_allclose(got["msd-musicnn"]["tags"], want["tags"], atol=1e-6)
