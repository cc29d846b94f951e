"""Each training pipeline end to end on tiny real data (seconds), evaluation JSON, honest splits, and
trained models loading through the registry and classifying real files."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import SHARED_DATA, needs_shared_data, write_audio
from test_training_datasets import write_fma

from music_reclass_gui.cli import main
from music_reclass_gui.core.appdirs import shipped_models_dir, user_models_dir
from music_reclass_gui.inference.engine import Classifier
from music_reclass_gui.inference.kinds_features import load_features_mlp
from music_reclass_gui.inference.registry import list_models
from music_reclass_gui.training.calibrate import expected_calibration_error, fit_temperature, softmax
from music_reclass_gui.training.evaluate import evaluate_predictions
from music_reclass_gui.training.train import MLPConfig, train_mlp

GENRES = {"bass": 110.0, "mid": 700.0, "treble": 3500.0}
SR = 22050


def clip(freq: float, seed: int, seconds: float = 2.0) -> np.ndarray:
    """A tone with a little vibrato and noise: the genres differ audibly (pitch), clips differ slightly."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    f = freq * (1 + 0.02 * rng.standard_normal())
    x = 0.3 * np.sin(2 * np.pi * f * t + 0.5 * np.sin(2 * np.pi * 5 * t)) + 0.03 * rng.standard_normal(t.size)
    return x.astype(np.float32)


@pytest.fixture
def genre_dataset(tmp_path):
    root = tmp_path / "dataset"
    for g, freq in GENRES.items():
        (root / g).mkdir(parents=True)
        for i in range(4):
            write_audio(
                root / g / f"{g}.{i:05d}.{'wav' if i % 2 else 'flac'}", clip(freq, seed=i + int(freq)), SR
            )
    return root


def run_cli(capsys, *argv) -> tuple[int, dict | None]:
    rc = main([str(a) for a in argv])
    out = capsys.readouterr().out.strip().splitlines()
    return rc, (json.loads(out[-1]) if out else None)


def card_of(name: str) -> dict:
    return json.loads((user_models_dir() / f"{name}.json").read_text())


def test_features_pipeline_on_audio_folders_then_classify(genre_dataset, tmp_path, capsys):
    rc, out = run_cli(
        capsys,
        "train",
        "features",
        "--dataset",
        genre_dataset,
        "--name",
        "tiny-feat",
        "--folds",
        "2",
        "--epochs",
        "40",
        "--model",
        "mlp",
        "--quiet",
    )
    assert rc == 0, out
    card = card_of("tiny-feat")
    # genres unknown to the genre map keep their folder spelling
    assert card["kind"] == "features-mlp" and card["labels"] == ["bass", "mid", "treble"]
    assert card["metrics"]["n"] == 12 and "2-fold" in card["metrics"]["protocol"]
    assert card["reproduce"].startswith("music-reclass train features --dataset")
    assert "tiny-feat" in [c.name for c in list_models()]
    # a new real file, not from the dataset, classified through the registry and the engine
    probe = write_audio(tmp_path / "probe.ogg", clip(3500.0, seed=99, seconds=3.0), SR)
    result = Classifier("tiny-feat", device="cpu").classify(probe)
    assert result.genre == "treble"
    assert 0 < result.confidence <= 1 and abs(sum(result.tags.values()) - 1) < 1e-4


