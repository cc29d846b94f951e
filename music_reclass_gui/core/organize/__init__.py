"""Safe reorganisation and journaled, undoable file operations (moves and tag writes).

Typical use: `plan = plan_moves(pairs, out_root)` (pure; show it), `report = execute_plan(plan)`,
later `undo()`. Call `recover_interrupted()` once at start-up and show its messages.
"""

from music_reclass_gui.core.organize.executor import OperationReport, execute_plan, preflight
from music_reclass_gui.core.organize.operations import OperationSummary, list_operations, undo
from music_reclass_gui.core.organize.planner import (
    SIDECAR_EXTENSIONS,
    UNSORTED_FOLDER,
    Move,
    MovePlan,
    plan_moves,
)
from music_reclass_gui.core.organize.recovery import recover_interrupted
from music_reclass_gui.core.organize.sanitize import MAX_FOLDER_BYTES, UNKNOWN_GENRE, sanitize_genre_folder
from music_reclass_gui.core.organize.tag_writes import TagChange, apply_tag_changes

__all__ = [
    "MAX_FOLDER_BYTES",
    "SIDECAR_EXTENSIONS",
    "UNKNOWN_GENRE",
    "UNSORTED_FOLDER",
    "Move",
    "MovePlan",
    "OperationReport",
    "OperationSummary",
    "TagChange",
    "apply_tag_changes",
    "execute_plan",
    "list_operations",
    "plan_moves",
    "preflight",
    "recover_interrupted",
    "sanitize_genre_folder",
    "undo",
]
