"""Learn the user's own genres from the tracks they already tagged (or accepted during review).

Why: an automatic tagger proposes *its* vocabulary; most libraries are partly tagged in the user's own one.
The tagged tracks become examples for a small linear head (logistic regression, heads.py format) over the
cached musicnn features of each track (the same features the default model computes, so a library that was
classified once trains in seconds), evaluated by stratified k-fold cross-validation before the user adopts it.

Decisions, each stated in the result so the user sees them:

- Spellings: tag texts are split like everywhere else in the app (genre map: "Rock/Pop", "Rock; Pop") and
  grouped by the genre map's key (case, separators and aliases: "hip hop", "Hip-Hop", "HipHop" are one
  genre). The label of a group is the library's own most common spelling, so proposals come back in the
  spelling the library already uses ("Hip Hop", not the map's "Hip-Hop"); the card says so
  (``label_spelling``) and the head loader keeps those labels verbatim.
- Threshold: a genre needs ``min_examples`` tracks (default ``DEFAULT_MIN_EXAMPLES`` = 5: the fewest that
  still gives every held-out fold of a 5-fold CV one example of each genre, and below which a 250-feature
  linear model mostly memorises); rarer genres are listed and left out. Adjustable, at least 2.
- Several genres on one track: a softmax head predicts one genre, so the track becomes one example per kept
  genre, each with weight 1/k (the track as a whole weighs as much as a single-genre track and its genres
  share it). Cross-validation keeps the copies of one track in the same fold, and a held-out track counts as
  correct when the top-1 genre is *any* of its kept genres.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from music_reclass_gui.core.errors import ModelError, MusicReclassError
from music_reclass_gui.core.genres import (
    GenreMap,
    genre_key,
    load_genre_map,
    split_genres,  # the app's one splitting rule
)

DEFAULT_MIN_EXAMPLES = 5
MIN_ALLOWED_EXAMPLES = 2  # cross-validation needs two tracks of a genre
DEFAULT_FOLDS = 5
EXTRACTOR_MODEL = "msd-musicnn"  # the default model's tagger: its cached features are reused
HEAD_INPUTS: tuple[tuple[str, str], ...] = ((EXTRACTOR_MODEL, "embedding"), (EXTRACTOR_MODEL, "tags"))
L2 = 1.0  # inverse regularisation strength C of the logistic regression (sklearn's default)
LABEL_SPELLING = "library"  # card key: labels are the library's own spellings, not the genre map's
POLICY = (
    "A track with several genres is one training example per kept genre, each weighted 1/k (k = its kept "
    "genres); its copies stay in the same cross-validation fold, and it counts as correct when the top "
    "prediction is any of its genres (confusion and per-genre figures count it under the genre that was "
    "hit, or under its first genre when none was)."
)
_NAME_BAD = re.compile(r"[^\w .+-]+")


class PersonalError(MusicReclassError):
    """Why no personal model can be learnt (or saved) from this library, in plain words."""

    def __init__(self, reason: str, path: str | Path | None = None) -> None:
        super().__init__(path, reason)


# ---------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    """One tagged track: its genres as group keys (genre map key) in tag order."""

    path: Path
    keys: tuple[str, ...]
    accepted: bool = False  # came from a review decision rather than the file's tags


@dataclass
class ExampleSet:
    """Tagged tracks of a library with the spellings seen for each genre."""

    examples: list[Example]
    spellings: dict[str, dict[str, int]]  # group key -> {spelling: tracks using it}
    untagged: int = 0  # tracks without any genre (what the model will classify)
    n_accepted: int = 0  # examples taken from review decisions

    def label(self, key: str) -> str:
        """The library's most common spelling of a genre (first seen wins a tie)."""
        counts = self.spellings[key]
        return max(counts, key=lambda s: counts[s])  # dicts keep insertion order: ties -> first seen

    def counts(self) -> dict[str, int]:
        """{label: tracks carrying it}, most common first."""
        n: dict[str, int] = {}
        for ex in self.examples:
            for k in ex.keys:
                n[k] = n.get(k, 0) + 1
        ordered = sorted(n.items(), key=lambda kv: (-kv[1], self.label(kv[0]).casefold()))
        return {self.label(k): c for k, c in ordered}


