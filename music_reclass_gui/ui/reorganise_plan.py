"""Reorganise with the user's layout template: what the planner needs from the review (tags, album keys), and
the preview tree of target folders per genre shown before anything moves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QTreeWidget, QTreeWidgetItem, QWidget

from music_reclass_gui.core.review import ReviewSession


def reorganise_layout(session: ReviewSession, template: str, folder: Path | None) -> dict[str, Any]:
    """plan_moves' keyword arguments for the session: the template, every track's tags (the template's
    fields), the album of each album-decided track, and the opened folder as the source root."""
    albums = {i.path: i.album.key for i in session if i.album is not None}
    return {
        "layout": template,
        "tags": {i.path: i.track.tags for i in session},
        "albums": albums,
        "source_root": folder,
    }


def _rel(path: Path, root: Path) -> tuple[str, ...]:
    try:
        return Path(path).relative_to(root).parts
    except ValueError:
        return Path(path).parts


class PlanTree(QTreeWidget):
    """Target folders under the output root, genre first, each with how many files go there; the files
    themselves (tracks, album extras, copies) are the leaves."""

    def __init__(self, plan: Any, out_root: Path, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHeaderLabels(["Target folder", "Files"])
        self.setColumnWidth(0, 520)
        self._nodes: dict[tuple[str, ...], QTreeWidgetItem] = {}
        for move in plan.moves:
            files = [(move.dst, "")] + [(b, "moves with the album") for _, b in move.sidecars]
            files += [(b, "copy") for _, b in move.copies]
            for dst, note in files:
                parts = _rel(dst, out_root)
                node = self._folder(parts[:-1])
                leaf = QTreeWidgetItem(node, [parts[-1] + (f"  ({note})" if note else ""), ""])
                leaf.setToolTip(0, str(dst))
                for depth in range(1, len(parts)):
                    folder = self._nodes[parts[:depth]]
                    folder.setText(1, str(int(folder.text(1) or 0) + 1))
        for i in range(self.topLevelItemCount()):
            self.topLevelItem(i).setExpanded(True)

    def _folder(self, parts: tuple[str, ...]) -> QTreeWidgetItem:
        if parts in self._nodes:
            return self._nodes[parts]
        parent = self._folder(parts[:-1]) if len(parts) > 1 else None
        node = (
            QTreeWidgetItem(parent, [parts[-1], "0"]) if parent else QTreeWidgetItem(self, [parts[-1], "0"])
        )
        self._nodes[parts] = node
        return node

    def genres(self) -> dict[str, int]:
        """{genre folder: files going under it} as shown (for tests and the summary)."""
        return {
            self.topLevelItem(i).text(0): int(self.topLevelItem(i).text(1))
            for i in range(self.topLevelItemCount())
        }
