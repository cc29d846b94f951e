"""The broad default model (kind "fused", inference/kinds_fused.py): training and honest evaluation.

Why fused: the GTZAN clips are the only audio labelled for many genres, and they hold ten. A head trained on
them alone must put every track into one of those ten, so it calls electronic music Hip-Hop. The musicnn
taggers were trained on last.fm / MagnaTagATune tags and know Electronic, Folk, Ambient, Punk ... but not
Reggae or Disco, and their scores are not probabilities of a genre. So every genre of the vocabulary gets
its own logistic output (independent sigmoids, multi-label) over two kinds of evidence:

- ``h``: the GTZAN head's log-probability of the genre (GTZAN genres only), with ``o``, the strongest
  tagger evidence for a genre GTZAN lacks, so "looks electronic" can pull the GTZAN genres down;
- ``t``: the logit of the strongest tagger label mapped to the genre (``EVIDENCE``; genres with labels);
- ``l``: how GTZAN-like the track is, the log of the head's total probability over GTZAN's ten genres,
  entering only the genres GTZAN lacks (Electronic and the tagger-only ones). Its weight is fitted like the
  others; on the shared data it comes out positive (tracks the head calls Electronic get the tagger-only
  genres lowered), and with the separate tagger-only evidence weight (b2, e2) it stops those genres from
  "stealing" GTZAN clips as they did in the first version (60 % top-1 against the head's own 74 %).

``z_g = bias_g + a*h_g + d*o + b*t_g + e + w*l + b2*t_g + e2`` (a, d only for the head's genres; b, e for
genres with evidence; w for genres outside GTZAN's ten; b2, e2 add to b, e for the tagger-only genres,
whose evidence was never checked against a trained head), fitted by L2 logistic regression on
every (track, genre) pair whose truth is known: the GTZAN clips (their one genre) and the tagged real
library tracks (their folder/tag genre, ``library_truth``). The weights are shared across genres so
genres with few examples borrow strength; each genre has its own bias. Being a logistic fit on held-out
head probabilities, the outputs are Platt-calibrated; the card checks that on out-of-fold data.

The head is a logistic regression with class weights: every class weighted to the size of the largest
(GTZAN has 5 clips a genre, 2 in an evaluation fold, against 8-12 Electronic library tracks, so unweighted
the head learned "probably Electronic"), Electronic then doubled (``HEAD_CLASS_BOOST``; without it the
held-out chiptune tracks lose Electronic). These choices were made looking at the out-of-fold figures of a
few variants (see the card's note), so those figures are somewhat optimistic.

Evaluation (``out_of_fold``): every track is scored by a model that never saw it or its artist: GTZAN clips
in artist folds (gtzan_folds.py; artists from Sturm's index, gtzan_artists.py), library tracks leaving out
their whole folder (one game/album/source). Inside each outer fold the head's C is chosen and the fusion is
fitted on inner out-of-fold head probabilities, with the same rules (nested). The run and its card live in
broad_run.py, the figures in broad_report.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from music_reclass_gui.core.genres import load_genre_map
from music_reclass_gui.inference.fusion import FusionLayout, fusion_to_json
from music_reclass_gui.training.gtzan_folds import artist_folds
from music_reclass_gui.training.transfer import INPUT_SETS, HeadConfig, fit_head

GTZAN_GENRES = ("Blues", "Classical", "Country", "Disco", "Hip-Hop", "Jazz", "Metal", "Pop", "Reggae", "Rock")
# The head's classes: GTZAN's ten plus Electronic, which the real library has enough tracks of to learn.
HEAD_GENRES = (*GTZAN_GENRES, "Electronic")

# Vocabulary genre -> the genre-map genres whose tagger labels are evidence for it (FMA's top level plus
# the genres people file under; "Soul-RnB" is FMA's spelling). Genres with neither a GTZAN class nor a
# tagger label (Soundtrack, Old-Time) are left out: nothing here could support them.
PARENTS: dict[str, tuple[str, ...]] = {
    "Blues": ("Blues",),
    "Classical": ("Classical", "Opera", "Choral"),
    "Country": ("Country",),
    "Disco": (),
    "Hip-Hop": ("Hip-Hop",),
    "Jazz": ("Jazz",),
    "Metal": ("Metal", "Heavy Metal"),
    "Pop": ("Pop", "Indie Pop"),
    "Reggae": (),
    "Rock": ("Rock", "Classic Rock", "Hard Rock", "Alternative Rock", "Indie Rock", "Progressive Rock"),
    "Electronic": ("Electronic", "Dance", "House", "Techno"),
    "Ambient": ("Ambient", "Chillout", "New Age"),
    "Experimental": ("Experimental", "Avant-Garde"),
    "Folk": ("Folk",),
    "Punk": ("Punk",),
    "Funk": ("Funk",),
    "Soul-RnB": ("Soul", "R&B"),
    "Easy Listening": ("Easy Listening",),
    "International": ("International", "Indian"),
}
# Tagger labels the genre map rightly calls attributes, but that are the evidence for FMA's "Instrumental".
ATTRIBUTE_EVIDENCE: dict[str, tuple[tuple[str, str], ...]] = {
    "Instrumental": (
        ("msd-musicnn", "instrumental"),
        ("mtt-musicnn", "no vocals"),
        ("mtt-musicnn", "no vocal"),
    ),
}
VOCABULARY: tuple[str, ...] = (*PARENTS, *ATTRIBUTE_EVIDENCE)

# The real library's folders are one source each; the tracks' own tags are used where they name a genre of
# the vocabulary, otherwise the folder says what the music is (the folder names are the data's README's).
LIBRARY_FOLDER_GENRES: dict[str, tuple[str, ...]] = {
    "electronic": ("Electronic",),
    "chiptune": ("Electronic",),
    "orchestral": ("Classical",),
}
TAG_TO_VOCABULARY = {"Avant-Garde": "Experimental", "Soul": "Soul-RnB", "R&B": "Soul-RnB"}

HEAD_CONFIG = HeadConfig("emb", (), 0.1, False)  # the shipped gtzan head's configuration
HEAD_TAGGERS = tuple(dict.fromkeys(m for m, _ in INPUT_SETS[HEAD_CONFIG.inputs]))  # whose embeddings it reads
# Extra weight of a head class after balancing (see the module doc).
HEAD_CLASS_BOOST: dict[str, float] = {"Electronic": 2.0}
FUSION_C = 1.0
# The head's L2 strengths tried; each fit picks one by inner cross-validation (choose_head_c).
HEAD_C_GRID = (0.01, 0.03, 0.1, 0.3)


def evidence_labels(tagger_labels: Mapping[str, Sequence[str]]) -> dict[str, list[tuple[str, str]]]:
    """Vocabulary genre -> [(tagger, label), ...] that speak for it (through the genre map + PARENTS)."""
    gmap = load_genre_map()
    parent_of = {child: g for g, children in PARENTS.items() for child in children}
    out: dict[str, list[tuple[str, str]]] = {g: [] for g in VOCABULARY}
    for tagger, labels in tagger_labels.items():
        for lab in labels:
            genre = gmap.genre_for_label(lab)
            if genre in parent_of:
                out[parent_of[genre]].append((tagger, lab))
    for g, pairs in ATTRIBUTE_EVIDENCE.items():
        out[g].extend(p for p in pairs if p[1] in tagger_labels.get(p[0], ()))
    return out


@dataclass
class Tracks:
    """Features and truth of the training/evaluation tracks (both taggers' tags and embeddings)."""

    keys: list[str]
    features: list[dict[str, dict[str, np.ndarray]]]
    truth: np.ndarray  # (n, len(VOCABULARY)): 1 true, 0 false, -1 unknown (not used for that genre)
    gtzan: np.ndarray  # (n,) index into GTZAN_GENRES for GTZAN clips, -1 for library tracks
    head_y: np.ndarray  # (n,) index into HEAD_GENRES where the track has exactly one true genre, else -1
    group: list[str]  # evaluation group: "gtzan" or the library folder
    # Per track, each 3 s patch's head input (P, D); None (the default): the head learns from the means.
    # Measured (benchmarks/bench_broad_variants.py): patches gained nothing in artist-aware folds.
    patches: list[np.ndarray] | None = None

    def matrix(self, inputs: str) -> np.ndarray:
        from music_reclass_gui.inference.heads import head_input

        return np.stack([head_input(f, INPUT_SETS[inputs]) for f in self.features]).astype(np.float64)

    def patch_rows(self, x: np.ndarray, i: int) -> np.ndarray:
        """The head's training rows of track ``i``: its patches, or its row of ``x`` (the mean) without them."""
        return x[i : i + 1] if self.patches is None else self.patches[i]


def tagger_evidence(
    features: Sequence[Mapping[str, Mapping[str, np.ndarray]]], evidence, labels
) -> np.ndarray:
    """(n, len(VOCABULARY)) max sigmoid score of each genre's evidence labels; NaN where it has none."""
    index = {t: {lab: i for i, lab in enumerate(ls)} for t, ls in labels.items()}
    out = np.full((len(features), len(VOCABULARY)), np.nan)
    for j, g in enumerate(VOCABULARY):
        pairs = evidence[g]
        if pairs:
            out[:, j] = [max(float(f[t]["tags"][index[t][lab]]) for t, lab in pairs) for f in features]
    return out


# ---------------------------------------------------------------- the fusion layer


def pair_features(head_probs: np.ndarray, tag_ev: np.ndarray) -> np.ndarray:
    """(n, G, F) per (track, genre): the fused model's design rows (inference/fusion.py, the one definition
    the app uses too) over VOCABULARY, the head's HEAD_GENRES and GTZAN's ten as the "GTZAN-like" genres."""
    has_ev = ~np.isnan(tag_ev[0]) if len(tag_ev) else np.zeros(len(VOCABULARY), bool)
    return FusionLayout.build(VOCABULARY, HEAD_GENRES, GTZAN_GENRES, has_ev).design(head_probs, tag_ev)


@dataclass
class Fusion:
    """Shared weights (a, d, b, has-evidence bias, w, b2, e2) + one bias per genre: z = x @ coef + intercept."""

    coef: np.ndarray  # (4 + G + N_EXTRA,)
    intercept: float

    def logits(self, x: np.ndarray) -> np.ndarray:
        return x @ self.coef + self.intercept

    def probs(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self.logits(x)))

    def to_json(self) -> dict[str, Any]:
        return fusion_to_json(self.coef, self.intercept, VOCABULARY, GTZAN_GENRES)


