"""Path templates for reorganising: where a track goes under the output root.

A template is "/"-separated components made of literal text and fields:
  {genre} {albumartist} {artist} {album} {year} {track} {title} {filename} {ext} {relpath}
DEFAULT_LAYOUT is "{genre}/{albumartist}/{album}/{filename}": a library keeps its Artist/Album shape under
each genre. Fall-backs: a track without an album tag uses its artist for {albumartist}, and a component
whose fields are all empty is dropped — so no album gives "{genre}/{artist}/{filename}" and no artist
"{genre}/{filename}". "{genre}/{relpath}" keeps the user's own folders (relative to the source root).

Every field value is sanitised on its own by the organiser's sanitiser (so an album called "../../etc" or
"AC/DC" is one harmless folder name), {relpath} component by component, and the result never leaves the
root. The last component names the file; it keeps the track's extension.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePath

from music_reclass_gui.core.organize.sanitize import sanitize_component, sanitize_genre_folder

FIELDS = ("genre", "albumartist", "artist", "album", "year", "track", "title", "filename", "ext", "relpath")
DEFAULT_LAYOUT = "{genre}/{albumartist}/{album}/{filename}"
GENRE_ONLY_LAYOUT = "{genre}/{filename}"  # the flat layout of earlier versions
RELPATH_LAYOUT = "{genre}/{relpath}"
_FIELD = re.compile(r"\{([^{}]*)\}")


class LayoutError(ValueError):
    """A template that cannot be used; the message says why."""


@dataclass(frozen=True)
class Layout:
    """A checked template."""

    template: str

    def __post_init__(self) -> None:
        check_layout(self.template)


def check_layout(template: str) -> None:
    """Raise LayoutError naming the problem: unknown field, absolute path, empty component, no file name."""
    text = template.strip()
    if not text:
        raise LayoutError("the layout is empty")
    if text.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", text):
        raise LayoutError(f"{template!r}: the layout must be relative to the output folder")
    parts = text.replace("\\", "/").split("/")
    for part in parts:
        if not part.strip():
            raise LayoutError(f"{template!r}: empty folder name between two '/'")
        if part.strip() in (".", ".."):
            raise LayoutError(f"{template!r}: '.' and '..' are not allowed")
        for name in _FIELD.findall(part):
            if name not in FIELDS:
                raise LayoutError(f"{template!r}: unknown field {{{name}}}; fields: {', '.join(FIELDS)}")
        if "{relpath}" in part and part != "{relpath}":
            raise LayoutError(f"{template!r}: {{relpath}} must be a whole component")
    last = parts[-1]
    if not any(f in last for f in ("{filename}", "{relpath}", "{title}")):
        raise LayoutError(f"{template!r}: the last component must name the file ({{filename}} or {{title}})")
    if "{relpath}" in parts[:-1]:
        raise LayoutError(f"{template!r}: {{relpath}} must be the last component")


def track_fields(path: Path, tags: object | None, source_root: Path | None) -> dict[str, str]:
    """The field values of one track from its tags (TagInfo-like, read by attribute) and its path."""

    def get(name: str) -> str:
        return " ".join(str(getattr(tags, name, None) or "").split())

    track = get("track").split("/", 1)[0]
    fields = {
        "artist": get("artist"),
        "album": get("album"),
        "albumartist": get("albumartist"),
        "year": get("year")[:4],
        "track": f"{int(track):02d}" if track.isdigit() else track,
        "title": get("title"),
        "filename": path.name,
        "ext": path.suffix.lstrip("."),
    }
    if fields["album"]:  # the album's artist, else the track's
        fields["albumartist"] = fields["albumartist"] or fields["artist"]
    else:  # no album: the track's artist (the fall-back "{genre}/{artist}/{filename}")
        fields["albumartist"] = fields["artist"] or fields["albumartist"]
    rel = path.name
    if source_root is not None:
        try:
            rel = os.path.relpath(path, source_root)
        except ValueError:  # another drive
            rel = path.name
        if rel.startswith(".."):
            rel = path.name
    fields["relpath"] = rel
    return fields


def render(template: str, genre_folder: str, fields: Mapping[str, str], suffix: str) -> PurePath:
    """The target path relative to the output root. `genre_folder` is already a safe folder name."""
    check_layout(template)
    parts = template.strip().replace("\\", "/").split("/")
    out: list[str] = []
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if part == "{relpath}":
            rel = [p for p in PurePath(fields.get("relpath", "")).parts if p not in ("", ".", "..")]
            out += [sanitize_component(p) or "_" for p in rel[:-1]]
            out.append(_file_name(fields.get("filename", ""), fields, suffix))
            continue
        values = {n: (genre_folder if n == "genre" else fields.get(n, "")) for n in _FIELD.findall(part)}
        if values and not any(values.values()):
            if last:
                out.append(_file_name(fields.get("filename", ""), fields, suffix))
            continue  # every field empty: the component is dropped (the fall-backs)
        text = _FIELD.sub(lambda m, v=values: _safe_value(m.group(1), v[m.group(1)]), part)
        if last:
            out.append(_file_name(text, fields, suffix))
        else:
            name = sanitize_component(text)
            if name:
                out.append(name)
    return PurePath(*out)


def _safe_value(name: str, value: str) -> str:
    if name in ("filename", "genre"):
        return value
    return sanitize_component(value)


def _file_name(text: str, fields: Mapping[str, str], suffix: str) -> str:
    """The file's own name: kept when it is the original name, else sanitised as one component; it keeps
    the track's extension."""
    if text and text == fields.get("filename") and text not in (".", "..") and "/" not in text:
        return text
    name = sanitize_component(text)
    if not name or name == suffix:
        name = sanitize_component(fields.get("filename", "")) or f"track{suffix}"
    if suffix and not name.lower().endswith(suffix.lower()):
        name += suffix
    return name


def target_path(
    template: str, out_root: Path, genre: str | None, fields: Mapping[str, str], suffix: str
) -> Path:
    """Absolute target of one track; raises LayoutError if the result would leave `out_root`."""
    rel = render(template, sanitize_genre_folder(genre), fields, suffix)
    target = Path(os.path.normpath(Path(out_root) / rel))
    root = Path(os.path.normpath(out_root))
    if root not in target.parents:
        raise LayoutError(f"{rel}: would leave the output folder")
    return target
