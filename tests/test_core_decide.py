"""core.decide: the one place predictions become the genres to write and the genre folder."""

from __future__ import annotations

from pathlib import Path

from music_reclass_gui.core.decide import (
    Candidate,
    DecisionPolicy,
    candidates_of,
    decide_library,
    decide_track,
    decide_user,
)
from music_reclass_gui.inference.engine import ClassificationResult, Prediction


def _Result(
    path: Path, top: list[Prediction], labels: list[Prediction] | None = None
) -> ClassificationResult:
    """A result as the engine makes it; `labels` as the multi-label models add them (every genre's own
    probability)."""
    result = ClassificationResult(path, "test", top[0].genre, top[0].confidence, top, 0.01)
    if labels is not None:
        result.labels = labels
    return result


def test_best_genre_replaces_existing_by_default():
    r = _Result(Path("a.flac"), [Prediction("Blues", 0.7), Prediction("Rock", 0.6)])
    p = decide_track(r, ("Jazz",))
    assert p.genres == ("Blues",) and p.folder_genre == "Blues" and p.auto
    assert "Blues 70%" in p.reason


def test_keep_existing_and_multi_genre_use_one_identity():
    r = _Result(
        Path("a.flac"), [Prediction("Blues", 0.7), Prediction("hip hop", 0.6), Prediction("Jazz", 0.2)]
    )
    policy = DecisionPolicy(keep_existing=True, multi_genre=True, threshold=0.5)
    p = decide_track(r, ("Hip-Hop",), policy)
    assert p.genres == ("Hip-Hop", "Blues")  # "hip hop" is the Hip-Hop already there
    assert p.folder_genre == "Blues"


def test_per_genre_probabilities_win_over_top_k():
    """A multi-label model gives every genre its own probability: two genres can both be likely."""
    r = _Result(
        Path("a.flac"),
        [Prediction("Rock", 0.5), Prediction("Metal", 0.3)],
        labels=[Prediction("Rock", 0.9), Prediction("Metal", 0.8), Prediction("Pop", 0.1)],
    )
    assert [c.genre for c in candidates_of(r)] == ["Rock", "Metal", "Pop"]
    assert decide_track(r, (), DecisionPolicy(multi_genre=True, threshold=0.5)).genres == ("Rock", "Metal")


def test_low_confidence_is_proposed_but_not_automatic():
    r = _Result(Path("a.flac"), [Prediction("Rock", 0.3)])
    p = decide_track(r, (), DecisionPolicy(min_confidence=0.5))
    assert p.genres == ("Rock",) and not p.auto and "below" in p.reason


def test_user_edit_and_library():
    p = decide_user(["Jazz"], ("Rock",), DecisionPolicy(keep_existing=True), [Candidate("Jazz", 0.6)])
    assert p.genres == ("Rock", "Jazz") and p.folder_genre == "Jazz" and p.source == "user"
    out = decide_library(
        [_Result(Path("a.flac"), [Prediction("Pop", 0.9)])],
        {Path("a.flac"): None},
        DecisionPolicy(album_mode=False),
    )
    assert out[Path("a.flac")].genres == ("Pop",)
