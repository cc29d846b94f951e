"""Dataset loaders and splits: folder per genre, features CSV, and small replicas of FMA's real file
formats (tracks.csv: two column levels + a track_id row, quoted multi-line text; features.csv: three column
levels (feature, statistics, number) + a track_id row; audio in fma_*/NNN/NNNNNN.mp3)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from conftest import SHARED_DATA, needs_shared_data, tone, write_audio

from music_reclass_gui.training import datasets
from music_reclass_gui.training.datasets import DatasetError, Split
from music_reclass_gui.training.features_fma import COLUMNS, feature_names

# (track_id, genre_top, split, subset)
FMA_TRACKS = [
    (2, "Hip-Hop", "training", "small"),
    (3, "Hip-Hop", "training", "medium"),
    (5, "Rock", "training", "small"),
    (10, "Rock", "validation", "small"),
    (20, "Hip-Hop", "test", "small"),
    (26, "Rock", "test", "large"),
    (30, "", "training", "large"),  # no top genre: not usable for genre training
    (140, "Rock", "training", "small"),
    (141, "Hip-Hop", "validation", "small"),
    (1040, "Hip-Hop", "training", "small"),
]
TRACK_COLUMNS = [
    ("album", "comments"),
    ("album", "title"),
    ("artist", "bio"),
    ("set", "split"),
    ("set", "subset"),
    ("track", "genre_top"),
    ("track", "title"),
]


def write_fma(root: Path, with_audio: bool = True, n_features_rows: int | None = None) -> Path:
    """An FMA folder shaped like the real download (header shapes as pandas wrote them)."""
    meta = root / "fma_metadata"
    meta.mkdir(parents=True)
    with open(meta / "tracks.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow([""] + [c[0] for c in TRACK_COLUMNS])
        w.writerow([""] + [c[1] for c in TRACK_COLUMNS])
        w.writerow(["track_id"] + [""] * len(TRACK_COLUMNS))
        for tid, genre, split, subset in FMA_TRACKS:
            bio = '<p>Line one, with a comma</p>\n<p>"quoted" line two</p>'
            w.writerow([tid, 0, f"Album {tid}", bio, split, subset, genre, f"Title, {tid}"])
    rng = np.random.default_rng(0)
    with open(meta / "features.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        for level, title in enumerate(("feature", "statistics", "number")):
            w.writerow([title] + [c[level] for c in COLUMNS])
        w.writerow(["track_id"] + [""] * len(COLUMNS))
        for tid, genre, _, _ in FMA_TRACKS[:n_features_rows]:
            shift = 1.5 if genre == "Rock" else 0.0  # separable, so a model can learn it
            w.writerow([tid] + [f"{v:.10e}" for v in rng.standard_normal(len(COLUMNS)) + shift])
    if with_audio:
        for tid, genre, _, _ in FMA_TRACKS:
            sub = f"{tid:06d}"
            (root / "fma_small" / sub[:3]).mkdir(parents=True, exist_ok=True)
            write_audio(
                root / "fma_small" / sub[:3] / f"{sub}.mp3",
                tone(1.0, 22050, 220 if genre == "Rock" else 880, seed=tid),
                22050,
            )
    return root


def test_fma_tracks_csv_three_row_header(tmp_path):
    tracks = datasets.read_fma_tracks(write_fma(tmp_path, with_audio=False) / "fma_metadata" / "tracks.csv")
    assert sorted(tracks) == [t[0] for t in FMA_TRACKS]
    assert (
        tracks[10].genre_top == "Rock" and tracks[10].split == "validation" and tracks[10].subset == "small"
    )
    assert tracks[30].genre_top == ""


def test_fma_features_csv_518_columns_in_fma_order(tmp_path):
    ids, cols, x = datasets.read_fma_features(
        write_fma(tmp_path, with_audio=False) / "fma_metadata" / "features.csv"
    )
    assert x.shape == (len(FMA_TRACKS), 518) and len(cols) == 518
    assert cols[0] == ("chroma_cens", "kurtosis", "01") and cols[-1] == ("zcr", "std", "01")
    assert list(ids[:3]) == [2, 3, 5]


def test_load_fma_features_keeps_tracks_with_a_genre_and_subset(tmp_path):
    root = write_fma(tmp_path, with_audio=False)
    table = datasets.load_fma_features(root)
    assert table.names == feature_names()
    assert "30" not in table.keys and len(table.keys) == len(FMA_TRACKS) - 1
    assert table.extra["split"][table.keys.index("20")] == "test"
    small = datasets.load_fma_features(root, "small")
    assert "3" not in small.keys and "26" not in small.keys
    medium = datasets.load_fma_features(root, "medium")
    assert "3" in medium.keys and "26" not in medium.keys  # subsets nest: small is inside medium


def test_fma_audio_layout(tmp_path):
    items, splits = datasets.fma_audio_items(write_fma(tmp_path))
    by_key = {it.key: it for it in items}
    assert by_key["1040"].path.relative_to(tmp_path).as_posix() == "fma_small/001/001040.mp3"
    assert by_key["2"].label == "Hip-Hop" and "30" not in by_key
    assert len(splits) == len(items)


def test_fma_split_is_disjoint(tmp_path):
    table = datasets.load_fma_features(write_fma(tmp_path, with_audio=False))
    sp = datasets.split_by_column(table.keys, table.extra["split"], ("training", "validation"), "fma")
    assert {table.keys[i] for i in sp.eval} == {"20", "26"}
    assert not set(sp.train) & set(sp.eval)


def test_not_an_fma_folder_names_it(tmp_path):
    with pytest.raises(DatasetError, match="tracks.csv"):
        datasets.load_fma_features(tmp_path)


def test_truncated_fma_header_is_refused(tmp_path):
    bad = tmp_path / "tracks.csv"
    bad.write_text(",album\n,comments\n")
    with pytest.raises(DatasetError, match="header"):
        datasets.read_fma_tracks(bad)


def test_genre_folders_any_format_ignore_other_files(tmp_path, make_audio):
    make_audio("a.flac", folder=tmp_path / "jazz")
    make_audio("b.mp3", folder=tmp_path / "jazz" / "live")
    make_audio("c.ogg", folder=tmp_path / "metal")
    (tmp_path / "metal" / "cover.jpg").write_bytes(b"\xff\xd8")
    (tmp_path / "notes.txt").write_text("x")
    items = datasets.scan_genre_folders(tmp_path)
    assert [(it.label, it.key) for it in items] == [
        ("jazz", "jazz/a.flac"),
        ("jazz", "jazz/live/b.mp3"),
        ("metal", "metal/c.ogg"),
    ]


def test_empty_dataset_folder_is_a_clear_error(tmp_path):
    (tmp_path / "rock").mkdir()
    with pytest.raises(DatasetError, match="no audio files"):
        datasets.scan_genre_folders(tmp_path)


def test_features_csv_reading_and_errors(tmp_path):
    p = tmp_path / "f.csv"
    p.write_text("filename,length,a,b,label\nx.wav,10,1.0,2.0,rock\ny.wav,10,3.0,4.5,jazz\n")
    t = datasets.read_features_csv(p)
    assert t.names == ["a", "b"] and t.labels == ["rock", "jazz"] and t.keys == ["x.wav", "y.wav"]
    np.testing.assert_array_equal(t.x, [[1.0, 2.0], [3.0, 4.5]])
    with pytest.raises(DatasetError, match="lacks the column"):
        datasets.read_features_csv(p, ["a", "c"])
    q = tmp_path / "nolabel.csv"
    q.write_text("filename,a\nx,1\n")
    with pytest.raises(DatasetError, match="label") as info:
        datasets.read_features_csv(q)
    assert info.value.path == q


def test_split_file_matches_paths_and_bare_names():
    keys = ["blues/blues.00001.wav", "blues/blues.00002.wav", "rock/x.wav", "jazz/x.wav"]
    sp = datasets.split_by_names(keys, ["blues/blues.00001.wav", "rock/x.wav"])
    assert [keys[i] for i in sp.train] == [
        "blues/blues.00001.wav",
        "rock/x.wav",
    ]  # jazz/x.wav is another file
    sp = datasets.split_by_names(["blues.00002.wav", "blues.00001.wav"], ["blues/blues.00001.wav"])
    assert sp.train == [1] and sp.eval == [0]
    with pytest.raises(DatasetError, match="no item"):
        datasets.split_by_names(keys, ["other.wav"])


def test_overlapping_split_is_refused():
    keys = ["a.wav", "b.wav", "c.wav", "a.wav"]  # the same file listed twice
    with pytest.raises(DatasetError, match="evaluation would see training files"):
        datasets.check_disjoint(keys, Split([0, 1], [2, 3], "bad"))
    with pytest.raises(DatasetError):
        datasets.check_disjoint(["a", "b"], Split([0, 1], [1], "bad"))


def test_stratified_kfold_is_seeded_disjoint_and_covers_everything():
    labels = ["a"] * 10 + ["b"] * 5 + ["c"] * 7
    folds = datasets.stratified_kfold(labels, 5, seed=3)
    seen = sorted(i for f in folds for i in f.eval)
    assert seen == list(range(len(labels)))  # every item evaluated exactly once
    for f in folds:
        assert not set(f.train) & set(f.eval)
        assert sum(labels[i] == "b" for i in f.eval) == 1  # stratified
    assert [f.eval for f in datasets.stratified_kfold(labels, 5, seed=3)] == [f.eval for f in folds]
    assert [f.eval for f in datasets.stratified_kfold(labels, 5, seed=4)] != [f.eval for f in folds]
    with pytest.raises(DatasetError, match="only 5"):
        datasets.stratified_kfold(labels, 6, seed=0)


@needs_shared_data
def test_real_gtzan_split_file():
    names = datasets.read_split_file(SHARED_DATA / "gtzan" / "train_filtered.txt")
    items = datasets.scan_genre_folders(SHARED_DATA / "gtzan" / "clips")
    sp = datasets.split_by_names([it.key for it in items], names)
    assert (len(sp.train), len(sp.eval)) == (19, 31)
    table = datasets.read_features_csv(SHARED_DATA / "gtzan" / "features_30_sec.train.csv")
    assert table.x.shape == (422, 57)
