"""Painting and editing of the "Proposed genre" cell: a confidence bar behind the genre, and an editable
combo with the top-k, the model's whole vocabulary and free text."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QModelIndex, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPalette
from PySide6.QtWidgets import (
    QAbstractItemDelegate,
    QComboBox,
    QCompleter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
)

from music_reclass_gui.ui.track_table import ConfidenceRole, ItemRole

ABOVE_COLOUR = QColor(46, 160, 67)  # would be taken by "Accept above" at the current threshold
BELOW_COLOUR = QColor(66, 133, 214)


def confidence_colour(confidence: float, threshold: float | None = None) -> QColor:
    """Green at or above the review threshold, blue below it. Taggers' scores are not all calibrated the same
    way, so the colour follows the user's own threshold rather than fixed cut-offs."""
    return ABOVE_COLOUR if threshold is not None and confidence >= threshold else BELOW_COLOUR


def paint_bar(
    painter: QPainter,
    rect: QRectF,
    confidence: float,
    label: str,
    palette: QPalette,
    selected: bool = False,
    threshold: float | None = None,
) -> None:
    """A rounded track, a filled part proportional to `confidence`, the label on the left and the
    percentage on the right, both in the normal text colour so they stay readable over the fill."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    bar = rect.adjusted(2, 3, -2, -3)
    track_colour = QColor(palette.color(QPalette.ColorRole.Mid))
    track_colour.setAlpha(60)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(track_colour)
    painter.drawRoundedRect(bar, 3, 3)
    fill = QColor(confidence_colour(confidence, threshold))
    fill.setAlpha(150 if selected else 95)
    painter.setBrush(fill)
    filled = QRectF(bar)
    filled.setWidth(max(0.0, min(1.0, confidence)) * bar.width())
    painter.drawRoundedRect(filled, 3, 3)
    role = QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text
    painter.setPen(palette.color(role))
    text_rect = bar.adjusted(6, 0, -6, 0)
    percent = f"{confidence:.0%}"
    pct_width = painter.fontMetrics().horizontalAdvance("100%") + 4
    painter.drawText(text_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, percent)
    name_rect = text_rect.adjusted(0, 0, -pct_width, 0)
    elided = painter.fontMetrics().elidedText(label, Qt.TextElideMode.ElideRight, int(name_rect.width()))
    painter.drawText(name_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, elided)
    painter.restore()


class ConfidenceBarDelegate(QStyledItemDelegate):
    """Draws the proposed genre over its confidence bar; edits with a GenreCombo."""

    def __init__(
        self, vocabulary: Callable[[], list[str]], threshold: Callable[[], float] | None = None, parent=None
    ) -> None:
        super().__init__(parent)
        self._vocabulary = vocabulary
        self._threshold = threshold or (lambda: 0.5)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        confidence = index.data(ConfidenceRole)
        text = index.data(Qt.ItemDataRole.DisplayRole) or ""
        if confidence is None or not text:
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget else None
        if style is not None:  # background, selection, focus
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        paint_bar(
            painter, QRectF(option.rect), float(confidence), text, option.palette, selected, self._threshold()
        )

    def createEditor(self, parent, option, index):
        item = index.data(ItemRole)
        combo = GenreCombo(parent)
        top = [p.genre for p in item.predictions] if item is not None else []
        combo.set_choices(top, self._vocabulary())
        # Enter in the text or picking from the list finishes the edit, like any table cell
        combo.lineEdit().returnPressed.connect(lambda: self._finish(combo))
        combo.activated.connect(lambda _i: self._finish(combo))
        return combo

    def _finish(self, editor: GenreCombo) -> None:
        if editor.property("finished"):
            return
        editor.setProperty("finished", True)
        self.commitData.emit(editor)
        self.closeEditor.emit(editor, QAbstractItemDelegate.EndEditHint.NoHint)

    def setEditorData(self, editor, index):
        editor.setCurrentText(index.data(Qt.ItemDataRole.EditRole) or "")
        editor.lineEdit().selectAll()

    def setModelData(self, editor, model, index):
        model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)


class ElideMiddleDelegate(QStyledItemDelegate):
    """File names keep their start and their extension visible."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideMiddle


class GenreCombo(QComboBox):
    """Editable: the top-k first, a separator, then every genre the model knows; typing anything is fine
    ("Rock; Blues" gives two genres)."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setEditable(True)
        self.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.setMaxVisibleItems(20)

    def set_choices(self, top: list[str], vocabulary: list[str]) -> None:
        self.clear()
        self.addItems(top)
        rest = sorted((g for g in vocabulary if g not in top), key=str.casefold)
        if top and rest:
            self.insertSeparator(self.count())
        self.addItems(rest)
        completer = QCompleter([*top, *rest], self)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        self.setCompleter(completer)
