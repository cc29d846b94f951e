"""Dataset loaders and splits for training and evaluation.

Layouts:
- folder per genre: ``DATASET/<genre>/<file>`` with any supported audio extension (GTZAN's layout);
- FMA: ``fma_metadata/tracks.csv`` (column levels + a ``track_id`` index row: genre in ('track','genre_top'),
  split in ('set','split'), subset in ('set','subset')), ``fma_metadata/features.csv`` (518 columns named
  (feature, statistics, number)), audio in ``fma_*/NNN/NNNNNN.mp3``;
- a features CSV, GTZAN style: ``filename, length, <features...>, label``.

Splits come from a split file (the names of the *training* files, one per line) or from a seeded
stratified k-fold. Either way ``check_disjoint`` refuses a split where an evaluation item is also a
training item, so a reported accuracy is never measured on what the model learnt from.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from music_reclass_gui.core.audio import SUPPORTED_EXTENSIONS
from music_reclass_gui.core.errors import MusicReclassError


class DatasetError(MusicReclassError):
    """A dataset is missing, malformed or cannot be split as asked."""


# ---------------------------------------------------------------- items


@dataclass(frozen=True)
class AudioItem:
    """One labelled audio file; ``key`` is its name for split files (``genre/file.wav``, FMA: track id)."""

    path: Path
    label: str
    key: str


def scan_genre_folders(root: str | Path) -> list[AudioItem]:
    """Every supported audio file under ``root/<genre>/`` (sub-folders of a genre included), sorted."""
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(root, "dataset folder not found")
    items: list[AudioItem] = []
    for genre_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in sorted(genre_dir.rglob("*")):
            if (
                path.is_file()
                and path.suffix.lower() in SUPPORTED_EXTENSIONS
                and not path.name.startswith(".")
            ):
                items.append(AudioItem(path, genre_dir.name, path.relative_to(root).as_posix()))
    if not items:
        raise DatasetError(root, "no audio files in genre sub-folders (expected DATASET/<genre>/<file>)")
    return items


@dataclass
class FeatureTable:
    """Rows of features: ``x`` (n, F) float64, ``labels`` per row, ``keys`` (file names) per row."""

    names: list[str]
    x: np.ndarray
    labels: list[str]
    keys: list[str]
    extra: dict[str, list] = field(default_factory=dict)

    def subset(self, idx: Sequence[int]) -> FeatureTable:
        idx = list(idx)
        return FeatureTable(
            self.names,
            self.x[idx],
            [self.labels[i] for i in idx],
            [self.keys[i] for i in idx],
            {k: [v[i] for i in idx] for k, v in self.extra.items()},
        )


NON_FEATURE_COLUMNS = ("filename", "length", "label")


def read_features_csv(path: str | Path, feature_names: Sequence[str] | None = None) -> FeatureTable:
    """A GTZAN-style CSV: ``filename``, optional ``length``, feature columns, ``label``.
    With ``feature_names`` those columns are taken in that order (others ignored; a missing one is an
    error naming it); otherwise every column except filename/length/label is a feature."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header = list(reader.fieldnames or [])
            rows = list(reader)
    except OSError as exc:
        raise DatasetError(path, f"cannot read the features CSV ({exc.strerror or exc})") from exc
    if "label" not in header:
        raise DatasetError(path, "the features CSV has no 'label' column")
    names = (
        list(feature_names)
        if feature_names is not None
        else [c for c in header if c not in NON_FEATURE_COLUMNS]
    )
    missing = [c for c in names if c not in header]
    if missing:
        raise DatasetError(path, f"the features CSV lacks the column(s) {', '.join(missing[:5])}")
    if not rows:
        raise DatasetError(path, "the features CSV has no rows")
    x = np.empty((len(rows), len(names)), dtype=np.float64)
    for i, row in enumerate(rows):
        try:
            x[i] = [float(row[c]) for c in names]
        except (TypeError, ValueError) as exc:
            raise DatasetError(path, f"row {i + 2} has a non-numeric feature ({exc})") from exc
    keys = [row.get("filename") or f"row{i + 2}" for i, row in enumerate(rows)]
    extra = {"length": [row["length"] for row in rows]} if "length" in header else {}
    return FeatureTable(names, x, [row["label"] for row in rows], keys, extra)


