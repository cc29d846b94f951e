"""Preferences: model, device, top-k, threshold, keep-existing, multi-genre, ID3 version, output root."""

from __future__ import annotations

import dataclasses
import logging

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QWidget,
)

from music_reclass_gui.core.layout import DEFAULT_LAYOUT, LayoutError, check_layout
from music_reclass_gui.core.layout import FIELDS as LAYOUT_FIELDS
from music_reclass_gui.ui.settings import DEFAULT_OUTPUT_DIRNAME, AppSettings
from music_reclass_gui.ui.workers import Job, JobRunner, remove_personal_job

log = logging.getLogger(__name__)
DEVICES = (
    ("auto", "Automatic (GPU when present)"),
    ("cpu", "CPU"),
    ("cuda", "NVIDIA GPU (CUDA)"),
    ("mps", "Apple GPU (MPS)"),
)


def available_models() -> list[tuple[str, str]]:
    """(name, description) of the installed models; empty when the registry is not available."""
    try:
        from music_reclass_gui.inference.registry import list_models

        return [(card.name, card.description or card.name) for card in list_models()]
    except Exception as exc:  # a broken model folder must not stop the user from changing other settings
        log.warning("cannot list models: %s", exc)
        return []


def personal_model_names() -> set[str]:
    """Names of the user's personal models (learnt from a library), which the dialog can remove."""
    try:
        from music_reclass_gui.training.personal import list_personal

        return {card.name for card in list_personal()}
    except Exception as exc:
        log.warning("cannot list personal models: %s", exc)
        return set()


def default_model_name() -> str | None:
    try:
        from music_reclass_gui.inference.engine import DEFAULT_MODEL

        return DEFAULT_MODEL
    except Exception:
        return None


