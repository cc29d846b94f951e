"""“Learn genres from this library…”: learn the user's own genres from the tracks already tagged (or accepted)
on a worker, show what was learnt and how well it does (examples per genre, left-out genres with the
adjustable minimum, cross-validated accuracy overall and per genre, confusion matrix), then Adopt (named,
saved as a model, made current) or Discard. The UI thread only shows results; training/personal.py works."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from music_reclass_gui.training.personal import (
    DEFAULT_MIN_EXAMPLES,
    MIN_ALLOWED_EXAMPLES,
    POLICY,
)
from music_reclass_gui.ui.workers import Job, JobRunner, learn_personal_job, save_personal_job

RELEARN_DELAY_MS = 400  # the minimum can be stepped several times before learning starts again
DIAGONAL = QColor(46, 125, 50, 70)
CONFUSED = QColor(179, 38, 30, 50)


def _table(parent: QWidget, rows: int, cols: int) -> QTableWidget:
    table = QTableWidget(rows, cols, parent)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
    return table


def _cell(text: str, tip: str = "") -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
    if tip:
        item.setToolTip(tip)
    return item


class LearnDialog(QDialog):
    """Runs the learning on open and again when the minimum changes; `card` holds the adopted model."""

    adopted = Signal(object)  # the ModelCard of the saved model

    def __init__(
        self,
        tracks: list[Any],
        accepted: list[tuple[Path, tuple[str, ...]]],
        runner: JobRunner,
        *,
        folder: Path | None = None,
        device: str = "auto",
        min_examples: int = DEFAULT_MIN_EXAMPLES,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Learn genres from this library")
        self.resize(760, 620)
        self.tracks, self.accepted, self.runner = list(tracks), list(accepted), runner
        self.folder, self.device = folder, device
        self.result: Any = None
        self.card: Any = None
        self._job: Job | None = None
        self._saver: Job | None = None
        self._replace_name: str | None = None  # the user saw "already exists" for this name

        intro = QLabel(
            "Your tagged tracks (and the genres you accepted) teach a model your own genres; it then "
            "proposes them, in your spelling, for the untagged tracks. Nothing is written to your files.",
            self,
        )
        intro.setWordWrap(True)
        self.min_examples = QSpinBox(self)
        self.min_examples.setRange(MIN_ALLOWED_EXAMPLES, 10_000)
        self.min_examples.setValue(max(MIN_ALLOWED_EXAMPLES, min_examples))
        self.min_examples.setSuffix(" tracks")
        self.min_examples.setToolTip(
            "Genres with fewer tagged tracks are left out: with too few examples a genre cannot be learnt or "
            "checked reliably."
        )
        self._relearn_timer = QTimer(self)
        self._relearn_timer.setSingleShot(True)
        self._relearn_timer.setInterval(RELEARN_DELAY_MS)
        self._relearn_timer.timeout.connect(self.learn)
        self.min_examples.valueChanged.connect(lambda _v: self._relearn_timer.start())
        min_row = QHBoxLayout()
        min_row.addWidget(QLabel("Leave out genres with fewer than", self))
        min_row.addWidget(self.min_examples)
        min_row.addStretch(1)

        self.progress = QProgressBar(self)
        self.progress.setRange(0, 0)
        self.status = QLabel(self)
        self.status.setWordWrap(True)
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.genres = _table(self, 0, 3)
        self.genres.setHorizontalHeaderLabels(["Genre", "Tagged tracks", "Cross-validated accuracy"])
        self.genres.verticalHeader().setVisible(False)
        self.genres.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.confusion = _table(self, 0, 0)
        self.confusion.setToolTip("Rows: the genre in your tags; columns: what the model proposed")
        self.policy = QLabel(f"<small>{POLICY}</small>", self)
        self.policy.setWordWrap(True)

        self.name = QLineEdit(self._default_name(), self)
        self.name.setPlaceholderText("Name of the model")
        self.name.textChanged.connect(lambda _t: self._update_buttons())
        form = QFormLayout()
        form.addRow("Model name", self.name)

        self.buttons = QDialogButtonBox(self)
        self.adopt_button = QPushButton("Adopt", self)
        self.adopt_button.setToolTip("Save the model and use it to classify")
        self.adopt_button.setDefault(True)
        self.buttons.addButton(self.adopt_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.discard_button = self.buttons.addButton("Discard", QDialogButtonBox.ButtonRole.RejectRole)
        self.adopt_button.clicked.connect(self.adopt)
        self.discard_button.clicked.connect(self._discard_or_stop)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addLayout(min_row)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.genres, 2)
        layout.addWidget(QLabel("Confusion (rows: your tag, columns: proposed)", self))
        layout.addWidget(self.confusion, 2)
        layout.addWidget(self.policy)
        layout.addLayout(form)
        layout.addWidget(self.buttons)
        self._update_buttons()

    def _default_name(self) -> str:
        base = self.folder.name if self.folder is not None and self.folder.name else "My library"
        return f"{base} genres"

    # -- learning
    def showEvent(self, event) -> None:  # noqa: N802 (Qt)
        super().showEvent(event)
        if self._job is None and self.result is None and not self.status.text():
            self.learn()

    @property
    def learning(self) -> bool:
        return self._job is not None and self._job.running and not self._job.cancelled()

    def learn(self) -> None:
        """(Re)learn with the current minimum; an earlier run still going is cancelled and its result dropped."""
        self._relearn_timer.stop()
        if self._job is not None:
            self._job.cancel()
        self.result = None
        self._show_result(None)
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status.setText("Analysing your tagged tracks… (cached tracks take no time)")
        job = Job(
            learn_personal_job,
            self.tracks,
            self.accepted,
            self.min_examples.value(),
            self.device,
            name="learn",
        )
        job.signals.progress.connect(lambda done, total, j=job: self._progress(j, done, total))
        job.signals.finished.connect(lambda result, j=job: self._learnt(j, result))
        job.signals.failed.connect(lambda msg, j=job: self._failed(j, msg))
        self._job = job
        self.runner.start(job)
        self._update_buttons()

    def _progress(self, job: Job, done: int, total: int) -> None:
        if job is self._job:
            self.progress.setRange(0, max(1, total))
            self.progress.setValue(done)
            self.status.setText(f"Analysing your tagged tracks… {done} of {total}")

    def _learnt(self, job: Job, result: Any) -> None:
        if job is not self._job or job.cancelled():
            return
        self._job = None
        self.result = result
        self.progress.hide()
        self._show_result(result)
        self._update_buttons()

    def _failed(self, job: Job, message: str) -> None:
        if job is not self._job:
            return
        self._job = None
        self.progress.hide()
        text = "Stopped." if job.cancelled() else f"Nothing to learn yet: {message}"
        self.status.setText(f"<span style='color:#b3261e'>{text}</span>")
        self._update_buttons()

    def _show_result(self, r: Any) -> None:
        if r is None:
            self.genres.setRowCount(0)
            self.confusion.setRowCount(0)
            self.confusion.setColumnCount(0)
            return
        chance = max(r.examples_per_genre.values()) / max(1, r.n_tracks)
        lines = [
            f"<b>Accuracy {r.accuracy:.0%}</b> over {r.n_tracks} tagged tracks ({r.folds}-fold "
            f"cross-validation; guessing the commonest genre: {chance:.0%}), {len(r.labels)} genres.",
        ]
        if r.left_out:
            rare = ", ".join(f"{g} ({n})" for g, n in r.left_out.items())
            lines.append(f"Left out (fewer than {r.min_examples} tracks): {rare}.")
        if r.n_accepted:
            lines.append(f"{r.n_accepted} of the examples are genres you accepted in this session.")
        if r.skipped:
            lines.append(f"{len(r.skipped)} tagged track(s) could not be analysed and were skipped.")
        lines.append(f"{r.untagged} untagged track(s) can be classified with these genres.")
        self.status.setText("<br>".join(lines))

        self.genres.setRowCount(len(r.labels))
        for row, label in enumerate(r.labels):
            spellings = r.spellings.get(label, {})
            tip = ", ".join(f"{s} ×{n}" for s, n in spellings.items()) if len(spellings) > 1 else ""
            name = QTableWidgetItem(label)
            if tip:
                name.setToolTip(f"Spellings merged: {tip}")
            acc = r.per_genre.get(label)
            self.genres.setItem(row, 0, name)
            self.genres.setItem(row, 1, _cell(str(r.examples_per_genre[label])))
            self.genres.setItem(row, 2, _cell("–" if acc is None else f"{acc:.0%}"))

        n = len(r.labels)
        self.confusion.setRowCount(n)
        self.confusion.setColumnCount(n)
        self.confusion.setHorizontalHeaderLabels(r.labels)
        self.confusion.setVerticalHeaderLabels(r.labels)
        for i in range(n):
            for j in range(n):
                count = r.confusion[i][j]
                cell = _cell(str(count) if count else "", f"tagged {r.labels[i]}, proposed {r.labels[j]}")
                if count:
                    cell.setBackground(QBrush(DIAGONAL if i == j else CONFUSED))
                self.confusion.setItem(i, j, cell)
        self.confusion.resizeColumnsToContents()

    # -- adopt / discard
    def _update_buttons(self) -> None:
        saving = self._saver is not None and self._saver.running
        ready = self.result is not None and bool(self.name.text().strip())
        self.adopt_button.setEnabled(ready and not saving and not self.learning)
        replace = self._replace_name is not None and self._replace_name == self.name.text().strip()
        self.adopt_button.setText("Replace and adopt" if replace else "Adopt")
        self.discard_button.setText("Stop" if self.learning else "Discard")
        self.min_examples.setEnabled(not saving)

    def adopt(self) -> None:
        """Save the model (on a worker) under the chosen name; `adopted` follows."""
        if self.result is None:
            return
        name = self.name.text().strip()
        replace = self._replace_name == name
        source = self.folder.name if self.folder is not None else ""
        job = Job(save_personal_job, self.result, name, replace, source, name="save-personal")
        job.signals.finished.connect(self._saved)
        job.signals.failed.connect(lambda msg, n=name: self._save_failed(n, msg))
        self._saver = job
        self.runner.start(job)
        self._update_buttons()

    def _saved(self, card: Any) -> None:
        self._saver = None
        self.card = card
        self.adopted.emit(card)
        self.accept()

    def _save_failed(self, name: str, message: str) -> None:
        self._saver = None
        if "already exists" in message:
            self._replace_name = name
            message += ". Adopt again to replace it."
        self.status.setText(f"<span style='color:#b3261e'>Not saved: {message}</span>")
        self._update_buttons()

    def _discard_or_stop(self) -> None:
        if self.learning:
            self._job.cancel()  # type: ignore[union-attr]
            self.status.setText("Stopping…")
            self._update_buttons()
            return
        self.reject()

    def reject(self) -> None:
        if self._job is not None:
            self._job.cancel()
        self._relearn_timer.stop()
        super().reject()