def fit_fusion(x: np.ndarray, truth: np.ndarray, c: float = FUSION_C) -> Fusion:
    """L2 logistic regression over the (track, genre) pairs with known truth (truth >= 0)."""
    from sklearn.linear_model import LogisticRegression

    mask = truth >= 0
    xs, ys = x[mask], truth[mask]
    clf = LogisticRegression(C=c, max_iter=5000).fit(xs, ys)
    return Fusion(clf.coef_[0].astype(np.float64), float(clf.intercept_[0]))


# ---------------------------------------------------------------- folds and the nested fit


def head_rows(data: Tracks, rows: np.ndarray) -> np.ndarray:
    """The rows the head can learn from: one true genre, and that genre one of HEAD_GENRES."""
    return np.array([i for i in rows if data.head_y[i] >= 0], dtype=np.int64)


def head_class_weight(y: np.ndarray) -> dict[int, float]:
    """Every head class weighted up to the largest class's count, then ``HEAD_CLASS_BOOST`` (module doc)."""
    classes, counts = np.unique(y, return_counts=True)
    return {
        int(c): float(counts.max() / n) * HEAD_CLASS_BOOST.get(HEAD_GENRES[int(c)], 1.0)
        for c, n in zip(classes, counts, strict=True)
    }


def fit_broad_head(x: np.ndarray, data: Tracks, train: np.ndarray, seed: int, c: float = HEAD_CONFIG.reg):
    """The head (HEAD_CONFIG's inputs, linear, L2 ``c``) on the rows of ``train`` that have one head genre,
    class-weighted; with ``data.patches`` on their patches, a track's patches sharing its weight."""
    rows = head_rows(data, train)
    y = data.head_y[rows]
    weight = head_class_weight(y)
    parts = [data.patch_rows(x, i) for i in rows]
    xs = np.concatenate(parts)
    ys = np.concatenate([np.full(len(p), data.head_y[i]) for p, i in zip(parts, rows, strict=True)])
    ws = np.concatenate(
        [np.full(len(p), weight[int(data.head_y[i])] / len(p)) for p, i in zip(parts, rows, strict=True)]
    )
    cfg = HeadConfig(HEAD_CONFIG.inputs, HEAD_CONFIG.hidden, c, HEAD_CONFIG.standardise)
    return fit_head(xs, ys, len(HEAD_GENRES), cfg, seed, sample_weight=ws)


