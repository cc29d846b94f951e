"""The server's only way to change a user's files. Genres are decided by the one decision layer
(`core.decide`, directly for batch jobs and through the review session for the web page), and written by
`write_changes` — the ONE function here that writes — through the journaled tag-change operation the CLI's
`batch --write-tags` and the app's Apply use, so every write is undoable (`undo_operation`)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from music_reclass_gui.core.decide import DecisionPolicy
from music_reclass_gui.core.review import ReviewSession, ThresholdHooks


def write_changes(changes: list, *, id3_version: int = 4, cancelled: Any = None) -> Any:
    """Write tag changes journaled (core.organize.apply_tag_changes); returns its OperationReport."""
    from music_reclass_gui.core import organize

    return organize.apply_tag_changes(changes, id3_version=id3_version, cancelled=cancelled)


def decided_changes(results: Iterable[Any], tags: dict[Path, Any], policy: DecisionPolicy) -> list:
    """Tag changes the decision layer makes of classification results (as `batch --write-tags` does)."""
    from music_reclass_gui.core.decide import decide_library
    from music_reclass_gui.core.organize import TagChange

    proposals = decide_library(list(results), tags, policy)
    return [TagChange(p, prop.genres) for p, prop in proposals.items() if prop.auto and prop.genres]


def apply_accepted(session: ReviewSession, *, id3_version: int = 4) -> Any:
    """The web page's Apply: the session's accepted decisions, written by `write_changes`.
    Returns the OperationReport, or None when nothing differs from what is on disk."""
    return session.apply(
        ThresholdHooks(confirm=True), lambda changes: write_changes(changes, id3_version=id3_version)
    )


def undo_operation(session: ReviewSession | None, op_id: str | None) -> Any:
    """Undo a journaled operation (the last one when `op_id` is None); the session's rows follow.
    Raises OrganizeError, with nothing changed, when it cannot."""
    from music_reclass_gui.core import organize

    report = organize.undo(op_id)
    if session is not None:
        session.undo_report(report, op_id)
    return report