# ---------------------------------------------------------------- FMA


def read_multiheader_csv(path: str | Path) -> tuple[list[tuple[str, ...]], list[str], list[list[str]], int]:
    """A CSV written by pandas with MultiIndex columns and a named index: header rows (one per column
    level, first cell = level name or empty) then the index-name row (``track_id,,,...``), then data.
    Returns (columns as tuples, index values, data rows without the index, number of header lines)."""
    path = Path(path)
    try:
        fh = open(path, newline="", encoding="utf-8")  # noqa: SIM115 (closed by the with below)
    except OSError as exc:
        raise DatasetError(path, f"cannot read ({exc.strerror or exc})") from exc
    with fh:
        reader = csv.reader(fh)
        levels: list[list[str]] = []
        for row in reader:
            if row and row[0] and not any(row[1:]):  # the index-name row ends the header
                break
            levels.append(row)
            if len(levels) > 5:
                raise DatasetError(
                    path, "no 'track_id' index row within the first lines: not an FMA metadata file"
                )
        else:
            raise DatasetError(path, "the file ends inside its header")
        if not levels:
            raise DatasetError(path, "no column header rows before the index row")
        width = len(levels[0])
        if any(len(lv) != width for lv in levels):
            raise DatasetError(path, "header rows have different lengths")
        columns = [tuple(lv[j] for lv in levels) for j in range(1, width)]
        index, data = [], []
        for row in reader:
            if not row:
                continue
            if len(row) != width:
                raise DatasetError(path, f"data row for {row[0]!r} has {len(row)} fields, expected {width}")
            index.append(row[0])
            data.append(row[1:])
    return columns, index, data, len(levels) + 1


@dataclass(frozen=True)
class FmaTrack:
    track_id: int
    genre_top: str  # "" when FMA gives none (tracks outside fma_medium)
    split: str  # "training" | "validation" | "test"
    subset: str  # smallest subset holding the track: "small" | "medium" | "large"


FMA_SUBSETS = ("small", "medium", "large")  # nested: small is inside medium inside large


def read_fma_tracks(tracks_csv: str | Path) -> dict[int, FmaTrack]:
    """track_id -> FmaTrack from FMA's tracks.csv."""
    columns, index, data, _ = read_multiheader_csv(tracks_csv)
    need = {("track", "genre_top"): None, ("set", "split"): None, ("set", "subset"): None}
    for j, col in enumerate(columns):
        if col[:2] in need:
            need[col[:2]] = j
    missing = [".".join(k) for k, v in need.items() if v is None]
    if missing:
        raise DatasetError(tracks_csv, f"tracks.csv lacks the column(s) {', '.join(missing)}")
    g, sp, su = need[("track", "genre_top")], need[("set", "split")], need[("set", "subset")]
    out: dict[int, FmaTrack] = {}
    for tid, row in zip(index, data, strict=True):
        try:
            track_id = int(tid)
        except ValueError as exc:
            raise DatasetError(tracks_csv, f"track id {tid!r} is not a number") from exc
        out[track_id] = FmaTrack(track_id, row[g], row[sp], row[su])
    return out


