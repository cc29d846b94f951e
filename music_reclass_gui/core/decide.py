"""THE decision layer: predictions (+ existing tags, album, policy) -> the genres to write and the folder genre.

Every face decides through here — the GUI's ReviewSession, `batch --write-tags`, `organize --by prediction`,
the server and the cluster — so the same settings give the same genres everywhere. Plain Python: classification
results are read by attribute (``labels`` — every genre's own probability — when the model gives them, else
``top_predictions``), so core never imports torch.

Rules (`DecisionPolicy`):
- the best genre is always proposed; with ``multi_genre`` every other genre whose probability reaches
  ``threshold`` is added (at most ``max_genres``);
- with ``keep_existing`` the genres already on disk stay first and the proposal is added after them;
- a proposal whose best confidence is below ``min_confidence`` is not written automatically
  (``Proposal.auto`` is False): the CLI skips it, the GUI shows it undecided;
- the folder genre is the model's best genre when it is among the genres written, else the first new one.
Album decisions (one genre for every track of an album) live in `core.albums` and end up here as well.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from music_reclass_gui.core.genres import genre_key, unique_genres


@dataclass(frozen=True)
class Candidate:
    """One proposed genre and the model's confidence (probability) in it, 0..1."""

    genre: str
    confidence: float


@dataclass(frozen=True)
class DecisionPolicy:
    """The user's settings for turning predictions into genres (GUI Settings, CLI flags, API fields)."""

    threshold: float = 0.5  # multi-genre: probability an extra genre needs
    keep_existing: bool = False  # add to the genres on disk instead of replacing them
    multi_genre: bool = False
    max_genres: int = 3
    min_confidence: float = 0.0  # below this a proposal is shown but not written automatically
    album_mode: bool = True  # tracks of one album get one genre (see core.albums)
    key: Callable[[str], str] = field(default=genre_key, compare=False)  # genre identity (GenreMap.key)


@dataclass(frozen=True)
class Proposal:
    """What to write to one file and why."""

    genres: tuple[str, ...]  # the genres to write (existing first when keep_existing)
    folder_genre: str | None  # the genre folder for reorganising
    confidence: float | None  # of the best genre (the album's when decided by album)
    candidates: tuple[Candidate, ...] = ()  # what the decision was made from, best first
    reason: str = ""  # human: "model: Rock 82%", "album: 4 of 5 tracks lean Rock"
    auto: bool = True  # confident enough to write without asking (min_confidence)
    source: str = "track"  # "track" | "album" | "user" | "none"
    album: Any = None  # core.albums.AlbumInfo when decided by album

    @property
    def changes(self) -> bool:
        return bool(self.genres)


def candidates_of(result: Any) -> list[Candidate]:
    """A ClassificationResult's genres best first: every genre's probability (`labels`) when present,
    else its top-k predictions. Read by attribute so any result-like object works."""
    preds = getattr(result, "labels", None) or getattr(result, "top_predictions", None) or []
    out = [Candidate(str(p.genre), float(p.confidence)) for p in preds]
    return sorted(out, key=lambda c: -c.confidence)


def choose_genres(candidates: Sequence[Candidate], policy: DecisionPolicy) -> list[str]:
    """The model's genres to propose: the best, plus (multi-genre) the others reaching the threshold."""
    if not candidates:
        return []
    genres = [candidates[0].genre]
    if policy.multi_genre:
        genres += [c.genre for c in candidates[1:] if c.confidence >= policy.threshold]
    return unique_genres(genres, policy.key)[: max(1, policy.max_genres)]


def with_existing(existing: Iterable[str], genres: Iterable[str], policy: DecisionPolicy) -> tuple[str, ...]:
    """Apply keep-existing: the genres on disk first, then the new ones not already there (by identity)."""
    kept = tuple(existing) if policy.keep_existing else ()
    return tuple(unique_genres((*kept, *genres), policy.key))


def folder_genre(
    genres: Sequence[str], candidates: Sequence[Candidate], existing: Sequence[str], policy: DecisionPolicy
) -> str | None:
    """The genre folder: the model's best genre when it is written, else the first genre new to the file,
    else the first genre; None when nothing is written."""
    if not genres:
        return None
    keys = {policy.key(g): g for g in genres}
    if candidates and policy.key(candidates[0].genre) in keys:
        return keys[policy.key(candidates[0].genre)]
    old = {policy.key(g) for g in existing} if policy.keep_existing else set()
    new = [g for g in genres if policy.key(g) not in old]
    return (new or list(genres))[0]


def decide_candidates(
    candidates: Sequence[Candidate],
    existing: Sequence[str] = (),
    policy: DecisionPolicy | None = None,
    *,
    source: str = "track",
    reason: str | None = None,
) -> Proposal:
    """The decision from ranked candidates (a track's or an album's)."""
    policy = policy or DecisionPolicy()
    candidates = sorted(candidates, key=lambda c: -c.confidence)
    if not candidates:
        return Proposal((), None, None, (), reason or "no prediction", auto=False, source="none")
    chosen = choose_genres(candidates, policy)
    genres = with_existing(existing, chosen, policy)
    best = candidates[0]
    auto = best.confidence >= policy.min_confidence
    if reason is None:
        reason = f"model: {best.genre} {best.confidence:.0%}"
    if not auto:
        reason += f" (below the {policy.min_confidence:.0%} needed to write it automatically)"
    return Proposal(
        genres,
        folder_genre(genres, candidates, existing, policy),
        best.confidence,
        tuple(candidates),
        reason,
        auto,
        source,
    )


def decide_track(result: Any, existing: Sequence[str] = (), policy: DecisionPolicy | None = None) -> Proposal:
    """One classified track on its own (per-track mode, or a track outside any album)."""
    return decide_candidates(candidates_of(result), existing, policy)


def decide_user(
    genres: Iterable[str],
    existing: Sequence[str] = (),
    policy: DecisionPolicy | None = None,
    candidates: Sequence[Candidate] = (),
) -> Proposal:
    """The user's own genres (an edit); keep-existing still applies."""
    policy = policy or DecisionPolicy()
    chosen = with_existing(existing, genres, policy)
    return Proposal(
        chosen,
        folder_genre(chosen, candidates, existing, policy),
        None,
        tuple(candidates),
        "chosen by the user",
        True,
        "user",
    )


def decide_library(
    results: Iterable[Any],
    tags: Mapping[Path, Any],
    policy: DecisionPolicy | None = None,
    *,
    splits: Mapping[str, Sequence[Sequence[Path]]] | None = None,
) -> dict[Path, Proposal]:
    """{path: Proposal} for many classified tracks, in result order. `tags` maps every scanned path to its
    TagInfo (or None): the genres on disk, and the albums (`core.albums`) when ``policy.album_mode``.
    `splits` maps an album key to the parts the user split it into."""
    from music_reclass_gui.core.albums import decide_all  # albums builds on this module

    return decide_all(results, tags, policy, splits=splits)
