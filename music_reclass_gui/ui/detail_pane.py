"""The pane beside the table: the selected track, its top-k bars, the tag diff (on disk → proposed), the
error reason when there is one, and the preview player."""

from __future__ import annotations

import html

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QPainter
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout, QWidget

from music_reclass_gui.core.decide import Candidate
from music_reclass_gui.core.genres import genre_key
from music_reclass_gui.core.review import ReviewItem, Status
from music_reclass_gui.ui.delegates import paint_bar
from music_reclass_gui.ui.player import PreviewPlayer
from music_reclass_gui.ui.track_table import STATUS_COLOURS

BAR_HEIGHT = 24
MAX_BARS = 5  # a multi-label model ranks every genre; the pane shows the leaders and stays small-screen sized


class TopKBars(QWidget):
    """One bar per prediction, best first, each readable on its own (genre left, percentage right)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._predictions: list[Candidate] = []
        self.threshold = lambda: 0.5  # the window points this at its review threshold
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_predictions(self, predictions: list[Candidate]) -> None:
        self._predictions = list(predictions)
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(200, max(1, len(self._predictions)) * BAR_HEIGHT)

    def minimumSizeHint(self) -> QSize:
        return QSize(120, self.sizeHint().height())

    def paintEvent(self, _event) -> None:
        painter = QPainter(self)
        for i, p in enumerate(self._predictions):
            rect = QRectF(0, i * BAR_HEIGHT, self.width(), BAR_HEIGHT)
            paint_bar(painter, rect, p.confidence, p.genre, self.palette(), threshold=self.threshold())
        painter.end()


def tag_diff_html(item: ReviewItem) -> str:
    """Genres on disk and the proposal, with removed genres struck through and new ones in green."""
    current = list(item.current_genres)
    proposed = list(item.proposed)
    keys_new = {genre_key(g) for g in proposed}
    keys_old = {genre_key(g) for g in current}
    old = [
        html.escape(g) if genre_key(g) in keys_new else f"<s style='color:#b3261e'>{html.escape(g)}</s>"
        for g in current
    ]
    new = [
        html.escape(g) if genre_key(g) in keys_old else f"<b style='color:#1b7f3b'>{html.escape(g)}</b>"
        for g in proposed
    ]
    none = "<i style='color:#7a7a7a'>none</i>"
    rows = [f"<tr><td>On disk&nbsp;</td><td>{'; '.join(old) or none}</td></tr>"]
    if proposed:
        verb = "Written" if item.status is Status.WRITTEN else "Proposed"
        rows.append(f"<tr><td>{verb}&nbsp;</td><td>→ {'; '.join(new)}</td></tr>")
    return "<table cellspacing='0' cellpadding='1'>" + "".join(rows) + "</table>"


class DetailPane(QWidget):
    """Shows one ReviewItem; empty selection shows a hint."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumWidth(220)
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.15)
        font.setBold(True)
        self.title.setFont(font)
        self.subtitle = QLabel(self)
        self.subtitle.setTextFormat(Qt.TextFormat.PlainText)
        self.subtitle.setWordWrap(True)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.bars_label = QLabel("Model's top genres", self)
        self.bars_label.setStyleSheet("color: #555;")
        self.bars = TopKBars(self)
        self.diff = QLabel(self)
        self.diff.setWordWrap(True)
        self.diff.setTextFormat(Qt.TextFormat.RichText)
        self.player = PreviewPlayer(self)
        line = QFrame(self)
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.addWidget(self.title)
        layout.addWidget(self.subtitle)
        layout.addWidget(self.player)
        layout.addWidget(line)
        layout.addWidget(self.status)
        layout.addWidget(self.bars_label)
        layout.addWidget(self.bars)
        layout.addWidget(self.diff)
        layout.addStretch(1)
        self._item: ReviewItem | None = None
        self.show_item(None)

    @property
    def item(self) -> ReviewItem | None:
        return self._item

    def show_item(self, item: ReviewItem | None, selected: int = 1) -> None:
        self._item = item
        self.player.set_track(item.path if item else None)
        if item is None:
            self.title.setText("No track selected" if selected == 0 else f"{selected} tracks selected")
            self.subtitle.setText("Select a row to see the model's top genres and the tag change.")
            for w in (self.status, self.bars_label, self.bars, self.diff):
                w.hide()
            return
        self.title.setText(self._elide(item.path.name))
        self.title.setToolTip(str(item.path))
        tags = item.track.tags
        lines = []
        if tags and tags.title:
            lines.append(tags.title)
        rest = [t for t in ((tags.artist, tags.album) if tags else ()) if t]
        if tags and tags.duration:
            rest.append(f"{int(tags.duration) // 60}:{int(tags.duration) % 60:02d}")
        if rest:
            lines.append(" — ".join(rest))
        self.subtitle.setText("\n".join(lines) or str(item.path.parent))
        colour = STATUS_COLOURS[item.status].name()
        text = f"<b style='color:{colour}'>{item.status.value.capitalize()}</b>"
        if item.reason:
            text += f"<br><span style='color:#b3261e'>{html.escape(item.reason, quote=False)}</span>"
        elif item.model:
            text += f" <span style='color:#7a7a7a'>· {html.escape(item.model)}</span>"
        if item.reason is None and item.proposal is not None:  # why this proposal (core.decide)
            text += f"<br><span style='color:#555'>{html.escape(item.proposal.reason, quote=False)}</span>"
        self.status.setText(text)
        self.status.show()
        self.bars.set_predictions(item.predictions[:MAX_BARS])
        self.bars.setVisible(bool(item.predictions))
        self.bars_label.setVisible(bool(item.predictions))
        self.diff.setText(tag_diff_html(item))
        self.diff.show()

    def refresh(self) -> None:
        if self._item is not None:
            self.show_item(self._item)

    def _elide(self, text: str) -> str:
        width = max(100, self.width() - 20)
        return self.title.fontMetrics().elidedText(text, Qt.TextElideMode.ElideMiddle, width)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if self._item is not None:
            self.title.setText(self._elide(self._item.path.name))