def test_features_csv_with_split_file_never_evaluates_training_rows(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows, names = [], []
    for i in range(30):
        label = ("rock", "jazz", "pop")[i % 3]
        a, b = rng.normal(3 * (i % 3), 0.3, 2)
        rows.append(f"t{i:02d}.wav,1000,{a},{b},{rng.normal()},{label}")
        names.append(f"t{i:02d}.wav")
    csv_path = tmp_path / "feats.csv"
    csv_path.write_text("filename,length,f1,f2,f3,label\n" + "\n".join(rows) + "\n")
    split = tmp_path / "train.txt"
    train_names = names[:21]
    split.write_text("\n".join(f"somegenre/{n}" for n in train_names) + "\n")
    rc, _ = run_cli(
        capsys,
        "train",
        "features",
        "--features-csv",
        csv_path,
        "--split-file",
        split,
        "--name",
        "tiny-csv",
        "--folds",
        "3",
        "--epochs",
        "20",
        "--quiet",
    )
    assert rc == 0
    card = card_of("tiny-csv")
    assert card["metrics"]["n"] == 9  # only the 9 rows not named in the split file were evaluated
    _, meta = load_features_mlp(user_models_dir() / card["weights"])
    assert set(meta["train_keys"]) == set(train_names)

    rc, out = run_cli(
        capsys, "evaluate", "--model", "tiny-csv", "--features-csv", csv_path, "--split-file", split
    )
    assert rc == 0
    assert set(out) >= {"accuracy", "per_class", "confusion", "n", "labels"}
    assert out["n"] == 9 and out["n_seen_in_training"] == 0
    assert sum(map(sum, out["confusion"])) == 9 and out["accuracy"] == card["metrics"]["accuracy"] >= 0.8
    assert main(["evaluate", "--model", "tiny-csv", "--features-csv", str(csv_path)]) == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    assert out["n"] == 30 and out["n_seen_in_training"] == 21
    assert "21 of 30 evaluated items were in this model's training data" in captured.err


def test_cnn_pipeline_one_epoch_then_classify_and_evaluate(genre_dataset, tmp_path, capsys):
    rc, _ = run_cli(
        capsys,
        "train",
        "cnn",
        "--dataset",
        genre_dataset,
        "--name",
        "tiny-cnn",
        "--epochs",
        "1",
        "--folds",
        "0",
        "--device",
        "cpu",
        "--quiet",
    )
    assert rc == 0
    card = card_of("tiny-cnn")
    assert card["kind"] == "mel-cnn" and card["metrics"]["n"] == 3  # one held-out clip per genre
    probe = write_audio(tmp_path / "probe.mp3", clip(110.0, seed=7), SR)
    result = Classifier("tiny-cnn", device="cpu").classify(probe)
    # one epoch learns nothing to speak of: check that the answer is this model's full distribution
    assert result.model == "tiny-cnn" and set(result.tags) == set(card["labels"])
    assert abs(sum(result.tags.values()) - 1) < 1e-4 and result.genre == max(result.tags, key=result.tags.get)
    png = tmp_path / "confusion.png"
    rc, out = run_cli(
        capsys, "evaluate", "--model", "tiny-cnn", "--dataset", genre_dataset, "--confusion-png", png
    )
    assert rc == 0 and out["n"] == 12 and len(out["confusion"]) == 3
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_fma_replica_features_pipeline_holds_out_fma_test_split(tmp_path, capsys):
    root = write_fma(tmp_path / "fma", with_audio=False)
    rc, _ = run_cli(capsys, "train", "features", "--fma", root, "--name", "tiny-fma", "--quiet")
    assert rc == 0
    card = card_of("tiny-fma")
    assert card["metrics"]["n"] == 2  # FMA's test tracks 20 and 26 only
    assert card["preprocessing"]["extractor"] == "fma518" and card["preprocessing"]["features"] == 518
    _, meta = load_features_mlp(user_models_dir() / card["weights"])
    assert not {"20", "26"} & set(meta["train_keys"])
    assert "10" not in meta["train_keys"] and "141" not in meta["train_keys"]  # validation: calibration only


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(60, 5)), np.arange(60) % 3
    cfg = MLPConfig(epochs=6, batch_size=16, seed=5)
    full = train_mlp(x, y, 3, cfg, progress=False)

    def stop(epoch, _model):
        if epoch == 3:
            raise KeyboardInterrupt

    ck = tmp_path / "run.ckpt"
    with pytest.raises(KeyboardInterrupt):
        train_mlp(x, y, 3, cfg, checkpoint=ck, progress=False, on_epoch=stop)
    resumed = train_mlp(x, y, 3, cfg, checkpoint=ck, resume=True, progress=False)
    for k, v in full.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[k], v)


def test_temperature_and_ece():
    rng = np.random.default_rng(0)
    z = rng.normal(scale=3.0, size=(4000, 5))
    p_true = softmax(z, 2.5)
    y = np.array([rng.choice(5, p=p) for p in p_true])
    assert abs(fit_temperature(z, y) - 2.5) < 0.3
    assert expected_calibration_error(p_true, y) < 0.04
    assert expected_calibration_error(softmax(z, 1.0), y) > 0.1  # over-confident


def test_evaluation_schema_and_numbers():
    out = evaluate_predictions([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert out["accuracy"] == 0.6 and out["n"] == 5
    assert out["per_class"] == {"a": 0.5, "b": 1.0, "c": 0.0}
    assert out["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]


@needs_shared_data
def test_shipped_gtzan_features_evaluates_a_features_csv(capsys):
    if not (shipped_models_dir() / "gtzan-features.json").is_file():
        pytest.fail("models/gtzan-features.json is missing")
    rc, out = run_cli(
        capsys,
        "evaluate",
        "--model",
        "gtzan-features",
        "--features-csv",
        SHARED_DATA / "gtzan" / "features_30_sec.train.csv",
    )
    assert rc == 0
    assert out["n"] == 422 and out["n_seen_in_training"] == 422  # its own training rows: flagged as such
    assert out["accuracy"] > 0.9 and len(out["per_class"]) == 10
