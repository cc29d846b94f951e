"""Small pieces of the main window: the empty state, the notice bar and the progress strip."""

from __future__ import annotations

import html
import time
from collections.abc import Callable

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QTextDocument
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

EMPTY_TEXT = "Drop a music folder here or File ▸ Open Folder…"


class EmptyState(QWidget):
    """What a new user sees: one sentence, one button, and the recent folders."""

    open_requested = Signal()
    recent_requested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.message = QLabel(EMPTY_TEXT, self)
        self.message.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.message.setWordWrap(True)
        font = self.message.font()
        font.setPointSizeF(font.pointSizeF() * 1.4)
        self.message.setFont(font)
        self.message.setStyleSheet("color: palette(dark);")
        hint = QLabel(
            "Music ReClass listens to each track, proposes genres, and writes nothing until you press Apply.",
            self,
        )
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        hint.setStyleSheet("color: palette(mid);")
        button = QPushButton("Open Folder…", self)
        button.clicked.connect(self.open_requested)
        self.recent_box = QVBoxLayout()
        self.recent_box.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        layout = QVBoxLayout(self)
        layout.addStretch(2)
        layout.addWidget(self.message)
        layout.addWidget(hint)
        layout.addSpacing(12)
        layout.addWidget(button, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addSpacing(12)
        layout.addLayout(self.recent_box)
        layout.addStretch(3)

    def set_recent(self, folders: list[str]) -> None:
        while self.recent_box.count():
            widget = self.recent_box.takeAt(0).widget()
            if widget is not None:
                widget.deleteLater()
        if folders:
            title = QLabel("Recent folders", self)
            title.setStyleSheet("color: palette(mid);")
            self.recent_box.addWidget(title, 0, Qt.AlignmentFlag.AlignHCenter)
        for folder in folders[:5]:
            link = QPushButton(folder, self)
            link.setFlat(True)
            link.setCursor(Qt.CursorShape.PointingHandCursor)
            link.clicked.connect(lambda _=False, f=folder: self.recent_requested.emit(f))
            self.recent_box.addWidget(link, 0, Qt.AlignmentFlag.AlignHCenter)


class NoticeBar(QWidget):
    """A dismissible line above the table for results and errors (no modal dialogs in the way)."""

    STYLES = {
        "info": "background:#e8f0fb; color:#123; border:1px solid #b5c9e8;",
        "ok": "background:#e6f4ea; color:#0b3d1c; border:1px solid #a8d5b5;",
        "error": "background:#fce8e6; color:#5c0b05; border:1px solid #f0b4ae;",
    }

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel(self)
        self.label.setWordWrap(True)
        self.label.setTextFormat(Qt.TextFormat.RichText)  # always HTML: escaped text is shown, not re-escaped
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        close = QToolButton(self)
        close.setText("✕")
        close.setAutoRaise(True)
        close.setToolTip("Dismiss")
        close.clicked.connect(self.hide)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(close, 0, Qt.AlignmentFlag.AlignTop)
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.kind = "info"
        self.hide()

    def show_message(self, text: str, kind: str = "info", details: list[str] | None = None) -> None:
        self.kind = kind
        self.setStyleSheet(f"NoticeBar {{{self.STYLES.get(kind, self.STYLES['info'])} border-radius:4px;}}")
        body = html.escape(text, quote=False)
        if details:
            shown = details[:8]
            body += "<br>" + "<br>".join(html.escape(d, quote=False) for d in shown)
            if len(details) > len(shown):
                body += f"<br>… and {len(details) - len(shown)} more (see the error rows)"
        self.label.setText(body)
        self.show()

    @property
    def text(self) -> str:
        return self.label.text()

    @property
    def plain_text(self) -> str:
        """What the user reads (the label's HTML rendered to text)."""
        doc = QTextDocument()
        doc.setHtml(self.label.text())
        return doc.toPlainText()


class ProgressStrip(QWidget):
    """Progress of the running job: a bar with "done / total", the rate and a Cancel button."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(self)
        self.bar = QProgressBar(self)
        self.bar.setTextVisible(True)
        self.rate = QLabel(self)
        self.rate.setMinimumWidth(self.rate.fontMetrics().horizontalAdvance("00.0 tracks/s · ETA 00:00"))
        self.cancel = QPushButton("Cancel", self)
        self.cancel.setToolTip("Stop after the track being analysed (Esc)")
        self.cancel.setShortcut("Esc")
        self.cancel.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 2)
        layout.addWidget(self.title)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.rate)
        layout.addWidget(self.cancel)
        self._started = time.monotonic()
        self.hide()

    def begin(self, title: str, total: int = 0, cancellable: bool = True) -> None:
        self._started = time.monotonic()
        self.title.setText(title)
        self.bar.setRange(0, total)  # 0..0 = busy indicator while the total is unknown
        self.bar.setValue(0)
        self.bar.setFormat("%v / %m" if total else "")
        self.rate.setText("")
        self.cancel.setEnabled(cancellable)
        self.cancel.setVisible(cancellable)
        self.show()

    def update_progress(self, done: int, total: int, unit: str = "tracks") -> None:
        if total and self.bar.maximum() != total:
            self.bar.setRange(0, total)
            self.bar.setFormat("%v / %m")
        self.bar.setValue(done)
        elapsed = time.monotonic() - self._started
        if done and elapsed > 0:
            rate = done / elapsed
            eta = (total - done) / rate if total else 0
            self.rate.setText(
                f"{rate:.1f} {unit}/s" + (f" · ETA {int(eta) // 60}:{int(eta) % 60:02d}" if total else "")
            )

    def set_count(self, text: str) -> None:
        """For jobs without a known total (scanning): a busy bar and a count."""
        self.rate.setText(text)

    def finish(self) -> None:
        self.hide()


def connect_once(signal, slot: Callable) -> None:
    """Connect `slot` so that it runs for the next emission only."""

    def _wrapper(*args):
        signal.disconnect(_wrapper)
        slot(*args)

    signal.connect(_wrapper)
