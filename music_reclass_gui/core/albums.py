"""Albums: which tracks belong together, and one genre for the whole album.

Grouping (`group_albums`):
- Tracks that share an album tag and album artist form an album; without an album artist, tracks with the
  same album tag in the same folder do (their most common artist is the album's artist).
- A compilation is treated per track: album artist "Various Artists" (or "VA", "Various", "Compilation",
  "Sampler", "Soundtrack"-less spellings of these), or, without an album artist, at least 3 different track
  artists making up more than half the tracks.
- Untagged tracks (no album tag): the files of one folder are one album ("folder album") when there are 2 to
  40 of them and they look like one release — every track that has an artist names the same one and at least
  one does, or every file name starts with a track number ("01 ...", "1-02 ..."). A "Downloads"-like folder
  of unrelated files (different or missing artists, no numbering) stays per track.

Album genre (`combine`): a duration-weighted mean of the tracks' log-probabilities over the genres they name
(a genre missing from a track's top-k gets that track's left-over probability spread evenly), turned back
into probabilities (a normalised geometric mean). It has its own top-3 and confidence, and the agreement
("4 of 5 tracks lean Rock"). Genre tags already on the album's tracks are evidence: each tagged track adds
a vote of one track's weight that puts TAG_BELIEF of its probability on the tagged genre(s); with every
genre's own probability (multi-label) that vote counts for the tagged genres only, since a tag says nothing
against another genre a track may also be.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from music_reclass_gui.core.decide import (
    Candidate,
    DecisionPolicy,
    Proposal,
    candidates_of,
    decide_candidates,
    decide_track,
)
from music_reclass_gui.core.genres import genre_key

VARIOUS_ARTISTS = frozenset(
    genre_key(t) for t in ("Various Artists", "Various", "VA", "V.A.", "Compilation", "Sampler", "Diverse")
)
MIN_COMPILATION_ARTISTS = 3
FOLDER_ALBUM_MAX = 40
TAG_BELIEF = 0.9  # probability a user's genre tag puts on its genre(s)
MISSING_LABEL = 0.05  # multi-label models: probability of a genre outside the model's labels
_TRACK_NUMBER = re.compile(r"^\s*(?:\d{1,2}[-.])?\d{1,3}(?:\s*[-._)]\s*|\s+)\S")
_EPS = 1e-6


@dataclass(frozen=True)
class Album:
    """Tracks that are one release."""

    key: str  # stable id: "<artist> — <album>" (folder albums: the folder path)
    title: str | None
    artist: str | None
    tracks: tuple[Path, ...]
    kind: str = "tagged"  # "tagged" | "folder"


@dataclass(frozen=True)
class AlbumInfo:
    """The album's combined prediction, attached to every Proposal decided by album."""

    key: str
    title: str | None
    artist: str | None
    genre: str
    confidence: float
    tracks: int  # tracks of the album
    agree: int  # classified tracks whose own best genre is the album's genre
    voters: int  # classified tracks
    top: tuple[Candidate, ...]  # the album's top 3

    @property
    def agreement(self) -> str:
        return f"{self.agree} of {self.voters} tracks lean {self.genre}"

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "genre": self.genre,
            "confidence": round(self.confidence, 4),
            "tracks": self.tracks,
            "agreement": self.agreement,
            "top": [{"genre": c.genre, "confidence": round(c.confidence, 4)} for c in self.top],
        }


def _text(value: str | None) -> str:
    return " ".join((value or "").split())


def _norm(value: str | None) -> str:
    return _text(value).casefold()


def is_various(artist: str | None) -> bool:
    return bool(artist) and genre_key(artist) in VARIOUS_ARTISTS


def _looks_like_one_release(paths: Sequence[Path], tags: Mapping[Path, Any]) -> bool:
    """Untagged folder policy (module docstring): one artist on most files, or numbered file names."""
    if not 2 <= len(paths) <= FOLDER_ALBUM_MAX:
        return False
    named = [_norm(getattr(tags.get(p), "artist", None)) for p in paths]
    artists = set(named) - {""}
    if len(artists) > 1:
        return False
    if len(artists) == 1 and not is_various(next(iter(artists))) and sum(map(bool, named)) * 2 >= len(paths):
        return True
    return all(_TRACK_NUMBER.match(p.name) for p in paths)