def _parts(value: str, gmap: GenreMap) -> list[str]:
    """One tag value -> its genres as spelled in the library ("Rock/Pop" -> ["Rock", "Pop"])."""
    text = " ".join(value.split())
    if not text:
        return []
    if gmap.canonical(text):  # a known genre is never split ("Hip-Hop/Rap")
        return [text]
    return split_genres(text)


def _path_and_genres(item: Any) -> tuple[Path, tuple[str, ...]] | None:
    """A Track, a ReviewItem or a (path, genres) pair -> (path, genres); None when it has no path."""
    if isinstance(item, tuple | list) and len(item) == 2:
        path, genres = item
        genres = (genres,) if isinstance(genres, str) else tuple(genres or ())
        return Path(path), genres
    track = getattr(item, "track", item)  # ReviewItem -> its Track
    path = getattr(track, "path", None)
    if path is None:
        return None
    if getattr(track, "error", None):
        return None  # unreadable tags: neither an example nor something to learn from
    tags = getattr(track, "tags", None)
    return Path(path), tuple(getattr(tags, "genres", ()) or ())


def _accepted_pairs(accepted: Iterable[Any]) -> dict[Path, tuple[str, ...]]:
    """Review decisions: (path, genres) pairs, or ReviewItems whose status is accepted/written."""
    out: dict[Path, tuple[str, ...]] = {}
    for item in accepted:
        if isinstance(item, tuple | list) and len(item) == 2:
            path, genres = item
            out[Path(path)] = (genres,) if isinstance(genres, str) else tuple(genres)
            continue
        status = getattr(getattr(item, "status", None), "value", getattr(item, "status", None))
        proposed = tuple(getattr(item, "proposed", ()) or ())
        if status in ("accepted", "written") and proposed:
            out[Path(item.path)] = proposed
    return out


def collect_examples(
    tracks: Iterable[Any],
    accepted: Iterable[Any] = (),
    genre_map: GenreMap | None = None,
) -> ExampleSet:
    """Examples from scanned tracks (Track, ReviewItem or (path, genres)) plus review decisions.

    A decision in ``accepted`` replaces the track's on-disk genres (it is the user's latest word) and adds
    the track when it was not among ``tracks``. Genres are grouped by the genre map's key; see the module
    docstring. The threshold is applied by ``learn_personal`` (after features are known to be computable)."""
    gmap = genre_map if genre_map is not None else load_genre_map()
    decisions = _accepted_pairs(accepted)
    seen: dict[Path, tuple[tuple[str, ...], bool]] = {}
    for item in tracks:
        pg = _path_and_genres(item)
        if pg is not None and pg[0] not in seen:
            seen[pg[0]] = (pg[1], False)
    for path, genres in decisions.items():
        seen[path] = (genres, True)
    examples: list[Example] = []
    spellings: dict[str, dict[str, int]] = {}
    untagged = n_accepted = 0
    for path, (genres, from_review) in seen.items():
        keys: list[str] = []
        for value in genres:
            for part in _parts(value, gmap):
                key = genre_key(gmap.normalize(part))
                if not key or key in keys:
                    continue
                keys.append(key)
                counts = spellings.setdefault(key, {})
                counts[part] = counts.get(part, 0) + 1
        if keys:
            examples.append(Example(path, tuple(keys), from_review))
            n_accepted += from_review
        else:
            untagged += 1
    return ExampleSet(examples, spellings, untagged, n_accepted)


# ---------------------------------------------------------------- result


