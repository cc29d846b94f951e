"""The genre vocabulary: which model labels are genres, what tag text to write, and how to compare genre texts.

Taggers such as musicnn emit 50 labels of which only some are genres ("female vocalists", "00s", "guitar"
are not). ``resources/genre_map.toml`` (documented there) says which labels are genres and the canonical tag
text for each; ``<user_config_dir>/genre_map.toml`` is merged over it so users can rename, merge or veto
genres without touching the install. The same map normalises the user's own tags ("hip hop", "HipHop",
"Hip-Hop" are one genre) so later stages can aggregate and learn them.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from music_reclass_gui.core.appdirs import resources_dir, user_config_dir

try:  # Python 3.11+
    import tomllib
except ModuleNotFoundError:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

log = logging.getLogger(__name__)

GENRE_MAP_FILE = "genre_map.toml"
# Separators people use to put several genres in one text field (ID3 "Rock/Pop", Vorbis "Rock; Pop").
GENRE_SEPARATORS = re.compile(r"\s*(?:;|,|\||/|\x00|\\\\)\s*")
# What separates genres a user types into an edit box: only ";" and new lines, so "Rock/Pop" stays one.
EDIT_SEPARATORS = re.compile(r"\s*(?:;|\n)\s*")


def genre_key(text: str) -> str:
    """THE identity of a genre text, used everywhere genres are compared (tags, review, folders, models):
    Unicode-normalised, case-folded, letters and digits only ("Hip-Hop", "hip hop", "Hip‐Hop" -> "hiphop").
    A text without any letter or digit ("???") keeps its folded text, so it never merges with another."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return "".join(ch for ch in folded if ch.isalnum()) or folded.strip()


def split_genres(text: str, separators: re.Pattern[str] = GENRE_SEPARATORS) -> list[str]:
    """One text -> its genre parts, stripped, blanks dropped, in order (no canonicalisation, no de-dup).
    Tag fields use GENRE_SEPARATORS; a user's edit box uses EDIT_SEPARATORS."""
    return [part.strip() for part in separators.split(text) if part.strip()]


def _clean(text: str) -> str:
    return " ".join(text.split())


@dataclass
class GenreMap:
    """Canonical genres with their aliases plus the labels that are not genres."""

    genres: dict[str, list[str]] = field(default_factory=dict)  # canonical text -> aliases
    not_genres: set[str] = field(default_factory=set)  # genre_key of non-genre labels
    warnings: list[str] = field(default_factory=list)  # problems met while loading (shown, never fatal)

    def __post_init__(self) -> None:
        self._index: dict[str, str] = {}
        for canonical, aliases in self.genres.items():
            for text in (canonical, *aliases):
                self._index[genre_key(text)] = canonical

    def canonical(self, text: str) -> str | None:
        """The canonical tag text for a known genre text or alias, else None."""
        return self._index.get(genre_key(text))

    def normalize(self, text: str) -> str:
        """Tag text to use for a user's genre: canonical when known, else the text with tidied whitespace."""
        return self.canonical(text) or _clean(text)

    def key(self, text: str) -> str:
        """genre_key after the map's aliases are merged ("rnb" and "R&B" are one genre)."""
        return genre_key(self.normalize(text))

    def is_genre_label(self, label: str) -> bool:
        return self.genre_for_label(label) is not None

    def genre_for_label(self, label: str) -> str | None:
        """Tag text for a *tagger* label, or None when the label is not a genre (or unknown to the map)."""
        if genre_key(label) in self.not_genres:
            return None
        return self.canonical(label)

    def label_to_genre(self, labels: Iterable[str]) -> dict[str, str]:
        """{label: tag text} for the labels of a tagger that are genres (order kept)."""
        out: dict[str, str] = {}
        for label in labels:
            genre = self.genre_for_label(label)
            if genre is not None:
                out[label] = genre
        return out

    def split(self, value: str) -> list[str]:
        """One tag field -> its genres ("Rock/Pop; hip hop" -> ["Rock", "Pop", "Hip-Hop"]), canonical, no dups.

        A text that is itself a known genre is never split (e.g. "Hip-Hop/Rap" if mapped as an alias)."""
        whole = self.canonical(value)
        parts = [whole] if whole else [self.normalize(p) for p in split_genres(value)]
        return unique_genres(parts)

    def aggregate(self, values: Iterable[str]) -> dict[str, int]:
        """Count genres over many tag values (e.g. the whole library), merging spellings; most common first."""
        counts: dict[str, int] = {}
        for value in values:
            for genre in self.split(value):
                counts[genre] = counts.get(genre, 0) + 1
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].casefold())))


