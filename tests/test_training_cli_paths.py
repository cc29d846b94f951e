"""The training paths the other tests do not reach, on tiny real data (a few short tones, 2 folds, few epochs):
`train features --holdout-audio --gbm`, `train head --library` on a library with ID3v2.3 MP3 tags,
`train ensemble`, and tools/calibrate_tagger.py on real GTZAN clips."""

from __future__ import annotations

import json
import os

import mutagen

from music_reclass_gui.cli import main
from music_reclass_gui.core.appdirs import user_models_dir
from music_reclass_gui.core.tags import write_genres
from music_reclass_gui.inference.engine import Classifier
from music_reclass_gui.inference.kinds_ensemble import STAGE_TAG
from tests.conftest import SHARED_DATA, needs_shared_data, write_audio
from tests.test_training_transfer import GENRES, SR, clip


def run_cli(capsys, *argv) -> tuple[int, dict | None, str]:
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    lines = cap.out.strip().splitlines()
    return rc, (json.loads(lines[-1]) if lines else None), cap.err


def card_of(name: str) -> dict:
    return json.loads((user_models_dir() / f"{name}.json").read_text())


def _folders(root, seeds) -> None:
    for g, freq in GENRES.items():
        (root / g).mkdir(parents=True)
        for i in seeds:
            write_audio(root / g / f"{g}.{i:05d}.wav", clip(freq, seed=i + int(freq), seconds=2.0), SR)


def test_train_features_with_an_audio_holdout_and_the_gbm_baseline(tmp_path, capsys):
    data, holdout = tmp_path / "data", tmp_path / "holdout"
    _folders(data, range(3))
    _folders(holdout, range(2, 4))  # clip 2 of each genre is also a training file: it must be left out
    rc, out, err = run_cli(
        capsys,
        *("train", "features", "--dataset", data, "--name", "feat-holdout", "--model", "linear"),
        *("--folds", "2", "--gbm", "--holdout-audio", holdout, "--quiet"),
    )
    assert rc == 0, err
    m = card_of("feat-holdout")["metrics"]
    check = m["independent_audio_check"]
    assert check["n"] == 3 and check["excluded_as_training_rows"] == 3
    assert check["accuracy"] >= 0.8  # three tones far apart; chance is 1/3
    assert "hist-gradient-boosting (reported, not shipped)" in m["model_comparison"]
    assert 0 <= m["gbm_ece"] <= 1 and not m["chosen"].startswith("hist")
    assert (
        "--holdout-audio" in card_of("feat-holdout")["reproduce"]
        and "--gbm" in card_of("feat-holdout")["reproduce"]
    )


def test_train_head_from_a_tagged_library_with_id3v23_tags(tmp_path, capsys):
    lib = tmp_path / "library"
    lib.mkdir()
    spellings = {"hiphop": "Hip Hop", "classical": "Classical Music", "metal": "metal"}  # the library's own
    for g, freq in GENRES.items():
        for i in range(3):
            path = write_audio(lib / f"{g}{i}.mp3", clip(freq, seed=i + int(freq)), SR)
            write_genres(path, [spellings[g]], id3_version=3)
            assert mutagen.File(path).tags.version[:2] == (2, 3)
    several = write_audio(lib / "both.mp3", clip(440.0, seed=1), SR)
    write_genres(several, ["Metal", "Jazz"], id3_version=3)  # two genres: not a training example
    rc, out, err = run_cli(
        capsys,
        *("train", "head", "--library", lib, "--name", "lib-head", "--inputs", "msd-emb"),
        *("--model", "linear", "--folds", "2", "--quiet"),
    )
    assert rc == 0, err
    card = card_of("lib-head")
    assert card["labels"] == ["Classical", "Hip-Hop", "Metal"]  # spellings unified through the genre map
    assert len(card["train_keys"]) == 9 and "both.mp3" not in card["train_keys"]
    assert "--library" in card["reproduce"] and card["metrics"]["n"] == 9
    probe = write_audio(tmp_path / "probe.wav", clip(3000.0, seed=77), SR)  # a new file
    assert Classifier("lib-head", device="cpu").classify(probe).genre == "Metal"


def test_train_ensemble_over_an_installed_final_head(tmp_path, capsys):
    data = tmp_path / "data"
    _folders(data, range(3))
    rc, _, err = run_cli(
        capsys,
        *("train", "head", "--dataset", data, "--name", "toy-final", "--inputs", "emb"),
        *("--model", "linear", "--folds", "2", "--quiet"),
    )
    assert rc == 0, err
    rc, out, err = run_cli(
        capsys,
        *("train", "ensemble", "--dataset", data, "--name", "toy-ens", "--final-model", "toy-final"),
        *("--folds", "2", "--timing-files", "1", "--quiet"),
    )
    assert rc == 0, err
    card = card_of("toy-ens")
    assert card["kind"] == "ensemble" and card["stages"][1]["model"] == "toy-final"
    m = card["metrics"]
    assert {g["threshold"] for g in m["threshold_grid"]} >= {card["threshold"]}
    assert m["all_stages"]["mean_seconds_per_track"] >= m["mean_seconds_per_track"] > 0
    assert len(card["train_keys"]) == 9 and "train ensemble" in card["reproduce"]
    probe = write_audio(tmp_path / "probe.flac", clip(90.0, seed=123), SR)  # not a training clip
    res = Classifier("toy-ens", device="cpu").classify(probe)
    assert res.genre == "Hip-Hop" and res.tags[STAGE_TAG] in (1.0, 2.0)

    rc, _, err = run_cli(
        capsys, "train", "ensemble", "--dataset", data, "--name", "x", "--final-model", "toy-ens"
    )
    assert rc == 3 and "must be a 'head' model" in err


@needs_shared_data
def test_calibrate_tagger_reports_the_one_ece(tmp_path):
    import numpy as np

    from music_reclass_gui.training.calibrate import ECE_BINS
    from tools.calibrate_tagger import main as calibrate

    clips = tmp_path / "clips"
    for genre in ("metal", "jazz"):
        (clips / genre).mkdir(parents=True)
        for src in sorted((SHARED_DATA / "gtzan" / "clips" / genre).glob("*.wav"))[:2]:
            os.symlink(src, clips / genre / src.name)
    out = calibrate(["--model", "msd-musicnn", "--clips", str(clips)])
    assert "4 real GTZAN clips" in out["data"] and f"over {ECE_BINS} equal-width" in out["meaning"]
    before, after = out["uncalibrated_T1"], out["leave_one_out"]
    assert out["calibrated"] == (after["ece"] < before["ece"])
    assert out["meaning"].startswith("NOT calibrated") != out["calibrated"]
    assert 0.02 <= out["temperature"] <= 5.0 and np.isfinite(after["nll"])