def group_albums(tags: Mapping[Path, Any]) -> tuple[list[Album], list[Path]]:
    """(albums, tracks to treat on their own) for {path: TagInfo-like or None}. Order follows the input."""
    groups: dict[tuple[str, str], list[Path]] = {}
    untagged: dict[Path, list[Path]] = {}
    for path, info in tags.items():
        path = Path(path)
        album = _norm(getattr(info, "album", None))
        if not album:
            untagged.setdefault(path.parent, []).append(path)
            continue
        albumartist = _norm(getattr(info, "albumartist", None))
        if albumartist and not is_various(albumartist):
            key = (album, "artist:" + albumartist)
        else:  # no album artist, or a compilation: one folder's tracks of that album
            key = (album, "folder:" + os.path.normcase(str(path.parent)))
        groups.setdefault(key, []).append(path)

    albums: list[Album] = []
    singles: list[Path] = []
    for (_album, _who), paths in groups.items():
        first = tags.get(paths[0])
        title = _text(getattr(first, "album", None)) or None
        albumartist = _text(getattr(first, "albumartist", None)) or None
        artists = Counter(_text(getattr(tags.get(p), "artist", None)) for p in paths)
        artists.pop("", None)
        if is_various(albumartist) or (
            not albumartist and len(artists) >= MIN_COMPILATION_ARTISTS and len(artists) * 2 > len(paths)
        ):
            singles.extend(paths)  # a compilation: every track is its own
            continue
        artist = albumartist or (artists.most_common(1)[0][0] if artists else None)
        key = f"{artist or 'Unknown Artist'} — {title}"
        if any(a.key == key for a in albums):  # the same title by the same artist in another folder
            key += f" ({paths[0].parent})"
        albums.append(Album(key, title, artist, tuple(paths), "tagged"))
    for folder, paths in untagged.items():
        if _looks_like_one_release(paths, tags):
            artists = Counter(_text(getattr(tags.get(p), "artist", None)) for p in paths)
            artists.pop("", None)
            artist = artists.most_common(1)[0][0] if artists else None
            albums.append(Album(str(folder), folder.name or None, artist, tuple(paths), "folder"))
        else:
            singles.extend(paths)
    return albums, singles


# ------------------------------------------------------------------------------------------ album genre
def _distribution(
    cands: Sequence[Candidate], vocab: Sequence[str], key, independent: bool
) -> dict[str, float]:
    """{genre key: probability} over `vocab`. Top-k of one distribution: the unnamed genres share what the
    named ones leave. Every genre's own probability (multi-label): a genre the model does not know gets
    MISSING_LABEL."""
    named = {key(c.genre): max(c.confidence, _EPS) for c in cands}
    missing = [k for k in vocab if k not in named]
    if independent:
        return {k: named.get(k, MISSING_LABEL) for k in vocab}
    rest = max(1.0 - sum(named.values()), 0.0)
    floor = rest / len(missing) if missing else 0.0
    floor = max(min(floor, min(named.values(), default=1.0)), _EPS)
    return {k: named.get(k, floor) for k in vocab}


@dataclass(frozen=True)
class Member:
    """One track of an album as the combination sees it."""

    path: Path
    candidates: tuple[Candidate, ...]  # empty: not classified (yet)
    existing: tuple[str, ...] = ()  # genres on disk
    duration: float | None = None
    independent: bool = False  # candidates are every genre's own probability (multi-label `labels`)


def combine(
    members: Sequence[Member], policy: DecisionPolicy, *, use_tags: bool = True
) -> tuple[list[Candidate], int]:
    """The album's candidates (best first) and how many tracks agree. From top-k of one distribution the
    weighted mean of log-probabilities is renormalised (a normalised geometric mean, summing to 1); from
    every genre's own probability (all members multi-label) it is not, so each genre keeps its own scale."""
    key = policy.key
    spelling: dict[str, str] = {}
    for m in members:
        for c in m.candidates:
            spelling.setdefault(key(c.genre), c.genre)
    if use_tags:
        for m in members:
            for g in m.existing:
                spelling.setdefault(key(g), g)
    vocab = list(spelling)
    if not vocab:
        return [], 0
    score = dict.fromkeys(vocab, 0.0)
    total = dict.fromkeys(vocab, 0.0)  # per genre: independent tag votes only speak for their own genres
    classified = [m for m in members if m.candidates]
    independent = bool(classified) and all(m.independent for m in classified)
    for m in classified:
        w = min(m.duration, 600.0) if m.duration and m.duration > 0 else 30.0
        for k, p in _distribution(m.candidates, vocab, key, independent).items():
            score[k] += w * math.log(p)
            total[k] += w
    if use_tags:
        weights = [min(m.duration, 600.0) if m.duration and m.duration > 0 else 30.0 for m in classified]
        vote = sum(weights) / len(weights) if weights else 30.0
        for m in members:
            tagged = {key(g) for g in m.existing} & set(vocab)
            if not tagged:
                continue
            if independent:
                # Each genre is its own yes/no: a "Soundtrack" tag says yes to Soundtrack and nothing about
                # Electronic (a track can be both), so it must not pull the other genres down.
                for k in tagged:
                    score[k] += vote * math.log(TAG_BELIEF)
                    total[k] += vote
                continue
            share = TAG_BELIEF / len(tagged)
            other = (1.0 - TAG_BELIEF) / max(len(vocab) - len(tagged), 1)
            for k in vocab:
                score[k] += vote * math.log(share if k in tagged else max(other, _EPS))
                total[k] += vote
    if max(total.values()) <= 0:
        return [], 0
    mean = {k: score[k] / total[k] for k in vocab if total[k] > 0}
    top = max(mean.values())
    expd = {k: math.exp(v - top) for k, v in mean.items()}
    norm = math.exp(-top) if independent else sum(expd.values())
    ranked = sorted(((spelling[k], v / norm) for k, v in expd.items()), key=lambda kv: -kv[1])
    cands = [Candidate(g, p) for g, p in ranked]
    best = key(cands[0].genre)
    agree = sum(1 for m in classified if key(m.candidates[0].genre) == best)
    return cands, agree


