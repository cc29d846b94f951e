"""The genre vocabulary: which tagger labels are genres, tag texts to write, user overrides, normalising."""

from __future__ import annotations

import json

import pytest

from music_reclass_gui.core.appdirs import shipped_models_dir, user_config_dir
from music_reclass_gui.core.genres import genre_key, load_genre_map


@pytest.fixture
def gmap():
    return load_genre_map()


def test_genre_labels_map_to_tag_texts(gmap):
    assert gmap.genre_for_label("Hip-Hop") == "Hip-Hop"
    assert gmap.genre_for_label("rnb") == "R&B"
    assert gmap.genre_for_label("electronica") == "Electronic"
    assert gmap.genre_for_label("electro") == "Electronic"
    assert gmap.genre_for_label("Progressive rock") == "Progressive Rock"
    assert gmap.genre_for_label("heavy metal") == "Heavy Metal"
    assert gmap.genre_for_label("classic") == "Classical"  # MagnaTagATune's spelling


@pytest.mark.parametrize(
    "label", ["female vocalists", "00s", "guitar", "fast", "beautiful", "Mellow", "no vocals", "instrumental"]
)
def test_non_genre_labels_are_never_proposed(gmap, label):
    assert gmap.genre_for_label(label) is None


def test_every_label_of_the_shipped_taggers_is_decided(gmap):
    """A tagger label the map does not know would silently vanish; the shipped ones must all be decided."""
    for card in shipped_models_dir().glob("*musicnn.json"):
        labels = json.loads(card.read_text())["labels"]
        undecided = [x for x in labels if gmap.canonical(x) is None and genre_key(x) not in gmap.not_genres]
        assert undecided == [], f"{card.name}: {undecided}"


def test_user_spellings_are_one_genre(gmap):
    assert {gmap.normalize(x) for x in ("hip hop", "HipHop", "hip_hop", "Hip-Hop", " hip-hop ")} == {
        "Hip-Hop"
    }
    assert gmap.normalize("RnB") == gmap.normalize("r'n'b") == gmap.normalize("Rhythm and Blues") == "R&B"
    assert gmap.normalize("Vaporwave  Deluxe") == "Vaporwave Deluxe"  # unknown: kept, whitespace tidied
    assert gmap.split("Rock/Pop; hip hop") == ["Rock", "Pop", "Hip-Hop"]
    assert gmap.aggregate(["hiphop", "Hip Hop", "rock; Rock", "RnB"]) == {"Hip-Hop": 2, "R&B": 1, "Rock": 1}


def test_user_override_renames_adds_and_vetoes():
    (user_config_dir() / "genre_map.toml").write_text(
        '[genres]\n"Hip Hop" = ["rap"]\n"Oldies" = []\n"Rock" = ["classic rock", "hard rock"]\n'
        '[not_genres]\nlabels = ["alternative"]\n',
        encoding="utf-8",
    )
    gmap = load_genre_map()
    assert gmap.warnings == []
    assert gmap.genre_for_label("Hip-Hop") == "Hip Hop"  # renamed (same key as the default's Hip-Hop)
    assert gmap.normalize("rap") == "Hip Hop"
    assert gmap.genre_for_label("oldies") == "Oldies"  # a default non-genre made a genre
    assert gmap.genre_for_label("classic rock") == "Rock"  # sub-genre folded into its parent
    assert gmap.genre_for_label("alternative") is None  # vetoed
    assert gmap.genre_for_label("rnb") == "R&B"  # untouched defaults still there


def test_broken_user_override_is_reported_not_fatal():
    path = user_config_dir() / "genre_map.toml"
    path.write_text("[genres\nthis is not toml", encoding="utf-8")
    gmap = load_genre_map()
    assert gmap.genre_for_label("rnb") == "R&B"
    assert len(gmap.warnings) == 1 and str(path) in gmap.warnings[0]