@dataclass
class PersonalResult:
    """What was learnt and how well it does, before the user adopts it."""

    labels: list[str]  # kept genres in the library's spellings, most examples first
    examples_per_genre: dict[str, int]
    left_out: dict[str, int]  # genres below the threshold -> their track count
    min_examples: int
    spellings: dict[str, dict[str, int]]  # label -> {spelling seen: tracks}
    n_tracks: int  # tracks trained on
    n_multi_genre: int
    n_accepted: int
    untagged: int
    dropped_tracks: int  # tagged tracks whose every genre was left out
    skipped: list[tuple[str, str]]  # (path, reason) of tracks whose features could not be computed
    folds: int
    seed: int
    accuracy: float
    per_genre: dict[str, float | None]
    confusion: list[list[int]]
    temperature: float
    ece_before: float
    ece: float
    policy: str = POLICY
    seconds: float = 0.0
    head: dict[str, Any] = field(default_factory=dict, repr=False)  # mean, std, state_dict, inputs
    training_files: list[str] = field(default_factory=list, repr=False)

    def to_json(self) -> dict[str, Any]:
        """The summary the CLI prints and the dialog shows (no weights)."""
        return {
            "labels": self.labels,
            "examples_per_genre": self.examples_per_genre,
            "left_out": self.left_out,
            "min_examples": self.min_examples,
            "spellings": self.spellings,
            "n_tracks": self.n_tracks,
            "n_multi_genre": self.n_multi_genre,
            "n_accepted": self.n_accepted,
            "untagged": self.untagged,
            "dropped_tracks": self.dropped_tracks,
            "skipped": [{"path": p, "error": r} for p, r in self.skipped],
            "folds": self.folds,
            "seed": self.seed,
            "accuracy": self.accuracy,
            "per_genre": self.per_genre,
            "confusion": self.confusion,
            "chance": round(max(self.examples_per_genre.values()) / max(1, self.n_tracks), 4)
            if self.examples_per_genre
            else 0.0,
            "calibration": {
                "method": "temperature scaling",
                "temperature": round(self.temperature, 4),
                "ece_before": self.ece_before,
                "ece": self.ece,
                "data": "out-of-fold predictions of the cross-validation",
            },
            "policy": self.policy,
            "seconds": round(self.seconds, 2),
        }


# ---------------------------------------------------------------- training


def _features(
    paths: Sequence[Path],
    *,
    device: str,
    progress: Callable[[int, int], None] | None,
    cancelled: Callable[[], bool],
) -> tuple[dict[Path, np.ndarray], list[tuple[str, str]]]:
    """Head input (embedding + tag scores) of every path, from the feature cache when present."""
    from music_reclass_gui.inference.backends import float_backend
    from music_reclass_gui.inference.cache import FeatureCache
    from music_reclass_gui.inference.device import pick_device
    from music_reclass_gui.inference.engine import extract_features
    from music_reclass_gui.inference.extractors import musicnn_extractor
    from music_reclass_gui.inference.heads import head_input

    dev = pick_device(device)
    ext = musicnn_extractor(EXTRACTOR_MODEL, dev, float_backend(dev))
    out: dict[Path, np.ndarray] = {}
    skipped: list[tuple[str, str]] = []
    if progress:
        progress(0, len(paths))
    stream = extract_features(paths, [ext], cache=FeatureCache(), cancelled=cancelled)
    for done, tf in enumerate(stream, start=1):
        if tf.error is not None or tf.features is None:
            skipped.append((str(tf.path), str(tf.error or "no features")))
        else:
            out[tf.path] = head_input({EXTRACTOR_MODEL: tf.features[ext.key]}, HEAD_INPUTS)
        if progress:
            progress(done, len(paths))
    return out, skipped


