"""Fit the genre temperature of a musicnn tagger on real GTZAN clips and record it in the model card.

    python tools/calibrate_tagger.py [--model msd-musicnn] [--clips ../shared/data/gtzan/clips] [--write]

Only clips whose GTZAN genre is one of the tagger's genres (after the genre map) are used; for each, the
tagger's genre scores become p = s ** (1/T) / sum(s ** (1/T)) (models.tagger_genre_probs) and T minimises
the negative log-likelihood of the true genre. Reported: accuracy, NLL and expected calibration error (ECE,
training.calibrate.ECE_BINS = 10 equal-width confidence bins, the same ECE every model card reports), in-sample and leave-one-out (T refit without the clip), so the card says what
the confidence means and how it was checked. --write stores {"calibration": {...}} in the card.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from music_reclass_gui.core.genres import load_genre_map
from music_reclass_gui.inference.cache import FeatureCache
from music_reclass_gui.inference.engine import extract_features
from music_reclass_gui.inference.models import tagger_genre_probs
from music_reclass_gui.inference.registry import find_card, load_model
from music_reclass_gui.training.calibrate import ECE_BINS, expected_calibration_error

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan" / "clips"
GRID = np.exp(np.linspace(np.log(0.02), np.log(5.0), 200))


def nll(scores: list[np.ndarray], truth: list[int], groups, t: float) -> float:
    return float(
        -np.mean(
            [
                np.log(max(tagger_genre_probs(s, groups, t)[y], 1e-12))
                for s, y in zip(scores, truth, strict=True)
            ]
        )
    )


def fit(scores, truth, groups) -> float:
    return float(GRID[int(np.argmin([nll(scores, truth, groups, t) for t in GRID]))])


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="msd-musicnn", help="the musicnn tagger to calibrate")
    ap.add_argument("--clips", type=Path, default=CLIPS, help="GTZAN clips as CLIPS/<genre>/*.wav")
    ap.add_argument("--write", action="store_true", help="store the calibration in the model card")
    args = ap.parse_args(argv)

    model = load_model(args.model, "cpu")
    gmap = load_genre_map()
    clips = sorted(p for p in args.clips.glob("*/*.wav") if gmap.normalize(p.parent.name) in model.labels)
    if not clips:
        raise SystemExit(f"no clip under {args.clips} has a genre that {args.model} knows")
    key = model.extractors[0].key
    scores, truth, names = [], [], []
    for tf in extract_features(clips, model.extractors, cache=FeatureCache()):
        if tf.features is None:
            print(f"skipped: {tf.error}")
            continue
        scores.append(np.asarray(tf.features[key]["tags"]))
        truth.append(model.labels.index(gmap.normalize(tf.path.parent.name)))
        names.append(tf.path.parent.name)
    t = fit(scores, truth, model.groups)

    def evaluate(temps: list[float]) -> dict:
        probs = np.array(
            [tagger_genre_probs(s, model.groups, tt) for s, tt in zip(scores, temps, strict=True)]
        )
        conf, pred = probs.max(1), probs.argmax(1)
        correct = (pred == np.array(truth)).astype(float)
        p_true = probs[np.arange(len(truth)), truth]
        return {"accuracy": round(float(correct.mean()), 3), "mean_confidence": round(float(conf.mean()), 3),
                "nll": round(float(-np.log(np.clip(p_true, 1e-12, 1)).mean()), 3),
                "ece": round(expected_calibration_error(probs, np.array(truth)), 3)}  # fmt: skip

    loo = [
        fit(scores[:i] + scores[i + 1 :], truth[:i] + truth[i + 1 :], model.groups)
        for i in range(len(scores))
    ]
    genres = sorted(set(names))
    before, after = evaluate([1.0] * len(scores)), evaluate(loo)
    calibrated = after["ece"] < before["ece"]  # judged leave-one-out, never in-sample
    calibration = {
        "method": "temperature on genre scores: p_g = s_g^(1/T) / sum_h s_h^(1/T), s_g = max sigmoid score of the labels mapped to genre g",
        "temperature": round(t, 4),
        "data": f"{len(scores)} real GTZAN clips (30 s, genres {', '.join(genres)}) from ../shared/data/gtzan/clips; "
        f"the tagger proposes {len(model.labels)} genres, so chance is {1 / len(model.labels):.3f}",
        "in_sample": evaluate([t] * len(scores)),
        "leave_one_out": after,
        "uncalibrated_T1": before,
        "calibrated": calibrated,
        "meaning": (
            "confidence = the model's probability that this genre (among its genres) is right"
            if calibrated
            else f"NOT calibrated: the fitted temperature did not lower the leave-one-out ECE ({before['ece']} at T=1, "
            f"{after['ece']} fitted), so confidence is a relative score, not a probability"
        )
        + "; checked on the clips above "
        f"(ECE = mean |confidence - accuracy| over {ECE_BINS} equal-width confidence bins). Few clips and only GTZAN's genres: "
        "treat as approximate.",
        "reproduce": f"python tools/calibrate_tagger.py --model {args.model} --write",
    }
    print(json.dumps(calibration, indent=2))
    if args.write:
        card_path = find_card(args.model).path
        card = json.loads(card_path.read_text(encoding="utf-8"))
        card["calibration"] = calibration
        card.setdefault("metrics", {})["confidence"] = (
            "raw tags (`--tags`) are independent per-tag sigmoid probabilities; the genre confidence is "
            + (
                "the calibrated distribution over this model's genres described under 'calibration'"
                if calibrated
                else "a softmax over this model's genre scores that calibration did not improve (see "
                "'calibration'): use it to rank, not as a probability"
            )
        )
        card_path.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"written to {card_path}")
    return calibration


if __name__ == "__main__":
    main()
