"""The server's only way to change a user's files: accepted review decisions → the journaled tag-change
operation (the same one the CLI's `batch --write-tags` and the app's Apply use), and its undo.

`apply_accepted` is the ONE place where the server writes: the review session (and through it the decision
layer) decides the genres, `core.organize.apply_tag_changes` writes them journaled and undoable."""

from __future__ import annotations

from typing import Any

from music_reclass_gui.core.review import ReviewSession, ThresholdHooks


def apply_accepted(session: ReviewSession, *, id3_version: int = 4, cancelled: Any = None) -> Any:
    """Write every accepted item's genres (journaled; `undo_operation(report.op_id)` restores them).
    Returns the OperationReport, or None when nothing differs from what is on disk."""
    from music_reclass_gui.core import organize

    def writer(changes: list) -> Any:
        return organize.apply_tag_changes(changes, id3_version=id3_version, cancelled=cancelled)

    return session.apply(ThresholdHooks(confirm=True), writer)


def undo_operation(session: ReviewSession | None, op_id: str | None) -> Any:
    """Undo a journaled operation (the last one when `op_id` is None); the session's rows follow.
    Raises OrganizeError, with nothing changed, when it cannot."""
    from music_reclass_gui.core import organize

    report = organize.undo(op_id)
    if session is not None:
        session.undo_report(report, op_id)
    return report
