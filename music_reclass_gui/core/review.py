"""Review of proposed genres before anything is written (in the spirit of beets' import and Picard's
"original vs. new" view).

A `ReviewSession` holds one `ReviewItem` per track: what is on disk next to what the model proposes, and the
user's decision. Nothing here touches the disk; `pending_changes()` turns accepted decisions into
`organize.TagChange`s and `apply_report()` records what `organize.apply_tag_changes` did. Decisions are asked
through `ReviewHooks`, so the CLI answers from flags, the GUI from its table and tests from a script.

Plain Python: never imports Qt or torch (classification results are read by attribute).
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from music_reclass_gui.core.albums import Album, AlbumInfo, Member, album_parts, decide_album, group_albums
from music_reclass_gui.core.decide import (
    Candidate,
    DecisionPolicy,
    Proposal,
    candidates_of,
    decide_candidates,
    folder_genre,
    with_existing,
)
from music_reclass_gui.core.genres import EDIT_SEPARATORS, split_genres
from music_reclass_gui.core.library import Track

if TYPE_CHECKING:  # organize is imported lazily so review works while it is still being written
    from music_reclass_gui.core.organize import OperationReport, TagChange


class Status(str, enum.Enum):
    """Where a track is in the review; the string value is what the user sees."""

    PENDING = "pending"  # found, not classified yet
    CLASSIFIED = "classified"  # the model proposed genres, the user has not decided
    ACCEPTED = "accepted"  # the user accepted (or edited) the proposal; written on Apply
    REJECTED = "rejected"  # the user keeps the file as it is
    WRITTEN = "written"  # Apply wrote the proposed genres to the file
    ERROR = "error"  # decoding, classification or writing failed; `reason` says why


@dataclass
class ReviewItem:
    """One track: on-disk metadata and the proposal side by side."""

    track: Track
    status: Status = Status.PENDING
    predictions: list[Candidate] = field(default_factory=list)  # top-k, best first
    proposed: tuple[str, ...] = ()
    reason: str | None = None  # human reason when status is ERROR
    model: str | None = None
    proposal: Proposal | None = None  # the decision layer's proposal (its reason, its album)
    multi_label: bool = False  # predictions are every genre's own probability (result.labels)

    @property
    def album(self) -> AlbumInfo | None:
        """The album decision this track's proposal follows (None: decided on its own)."""
        return self.proposal.album if self.proposal is not None else None

    @property
    def path(self) -> Path:
        return self.track.path

    @property
    def current_genres(self) -> tuple[str, ...]:
        return self.track.tags.genres if self.track.tags is not None else ()

    @property
    def confidence(self) -> float | None:
        """Confidence of the best prediction, None before classification."""
        return self.predictions[0].confidence if self.predictions else None

    @property
    def changes_disk(self) -> bool:
        """True when writing `proposed` would change the genre tag on disk."""
        return bool(self.proposed) and tuple(self.proposed) != tuple(self.current_genres)


# --- decisions -----------------------------------------------------------------------------------------


class Action(str, enum.Enum):
    ACCEPT = "accept"
    REJECT = "reject"
    EDIT = "edit"
    SKIP = "skip"  # leave undecided


@dataclass(frozen=True)
class Decision:
    action: Action
    genres: tuple[str, ...] | None = None  # for EDIT (and optionally ACCEPT)


class ReviewHooks(Protocol):
    """Where decisions come from: flags (CLI), dialogs and table edits (GUI), a script (tests)."""

    def decide(self, item: ReviewItem) -> Decision: ...

    def confirm_apply(self, changes: Sequence[TagChange]) -> bool: ...


class ThresholdHooks:
    """CLI-style answers: accept proposals whose confidence is at least `threshold`, skip the rest."""

    def __init__(self, threshold: float = 0.0, *, confirm: bool = True) -> None:
        self.threshold = threshold
        self.confirm = confirm

    def decide(self, item: ReviewItem) -> Decision:
        ok = item.confidence is not None and item.confidence >= self.threshold
        return Decision(Action.ACCEPT if ok else Action.SKIP)

    def confirm_apply(self, changes: Sequence[TagChange]) -> bool:
        return self.confirm