class SettingsDialog(QDialog):
    model_removed = Signal(str)  # a personal model was deleted (the window stops using it)

    def __init__(self, settings: AppSettings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._settings = settings
        self._runner: JobRunner | None = None
        self._remover: Job | None = None
        form = QFormLayout(self)

        self.model = QComboBox(self)
        default = default_model_name()
        self.model.addItem(f"Default ({default})" if default else "Default", None)
        for name, description in available_models():
            self.model.addItem(name, name)
            self.model.setItemData(self.model.count() - 1, description, 3)  # Qt.ToolTipRole
        self._select(self.model, settings.model)
        self.personal = personal_model_names()
        self.remove_model = QPushButton("Remove", self)
        self.remove_model.setToolTip("Delete this personal model (learnt from your library)")
        self.remove_model.clicked.connect(self._remove_model)
        self.model.currentIndexChanged.connect(lambda _i: self._update_remove())
        model_row = QHBoxLayout()
        model_row.addWidget(self.model, 1)
        model_row.addWidget(self.remove_model)
        form.addRow("Model", model_row)
        self._update_remove()

        self.device = QComboBox(self)
        for value, label in DEVICES:
            self.device.addItem(label, value)
        self._select(self.device, settings.device)
        form.addRow("Device", self.device)

        self.top_k = QSpinBox(self)
        self.top_k.setRange(1, 10)
        self.top_k.setValue(settings.top_k)
        form.addRow("Predictions shown (top-k)", self.top_k)

        self.threshold = QDoubleSpinBox(self)
        self.threshold.setRange(0, 100)
        self.threshold.setDecimals(0)
        self.threshold.setSuffix(" %")
        self.threshold.setValue(round(settings.threshold * 100))
        self.threshold.setToolTip("Default for \u201cAccept all above\u201d and the cut-off for extra genres")
        form.addRow("Confidence threshold", self.threshold)

        self.keep_existing = QCheckBox("Add to the genres already in the file (instead of replacing)", self)
        self.keep_existing.setChecked(settings.keep_existing)
        form.addRow("Existing genres", self.keep_existing)

        self.multi_genre = QCheckBox("Write every top-k genre above the threshold", self)
        self.multi_genre.setChecked(settings.multi_genre)
        form.addRow("Several genres", self.multi_genre)

        self.album_mode = QCheckBox("One genre per album (off: every track on its own)", self)
        self.album_mode.setChecked(settings.album_mode)
        form.addRow("Albums", self.album_mode)

        self.id3_version = QComboBox(self)
        self.id3_version.addItem("ID3v2.4 (several genres as separate values)", 4)
        self.id3_version.addItem("ID3v2.3 (for older players; genres joined)", 3)
        self._select(self.id3_version, settings.id3_version)
        self.separator = QLineEdit(settings.id3_separator, self)
        self.separator.setMaximumWidth(60)
        self.separator.setToolTip("Joins several genres in ID3v2.3 tags")
        row = QHBoxLayout()
        row.addWidget(self.id3_version, 1)
        row.addWidget(self.separator)
        form.addRow("MP3/WAV/AIFF tags", row)

        self.output_root = QLineEdit(settings.output_root, self)
        self.output_root.setPlaceholderText(f"{DEFAULT_OUTPUT_DIRNAME} next to the opened folder")
        browse = QPushButton("Browse…", self)
        browse.clicked.connect(self._browse)
        row = QHBoxLayout()
        row.addWidget(self.output_root, 1)
        row.addWidget(browse)
        form.addRow("Reorganise into", row)

        self.layout_template = QLineEdit(settings.layout, self)
        self.layout_template.setToolTip(
            "Where each file goes under that folder. Fields: "
            + " ".join("{" + f + "}" for f in LAYOUT_FIELDS)
            + f"\nDefault {DEFAULT_LAYOUT}; {{genre}}/{{relpath}} keeps your own folders."
        )
        self.layout_error = QLabel(self)
        self.layout_error.setStyleSheet("color:#b3261e")
        self.layout_template.textChanged.connect(self._check_layout)
        form.addRow("Folder layout", self.layout_template)
        form.addRow("", self.layout_error)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    @staticmethod
    def _select(combo: QComboBox, value) -> None:
        index = combo.findData(value)
        if index < 0 and value is not None:  # a model that is no longer installed: keep it visible
            combo.addItem(f"{value} (not installed)", value)
            index = combo.count() - 1
        combo.setCurrentIndex(max(0, index))

    def _update_remove(self) -> None:
        busy = self._remover is not None and self._remover.running
        self.remove_model.setEnabled(self.model.currentData() in self.personal and not busy)

    def _remove_model(self) -> None:
        """Delete the selected personal model after a confirmation (the files go on a worker)."""
        name = self.model.currentData()
        if name not in self.personal:
            return
        answer = QMessageBox.question(
            self,
            "Remove model",
            f"Delete your model “{name}”? Your music files are not touched; you can learn it again.",
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        self._runner = self._runner or JobRunner(self)
        job = Job(remove_personal_job, name, name="remove-model")
        job.signals.finished.connect(self._model_removed)
        job.signals.failed.connect(
            lambda msg: (
                QMessageBox.warning(self, "Remove model", f"Not removed: {msg}"),
                self._update_remove(),
            )
        )
        self._remover = job
        self._runner.start(job)
        self._update_remove()

    def _model_removed(self, name: str) -> None:
        self.personal.discard(name)
        index = self.model.findData(name)
        if index >= 0:
            self.model.removeItem(index)
        self.model.setCurrentIndex(0)  # the default model
        self.model_removed.emit(name)
        self._update_remove()

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Reorganise into", self.output_root.text())
        if folder:
            self.output_root.setText(folder)

    def _valid_layout(self) -> str:
        """The typed template when it can be used, else the one in effect (the error is shown below it)."""
        text = self.layout_template.text().strip()
        try:
            check_layout(text)
        except LayoutError:
            return self._settings.layout
        return text

    def _check_layout(self, text: str) -> None:
        try:
            check_layout(text)
        except LayoutError as exc:
            self.layout_error.setText(str(exc))
        else:
            self.layout_error.setText("")

    def result_settings(self) -> AppSettings:
        """A copy of the settings with the dialog's values (recent folders untouched)."""
        return dataclasses.replace(
            self._settings,
            model=self.model.currentData(),
            device=self.device.currentData(),
            top_k=self.top_k.value(),
            threshold=self.threshold.value() / 100.0,
            keep_existing=self.keep_existing.isChecked(),
            multi_genre=self.multi_genre.isChecked(),
            id3_version=self.id3_version.currentData(),
            id3_separator=self.separator.text() or "; ",
            output_root=self.output_root.text().strip(),
            layout=self._valid_layout(),
            album_mode=self.album_mode.isChecked(),
            recent_folders=list(self._settings.recent_folders),
        )
