"""Review actions on the selected rows: accept (A), reject (R), edit (E), accept all above N%.
Accepting or rejecting moves to the next row so a whole folder can be reviewed from the keyboard."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QItemSelectionModel
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QInputDialog, QSpinBox

from music_reclass_gui.core.review import ReviewItem, Status, parse_genres
from music_reclass_gui.ui.track_table import Column, ItemRole

if TYPE_CHECKING:
    from music_reclass_gui.ui.main_window import MainWindow


class ReviewActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.accept_action = window._action("Accept", self.accept_selected, "A", "Accept the proposed genre")
        self.reject_action = window._action("Reject", self.reject_selected, "R", "Keep the file as it is")
        self.edit_action = window._action("Edit genre…", self.edit_selected, "E", "Choose or type the genre")
        self.accept_above_action = window._action(
            "Accept all above",
            self.accept_above,
            "Ctrl+Shift+A",
            "Accept every proposal at or above this confidence",
        )
        self.threshold_box = QSpinBox(window)
        self.threshold_box.setRange(0, 100)
        self.threshold_box.setSuffix(" %")
        self.threshold_box.setValue(round(window.settings.threshold * 100))
        self.threshold_box.setToolTip("Confidence for “Accept all above”; bars at or above it are green")
        self.threshold_box.valueChanged.connect(
            lambda _v: (window.table.viewport().update(), window.detail.bars.update())
        )
        select_all = window._action(
            "Select All", lambda: window.table.selectAll(), QKeySequence.StandardKey.SelectAll
        )
        self.actions = [
            self.accept_action,
            self.reject_action,
            self.edit_action,
            self.accept_above_action,
            select_all,
        ]

    # -- selection
    def selected_items(self) -> list[ReviewItem]:
        view = self.window.table
        rows = view.selectionModel().selectedRows() if view.selectionModel() else []
        items = [self.window.proxy.data(r, ItemRole) for r in sorted(rows, key=lambda r: r.row())]
        return [i for i in items if i is not None]

    def update_enabled(self) -> None:
        items = self.selected_items()
        decidable = any(i.predictions and i.status is not Status.WRITTEN for i in items)
        self.accept_action.setEnabled(decidable)
        self.reject_action.setEnabled(any(i.status is not Status.WRITTEN for i in items))
        self.edit_action.setEnabled(any(i.status is not Status.WRITTEN for i in items))
        self.accept_above_action.setEnabled(self.window.controller.model.rowCount() > 0)

    def _changed(self, items: list[ReviewItem], advance: bool) -> None:
        controller = self.window.controller
        controller.model.refresh_paths(i.path for i in items)
        self.window.detail.refresh()
        if advance and len(items) == 1:
            self._select_next()

    def _select_next(self) -> None:
        view = self.window.table
        current = view.currentIndex()
        row = current.row() + 1 if current.isValid() else 0
        if row < self.window.proxy.rowCount():
            index = self.window.proxy.index(row, 0)
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            view.selectionModel().setCurrentIndex(index, flags)
            view.scrollTo(index)

    # -- actions
    def accept_selected(self) -> None:
        session = self.window.controller.session
        items = [i for i in self.selected_items() if i.proposed and i.status is not Status.WRITTEN]
        for item in items:
            session.accept(item.path)
        self._changed(items, advance=True)

    def reject_selected(self) -> None:
        session = self.window.controller.session
        items = [i for i in self.selected_items() if i.status is not Status.WRITTEN]
        for item in items:
            session.reject(item.path)
        self._changed(items, advance=True)

    def edit_selected(self) -> None:
        items = [i for i in self.selected_items() if i.status is not Status.WRITTEN]
        if not items:
            return
        view = self.window.table
        if len(items) == 1:  # edit in place with the genre combo
            model = self.window.controller.model
            index = self.window.proxy.mapFromSource(model.index(model.row_of(items[0].path), Column.PROPOSED))
            view.setCurrentIndex(index)
            view.edit(index)
            return
        leading = list(dict.fromkeys(p.genre for i in items for p in i.predictions))
        text = ask_genre(self.window, "Edit genre", f"Genre for {len(items)} tracks", leading)
        if text is not None:
            self.set_genres(items, text)

    def set_genres(self, items: list[ReviewItem], text: str) -> None:
        session = self.window.controller.session
        for item in items:
            session.edit(item.path, text)
        self._changed(items, advance=False)

    def accept_above(self) -> None:
        threshold = self.threshold_box.value() / 100.0
        paths = self.window.controller.session.accept_above(threshold)
        self.window.controller.model.refresh_paths(paths)
        self.window.detail.refresh()
        self.window.notice.show_message(
            f"Accepted {len(paths)} proposal(s) at or above {threshold:.0%}. Press Apply (Ctrl+Enter) to write them.",
            "ok" if paths else "info",
        )


def ask_genre(window: MainWindow, title: str, what: str, leading: list[str]) -> str | None:
    """Ask for one or more genres: the model's candidates first, then the whole vocabulary, free text
    allowed. None when cancelled or left blank."""
    choices = leading + [
        g for g in sorted(window.controller.vocabulary, key=str.casefold) if g not in leading
    ]
    text, ok = QInputDialog.getItem(window, title, f"{what} (separate several with ;):", choices, 0, True)
    return text if ok and parse_genres(text) else None