def _head_probs(
    x: np.ndarray, data: Tracks, train: np.ndarray, score: np.ndarray, seed: int, c: float
) -> np.ndarray:
    from music_reclass_gui.training.calibrate import softmax

    return softmax(fit_broad_head(x, data, train, seed, c).logits(x[score]))


def inner_splits(data: Tracks, rows: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) within ``rows``, the outer folds' rule one level down: GTZAN clips in artist folds
    (their artists out of training, library rows in), each library folder left out as a whole."""
    rows = np.asarray(rows, dtype=np.int64)
    lib = rows[data.gtzan[rows] < 0]
    out = [
        (np.concatenate([f.train, lib]), f.test)
        for f in artist_folds(data.keys, data.gtzan, rows[data.gtzan[rows] >= 0])
        if len(f.test)
    ]
    for folder in sorted({data.group[i] for i in lib}):
        test = np.array([i for i in lib if data.group[i] == folder], dtype=np.int64)
        out.append((np.setdiff1d(rows, test), test))
    return out


def inner_head_probs(x: np.ndarray, data: Tracks, rows: np.ndarray, seed: int, c: float) -> np.ndarray:
    """Out-of-fold head probabilities of ``rows`` (each inner test set scored by a head fitted without it)."""
    out = np.zeros((len(data.keys), len(HEAD_GENRES)))
    for train, test in inner_splits(data, rows):
        out[test] = _head_probs(x, data, train, test, seed, c)
    return out[np.asarray(rows, dtype=np.int64)]


def choose_head_c(
    x: np.ndarray, data: Tracks, rows: np.ndarray, seed: int
) -> tuple[float, dict[str, float], np.ndarray]:
    """The head's L2 strength from ``HEAD_C_GRID``: the lowest inner out-of-fold log-loss of the true head
    genre over ``rows``' head rows (only ``rows`` are looked at, so an outer test set never picks it). Also
    the losses, and the chosen C's inner out-of-fold head probabilities of ``rows`` (the fusion's input)."""
    rows = np.asarray(rows, dtype=np.int64)
    scored = data.head_y[rows] >= 0
    losses, probs = {}, {}
    for c in HEAD_C_GRID:
        probs[c] = inner_head_probs(x, data, rows, seed, c)
        p = probs[c][scored, data.head_y[rows][scored]]
        losses[c] = float(-np.log(np.clip(p, 1e-6, 1.0)).mean())
    best = min(HEAD_C_GRID, key=lambda c: (losses[c], c))
    return best, {str(c): round(v, 4) for c, v in losses.items()}, probs[best]


@dataclass
class Fitted:
    head_train: np.ndarray  # rows the head was fitted on (those with a head genre)
    fusion: Fusion
    c: float  # the head's L2 strength, chosen on these rows (choose_head_c)
    c_losses: dict[str, float]


def fit_all(x: np.ndarray, data: Tracks, tag_ev: np.ndarray, rows: np.ndarray, seed: int = 0) -> Fitted:
    """On ``rows`` only: the head's C by inner CV, then the fusion on inner out-of-fold head probabilities."""
    rows = np.asarray(rows, dtype=np.int64)
    c, losses, inner_probs = choose_head_c(x, data, rows, seed)
    return Fitted(rows, fit_fusion(pair_features(inner_probs, tag_ev[rows]), data.truth[rows]), c, losses)


