"""Evaluation folds over GTZAN clips that keep an artist out of training while its clips are tested.

Consecutive GTZAN clips often share an artist, and a model that has heard the artist scores better than it
will on a user's music. ``artist_folds`` uses the known artists (gtzan_artists.py); where a genre's clips are
all one artist (blues, classical, reggae and rock in the shared data), leaving the artist out would leave the
genre with nothing to learn from, so those clips are tested with only their clip-number neighbours left out,
and reported apart as "same artist in training". ``purged_blocks`` is the older, artist-blind rule.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from music_reclass_gui.training.gtzan_artists import artist_of

CLIP_NUMBER = re.compile(r"\.(\d+)\.[a-z0-9]+$")


def clip_ranks(keys: Sequence[str], gtzan: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
    """Rank of each GTZAN clip among its genre's clips (of ``rows``, default all) by clip number; -1 elsewhere."""
    rank = np.full(len(keys), -1, dtype=np.int64)
    mask = np.zeros(len(keys), dtype=bool)
    mask[np.flatnonzero(gtzan >= 0) if rows is None else rows] = True
    mask &= gtzan >= 0
    for c in np.unique(gtzan[mask]):
        idx = np.flatnonzero(mask & (gtzan == c))
        nums = [int(m.group(1)) if (m := CLIP_NUMBER.search(keys[i])) else i for i in idx]
        for r, i in enumerate(idx[np.argsort(nums, kind="stable")]):
            rank[i] = r
    return rank


def purged_blocks(
    rank: np.ndarray, gtzan: np.ndarray, blocks: int = 3, gap: int = 1
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) GTZAN index pairs: each genre's clips cut into ``blocks`` contiguous blocks of clip
    numbers (the smallest block in the middle); a fold tests one block and trains only on clips more than
    ``gap`` ranks away from it, so no test clip has a numbering neighbour in training."""
    out = []
    for k in range(blocks):
        test, train = [], []
        for c in np.unique(gtzan[gtzan >= 0]):
            idx = np.flatnonzero(gtzan == c)
            n = len(idx)
            sizes = sorted(np.diff(np.linspace(0, n, blocks + 1).round().astype(int)), reverse=True)
            sizes = sizes[0::2] + sizes[1::2][::-1]  # large blocks at the ends, small in the middle
            edges = np.concatenate([[0], np.cumsum(sizes)])
            lo, hi = edges[k], edges[k + 1]
            for i in idx:
                r = rank[i]
                if lo <= r < hi:
                    test.append(i)
                elif r < lo - gap or r >= hi + gap:
                    train.append(i)
        out.append((np.array(sorted(train)), np.array(sorted(test))))
    return out


@dataclass(frozen=True)
class Fold:
    train: np.ndarray  # GTZAN rows to train on
    test: np.ndarray  # GTZAN rows to score
    same_artist: np.ndarray  # test rows whose artist is also in ``train`` (their genre has no other artist)


def artist_folds(
    keys: Sequence[str],
    gtzan: np.ndarray,
    rows: np.ndarray | None = None,
    n_folds: int = 5,
    gap: int = 1,
) -> list[Fold]:
    """Folds over the GTZAN clips of ``rows`` (default all): each genre's clips in ``n_folds`` contiguous
    blocks of clip numbers, one block of every genre tested per fold. Training leaves out every clip by an
    artist of a test clip, and for clips of unknown artist their neighbours within ``gap`` clip ranks. A genre
    whose remaining clips are all by the test clips' artist trains on those beyond ``gap`` ranks instead
    (``Fold.same_artist``), or beyond 0 ranks if that too would leave none."""
    rows = np.flatnonzero(gtzan >= 0) if rows is None else np.asarray(rows, dtype=np.int64)
    rows = rows[gtzan[rows] >= 0]
    rank = clip_ranks(keys, gtzan, rows)
    artist = {int(i): artist_of(keys[i]) for i in rows}
    genres = np.unique(gtzan[rows])
    count = {int(c): int((gtzan[rows] == c).sum()) for c in genres}
    block = {int(i): int(rank[i]) * min(n_folds, count[int(gtzan[i])]) // count[int(gtzan[i])] for i in rows}
    folds = []
    for k in range(min(n_folds, max(count.values(), default=0))):
        test = np.array(sorted(i for i in block if block[i] == k), dtype=np.int64)
        test_artists = {artist[int(i)] for i in test} - {None}
        train: list[int] = []
        same: list[int] = []
        for c in genres:
            g_rows = [int(i) for i in rows if gtzan[i] == c]
            g_test = [i for i in g_rows if block[i] == k]
            rest = [i for i in g_rows if block[i] != k]

            def near(i: int, within: int, g_test: list[int] = g_test) -> bool:
                return any(abs(int(rank[i]) - int(rank[t])) <= within for t in g_test)

            def unknown_near(i: int, g_test: list[int] = g_test) -> bool:
                return any(
                    (artist[i] is None or artist[t] is None) and abs(int(rank[i]) - int(rank[t])) <= gap
                    for t in g_test
                )

            keep = [i for i in rest if artist[i] not in test_artists and not unknown_near(i)]
            if not keep and rest and g_test:
                keep = [i for i in rest if not near(i, gap)] or rest
                same += g_test
            train += keep
        folds.append(
            Fold(np.array(sorted(train), dtype=np.int64), test, np.array(sorted(same), dtype=np.int64))
        )
    return folds