class ScriptedHooks:
    """Answers from a mapping {file name or path: Decision}; anything unlisted is skipped."""

    def __init__(self, choices: dict[str | Path, Decision], *, confirm: bool = True) -> None:
        self.choices = {str(k): v for k, v in choices.items()}
        self.confirm = confirm
        self.asked: list[Path] = []

    def decide(self, item: ReviewItem) -> Decision:
        self.asked.append(item.path)
        return self.choices.get(str(item.path), self.choices.get(item.path.name, Decision(Action.SKIP)))

    def confirm_apply(self, changes: Sequence[TagChange]) -> bool:
        return self.confirm


# --- genre helpers ---------------------------------------------------------------------------------------


def parse_genres(text: str) -> tuple[str, ...]:
    """Free text from an edit box → genres: ';' (or a new line) separates several, blanks are dropped."""
    return tuple(split_genres(text, EDIT_SEPARATORS))


# --- the session ----------------------------------------------------------------------------------------


class ReviewSession:
    """All tracks of an opened folder, by path, with the review actions.

    Proposals come from `core.decide` under `policy` (keep-existing, multi-genre, threshold, genre identity),
    the same layer the CLI and the server decide through. The keyword arguments override the policy's fields.
    """

    def __init__(
        self,
        *,
        policy: DecisionPolicy | None = None,
        keep_existing: bool | None = None,
        multi_genre: bool | None = None,
        threshold: float | None = None,
        genre_key: Callable[[str], str] | None = None,
    ) -> None:
        policy = policy or DecisionPolicy()
        overrides = {
            "keep_existing": keep_existing,
            "multi_genre": multi_genre,
            "threshold": threshold,
            "key": genre_key,
        }
        self.policy = replace(policy, **{k: v for k, v in overrides.items() if v is not None})
        self._splits: dict[str, list[list[Path]]] = {}  # album key -> the user's parts
        self._albums: dict[Path, Album] | None = None  # path -> its album (part); None: regroup
        self._items: dict[Path, ReviewItem] = {}
        self._before_apply: dict[str, dict[Path, tuple[Status, Track]]] = {}

    # -- the policy's fields, as the GUI sets them
    @property
    def keep_existing(self) -> bool:
        return self.policy.keep_existing

    @property
    def multi_genre(self) -> bool:
        return self.policy.multi_genre

    @multi_genre.setter
    def multi_genre(self, value: bool) -> None:
        self.policy = replace(self.policy, multi_genre=value)

    @property
    def threshold(self) -> float:
        return self.policy.threshold

    @threshold.setter
    def threshold(self, value: float) -> None:
        self.policy = replace(self.policy, threshold=value)

    @property
    def genre_key(self) -> Callable[[str], str]:
        return self.policy.key

    # -- collection
    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[ReviewItem]:
        return iter(self._items.values())

    def __contains__(self, path: object) -> bool:
        if isinstance(path, Path):
            return path in self._items
        return Path(path) in self._items if isinstance(path, str) else False

    def item(self, path: str | Path) -> ReviewItem:
        try:
            return self._items[path if isinstance(path, Path) else Path(path)]
        except KeyError:
            raise KeyError(f"{path} is not part of this review") from None

    def items(self) -> list[ReviewItem]:
        return list(self._items.values())

    def add_track(self, track: Track) -> ReviewItem:
        """Add (or refresh) a scanned track. A track whose tags could not be read is an error row."""
        old = self._items.get(track.path)
        if old is not None:
            old.track = track
            if track.error:
                old.status, old.reason = Status.ERROR, track.error
            return old
        item = ReviewItem(track=track)
        if track.error:
            item.status, item.reason = Status.ERROR, track.error
        self._items[track.path] = item
        self._albums = None
        return item

    # -- classification results
    def set_result(self, result: Any) -> ReviewItem:
        """Record an inference `ClassificationResult` (read by attribute: audio_path, model, top_predictions)."""
        item = self.item(result.audio_path)
        item.predictions = candidates_of(result)
        item.multi_label = bool(getattr(result, "labels", None))
        item.model = getattr(result, "model", None)
        item.reason = None
        item.status = Status.CLASSIFIED
        self._redecide(item)
        return item

    # -- albums
    def _album_index(self) -> dict[Path, Album]:
        if self._albums is None:
            albums, _ = group_albums({p: it.track.tags for p, it in self._items.items()})
            self._albums = {
                p: part for a in albums for part in album_parts(a, self._splits) for p in part.tracks
            }
        return self._albums

    def album_of(self, path: str | Path) -> Album | None:
        """The album (or the user's part of it) a track belongs to; None for a track on its own."""
        album = self._album_index().get(self.item(path).path)
        return album if album is not None and len(album.tracks) > 1 else None

    def albums(self) -> list[Album]:
        """Every album (part) of more than one track, in the order their first tracks appear."""
        seen: dict[str, Album] = {}
        for album in self._album_index().values():
            if len(album.tracks) > 1:
                seen.setdefault(album.key, album)
        return list(seen.values())

    def _redecide(self, item: ReviewItem) -> None:
        """Propose through core.decide: the album's genre in album mode, else the track's own. Only
        undecided (CLASSIFIED) rows change; decided ones keep what the user chose."""
        album = self.album_of(item.path) if self.policy.album_mode else None
        if album is None:
            if item.status is Status.CLASSIFIED:
                self._set_proposal(
                    item, decide_candidates(item.predictions, item.current_genres, self.policy)
                )
            return
        items = [self._items[p] for p in album.tracks if p in self._items]
        members = [
            Member(
                it.path,
                tuple(it.predictions),
                it.current_genres,
                getattr(it.track.tags, "duration", None),
                it.multi_label,  # combined as independent probabilities, exactly as albums.member does
            )
            for it in items
        ]
        proposals = decide_album(album, members, self.policy)
        for it in items:
            if it.status is Status.CLASSIFIED and it.path in proposals:
                self._set_proposal(it, proposals[it.path])

    @staticmethod
    def _set_proposal(item: ReviewItem, proposal: Proposal) -> None:
        item.proposal = proposal
        item.proposed = proposal.genres

    def _redecide_all(self) -> None:
        done: set[str] = set()
        for item in self._items.values():
            album = self.album_of(item.path) if self.policy.album_mode else None
            if album is not None and album.key in done:
                continue
            if album is not None:
                done.add(album.key)
            self._redecide(item)

    def set_album_mode(self, on: bool) -> None:
        """Album mode (one genre per album) or per-track mode; re-proposes every undecided row."""
        self.policy = replace(self.policy, album_mode=on)
        self._redecide_all()

    def split_album(self, key: str, parts: Sequence[Sequence[str | Path]] | None = None) -> list[Album]:
        """The user splits an album: into `parts` (each decided as an album of its own; tracks in no part
        form one more), or, without parts, into single tracks. Undecided rows are re-proposed; returns the
        new parts."""
        album = next((a for a in self.albums() if a.key == key), None)
        if album is None:
            raise KeyError(f"{key}: no such album in this review")
        split = [[Path(p) for p in part] for part in parts] if parts else [[p] for p in album.tracks]
        root = key.split(" [part ", 1)[0]
        self._splits[root] = [list(t.tracks) for t in self._album_parts_of(root) if t.key != key] + split
        self._albums = None
        for path in album.tracks:
            item = self._items.get(path)
            if item is not None and item.status is Status.ACCEPTED:
                item.status = Status.CLASSIFIED
        self._redecide_all()
        return [a for a in {self._album_index().get(p) for p in album.tracks} if a is not None]

    def _album_parts_of(self, root: str) -> list[Album]:
        parts = {a.key: a for a in self._album_index().values()}
        return [a for k, a in parts.items() if k == root or k.startswith(root + " [part ")]

    def accept_album(self, key: str, genres: Iterable[str] | str | None = None) -> list[Path]:
        """Accept (or, with `genres`, edit) every track of an album in one action."""
        album = next((a for a in self.albums() if a.key == key), None)
        if album is None:
            raise KeyError(f"{key}: no such album in this review")
        done = []
        for path in album.tracks:
            item = self._items.get(path)
            if item is None or item.status in (Status.WRITTEN, Status.ERROR, Status.PENDING):
                continue
            if genres is not None:
                self.edit(path, genres)
            elif item.proposed:
                self.accept(path)
            else:
                continue
            done.append(path)
        return done

    def set_failure(self, path: str | Path, error: str) -> ReviewItem:
        """Record a `ClassificationFailure` (or any per-file error) with its human reason."""
        item = self.item(path)
        item.status, item.reason = Status.ERROR, error
        return item

    def _with_existing(self, item: ReviewItem, genres: Iterable[str]) -> tuple[str, ...]:
        return with_existing(item.current_genres, genres, self.policy)

    def set_keep_existing(self, keep: bool) -> None:
        """Switch add/replace; re-proposes for every item not yet decided or written."""
        self.policy = replace(self.policy, keep_existing=keep)
        self._redecide_all()

    # -- decisions
    def _decidable(self, path: str | Path) -> ReviewItem:
        item = self.item(path)
        if item.status in (Status.PENDING, Status.ERROR) and not item.predictions:
            raise ValueError(f"{item.path.name}: nothing to decide yet ({item.reason or item.status.value})")
        return item

    def accept(self, path: str | Path, genres: Iterable[str] | None = None) -> ReviewItem:
        """Accept the proposal (or the given genres, which replace it; keep-existing still applies)."""
        item = self._decidable(path) if genres is None else self.item(path)
        if genres is not None:
            item.proposed = self._with_existing(item, genres)
        if not item.proposed:
            raise ValueError(f"{item.path.name}: no genre to accept")
        item.status, item.reason = Status.ACCEPTED, None
        return item

    def edit(self, path: str | Path, genres: Iterable[str] | str) -> ReviewItem:
        """The user's own genres ("Rock; Blues" as text works too); an edit is an accept."""
        if isinstance(genres, str):
            genres = parse_genres(genres)
        return self.accept(path, tuple(genres))

    def reject(self, path: str | Path) -> ReviewItem:
        item = self.item(path)
        if item.status is Status.WRITTEN:
            raise ValueError(f"{item.path.name}: already written; use Undo to restore it")
        item.status, item.reason = Status.REJECTED, None
        return item

    def accept_above(self, threshold: float) -> list[Path]:
        """Accept every undecided proposal whose best confidence is at least `threshold` (0..1)."""
        accepted = []
        for item in self._items.values():
            if item.status is Status.CLASSIFIED and (item.confidence or 0.0) >= threshold and item.proposed:
                item.status = Status.ACCEPTED
                accepted.append(item.path)
        return accepted

    def review(self, hooks: ReviewHooks) -> dict[Action, int]:
        """Ask `hooks` about every undecided item; returns how many got each answer."""
        counts = dict.fromkeys(Action, 0)
        for item in self._items.values():
            if item.status is not Status.CLASSIFIED:
                continue
            decision = hooks.decide(item)
            if decision.action is Action.ACCEPT:
                self.accept(item.path, decision.genres)
            elif decision.action is Action.EDIT:
                self.edit(item.path, decision.genres or ())
            elif decision.action is Action.REJECT:
                self.reject(item.path)
            counts[decision.action] += 1
        return counts

    # -- writing
    def counts(self) -> dict[Status, int]:
        out = dict.fromkeys(Status, 0)
        for item in self._items.values():
            out[item.status] += 1
        return out

    def pending_changes(self) -> list[TagChange]:
        """Tag changes for accepted items whose proposed genres differ from what is on disk."""
        from music_reclass_gui.core.organize import TagChange

        return [  # guarded by the size/mtime last seen: a file replaced since the scan is refused, not written
            TagChange.for_track(item.track, item.proposed)
            for item in self._items.values()
            if item.status is Status.ACCEPTED and item.changes_disk
        ]

    def apply(
        self, hooks: ReviewHooks, writer: Callable[[list[TagChange]], OperationReport]
    ) -> OperationReport | None:
        """Confirm through `hooks`, write with `writer` (e.g. organize.apply_tag_changes), record the result.
        Returns None when there was nothing to write or the hooks said no."""
        changes = self.pending_changes()
        if not changes or not hooks.confirm_apply(changes):
            return None
        report = writer(changes)
        self.apply_report(report, changes)
        return report

    def apply_report(self, report: OperationReport, changes: Sequence[TagChange] | None = None) -> None:
        """Mark written files WRITTEN (their on-disk genres are now the proposal) and failed ones ERROR with
        the reason. Accepted items without a change (already on disk) count as written too."""
        from music_reclass_gui.core.tags import TagInfo

        wanted = {c.path: tuple(c.new_genres) for c in changes} if changes is not None else {}
        snapshot: dict[Path, tuple[Status, Track]] = {}
        for path in report.done:
            item = self._items.get(Path(path))
            if item is None:
                continue
            snapshot[item.path] = (item.status, item.track)
            genres = wanted.get(item.path, item.proposed)
            tags = replace(item.track.tags, genres=genres) if item.track.tags else TagInfo(genres=genres)
            size, mtime = report.stats.get(item.path, (item.track.size, item.track.mtime))
            item.track = replace(item.track, tags=tags, size=size, mtime=mtime)
            item.status, item.reason = Status.WRITTEN, None
        for path, reason in report.failed:
            item = self._items.get(Path(path))
            if item is not None:
                item.status, item.reason = Status.ERROR, reason
        for item in self._items.values():  # accepted and already on disk: nothing to write, it is done
            if item.status is Status.ACCEPTED and not item.changes_disk:
                item.status = Status.WRITTEN
        self._before_apply[report.op_id] = snapshot

    def undo_report(self, report: OperationReport, op_id: str | None = None) -> None:
        """After organize.undo of a tag operation: the restored files show their old genres again and go back
        to their state before Apply (accepted), ready to be changed or re-applied. `op_id` names the undone
        operation; without it the latest Apply of this session is assumed. Files restored by an operation this
        session did not record lose their WRITTEN mark (re-read their tags with `refresh_tracks`)."""
        key = op_id if op_id is not None else next(reversed(self._before_apply), report.op_id)
        snapshot = self._before_apply.pop(key, {})
        for path in report.done:
            item = self._items.get(Path(path))
            if item is None:
                continue
            if item.path in snapshot:
                status, track = snapshot[item.path]
                item.track, item.status, item.reason = track, status, None
            elif item.status is Status.WRITTEN:
                item.status = Status.ACCEPTED
        for path, reason in report.failed:
            item = self._items.get(Path(path))
            if item is not None:
                item.status, item.reason = Status.ERROR, f"undo failed: {reason}"

    def relocate(self, old: str | Path, new: str | Path) -> ReviewItem:
        """A file was moved (reorganise, or its undo): keep its review under the new path, same position."""
        old, new = Path(old), Path(new)
        item = self.item(old)
        item.track = replace(item.track, path=new)
        self._items = {(new if p == old else p): it for p, it in self._items.items()}
        self._splits = {
            k: [[new if p == old else p for p in part] for part in v] for k, v in self._splits.items()
        }
        self._albums = None
        return item

    def primary_genre(self, path: str | Path) -> str | None:
        """The folder genre for reorganising: the model's best genre when it was kept, else the first
        accepted one; None when nothing was accepted."""
        item = self.item(path)
        if item.status not in (Status.ACCEPTED, Status.WRITTEN) or not item.proposed:
            return None
        cands = item.proposal.candidates if item.proposal is not None else item.predictions
        return folder_genre(item.proposed, cands, item.current_genres, self.policy)

    def refresh_tracks(self, tracks: Iterable[Track]) -> None:
        """Replace on-disk metadata after a re-scan (e.g. after undo) without touching decisions."""
        for track in tracks:
            if track.path in self._items:
                self._items[track.path].track = track
        self._albums = None
