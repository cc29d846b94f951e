"""Learning the user's own genres from a real, partly tagged library (GTZAN clips with the library's own
spellings written as tags): examples, threshold, cross-validation, the saved model proposing the library's
spellings for the untagged clips, the CLI, and the clear refusals (no tags, one genre, all genres too rare)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from music_reclass_gui.cli import main
from music_reclass_gui.core.genres import load_genre_map
from music_reclass_gui.core.library import scan
from music_reclass_gui.core.tags import write_genres
from music_reclass_gui.inference.registry import list_models
from music_reclass_gui.training import personal
from music_reclass_gui.training.personal import PersonalError, collect_examples, learn_personal

LIBRARY_GENRES = ["Classical Music", "Hip Hop", "Jazz", "Metal", "Reggae", "rock"]


@pytest.fixture
def library(personal_library, monkeypatch):
    """The session's library with its shared feature cache (set after the per-test user-dir isolation)."""
    lib, cache, untagged = personal_library
    monkeypatch.setenv("MUSIC_RECLASS_CACHE_DIR", str(cache))
    return lib, untagged


@pytest.fixture(scope="module")
def learnt(personal_library):
    """One training run shared by the read-only checks (features cached for the whole session)."""
    lib, cache, untagged = personal_library
    mp = pytest.MonkeyPatch()
    mp.setenv("MUSIC_RECLASS_CACHE_DIR", str(cache))
    try:
        tracks = list(scan([lib]))
        yield learn_personal(collect_examples(tracks), min_examples=4, device="cpu"), tracks
    finally:
        mp.undo()


# ---------------------------------------------------------------- examples (no audio needed)


def test_spellings_merge_into_the_librarys_most_common_one(tmp_path):
    gmap = load_genre_map()
    pairs = [
        (tmp_path / "a.mp3", ["Hip Hop"]),
        (tmp_path / "b.mp3", ["hip hop"]),
        (tmp_path / "c.mp3", ["Hip-Hop"]),
        (tmp_path / "d.mp3", ["HipHop"]),
        (tmp_path / "e.mp3", ["Hip Hop"]),
        (tmp_path / "f.mp3", ["Rock/Pop"]),
        (tmp_path / "g.mp3", ["classical music"]),
        (tmp_path / "h.mp3", ["Classical"]),
        (tmp_path / "i.mp3", []),
    ]
    ex = collect_examples(pairs, genre_map=gmap)
    counts = ex.counts()
    assert counts["Hip Hop"] == 5  # five spellings, one genre, labelled as the library mostly spells it
    assert not any(k in counts for k in ("hip hop", "Hip-Hop", "HipHop"))
    assert counts["Rock"] == 1 and counts["Pop"] == 1  # "Rock/Pop" is two genres
    assert sum(v for k, v in counts.items() if "lassical" in k) == 2  # alias merged ("classical music")
    assert ex.untagged == 1


def test_accepted_review_items_add_and_replace_examples(tmp_path):
    pairs = [(tmp_path / "a.mp3", ["Rock"]), (tmp_path / "b.mp3", [])]
    ex = collect_examples(pairs, accepted=[(tmp_path / "b.mp3", ("Jazz",)), (tmp_path / "a.mp3", ("Blues",))])
    assert ex.counts() == {"Blues": 1, "Jazz": 1}  # the decision is the user's latest word
    assert ex.untagged == 0 and ex.n_accepted == 2


def test_no_tags_and_one_genre_are_refused_with_a_reason(tmp_path):
    with pytest.raises(PersonalError, match="no track in this library has a genre tag"):
        learn_personal(collect_examples([(tmp_path / "a.mp3", []), (tmp_path / "b.mp3", ())]))
    one = [(tmp_path / f"{i}.mp3", ["rock" if i % 2 else "Rock"]) for i in range(8)]
    with pytest.raises(PersonalError, match="same genre \\('Rock'|same genre \\('rock'"):
        learn_personal(collect_examples(one))
    two_rare = [(tmp_path / f"{i}.mp3", ["Rock" if i < 6 else "Jazz"]) for i in range(8)]
    with pytest.raises(PersonalError, match="only 'Rock' has at least 5 tagged tracks.*Jazz: 2"):
        learn_personal(collect_examples(two_rare))  # refused before any audio is analysed
    with pytest.raises(PersonalError, match="at least 2"):
        learn_personal(collect_examples(two_rare), min_examples=1)


