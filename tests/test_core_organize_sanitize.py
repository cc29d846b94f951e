"""The genre -> folder sanitiser: whatever a tag or a model says, the folder stays one safe component."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from music_reclass_gui.core.organize import MAX_FOLDER_BYTES, UNKNOWN_GENRE, sanitize_genre_folder

RESERVED = {
    "CON",
    "PRN",
    "AUX",
    "NUL",
    *(f"COM{i}" for i in range(1, 10)),
    *(f"LPT{i}" for i in range(1, 10)),
}
NASTY = [
    "../../etc",
    "..",
    ".",
    "CON",
    "con.mp3",
    "Com1 ",
    "LPT9.txt",
    "a/b",
    "a\\b",
    "",
    "   ",
    "/etc/passwd",
    "C:\\Windows",
    "x" * 300,
    "é" * 300,
    "🎸" * 80,
    "Rock\x00Roll",
    "\u200fRock\u202e",
    "Rock...",
    "Rock  ",
    '<>:"|?*',
    "\ud800lone",
    "Ｒｏｃｋ",
    "-rf",
    ".hidden",
]


def check_safe(name: str) -> None:
    assert name, "never empty"
    assert "/" not in name and "\\" not in name and "\x00" not in name
    assert name not in (".", "..")
    assert not re.search(r'[<>:"|?*\x00-\x1f\x7f]', name)
    assert not name.endswith((".", " ")) and not name.startswith((".", " "))
    assert name.split(".")[0].strip().upper() not in RESERVED
    assert len(name.encode("utf-8")) <= MAX_FOLDER_BYTES
    assert not any(ch in name for ch in "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=400))
@example("../../etc")
@example("CON")
@example("a/b")
@example("")
@example("x" * 300)
@example("\u200f\u202eRock")
@example("🎸🤘")
@example("\x00")
def test_any_text_gives_one_safe_component(genre: str) -> None:
    name = sanitize_genre_folder(genre)
    check_safe(name)
    assert sanitize_genre_folder(name) == name  # idempotent


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_joined_path_stays_inside_root(genre: str) -> None:
    root = Path("/music/out")
    joined = os.path.normpath(root / sanitize_genre_folder(genre))
    assert Path(joined).parent == root


@pytest.mark.parametrize("genre", NASTY)
def test_nasty_examples(genre: str) -> None:
    check_safe(sanitize_genre_folder(genre))


def test_examples_read_naturally() -> None:
    assert sanitize_genre_folder("Rock/Pop") == "Rock-Pop"
    assert sanitize_genre_folder("CON") == "_CON"
    assert sanitize_genre_folder("") == UNKNOWN_GENRE
    assert sanitize_genre_folder("  ..  ") == UNKNOWN_GENRE
    assert sanitize_genre_folder("../../etc") == "etc"
    assert sanitize_genre_folder("R&B") == "R&B"
    assert sanitize_genre_folder("🎸 Rock") == "🎸 Rock"
    assert sanitize_genre_folder("Drum  &\tBass") == "Drum & Bass"


def test_unicode_spellings_of_one_genre_share_a_folder() -> None:
    # ASCII hyphen, U+2010 hyphen, U+2011 non-breaking hyphen, U+2013 en dash, fullwidth letters, NBSP
    variants = ["Hip-Hop", "Hip\u2010Hop", "Hip\u2011Hop", "Hip\u2013Hop", "Ｈｉｐ-Ｈｏｐ", "Hip-Hop\u200b"]
    assert {sanitize_genre_folder(v) for v in variants} == {"Hip-Hop"}
    assert sanitize_genre_folder("Rock\u00a0n\u00a0Roll") == sanitize_genre_folder("Rock n Roll")
    assert sanitize_genre_folder("Rock \u2019n\u2019 Roll") == sanitize_genre_folder("Rock 'n' Roll")


def test_length_is_bounded_in_utf8_bytes_without_splitting_characters() -> None:
    name = sanitize_genre_folder("é" * 300)
    assert len(name.encode("utf-8")) <= MAX_FOLDER_BYTES
    assert name == "é" * (MAX_FOLDER_BYTES // 2)
    emoji = sanitize_genre_folder("🎸" * 80)  # 4 bytes each
    assert emoji == "🎸" * (MAX_FOLDER_BYTES // 4)


def test_results_are_creatable_folders(tmp_path: Path) -> None:
    for genre in NASTY:
        folder = tmp_path / sanitize_genre_folder(genre)
        folder.mkdir(exist_ok=True)
        assert folder.parent == tmp_path and folder.is_dir()
