"""“Reorganise…”: the plan from organize.plan_moves before anything moves (source → destination, clashes
highlighted, counts per genre), then execution on a worker with progress and a per-file report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from music_reclass_gui.ui.reorganise_plan import PlanTree
from music_reclass_gui.ui.workers import Job, JobRunner, execute_job

CLASH_BACKGROUND = QColor(219, 154, 4, 60)


def _relative(path: Path, root: Path | None) -> str:
    if root is not None:
        try:
            return str(Path(path).relative_to(root))
        except ValueError:
            pass
    return str(path)


class OrganizeDialog(QDialog):
    """Shows a MovePlan; "Move files" carries it out on a worker. `report` holds the OperationReport after."""

    def __init__(
        self,
        plan: Any,
        runner: JobRunner,
        *,
        source_root: Path | None,
        out_root: Path,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Reorganise into genre folders")
        self.resize(820, 480)
        self.plan, self.runner, self.report = plan, runner, None
        self._job: Job | None = None
        moves = list(plan.moves)
        clashes = sum(1 for m in moves if m.clash)
        counts = ", ".join(
            f"{g}: {n}" for g, n in sorted(plan.counts_per_genre.items(), key=lambda kv: -kv[1])
        )
        summary = f"<b>{len(moves)} file(s)</b> will move into <b>{out_root}</b>"
        if clashes:
            summary += f"<br><span style='color:#8a6d00'>{clashes} name clash(es): those files get a new name, nothing is overwritten.</span>"
        skipped = list(getattr(plan, "skipped", []) or [])
        if skipped:
            summary += f"<br>{len(skipped)} file(s) without an accepted genre stay where they are."
        if counts:
            summary += f"<br>Per genre: {counts}"
        self.summary = QLabel(summary, self)
        self.summary.setWordWrap(True)

        self.table = QTableWidget(len(moves), 3, self)
        self.table.setHorizontalHeaderLabels(["From", "To", "Extras"])
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        for row, move in enumerate(moves):
            cells = [
                QTableWidgetItem(_relative(move.src, source_root)),
                QTableWidgetItem(_relative(move.dst, out_root)),
                QTableWidgetItem(
                    ", ".join(
                        [Path(s).name for s, _ in move.sidecars]
                        + [f"{Path(s).name} (copy)" for s, _ in move.copies]
                    )
                ),
            ]
            for col, cell in enumerate(cells):
                cell.setToolTip(
                    f"{move.src}\n→ {move.dst}"
                    + ("\nRenamed: a file of that name exists" if move.clash else "")
                )
                if move.clash:
                    cell.setBackground(QBrush(CLASH_BACKGROUND))
                self.table.setItem(row, col, cell)

        self.progress = QProgressBar(self)
        self.progress.setRange(0, max(1, len(moves)))
        self.progress.setValue(0)
        self.progress.hide()
        self.result_label = QLabel(self)
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.buttons = QDialogButtonBox(self)
        self.move_button = QPushButton(f"Move {len(moves)} file(s)", self)
        self.move_button.setEnabled(bool(moves))
        self.move_button.setDefault(True)
        self.buttons.addButton(self.move_button, QDialogButtonBox.ButtonRole.AcceptRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.move_button.clicked.connect(self.execute)
        self.close_button.clicked.connect(self._close_or_cancel)

        self.tree = PlanTree(plan, out_root, self)  # target folders per genre, as the layout makes them
        self.tabs = QTabWidget(self)
        self.tabs.addTab(self.tree, "Folders")
        self.tabs.addTab(self.table, "Files")

        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.tabs, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.result_label)
        layout.addWidget(self.buttons)

    def execute(self) -> None:
        self.move_button.setEnabled(False)
        self.close_button.setText("Stop")
        self.progress.show()
        self._job = Job(execute_job, self.plan, True, name="reorganise")
        self._job.signals.progress.connect(lambda done, total: self.progress.setValue(done))
        self._job.signals.finished.connect(self._finished)
        self._job.signals.failed.connect(self._failed)
        self.runner.start(self._job)

    def _close_or_cancel(self) -> None:
        if self._job is not None and self._job.running:
            self._job.cancel()  # the executor stops between files; what moved is journaled and undoable
            self.close_button.setEnabled(False)
            return
        if self.report is not None:
            self.accept()
        else:
            self.reject()

    def _finished(self, report: Any) -> None:
        self.report = report
        self._job = None
        self.progress.setValue(self.progress.maximum())
        text = f"Moved {len(report.done)} file(s)."
        if report.cancelled:
            text += " Stopped before the end."
        if report.failed:
            lines = "<br>".join(f"{Path(p).name}: {reason}" for p, reason in report.failed[:20])
            text += f"<br><span style='color:#b3261e'>{len(report.failed)} failed:</span><br>{lines}"
        text += "<br>Edit ▸ Undo puts everything back."
        self.result_label.setText(text)
        self.close_button.setEnabled(True)
        self.close_button.setText("Close")

    def _failed(self, message: str) -> None:
        self._job = None
        self.result_label.setText(f"<span style='color:#b3261e'>Reorganisation failed: {message}</span>")
        self.close_button.setEnabled(True)
        self.close_button.setText("Close")