def read_fma_features(features_csv: str | Path) -> tuple[np.ndarray, list[tuple[str, str, str]], np.ndarray]:
    """(track ids (n,), columns [(feature, statistics, number)], values (n, 518)) from FMA's features.csv."""
    columns, index, data, _ = read_multiheader_csv(features_csv)
    if any(len(c) != 3 for c in columns):
        raise DatasetError(
            features_csv, "features.csv must have three column levels (feature, statistics, number)"
        )
    try:
        x = np.array(data, dtype=np.float64)
        ids = np.array([int(t) for t in index], dtype=np.int64)
    except ValueError as exc:
        raise DatasetError(features_csv, f"non-numeric value ({exc})") from exc
    return ids, [tuple(c) for c in columns], x.reshape(len(ids), len(columns))


def fma_audio_path(audio_dir: str | Path, track_id: int) -> Path:
    """FMA's layout: ``fma_*/NNN/NNNNNN.mp3`` where NNN are the first three digits of the 6-digit id."""
    tid = f"{int(track_id):06d}"
    return Path(audio_dir) / tid[:3] / f"{tid}.mp3"


def _in_subset(track: FmaTrack, subset: str | None) -> bool:
    if subset is None:
        return True
    if subset not in FMA_SUBSETS:
        raise DatasetError(None, f"unknown FMA subset {subset!r} (use {', '.join(FMA_SUBSETS)})")
    return track.subset in FMA_SUBSETS[: FMA_SUBSETS.index(subset) + 1]


def _fma_metadata(fma_dir: Path) -> Path:
    meta = fma_dir / "fma_metadata" if (fma_dir / "fma_metadata").is_dir() else fma_dir
    if not (meta / "tracks.csv").is_file():
        raise DatasetError(fma_dir, "not an FMA folder: fma_metadata/tracks.csv is missing")
    return meta


def load_fma_features(fma_dir: str | Path, subset: str | None = None) -> FeatureTable:
    """FMA's precomputed 518 features of every track with a top genre (in ``subset`` when given).
    ``extra["split"]`` holds FMA's own training/validation/test split per row. Feature names are
    ``feature.statistics.number`` (features_fma.feature_names())."""
    fma_dir = Path(fma_dir)
    meta = _fma_metadata(fma_dir)
    if not (meta / "features.csv").is_file():
        raise DatasetError(meta / "features.csv", "FMA features.csv is missing")
    tracks = read_fma_tracks(meta / "tracks.csv")
    ids, columns, x = read_fma_features(meta / "features.csv")
    keep = [
        i
        for i, tid in enumerate(ids)
        if (t := tracks.get(int(tid))) is not None
        and t.genre_top
        and _in_subset(t, subset)
        and np.isfinite(x[i]).all()
    ]
    if not keep:
        raise DatasetError(
            meta,
            "no FMA track has both features and a top genre" + (f" in subset {subset!r}" if subset else ""),
        )
    return FeatureTable(
        [".".join(c) for c in columns],
        x[keep],
        [tracks[int(ids[i])].genre_top for i in keep],
        [str(int(ids[i])) for i in keep],
        {"split": [tracks[int(ids[i])].split for i in keep]},
    )


def fma_audio_items(fma_dir: str | Path, subset: str | None = None) -> tuple[list[AudioItem], list[str]]:
    """(items, FMA split per item) for the tracks with a top genre whose mp3 exists under ``fma_*/``."""
    fma_dir = Path(fma_dir)
    tracks = read_fma_tracks(_fma_metadata(fma_dir) / "tracks.csv")
    audio_dirs = sorted(p for p in fma_dir.glob("fma_*") if p.is_dir() and p.name != "fma_metadata")
    items, splits = [], []
    for tid, t in sorted(tracks.items()):
        if not t.genre_top or not _in_subset(t, subset):
            continue
        for d in audio_dirs:
            p = fma_audio_path(d, tid)
            if p.is_file():
                items.append(AudioItem(p, t.genre_top, str(tid)))
                splits.append(t.split)
                break
    if not items:
        raise DatasetError(
            fma_dir, "no FMA audio found (expected fma_*/NNN/NNNNNN.mp3 for tracks with a genre)"
        )
    return items, splits


# ---------------------------------------------------------------- splits