def test_model_names_are_sanitised():
    assert personal.sanitize_name("  My/genres: 2024 ") == "My-genres- 2024"
    assert personal.sanitize_name("../evil") == "evil"
    with pytest.raises(PersonalError):
        personal.sanitize_name("///")


# ---------------------------------------------------------------- a real library


def test_learns_the_librarys_genres_well_above_chance(learnt):
    result, _ = learnt
    assert sorted(result.labels) == sorted(LIBRARY_GENRES)  # the library's spellings, not the genre map's
    assert result.examples_per_genre == dict.fromkeys(result.labels, 4)
    assert result.left_out == {"Blues": 2}
    assert result.spellings["Hip Hop"] == {"Hip Hop": 2, "hip-hop": 1, "HipHop": 1}
    assert result.untagged == 6 and result.n_tracks == 24 and result.dropped_tracks == 2
    assert result.folds == 4  # min(5, fewest examples of a kept genre)
    assert result.accuracy >= 0.6  # chance is 1/6
    assert len(result.confusion) == 6 and sum(map(sum, result.confusion)) == 24
    assert set(result.per_genre) == set(result.labels)
    assert 0.05 < result.temperature < 20
    summary = json.loads(json.dumps(result.to_json()))
    assert summary["policy"] and summary["chance"] == pytest.approx(1 / 6, abs=1e-3)


def test_saved_model_proposes_the_librarys_spellings_for_untagged_tracks(learnt, library):
    from music_reclass_gui.inference.engine import Classifier

    result, _ = learnt
    _, untagged = library
    card = personal.save_personal(result, "My genres")
    assert card.name in [c.name for c in list_models()]
    assert card.raw["personal"]["left_out"] == {"Blues": 2}
    clf = Classifier(card.name, device="cpu")
    assert sorted(clf.labels) == sorted(LIBRARY_GENRES)
    got = {p: clf.classify(p).genre for p in untagged}
    right = sum(got[p] == want for p, want in untagged.items())
    assert set(got.values()) <= set(LIBRARY_GENRES)  # "Hip Hop", "Classical Music", "rock": never "Hip-Hop"
    assert right >= 4, got  # of 6 (chance: 1)
    with pytest.raises(PersonalError, match="already exists"):
        personal.save_personal(result, "My genres")
    personal.save_personal(result, "My genres", replace=True)
    with pytest.raises(PersonalError, match="built-in model"):
        personal.save_personal(result, "msd-musicnn")
    personal.remove_personal("My genres")
    assert "My genres" not in [c.name for c in list_models()]
    assert not list(card.path.parent.glob("My genres*"))  # card and weights gone
    with pytest.raises(PersonalError, match="no user model"):
        personal.remove_personal("My genres")


def test_retraining_includes_accepted_review_items_and_multi_genre_tracks(library):
    lib, untagged = library
    rock = next(p for p, g in untagged.items() if g == "rock")
    hiphop = next(p for p, g in untagged.items() if g == "Hip Hop")
    tracks = list(scan([lib]))
    accepted = [(rock, ("Rock",)), (hiphop, ("Hip Hop", "Reggae"))]  # "Rock" is "rock" in other spelling
    result = learn_personal(collect_examples(tracks, accepted=accepted), min_examples=4, device="cpu")
    assert result.examples_per_genre["rock"] == 5 and result.examples_per_genre["Hip Hop"] == 5
    assert result.examples_per_genre["Reggae"] == 5
    assert result.n_accepted == 2 and result.n_multi_genre == 1 and result.untagged == 4
    assert result.accuracy >= 0.6