def unique_genres(genres: Iterable[str], key: Callable[[str], str] = genre_key) -> list[str]:
    """Drop blanks and repeats that differ only in spelling/case (by `key`), keeping the first spelling."""
    seen: set[str] = set()
    out = []
    for g in genres:
        g = g.strip()
        k = key(g)
        if g and k not in seen:
            seen.add(k)
            out.append(g)
    return out


def _parse(data: Mapping[str, Any], source: Path) -> tuple[dict[str, list[str]], set[str]]:
    genres_raw = data.get("genres", {})
    not_raw = (
        data.get("not_genres", {}).get("labels", []) if isinstance(data.get("not_genres", {}), dict) else None
    )
    if not isinstance(genres_raw, dict) or not isinstance(not_raw, list):
        raise ValueError(f"{source}: expected a [genres] table and [not_genres] labels = [...]")
    genres: dict[str, list[str]] = {}
    for canonical, aliases in genres_raw.items():
        if isinstance(aliases, str):
            aliases = [aliases]
        if not isinstance(aliases, list) or not all(isinstance(a, str) for a in aliases):
            raise ValueError(f"{source}: genre {canonical!r} must map to a list of alias strings")
        genres[_clean(canonical)] = [_clean(a) for a in aliases]
    if not all(isinstance(x, str) for x in not_raw):
        raise ValueError(f"{source}: not_genres.labels must be strings")
    return genres, {genre_key(x) for x in not_raw}


def merge(base: GenreMap, genres: Mapping[str, list[str]], not_genres: set[str]) -> GenreMap:
    """Layer an override over ``base``: an override genre replaces the base genre with the same key (so
    "Hip Hop" renames "Hip-Hop"), its aliases move to it, a label it names stops being a non-genre, and the
    override's not_genres veto genres of either layer."""
    merged: dict[str, list[str]] = {}
    override_keys = {genre_key(t) for c, al in genres.items() for t in (c, *al)}
    for canonical, aliases in base.genres.items():
        if genre_key(canonical) in override_keys:
            continue  # renamed / redefined by the override
        kept = [a for a in aliases if genre_key(a) not in override_keys]
        merged[canonical] = kept
    merged.update({c: list(a) for c, a in genres.items()})
    blocked = (base.not_genres - override_keys) | set(not_genres)
    return GenreMap(merged, blocked, list(base.warnings))


def load_genre_map(default: Path | None = None, user: Path | None = None) -> GenreMap:
    """Default map from resources/ merged with the user's override. A broken user file is reported in
    ``warnings`` and ignored; a broken default is a packaging bug and raises."""
    default = default or resources_dir() / GENRE_MAP_FILE
    with open(default, "rb") as fh:
        genres, not_genres = _parse(tomllib.load(fh), default)
    gmap = GenreMap(genres, not_genres)
    user = user or user_config_dir() / GENRE_MAP_FILE
    if user.is_file():
        try:
            with open(user, "rb") as fh:
                u_genres, u_not = _parse(tomllib.load(fh), user)
            gmap = merge(gmap, u_genres, u_not)
        except (OSError, ValueError, tomllib.TOMLDecodeError) as exc:
            msg = f"{user}: genre map ignored ({exc})"
            log.warning(msg)
            gmap.warnings.append(msg)
    return gmap