@dataclass
class Split:
    """Indices into a dataset; ``name`` says where the split came from (for the model card)."""

    train: list[int]
    eval: list[int]
    name: str


def check_disjoint(keys: Sequence[str], split: Split) -> None:
    """Refuse a split whose evaluation part shares an item (same index or same key) with training.
    Raised as an error, not an ``assert``, so it also holds under ``python -O``."""
    overlap_idx = set(split.train) & set(split.eval)
    train_keys = {_norm(keys[i]) for i in split.train}
    overlap_keys = sorted({keys[i] for i in split.eval if _norm(keys[i]) in train_keys})
    if overlap_idx or overlap_keys:
        shown = overlap_keys[:5] or [keys[i] for i in sorted(overlap_idx)[:5]]
        raise DatasetError(None, f"evaluation would see training files ({', '.join(shown)}); split refused")


def _norm(key: str) -> str:
    return key.replace("\\", "/").strip("/")


def _basename(key: str) -> str:
    return _norm(key).rsplit("/", 1)[-1]


def read_split_file(path: str | Path) -> list[str]:
    """Names of the training files, one per line (blank lines and # comments ignored)."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(path, f"cannot read the split file ({exc.strerror or exc})") from exc
    names = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    if not names:
        raise DatasetError(path, "the split file lists no files")
    return names


def split_by_names(keys: Sequence[str], train_names: Iterable[str], source: str = "split file") -> Split:
    """Items named in ``train_names`` train, all others evaluate. A name with a folder
    (``blues/blues.00029.wav``) must match the item's key's tail; a bare name matches the file name."""
    names = [_norm(n) for n in train_names]
    bare = {n for n in names if "/" not in n}
    full_by_base: dict[str, list[str]] = {}
    for n in names:
        if "/" in n:
            full_by_base.setdefault(_basename(n), []).append(n)
    train, ev = [], []
    for i, key in enumerate(keys):
        k, base = _norm(key), _basename(key)
        if base in bare:
            hit = True
        elif "/" not in k:  # a bare key (a features CSV's filename) matches a listed path's file name
            hit = base in full_by_base
        else:  # both have folders: the listed path must be the key's tail
            hit = any(k == n or k.endswith("/" + n) for n in full_by_base.get(base, ()))
        (train if hit else ev).append(i)
    if not train:
        raise DatasetError(None, f"no item of the dataset is named in the {source}")
    split = Split(train, ev, source)
    check_disjoint(keys, split)
    return split


def stratified_kfold(labels: Sequence[str], folds: int, seed: int) -> list[Split]:
    """Seeded stratified k-fold: every class spread evenly over the folds; each item evaluated once."""
    from sklearn.model_selection import StratifiedKFold

    labels = list(labels)
    counts: dict[str, int] = {}
    for lab in labels:
        counts[lab] = counts.get(lab, 0) + 1
    smallest = min(counts.values())
    if folds < 2:
        raise DatasetError(None, "cross-validation needs at least 2 folds")
    if smallest < folds:
        rare = min(counts, key=counts.get)
        raise DatasetError(
            None, f"genre {rare!r} has only {smallest} item(s); need at least {folds} for {folds}-fold CV"
        )
    skf = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out = []
    for k, (tr, te) in enumerate(skf.split(np.zeros(len(labels)), labels)):
        out.append(Split(tr.tolist(), te.tolist(), f"stratified {folds}-fold (seed {seed}), fold {k + 1}"))
    return out


def split_by_column(
    keys: Sequence[str], column: Sequence[str], train_values: Iterable[str], source: str
) -> Split:
    """Split on a per-item column (FMA's ('set','split')): rows whose value is in ``train_values`` train."""
    train_values = set(train_values)
    train = [i for i, v in enumerate(column) if v in train_values]
    ev = [i for i, v in enumerate(column) if v not in train_values]
    split = Split(train, ev, source)
    check_disjoint(keys, split)
    return split
