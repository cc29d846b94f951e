"""The main window: menus and toolbar, the track table with its search box, the detail pane, drag and drop,
and the status bar. The work itself is done by the Controller and its background jobs."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QDragEnterEvent, QDropEvent, QKeySequence
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSplitter,
    QStackedWidget,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from music_reclass_gui.core.review import Status
from music_reclass_gui.ui.album_actions import AlbumActions
from music_reclass_gui.ui.controller import Controller
from music_reclass_gui.ui.delegates import ConfidenceBarDelegate, ElideMiddleDelegate
from music_reclass_gui.ui.detail_pane import DetailPane
from music_reclass_gui.ui.review_actions import ReviewActions
from music_reclass_gui.ui.settings import AppSettings
from music_reclass_gui.ui.track_table import Column, TrackFilterProxy, TrackView
from music_reclass_gui.ui.widgets import EmptyState, NoticeBar, ProgressStrip, connect_once

STATUS_FILTERS: list[tuple[str, tuple[Status, ...] | None]] = [
    ("All tracks", None),
    ("To review", (Status.CLASSIFIED,)),
    ("Accepted", (Status.ACCEPTED,)),
    ("Written", (Status.WRITTEN,)),
    ("Rejected", (Status.REJECTED,)),
    ("Pending", (Status.PENDING,)),
    ("Errors", (Status.ERROR,)),
]


class MainWindow(QMainWindow):
    def __init__(self, settings: AppSettings | None = None, classifier: Any = None) -> None:
        super().__init__()
        self.setWindowTitle("Music ReClass")
        self.setAcceptDrops(True)
        self.settings = settings or AppSettings.load()
        self.settle_box: QMessageBox | None = None  # the open "unapplied decisions" question, if any
        self._settled = False  # the user said Discard: go on without asking again
        self.controller = Controller(self.settings, classifier, self)
        self.proxy = TrackFilterProxy(self)
        self.proxy.setSourceModel(self.controller.model)
        self._build_body()
        self.review = ReviewActions(self)
        self.albums = AlbumActions(self)
        self._build_menus_and_toolbar()
        self._build_status_bar()
        self._wire_controller()
        self._update_empty_state()
        self._update_actions()

    # -- construction
    def _build_body(self) -> None:
        self.table = TrackView(self)
        self.table.setModel(self.proxy)
        bars = ConfidenceBarDelegate(lambda: self.controller.vocabulary, self.review_threshold, self.table)
        self.table.setItemDelegateForColumn(Column.PROPOSED, bars)
        self.table.setItemDelegateForColumn(Column.FILE, ElideMiddleDelegate(self.table))
        self.table.apply_default_widths()
        self.table.sortByColumn(-1, Qt.SortOrder.AscendingOrder)  # found order until the user sorts
        self.table.selectionModel().selectionChanged.connect(self._selection_changed)

        self.search = QLineEdit(self)
        self.search.setPlaceholderText("Search file, title, artist, genre…  (Ctrl+F)")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_search)
        self.status_filter = QComboBox(self)
        for label, _ in STATUS_FILTERS:
            self.status_filter.addItem(label)
        self.status_filter.currentIndexChanged.connect(
            lambda i: self.proxy.set_statuses(STATUS_FILTERS[i][1])
        )
        search_row = QHBoxLayout()
        search_row.addWidget(self.search, 1)
        search_row.addWidget(self.status_filter)

        self.notice = NoticeBar(self)
        self.progress = ProgressStrip(self)
        self.detail = DetailPane(self)
        self.detail.bars.threshold = self.review_threshold
        self.detail.player.error.connect(lambda msg: self.notice.show_message(msg, "error"))

        left = QWidget(self)
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(search_row)
        left_layout.addWidget(self.table, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal, self)
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.detail)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setCollapsible(0, False)

        work = QWidget(self)
        work_layout = QVBoxLayout(work)
        work_layout.setContentsMargins(6, 4, 6, 2)
        work_layout.addWidget(self.notice)
        work_layout.addWidget(self.splitter, 1)
        work_layout.addWidget(self.progress)

        self.empty = EmptyState(self)
        self.empty.open_requested.connect(self.open_folder_dialog)
        self.empty.recent_requested.connect(lambda f: self.open_paths([Path(f)]))
        self.stack = QStackedWidget(self)
        self.stack.addWidget(self.empty)
        self.stack.addWidget(work)
        self.setCentralWidget(self.stack)

    def _action(self, text: str, slot, shortcut: str | QKeySequence | None = None, tip: str = "") -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        action.setStatusTip(tip or text.replace("…", ""))
        action.setToolTip(
            f"{tip or text} ({QKeySequence(shortcut).toString()})" if shortcut else (tip or text)
        )
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_menus_and_toolbar(self) -> None:
        c = self.controller
        self.open_action = self._action(
            "Open Folder…", self.open_folder_dialog, QKeySequence.StandardKey.Open
        )
        self.settings_action = self._action(
            "Settings…", self.open_settings, QKeySequence.StandardKey.Preferences
        )
        quit_action = self._action("Quit", self.close, QKeySequence.StandardKey.Quit)
        self.classify_action = self._action(
            "Classify", lambda: c.classify(), "Ctrl+K", "Classify the pending tracks"
        )
        self.cancel_action = self._action("Cancel", c.cancel, None, "Stop classifying")
        self.apply_action = self._action(
            "Apply", c.apply, "Ctrl+Return", "Write the accepted genres to the files"
        )
        self.apply_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.undo_action = self._action(
            "Undo", c.undo, QKeySequence.StandardKey.Undo, "Undo the last tag write or move"
        )
        self.organize_action = self._action(
            "Reorganise…", self.reorganise, "Ctrl+Shift+R", "Move accepted tracks into genre folders"
        )
        self.learn_action = self._action(
            "Learn Genres from This Library…",
            self.open_learn_dialog,
            None,
            "Learn your own genres from the tracks you already tagged",
        )
        self._action(
            "Find", lambda: (self.search.setFocus(), self.search.selectAll()), QKeySequence.StandardKey.Find
        )

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = QMenu("Open &Recent", self)
        self.recent_menu.aboutToShow.connect(self._fill_recent_menu)
        file_menu.addMenu(self.recent_menu)
        file_menu.addSeparator()
        file_menu.addAction(self.settings_action)
        file_menu.addSeparator()
        file_menu.addAction(quit_action)
        edit_menu = menu.addMenu("&Edit")
        edit_menu.addAction(self.undo_action)
        edit_menu.addSeparator()
        for action in self.review.actions:
            edit_menu.addAction(action)
        self.albums.install(menu)
        library_menu = menu.addMenu("&Library")
        for action in (self.classify_action, self.cancel_action, self.apply_action, self.organize_action):
            library_menu.addAction(action)
        library_menu.addSeparator()
        library_menu.addAction(self.learn_action)

        bar = QToolBar("Main", self)
        bar.setObjectName("main-toolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        bar.addAction(self.open_action)
        bar.addAction(self.classify_action)
        bar.addSeparator()
        bar.addAction(self.review.accept_action)
        bar.addAction(self.review.reject_action)
        bar.addAction(self.review.edit_action)
        bar.addAction(self.review.accept_above_action)
        bar.addWidget(self.review.threshold_box)
        self.keep_existing = QCheckBox("Keep existing", self)
        self.keep_existing.setToolTip(
            "Add the proposed genre to the genres already in the file instead of replacing them"
        )
        self.keep_existing.setChecked(self.settings.keep_existing)
        self.keep_existing.toggled.connect(self._keep_existing_toggled)
        bar.addWidget(self.keep_existing)
        bar.addSeparator()
        bar.addAction(self.apply_action)
        bar.addAction(self.undo_action)
        bar.addAction(self.organize_action)
        self.addToolBar(bar)
        self.toolbar = bar
        self.progress.cancel_requested.connect(c.cancel)

    def _build_status_bar(self) -> None:
        self.counts_label = QLabel(self)
        self.model_label = QLabel(self)
        self.device_label = QLabel(self)
        bar = self.statusBar()
        bar.addWidget(self.counts_label, 1)
        bar.addPermanentWidget(self.model_label)
        bar.addPermanentWidget(self.device_label)
        self._show_model_info(self.controller.classifier)

    def _wire_controller(self) -> None:
        c = self.controller
        c.message.connect(self.notice.show_message)
        c.progress_begin.connect(self.progress.begin)
        c.progress.connect(self.progress.update_progress)
        c.progress_count.connect(self.progress.set_count)
        c.progress_end.connect(self.progress.finish)
        c.busy_changed.connect(lambda _b: self._update_actions())
        c.classifier_ready.connect(self._show_model_info)
        c.rows_changed.connect(self._rows_changed)
        c.plan_ready.connect(self._show_plan)
        for sig in (c.classification_finished, c.apply_finished, c.undo_finished):
            sig.connect(lambda *_: self._resort_and_refilter())
        model = c.model
        # counts and enabled states are recomputed at most every 100 ms, however fast rows stream in
        self._view_timer = QTimer(self)
        self._view_timer.setSingleShot(True)
        self._view_timer.setInterval(100)
        self._view_timer.timeout.connect(self._update_view_state)
        for sig in (model.rowsInserted, model.modelReset, model.dataChanged):
            sig.connect(lambda *_: self._view_timer.isActive() or self._view_timer.start())

    def _update_view_state(self) -> None:
        self._update_empty_state()
        self._update_counts()
        self._update_actions()

    # -- opening
    def open_folder_dialog(self) -> None:
        start = str(self.controller.folder or (self.settings.recent_folders[:1] or [str(Path.home())])[0])
        folder = QFileDialog.getExistingDirectory(self, "Open a music folder", start)
        if folder:
            self.open_paths([Path(folder)])

    def open_paths(self, paths: list[Path]) -> None:
        if not self.settle_decisions(lambda: self.open_paths(paths), "opening another folder"):
            return
        self.notice.hide()
        self.detail.show_item(None, 0)
        self.controller.open_paths(paths)
        folder = self.controller.folder
        self.setWindowTitle(f"{folder.name} — Music ReClass" if folder else "Music ReClass")
        self.stack.setCurrentIndex(1)

    def _fill_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self.settings.recent_folders:
            self.recent_menu.addAction(folder, lambda f=folder: self.open_paths([Path(f)]))
        if not self.settings.recent_folders:
            self.recent_menu.addAction("No recent folders").setEnabled(False)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event) -> None:
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(url.toLocalFile()) for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_paths(paths)

    # -- settings
    def open_settings(self) -> None:
        from music_reclass_gui.ui.settings_dialog import SettingsDialog

        dialog = SettingsDialog(self.settings, self)
        dialog.model_removed.connect(self._model_removed)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.result_settings()))
        self.settings_dialog = dialog
        dialog.open()  # window-modal, without a nested event loop

    def apply_settings(self, settings: AppSettings) -> None:
        self.settings = settings
        self.controller.apply_settings(settings)
        self.keep_existing.blockSignals(True)
        self.keep_existing.setChecked(settings.keep_existing)
        self.keep_existing.blockSignals(False)
        self.review.threshold_box.setValue(round(settings.threshold * 100))
        self._show_model_info(self.controller.classifier)
        self.detail.refresh()
        try:
            settings.save()
        except OSError as exc:
            self.notice.show_message(f"Could not save the settings: {exc}", "error")

    def _keep_existing_toggled(self, checked: bool) -> None:
        self.settings.keep_existing = checked
        self.apply_settings(self.settings)

    # -- personal genres
    def open_learn_dialog(self) -> None:
        from music_reclass_gui.ui.learn_dialog import LearnDialog

        tracks, accepted = self.controller.learning_material()
        dialog = LearnDialog(
            tracks,
            accepted,
            self.controller.runner,
            folder=self.controller.folder,
            device=self.settings.device,
            parent=self,
        )
        dialog.adopted.connect(self._adopt_model)
        self.learn_dialog = dialog
        dialog.open()

    def _adopt_model(self, card: Any) -> None:
        """Make the saved model current and propose its genres for the untagged rows not yet decided."""
        self.apply_settings(dataclasses.replace(self.settings, model=card.name))
        todo = self.controller.untagged_undecided()
        text = f"Now using your model “{card.name}” ({len(card.labels)} genres)."
        if todo:
            text += f" Classifying {len(todo)} untagged track(s) with your genres."
        self.notice.show_message(text, "ok")
        if todo:
            self.controller.classify(todo)

    def _model_removed(self, name: str) -> None:
        if self.settings.model == name:  # the current model is gone: back to the default
            self.apply_settings(dataclasses.replace(self.settings, model=None))

    # -- reorganise
    def reorganise(self) -> None:
        self.controller.plan_reorganise()

    def _show_plan(self, plan: Any, out_root: Path) -> None:
        from music_reclass_gui.ui.organize_dialog import OrganizeDialog

        dialog = OrganizeDialog(
            plan, self.controller.runner, source_root=self.controller.folder, out_root=out_root, parent=self
        )
        dialog.finished.connect(
            lambda _r: (
                dialog.report is not None and self.controller.reorganised(plan, dialog.report),
                self._update_actions(),
            )
        )
        self.organize_dialog = dialog
        dialog.open()

    # -- view state
    def review_threshold(self) -> float:
        """The "Accept above" threshold the bars are coloured against."""
        review = getattr(self, "review", None)
        return review.threshold_box.value() / 100.0 if review is not None else self.settings.threshold

    def _show_model_info(self, classifier: Any) -> None:
        if classifier is not None:
            self.model_label.setText(f"Model: {classifier.model_name}")
            runs_on = getattr(classifier, "backend_description", "")
            self.device_label.setText(
                f"Device: {classifier.device_description}" + (f" · {runs_on}" if runs_on else "")
            )
        else:
            from music_reclass_gui.ui.settings_dialog import default_model_name

            name = self.settings.model or default_model_name() or "default"
            self.model_label.setText(f"Model: {name} (loads on first use)")
            self.device_label.setText(f"Device: {self.settings.device}")

    def _update_empty_state(self) -> None:
        has_rows = self.controller.model.rowCount() > 0 or self.controller.folder is not None
        self.stack.setCurrentIndex(1 if has_rows else 0)
        if not has_rows:
            self.empty.set_recent(self.settings.recent_folders)

    def _update_counts(self) -> None:
        counts = self.controller.session.counts()
        total = sum(counts.values())
        parts = [f"{total} tracks"] + [f"{n} {s.value}" for s, n in counts.items() if n]
        self.counts_label.setText(" · ".join(parts) if total else "")

    def _update_actions(self) -> None:
        c = self.controller
        has_rows = c.model.rowCount() > 0
        writing = c._writer is not None and c._writer.running
        self.classify_action.setEnabled(has_rows and not c.classifying)
        self.cancel_action.setEnabled(c.busy)
        self.apply_action.setEnabled(has_rows and not writing and not c.classifying)
        op = c.undoable
        self.undo_action.setEnabled(op is not None and not writing)
        self.undo_action.setText(op.label if op is not None else "Undo")
        self.undo_action.setToolTip(
            f"{op.label} made in this window" if op is not None else "Nothing this window did is left to undo"
        )
        self.organize_action.setEnabled(has_rows and not writing)
        self.learn_action.setEnabled(has_rows)
        self.review.update_enabled()
        self.albums.update_enabled()

    def _resort_and_refilter(self) -> None:
        """Rows stay put while the user works (no dynamic sort); once a batch is over, the chosen sort
        order and status filter apply again."""
        self.proxy.set_statuses(STATUS_FILTERS[self.status_filter.currentIndex()][1])
        if self.proxy.sortColumn() >= 0:
            self.proxy.sort(self.proxy.sortColumn(), self.proxy.sortOrder())

    def _selection_changed(self, *_: Any) -> None:
        items = self.review.selected_items()
        self.detail.show_item(items[0] if len(items) == 1 else None, len(items))
        self.review.update_enabled()
        self.albums.update_enabled()

    def _rows_changed(self, paths: list) -> None:
        item = self.detail.item
        if item is not None and item.path in set(paths):
            self.detail.refresh()
        elif item is None:
            self._selection_changed()

    def settle_decisions(self, then: Callable[[], None], what: str) -> bool:
        """Before the rows go away: accepted genres not yet written are applied, discarded or kept (Cancel),
        as the user says in a window-modal question. True: go on now. False: stop here; `then` runs once
        the user said Discard, or once Apply has finished."""
        if self._settled or not self.controller.session.pending_changes():
            return True
        if self.settle_box is not None:  # already asking
            return False
        n = len(self.controller.session.pending_changes())
        buttons = QMessageBox.StandardButton
        box = QMessageBox(
            QMessageBox.Icon.Question,
            "Unapplied decisions",
            f"{n} accepted genre(s) are not written to the files yet.",
            buttons.Apply | buttons.Discard | buttons.Cancel,
            self,
        )
        box.setInformativeText(f"Write them before {what}? Discard forgets them; Cancel keeps them here.")
        box.setDefaultButton(buttons.Apply)
        box.setEscapeButton(buttons.Cancel)
        box.setWindowModality(Qt.WindowModality.WindowModal)

        def answered(button) -> None:
            answer = box.standardButton(button)
            if answer == buttons.Discard:
                self._settled = True
                try:
                    then()
                finally:
                    self._settled = False
            elif answer == buttons.Apply and self.controller.apply():
                connect_once(self.controller.apply_finished, lambda *_: then())

        box.buttonClicked.connect(answered)
        box.finished.connect(lambda _r: setattr(self, "settle_box", None))
        self.settle_box = box
        box.open()
        return False

    def closeEvent(self, event) -> None:
        if not self.settle_decisions(self.close, "closing the window"):
            event.ignore()
            return
        self.detail.player.stop()
        self.controller.shutdown()
        super().closeEvent(event)