def decide_album(album: Album, members: Sequence[Member], policy: DecisionPolicy) -> dict[Path, Proposal]:
    """Every classified track of the album gets the album's genre (keep-existing still applies per track)."""
    cands, agree = combine(members, policy)
    classified = [m for m in members if m.candidates]
    if not cands or not classified:
        return {}
    info = AlbumInfo(
        album.key,
        album.title,
        album.artist,
        cands[0].genre,
        cands[0].confidence,
        len(album.tracks),
        agree,
        len(classified),
        tuple(cands[:3]),
    )
    reason = f"album: {info.agreement} ({info.confidence:.0%})"
    out = {}
    for m in classified:
        p = decide_candidates(cands, m.existing, policy, source="album", reason=reason)
        out[m.path] = _with_album(p, info)
    return out


def _with_album(p: Proposal, info: AlbumInfo) -> Proposal:
    return replace(p, album=info)


def decide_all(
    results: Iterable[Any],
    tags: Mapping[Path, Any],
    policy: DecisionPolicy | None = None,
    *,
    splits: Mapping[str, Sequence[Sequence[Path]]] | None = None,
) -> dict[Path, Proposal]:
    """{path: Proposal} for classified tracks; `tags` maps every scanned path to its TagInfo (or None) and
    decides the albums. Album mode (policy.album_mode) gives an album's tracks one genre; `splits` maps an
    album key to the user's parts of it (each part decided as an album of its own; a part of one track is
    decided on its own)."""
    policy = policy or DecisionPolicy()
    by_path = {Path(r.audio_path): r for r in results}
    tags = {Path(p): t for p, t in tags.items()}
    for p in by_path:
        tags.setdefault(p, None)
    out: dict[Path, Proposal] = {}
    if policy.album_mode:
        albums, _ = group_albums(tags)
        for album in albums:
            for part in album_parts(album, splits):
                members = [member(p, by_path.get(p), tags.get(p)) for p in part.tracks]
                if len(part.tracks) > 1:
                    out.update(decide_album(part, members, policy))
    for path, result in by_path.items():
        if path not in out:
            out[path] = decide_track(result, _genres(tags.get(path)), policy)
    return {Path(r): out[Path(r)] for r in by_path}


def album_parts(album: Album, splits: Mapping[str, Sequence[Sequence[Path]]] | None) -> list[Album]:
    """The album itself, or the parts the user split it into (tracks left out of every part form one more)."""
    parts = (splits or {}).get(album.key)
    if parts is None:
        return [album]
    out, seen = [], set()
    for i, part in enumerate(parts, 1):
        tracks = tuple(Path(p) for p in part if Path(p) in album.tracks)
        seen.update(tracks)
        if tracks:
            out.append(Album(f"{album.key} [part {i}]", album.title, album.artist, tracks, album.kind))
    rest = tuple(p for p in album.tracks if p not in seen)
    if rest:
        out.append(Album(f"{album.key} [part {len(out) + 1}]", album.title, album.artist, rest, album.kind))
    return out


def member(path: Path, result: Any | None, info: Any | None) -> Member:
    return Member(
        Path(path),
        tuple(candidates_of(result)) if result is not None else (),
        _genres(info),
        getattr(info, "duration", None),
        bool(getattr(result, "labels", None)),
    )


def _genres(info: Any | None) -> tuple[str, ...]:
    return tuple(getattr(info, "genres", ()) or ())


def genres_from_tags(
    tags: Mapping[Path, Any], policy: DecisionPolicy | None = None
) -> tuple[dict[Path, str | None], dict[Path, str]]:
    """({path: genre folder}, {path: album key}) from the genres already in the tags (organize --by tag):
    a track's first genre; in album mode every track of an album takes the album's most common first genre
    (spellings merged by identity; a tie goes to the genre met first). Untagged tracks of a tagged album
    join it."""
    policy = policy or DecisionPolicy()
    firsts = {Path(p): (_genres(t)[0] if _genres(t) else None) for p, t in tags.items()}
    album_of: dict[Path, str] = {}
    if policy.album_mode:
        albums, _ = group_albums(tags)
        for album in albums:
            votes = Counter(policy.key(g) for p in album.tracks if (g := firsts[p]))
            if not votes:
                continue
            best = max(votes, key=lambda k: (votes[k], -list(votes).index(k)))
            genre = next(g for p in album.tracks if (g := firsts[p]) and policy.key(g) == best)
            for p in album.tracks:
                firsts[p] = genre
                album_of[p] = album.key
    return firsts, album_of
