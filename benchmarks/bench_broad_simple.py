"""Simple models on the musicnn features, in the broad model's own evaluation protocol (issue 11).

    python benchmarks/bench_broad_simple.py [--gtzan ../shared/data/gtzan/clips]
                                            [--library ../shared/data/library] [--gtzan57]

What it answers: how far do plain models on both musicnn taggers' embeddings and tags get on GTZAN's ten
genres, scored like ``broad`` was until session 19 (training/gtzan_folds.purged_blocks; `train broad` now
uses artist-aware folds, benchmarks/bench_broad_variants.py): each GTZAN clip is predicted by a model fitted in
a purged contiguous block fold (no clip-number neighbour, often the same artist, in training; 2 of 5 clips
a genre train), with the tagged library tracks that have one head genre always in training.

- every candidate (inputs x {logistic regression with standardisation and C = 0.001..1, cosine kNN k=1,3})
  scored on the outer folds: the best of these is OPTIMISTIC (picked on the figures it reports);
- nested: in each outer fold the candidate is picked by inner leave-one-clip-rank-out CV on that fold's
  training clips only, then scored on the fold's test block: this is the honest figure of "pick a simple
  model by CV".
- ``--gtzan57``: also the 57-feature GTZAN table (``features_30_sec.train.csv``, other clips of GTZAN) as an
  expert: a logistic regression on the table rows numbered 10 and up (so no row is one of our clips or a
  close neighbour), alone and multiplied into the broad fusion's out-of-fold probabilities with weight
  0.25 / 0.5 / 1. Computing the 57 features of the 50 clips takes minutes.
"""

from __future__ import annotations

import argparse
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from music_reclass_gui.training import broad, gtzan_folds

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(q / (1 - q))


def candidates() -> list[tuple[str, str, Callable[[], object]]]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    out: list[tuple[str, str, Callable[[], object]]] = []
    for name in ("msd-emb", "mtt-emb", "emb", "logit-tags", "all"):
        for c in (0.001, 0.01, 0.1, 1.0):
            out.append(
                (
                    name,
                    f"logistic C={c}",
                    lambda c=c: make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=5000)),
                )
            )
        for k in (1, 3):
            out.append((name, f"kNN k={k} cosine", lambda k=k: KNeighborsClassifier(k, metric="cosine")))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gtzan", type=Path, default=SHARED / "gtzan" / "clips")
    ap.add_argument("--library", type=Path, default=SHARED / "library")
    ap.add_argument("--gtzan57", action="store_true", help="also try the 57-feature table as an expert")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    data = broad.shared_data_tracks(args.gtzan, args.library, progress=False)
    mats = {k: data.matrix(k) for k in ("msd-emb", "mtt-emb", "emb", "all")}
    mats["logit-tags"] = _logit(data.matrix("tags"))
    rank = gtzan_folds.clip_ranks(data.keys, data.gtzan)
    folds = gtzan_folds.purged_blocks(rank, data.gtzan)
    lib = np.flatnonzero(data.gtzan < 0)
    gt = np.flatnonzero(data.gtzan >= 0)
    cands = candidates()

    def hits(ci: int, train: np.ndarray, test: np.ndarray) -> np.ndarray:
        name, _, make = cands[ci]
        rows = broad.head_rows(data, np.concatenate([train, lib]))
        clf = make().fit(mats[name][rows], data.head_y[rows])
        p = np.zeros((len(test), len(broad.HEAD_GENRES)))
        p[:, clf.classes_] = clf.predict_proba(mats[name][test])
        return p[:, : len(broad.GTZAN_GENRES)].argmax(1) == data.gtzan[test]

    outer = {}
    for ci in range(len(cands)):
        hit = np.zeros(len(data.keys), bool)
        for train, test in folds:
            hit[test] = hits(ci, train, test)
        outer[ci] = hit[gt].mean()
    print("## every candidate on the outer folds (top-1 among GTZAN's ten; the best is optimistic)\n")
    print("| inputs | model | top-1 |\n|---|---|---|")
    for ci in sorted(outer, key=lambda c: -outer[c]):
        print(f"| {cands[ci][0]} | {cands[ci][1]} | {outer[ci]:.0%} |")

    nested = np.zeros(len(data.keys), bool)
    picks = []
    for train, test in folds:
        inner = [train[rank[train] == r] for r in np.unique(rank[train])]
        scores = []
        for ci in range(len(cands)):
            h = []
            for group in inner:
                try:
                    h += list(hits(ci, np.setdiff1d(train, group), group))
                except ValueError:  # a genre without training clips in this inner fold
                    h += [False] * len(group)
            scores.append(np.mean(h))
        best = int(np.argmax(scores))
        picks.append(f"{cands[best][0]} {cands[best][1]}")
        nested[test] = hits(best, train, test)
    per = {g: int(nested[gt][data.gtzan[gt] == c].sum()) for c, g in enumerate(broad.GTZAN_GENRES)}
    print(
        f"\nnested (inner CV picks per fold: {picks}): top-1 among the ten {nested[gt].mean():.0%}; per genre {per}"
    )

    if args.gtzan57:
        gtzan57_expert(args, data)


def gtzan57_expert(args: argparse.Namespace, data: broad.Tracks) -> None:
    """The 57-feature table as an extra expert (see the module doc)."""
    import csv

    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from music_reclass_gui.core.genres import load_genre_map
    from music_reclass_gui.inference.device import pick_device
    from music_reclass_gui.inference.extractors import musicnn_extractor
    from music_reclass_gui.training.features_gtzan import FEATURE_NAMES, gtzan57_from_file

    gmap = load_genre_map()
    with open(args.gtzan.parent / "features_30_sec.train.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    keep = [r for r in rows if int(r["filename"].split(".")[1]) >= 10]
    x = np.array([[float(r[f]) for f in FEATURE_NAMES] for r in keep])
    y = np.array([broad.GTZAN_GENRES.index(gmap.normalize(r["label"])) for r in keep])
    gt = np.flatnonzero(data.gtzan >= 0)
    ours = np.stack([gtzan57_from_file(args.gtzan / data.keys[i]) for i in gt])
    p57 = (
        make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))
        .fit(x, y)
        .predict_proba(ours)
    )
    truth = data.gtzan[gt]
    print(f"\n57-feature expert alone ({len(keep)} table rows): top-1 {(p57.argmax(1) == truth).mean():.0%}")
    labels = {
        t: list(musicnn_extractor(t, pick_device("cpu")).labels) for t in ("msd-musicnn", "mtt-musicnn")
    }
    tag_ev = broad.tagger_evidence(data.features, broad.evidence_labels(labels), labels)
    oof = broad.out_of_fold(data.matrix(broad.HEAD_CONFIG.inputs), data, tag_ev).probs
    cols = [broad.VOCABULARY.index(g) for g in broad.GTZAN_GENRES]
    for lam in (0.0, 0.25, 0.5, 1.0):
        z = np.log(oof[gt])
        z[:, cols] += lam * np.log(np.clip(p57, 1e-4, 1.0))
        strict = (z.argmax(1) == np.array(cols)[truth]).mean()
        ten = (z[:, cols].argmax(1) == truth).mean()
        print(f"broad out of fold x p57^{lam}: top-1 {strict:.0%} (among the ten {ten:.0%})")


if __name__ == "__main__":
    main()