def naive_scores(head_probs: np.ndarray, tag_ev: np.ndarray) -> np.ndarray:
    """The uncalibrated baseline: the head's softmax for its genres, the raw tagger score elsewhere."""
    out = np.nan_to_num(tag_ev, nan=0.0).copy()
    for j, g in enumerate(VOCABULARY):
        if g in HEAD_GENRES:
            out[:, j] = head_probs[:, HEAD_GENRES.index(g)]
    return out


def predict(
    x: np.ndarray, data: Tracks, tag_ev: np.ndarray, fitted: Fitted, rows: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(fused probabilities, naive scores) of ``rows``, each (len(rows), G), head refitted on its rows."""
    probs = _head_probs(x, data, fitted.head_train, rows, seed, fitted.c)
    return fitted.fusion.probs(pair_features(probs, tag_ev[rows])), naive_scores(probs, tag_ev[rows])


@dataclass
class OutOfFold:
    probs: np.ndarray  # (n, G) every track's fused probabilities from a model that never saw it
    naive: np.ndarray  # (n, G) the same folds' unfused scores
    how: list[str]  # per track, how it was held out
    same_artist: np.ndarray  # (n,) bool: a GTZAN clip whose artist was in training (no other in its genre)
    head_c: list[float]  # the C each outer fold chose


def out_of_fold(x: np.ndarray, data: Tracks, tag_ev: np.ndarray, seed: int = 0) -> OutOfFold:
    """Every track scored by a model that never saw it or its artist (see module doc)."""
    n = len(data.keys)
    lib = np.flatnonzero(data.gtzan < 0)
    gt = np.flatnonzero(data.gtzan >= 0)
    out = np.full((n, len(VOCABULARY)), np.nan)
    raw = np.full((n, len(VOCABULARY)), np.nan)
    how = [""] * n
    same = np.zeros(n, dtype=bool)
    cs = []
    for k, fold in enumerate(artist_folds(data.keys, data.gtzan)):
        fitted = fit_all(x, data, tag_ev, np.concatenate([fold.train, lib]), seed)
        cs.append(fitted.c)
        out[fold.test], raw[fold.test] = predict(x, data, tag_ev, fitted, fold.test, seed)
        same[fold.same_artist] = True
        for i in fold.test:
            how[i] = f"GTZAN fold {k + 1}: " + (
                "its genre has one artist, so only its clip-number neighbours were left out"
                if same[i]
                else "its artist left out"
            )
    for folder in sorted({data.group[i] for i in lib}):
        test = np.array([i for i in lib if data.group[i] == folder])
        fitted = fit_all(x, data, tag_ev, np.concatenate([gt, np.setdiff1d(lib, test)]), seed)
        cs.append(fitted.c)
        out[test], raw[test] = predict(x, data, tag_ev, fitted, test, seed)
        for i in test:
            how[i] = f"library folder {folder} left out"
    return OutOfFold(out, raw, how, same, cs)


# ---------------------------------------------------------------- data


def library_truth(folder: str, tag_genres: Sequence[str]) -> set[str]:
    """Genres of the vocabulary a library track truly has: its tags' (mapped), else its folder's."""
    gmap = load_genre_map()
    parent_of = {child: g for g, children in PARENTS.items() for child in children}
    found: set[str] = set()
    for value in tag_genres:
        for genre in gmap.split(value):
            genre = TAG_TO_VOCABULARY.get(genre, genre)
            genre = genre if genre in VOCABULARY else parent_of.get(genre, "")
            if genre:
                found.add(genre)
    return found or set(LIBRARY_FOLDER_GENRES.get(folder, ()))


def build_tracks(
    keys: Sequence[str],
    features: Sequence[dict[str, dict[str, np.ndarray]]],
    gtzan_genre: Sequence[str | None],
    library: Sequence[tuple[str, Sequence[str]] | None],
) -> Tracks:
    """Tracks from features plus, per track, either its GTZAN genre or (library folder, its genre tags)."""
    gmap = load_genre_map()
    n, g = len(keys), len(VOCABULARY)
    truth = np.full((n, g), -1, dtype=np.int64)
    gidx = np.full(n, -1, dtype=np.int64)
    group = []
    for i in range(n):
        if gtzan_genre[i] is not None:
            genre = gmap.normalize(str(gtzan_genre[i]))
            gidx[i] = GTZAN_GENRES.index(genre)
            truth[i] = 0
            truth[i, VOCABULARY.index(genre)] = 1
            group.append("gtzan")
        else:
            folder, tags = library[i] or ("", ())
            true = library_truth(folder, tags)
            if true:
                truth[i] = 0
                for t in true:
                    truth[i, VOCABULARY.index(t)] = 1
            group.append(folder)
    head_y = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        true = [VOCABULARY[j] for j in np.flatnonzero(truth[i] == 1)]
        if len(true) == 1 and true[0] in HEAD_GENRES:
            head_y[i] = HEAD_GENRES.index(true[0])
    return Tracks(list(keys), list(features), truth, gidx, head_y, group)


def shared_data_tracks(
    gtzan_clips: Path, library: Path, *, use_cache: bool = True, progress: bool = True
) -> Tracks:
    """The GTZAN clips (DIR/<genre>/) and the real library's tracks, with both taggers' features."""
    from music_reclass_gui.core.library import scan
    from music_reclass_gui.training.datasets import scan_genre_folders
    from music_reclass_gui.training.transfer import musicnn_features

    library = library.resolve()
    items = scan_genre_folders(gtzan_clips)
    tracks = list(scan(library))
    paths = [it.path for it in items] + [t.path for t in tracks]
    feats, errors = musicnn_features(paths, use_cache=use_cache, progress=progress)
    keys, fs, gl, lib = [], [], [], []
    for i, f in enumerate(feats):
        if f is None:
            continue
        fs.append(f)
        if i < len(items):
            keys.append(items[i].key)
            gl.append(items[i].label)
            lib.append(None)
        else:
            t = tracks[i - len(items)]
            rel = t.path.relative_to(library)
            keys.append(rel.as_posix())
            gl.append(None)
            lib.append((rel.parts[0] if len(rel.parts) > 1 else "", list(t.tags.genres) if t.tags else []))
    return build_tracks(keys, fs, gl, lib)
