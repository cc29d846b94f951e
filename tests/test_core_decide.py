"""core.decide: the one place predictions become the genres to write and the genre folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from music_reclass_gui.core.decide import (
    Candidate,
    DecisionPolicy,
    candidates_of,
    decide_library,
    decide_track,
    decide_user,
)


@dataclass
class _Pred:
    genre: str
    confidence: float


@dataclass
class _Result:
    audio_path: Path
    top_predictions: list[_Pred]
    labels: list[_Pred] | None = None


def test_best_genre_replaces_existing_by_default():
    r = _Result(Path("a.flac"), [_Pred("Blues", 0.7), _Pred("Rock", 0.6)])
    p = decide_track(r, ("Jazz",))
    assert p.genres == ("Blues",) and p.folder_genre == "Blues" and p.auto
    assert "Blues 70%" in p.reason


def test_keep_existing_and_multi_genre_use_one_identity():
    r = _Result(Path("a.flac"), [_Pred("Blues", 0.7), _Pred("hip hop", 0.6), _Pred("Jazz", 0.2)])
    policy = DecisionPolicy(keep_existing=True, multi_genre=True, threshold=0.5)
    p = decide_track(r, ("Hip-Hop",), policy)
    assert p.genres == ("Hip-Hop", "Blues")  # "hip hop" is the Hip-Hop already there
    assert p.folder_genre == "Blues"


def test_per_genre_probabilities_win_over_top_k():
    """A multi-label model gives every genre its own probability: two genres can both be likely."""
    r = _Result(
        Path("a.flac"),
        [_Pred("Rock", 0.5), _Pred("Metal", 0.3)],
        labels=[_Pred("Rock", 0.9), _Pred("Metal", 0.8), _Pred("Pop", 0.1)],
    )
    assert [c.genre for c in candidates_of(r)] == ["Rock", "Metal", "Pop"]
    assert decide_track(r, (), DecisionPolicy(multi_genre=True, threshold=0.5)).genres == ("Rock", "Metal")


def test_low_confidence_is_proposed_but_not_automatic():
    r = _Result(Path("a.flac"), [_Pred("Rock", 0.3)])
    p = decide_track(r, (), DecisionPolicy(min_confidence=0.5))
    assert p.genres == ("Rock",) and not p.auto and "below" in p.reason


def test_user_edit_and_library():
    p = decide_user(["Jazz"], ("Rock",), DecisionPolicy(keep_existing=True), [Candidate("Jazz", 0.6)])
    assert p.genres == ("Rock", "Jazz") and p.folder_genre == "Jazz" and p.source == "user"
    out = decide_library(
        [_Result(Path("a.flac"), [_Pred("Pop", 0.9)])],
        {Path("a.flac"): None},
        DecisionPolicy(album_mode=False),
    )
    assert out[Path("a.flac")].genres == ("Pop",)