def _fit_linear(
    x: np.ndarray, y: np.ndarray, w: np.ndarray, n_classes: int
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Weighted multinomial logistic regression on standardised x -> (mean, std, state_dict of the head).

    Objective as sklearn's LogisticRegression(C=L2): C * sum_i w_i CE_i + |W|^2 / 2 (divided by C * sum w,
    same minimum), minimised by L-BFGS in numpy: milliseconds for a library's few hundred tracks, where
    autograd's per-step overhead made it seconds. Deterministic (starts at zero)."""
    import torch
    from scipy.optimize import minimize

    mean = x.mean(axis=0)
    std = np.maximum(x.std(axis=0), 1e-6)
    z = (x - mean) / std
    n, d = z.shape
    onehot = np.zeros((n, n_classes))
    onehot[np.arange(n), y] = 1.0
    wn = w / w.sum()
    reg = 1.0 / (L2 * float(w.sum()))

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        weight = theta[: n_classes * d].reshape(n_classes, d)
        bias = theta[n_classes * d :]
        logits = z @ weight.T + bias
        logits -= logits.max(axis=1, keepdims=True)
        log_p = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
        loss = -(wn * (onehot * log_p).sum(axis=1)).sum() + 0.5 * reg * (weight**2).sum()
        g = (np.exp(log_p) - onehot) * wn[:, None]  # d loss / d logits
        grad_w = g.T @ z + reg * weight
        return float(loss), np.concatenate([grad_w.ravel(), g.sum(axis=0)])

    theta0 = np.zeros(n_classes * d + n_classes)
    res = minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    weight = res.x[: n_classes * d].reshape(n_classes, d)
    bias = res.x[n_classes * d :]
    state = {
        "0.weight": torch.as_tensor(weight, dtype=torch.float32),
        "0.bias": torch.as_tensor(bias, dtype=torch.float32),
    }
    return mean, std, state


def _logits(x: np.ndarray, mean: np.ndarray, std: np.ndarray, state: dict[str, Any]) -> np.ndarray:
    weight = state["0.weight"].numpy()
    bias = state["0.bias"].numpy()
    return ((x - mean) / std) @ weight.T + bias


