"""Genre text -> one safe folder name.

A genre comes from tags or a model and may contain anything ("AC/DC", "../../etc", "CON", NUL, RTL marks).
The result must be a single path component that Windows, macOS and Linux all accept, that cannot climb out
of the output root, and that is the same for spellings a user considers equal ("Hip-Hop" vs "Hip‐Hop").
Case-insensitive merging ("rock" vs "Rock") is decided in the planner, which sees all genres at once.
"""

from __future__ import annotations

import re
import unicodedata

UNKNOWN_GENRE = "Unknown Genre"
MAX_FOLDER_BYTES = 100  # UTF-8 bytes; far below every filesystem's 255-byte component limit

# Characters Windows refuses in names (plus both separators); each becomes a hyphen so "Rock/Pop" -> "Rock-Pop".
_FORBIDDEN = re.compile(r'[<>:"/\\|?*]')
_DASHES = dict.fromkeys(map(ord, "\u2010\u2011\u2012\u2013\u2014\u2015\u2043\u2212\ufe58\ufe63\uff0d"), "-")
_QUOTES = {
    **dict.fromkeys(map(ord, "\u2018\u2019\u201a\u201b\u2032\u0060\u00b4"), "'"),
    **dict.fromkeys(map(ord, "\u201c\u201d\u201e\u201f\u2033\u00ab\u00bb"), '"'),
}
_FOLD = {**_DASHES, **_QUOTES}
_WINDOWS_RESERVED = frozenset(
    {"CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"}
    | {f"COM{i}" for i in range(1, 10)}
    | {f"LPT{i}" for i in range(1, 10)}
)


def _clean_chars(text: str) -> str:
    out = []
    for ch in text:
        cat = unicodedata.category(ch)
        if ch.isspace() or cat == "Zs":
            out.append(" ")
        elif cat in ("Cc", "Cf", "Cs", "Zl", "Zp"):  # controls, bidi/zero-width marks, lone surrogates
            continue
        else:
            out.append(ch)
    return "".join(out)


def _truncate_utf8(text: str, limit: int) -> str:
    """Cut at a character boundary so the UTF-8 encoding fits."""
    return text.encode("utf-8")[:limit].decode("utf-8", errors="ignore")


def _one_pass(text: str) -> str:
    text = unicodedata.normalize("NFKC", text).translate(_FOLD)
    text = _clean_chars(text)
    text = _FORBIDDEN.sub("-", text)
    text = re.sub(r" {2,}", " ", text)
    # Leading dots hide a folder (and "."/".." climb); leading "-" reads as an option to command-line tools;
    # Windows drops trailing dots and spaces, so two genres would collide there.
    text = text.strip(" ").lstrip(".- ").rstrip(". ")
    text = _truncate_utf8(text, MAX_FOLDER_BYTES).rstrip(". ")
    stem = text.split(".", 1)[0].rstrip(" ").upper()
    if stem in _WINDOWS_RESERVED:
        text = _truncate_utf8("_" + text, MAX_FOLDER_BYTES).rstrip(". ")
    return text


def sanitize_component(text: str | None) -> str:
    """One safe, bounded path component for any text (a genre, an artist, an album); "" when nothing usable
    is left. Idempotent: sanitising a result gives it back unchanged (the passes run to a fixed point)."""
    text = text or ""
    for _ in range(8):
        cleaned = _one_pass(text)
        if cleaned == text:
            break
        text = cleaned
    return text


def sanitize_genre_folder(genre: str | None) -> str:
    """A single safe, bounded folder name for `genre`; empty or unusable input gives "Unknown Genre"."""
    return sanitize_component(genre) or UNKNOWN_GENRE