def test_cancel_stops_learning(library):
    lib, _ = library
    with pytest.raises(PersonalError, match="cancelled"):
        learn_personal(collect_examples(scan([lib])), min_examples=4, device="cpu", cancelled=lambda: True)


# ---------------------------------------------------------------- CLI


def test_cli_prints_the_summary_and_saves_then_removes(library, capsys):
    lib, _ = library
    assert main(["train", "personal", str(lib), "--name", "Mine", "--min-examples", "4", "--dry-run"]) == 0
    dry = json.loads(capsys.readouterr().out)
    assert "Mine" not in [c.name for c in list_models()]
    for key in ("examples_per_genre", "left_out", "accuracy", "per_genre", "confusion", "labels", "policy"):
        assert key in dry
    assert dry["left_out"] == {"Blues": 2} and sorted(dry["labels"]) == sorted(LIBRARY_GENRES)

    assert main(["train", "personal", str(lib), "--name", "Mine", "--min-examples", "4"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["name"] == "Mine" and out["accuracy"] == dry["accuracy"]
    card = next(c for c in list_models() if c.name == "Mine")
    assert "--min-examples 4" in card.reproduce
    assert main(["train", "personal", "--remove", "Mine"]) == 0
    assert "Mine" not in [c.name for c in list_models()]
    capsys.readouterr()
    assert main(["train", "personal", "--remove", "Mine"]) == 3  # EXIT_CANNOT_RUN
    assert "no user model called 'Mine'" in capsys.readouterr().err


def test_cli_default_minimum_explains_why_nothing_is_learnt(library, capsys):
    lib, _ = library
    assert main(["train", "personal", str(lib), "--name", "Mine"]) == 3  # EXIT_CANNOT_RUN
    err = capsys.readouterr().err
    assert "at least 5 tagged tracks" in err and "Hip Hop: 4" in err and "lower the minimum" in err


def test_cli_one_genre_and_untagged_libraries_exit_2(make_audio, tmp_path, capsys):
    untagged_dir = tmp_path / "untagged"
    for i in range(3):
        make_audio(f"t{i}.flac", seconds=1.0, folder=untagged_dir)
    assert main(["train", "personal", str(untagged_dir), "--name", "X"]) == 3  # EXIT_CANNOT_RUN
    assert "no track in this library has a genre tag" in capsys.readouterr().err

    one_dir = tmp_path / "one"
    for i in range(6):
        write_genres(make_audio(f"t{i}.flac", seconds=1.0, folder=one_dir), ["Rock" if i % 2 else "rock"])
    assert main(["train", "personal", str(one_dir), "--name", "X"]) == 3  # EXIT_CANNOT_RUN
    assert "same genre" in capsys.readouterr().err
    assert main(["train", "personal", str(tmp_path / "missing"), "--name", "X"]) == 3  # EXIT_CANNOT_RUN
    assert main(["train", "personal", str(one_dir)]) == 3  # EXIT_CANNOT_RUN
    assert "--name" in capsys.readouterr().err
    assert not [c for c in list_models() if c.origin == "user"]


def test_remove_refuses_models_that_are_not_personal(tmp_path):
    from music_reclass_gui.core.appdirs import user_models_dir

    (user_models_dir() / "other.json").write_text(
        json.dumps({"name": "other", "kind": "musicnn", "labels": ["Rock"]}), encoding="utf-8"
    )
    with pytest.raises(PersonalError, match="not a personal model"):
        personal.remove_personal("other")
    assert (user_models_dir() / "other.json").is_file()


def test_reads_only_paths_it_is_given(tmp_path):
    """collect_examples never touches the disk: paths need not exist (tags come from the scan)."""
    ex = collect_examples([(Path("/nonexistent/a.mp3"), "Rock")])
    assert ex.counts() == {"Rock": 1}