def _expand(rows: Sequence[tuple[int, ...]]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Tracks (class indices each) -> (track index, class, weight 1/k) per training example."""
    idx, cls, wts = [], [], []
    for t, classes in enumerate(rows):
        for c in classes:
            idx.append(t)
            cls.append(c)
            wts.append(1.0 / len(classes))
    return np.array(idx, dtype=np.int64), np.array(cls, dtype=np.int64), np.array(wts, dtype=np.float64)


def _splits(strata: list[int], folds: int, seed: int) -> list[tuple[list[int], list[int]]]:
    """Stratified k-fold over tracks (the datasets module's, so every model is cross-validated alike)."""
    from music_reclass_gui.training.datasets import stratified_kfold

    return [(s.train, s.eval) for s in stratified_kfold([str(s) for s in strata], folds, seed)]


def _check_threshold(
    examples: ExampleSet, usable: Sequence[Example], min_examples: int, skipped: Sequence[tuple[str, str]]
) -> tuple[dict[str, int], list[str], list[str]]:
    """(tracks per genre key, keys most common first, keys kept); PersonalError unless two genres are kept."""
    counts: dict[str, int] = {}
    for ex in usable:
        for k in ex.keys:
            counts[k] = counts.get(k, 0) + 1
    ordered = sorted(counts, key=lambda k: (-counts[k], examples.label(k).casefold()))
    kept = [k for k in ordered if counts[k] >= min_examples]
    if len(kept) < 2:
        detail = ", ".join(f"{examples.label(k)}: {counts[k]}" for k in ordered) or "none"
        why = "no genre has" if not kept else f"only {examples.label(kept[0])!r} has"
        raise PersonalError(
            f"{why} at least {min_examples} tagged tracks, and a model needs two such genres (tracks per "
            f"genre: {detail}). Tag more tracks or lower the minimum."
            + (f" {len(skipped)} tagged track(s) could not be analysed." if skipped else "")
        )
    return counts, ordered, kept


def learn_personal(
    examples: ExampleSet,
    *,
    min_examples: int = DEFAULT_MIN_EXAMPLES,
    folds: int = DEFAULT_FOLDS,
    seed: int = 0,
    device: str = "auto",
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> PersonalResult:
    """Features -> threshold -> k-fold CV (accuracy, per genre, confusion, temperature) -> final head on all.

    Raises PersonalError (human message) when there is nothing to learn from, and when cancelled."""
    from music_reclass_gui.training.calibrate import expected_calibration_error, fit_temperature, softmax
    from music_reclass_gui.training.evaluate import evaluate_predictions

    t0 = time.perf_counter()
    cancelled = cancelled or (lambda: False)
    if min_examples < MIN_ALLOWED_EXAMPLES:
        raise PersonalError(
            f"the minimum number of examples per genre must be at least {MIN_ALLOWED_EXAMPLES}"
        )
    if not examples.examples:
        raise PersonalError(
            "no track in this library has a genre tag (or an accepted genre): tag or accept a few tracks of "
            "each of your genres first"
        )
    all_counts = examples.counts()
    if len(all_counts) < 2:
        only = next(iter(all_counts))
        raise PersonalError(
            f"every tagged track has the same genre ({only!r}): a model needs at least two of your genres "
            "to tell apart"
        )
    _check_threshold(examples, examples.examples, min_examples, [])  # before any audio is analysed
    feats, skipped = _features(
        [ex.path for ex in examples.examples], device=device, progress=progress, cancelled=cancelled
    )
    if cancelled():
        raise PersonalError("learning was cancelled")
    usable = [ex for ex in examples.examples if ex.path in feats]
    counts, ordered, kept = _check_threshold(examples, usable, min_examples, skipped)
    left_out = {examples.label(k): counts[k] for k in ordered if counts[k] < min_examples}
    index = {k: i for i, k in enumerate(kept)}
    labels = [examples.label(k) for k in kept]
    tracks = [ex for ex in usable if any(k in index for k in ex.keys)]
    rows = [tuple(index[k] for k in ex.keys if k in index) for ex in tracks]
    x_tracks = np.stack([feats[ex.path] for ex in tracks]).astype(np.float64)
    # stratum: the track's rarest kept genre, so rare genres are spread over the folds
    strata = [min(r, key=lambda c: (counts[kept[c]], c)) for r in rows]
    stratum_sizes = np.bincount(strata, minlength=len(kept))
    k_folds = max(
        2, min(folds, int(min(counts[k] for k in kept)), int(stratum_sizes[stratum_sizes > 0].min()))
    )

    oof = np.zeros((len(tracks), len(kept)))
    for tr, te in _splits(strata, k_folds, seed):
        if cancelled():
            raise PersonalError("learning was cancelled")
        ti, yc, wc = _expand([rows[i] for i in tr])
        tr_idx = np.asarray(tr)[ti]
        mean, std, state = _fit_linear(x_tracks[tr_idx], yc, wc, len(kept))
        oof[te] = _logits(x_tracks[te], mean, std, state)
    pred = oof.argmax(axis=1)
    credited = [int(p) if p in r else r[0] for p, r in zip(pred, rows, strict=True)]
    temperature = fit_temperature(oof, np.asarray(credited))
    probs_raw, probs = softmax(oof), softmax(oof, temperature)
    ev = evaluate_predictions(credited, pred.tolist(), labels)

    ti, yc, wc = _expand(rows)
    mean, std, state = _fit_linear(x_tracks[ti], yc, wc, len(kept))
    return PersonalResult(
        labels=labels,
        examples_per_genre={examples.label(k): counts[k] for k in kept},
        left_out=left_out,
        min_examples=min_examples,
        spellings={examples.label(k): dict(examples.spellings[k]) for k in kept},
        n_tracks=len(tracks),
        n_multi_genre=sum(len(r) > 1 for r in rows),
        n_accepted=sum(ex.accepted for ex in tracks),
        untagged=examples.untagged,
        dropped_tracks=len(usable) - len(tracks),
        skipped=skipped,
        folds=k_folds,
        seed=seed,
        accuracy=ev["accuracy"],
        per_genre=ev["per_class"],
        confusion=ev["confusion"],
        temperature=temperature,
        ece_before=round(expected_calibration_error(probs_raw, np.asarray(credited)), 4),
        ece=round(expected_calibration_error(probs, np.asarray(credited)), 4),
        seconds=time.perf_counter() - t0,
        head={"mean": mean, "std": std, "state_dict": state, "inputs": [list(i) for i in HEAD_INPUTS]},
        training_files=[str(ex.path) for ex in tracks],
    )


# ---------------------------------------------------------------- saving


def sanitize_name(name: str) -> str:
    """A model name that is safe as a file name: letters, digits, space . + - _ ; no leading dot."""
    cleaned = " ".join(_NAME_BAD.sub("-", name).split()).strip(" .-")
    if not cleaned:
        raise PersonalError(f"{name!r} is not usable as a model name: use letters or digits")
    return cleaned[:64]


def is_personal(card: Any) -> bool:
    return bool(getattr(card, "raw", {}).get("personal"))


def list_personal() -> list[Any]:
    """The personal models installed in the user models folder."""
    from music_reclass_gui.inference.registry import list_models

    return [c for c in list_models() if c.origin == "user" and is_personal(c)]


def save_personal(
    result: PersonalResult, name: str, *, replace: bool = False, source: str = "", reproduce: str = ""
) -> Any:
    """Install the head and its card in the user models folder; returns the ModelCard.

    Refuses a shipped model's name, and an existing user model's name unless ``replace`` (re-training)."""
    import tempfile

    from music_reclass_gui.core.appdirs import shipped_models_dir, user_models_dir
    from music_reclass_gui.inference.heads import save_head
    from music_reclass_gui.inference.registry import ModelCard, write_user_card

    safe = sanitize_name(name)
    if (shipped_models_dir() / f"{safe}.json").is_file():
        raise PersonalError(f"{safe!r} is the name of a built-in model; choose another name")
    folder = user_models_dir()
    if (folder / f"{safe}.json").is_file() and not replace:
        raise PersonalError(f"a model called {safe!r} already exists; choose another name or replace it")
    weights = f"{safe}.personal-head.pt"
    summary = result.to_json()
    card = {
        "name": safe,
        "kind": "head",
        "labels": result.labels,
        "weights": weights,
        "description": f"Your own genres ({len(result.labels)}), learnt from {result.n_tracks} tagged tracks"
        + (f" of {source}" if source else ""),
        "source": "trained on this computer from the genre tags of your own library",
        "licence": "your own model (derived from the ISC-licensed musicnn features)",
        "metrics": {
            "accuracy": summary["accuracy"],
            "per_class": summary["per_genre"],
            "confusion": summary["confusion"],
            "n": result.n_tracks,
            "evaluation": f"stratified {result.folds}-fold cross-validation over the tagged tracks (seed {result.seed})",
            "chance": summary["chance"],
        },
        "calibration": summary["calibration"] | {"ece": result.ece},
        "preprocessing": f"{EXTRACTOR_MODEL} embedding (200) + tag scores (50), mean over the planned excerpts; standardised",
        "training_data": f"{result.n_tracks} tracks"
        + (f" of {source}" if source else "")
        + f"; genres with fewer than {result.min_examples} tracks left out",
        "reproduce": reproduce,
        "label_spelling": LABEL_SPELLING,
        "personal": {
            "examples_per_genre": result.examples_per_genre,
            "left_out": result.left_out,
            "min_examples": result.min_examples,
            "spellings": result.spellings,
            "policy": result.policy,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        },
    }
    with tempfile.TemporaryDirectory(dir=folder, prefix=".personal-") as tmp:
        head_path = save_head(
            Path(tmp) / weights,
            inputs=result.head["inputs"],
            labels=result.labels,
            mean=result.head["mean"],
            std=result.head["std"],
            hidden=[],
            state_dict=result.head["state_dict"],
            temperature=result.temperature,
        )
        path = write_user_card(card, {weights: head_path})
    return ModelCard.from_file(path, origin="user")


def remove_personal(name: str) -> None:
    """Delete a personal model (card + weights). Other models are refused with a clear reason."""
    from music_reclass_gui.core.appdirs import user_models_dir
    from music_reclass_gui.inference.registry import ModelCard, remove_user_model

    path = user_models_dir() / f"{name}.json"
    if path.is_file():
        try:
            card = ModelCard.from_file(path, origin="user")
        except ModelError:
            card = None  # a broken card of that name is still removable
        if card is not None and not is_personal(card):
            raise PersonalError(f"{name!r} is not a personal model; it was not removed", path)
    try:
        remove_user_model(name)
    except ModelError as exc:
        raise PersonalError(exc.reason, exc.path) from exc
