"""“Learn genres from this library…” with real clips and the real musicnn features: the dialog learns on a
worker, shows the summary (genres, left-out ones, accuracy, confusion), follows the minimum, and Adopt saves a
model that the window then uses to propose the library's own spellings; the settings dialog removes it."""

from __future__ import annotations

import pytest
from PySide6.QtWidgets import QMessageBox

from music_reclass_gui.core.library import scan
from music_reclass_gui.core.review import Status
from music_reclass_gui.inference.registry import list_models
from music_reclass_gui.ui.learn_dialog import LearnDialog
from music_reclass_gui.ui.main_window import MainWindow
from music_reclass_gui.ui.settings import AppSettings
from music_reclass_gui.ui.workers import JobRunner

WAIT = 420_000  # ms; generous bounds (the machine may be shared), never a speed target
LIBRARY_GENRES = {"Classical Music", "Hip Hop", "Jazz", "Metal", "Reggae", "rock"}


@pytest.fixture
def library(personal_library, monkeypatch):
    lib, cache, untagged = personal_library
    monkeypatch.setenv("MUSIC_RECLASS_CACHE_DIR", str(cache))
    return lib, untagged


def _names() -> list[str]:
    return [c.name for c in list_models()]


def test_dialog_learns_on_a_worker_shows_the_summary_and_adopt_saves(qtbot, library):
    lib, _ = library
    runner = JobRunner()
    dialog = LearnDialog(list(scan([lib])), [], runner, folder=lib, device="cpu", min_examples=4)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.result is None and not dialog.adopt_button.isEnabled()  # nothing learnt on the UI thread
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=WAIT)

    genres = {dialog.genres.item(r, 0).text() for r in range(dialog.genres.rowCount())}
    assert genres == LIBRARY_GENRES
    assert {dialog.genres.item(r, 1).text() for r in range(dialog.genres.rowCount())} == {"4"}
    text = dialog.status.text()
    assert "Accuracy" in text and "Blues (2)" in text and "4-fold" in text
    assert dialog.confusion.rowCount() == dialog.confusion.columnCount() == 6
    header = {dialog.confusion.horizontalHeaderItem(c).text() for c in range(6)}
    assert header == LIBRARY_GENRES
    assert (
        sum(int(dialog.confusion.item(i, i).text() or 0) for i in range(6)) >= 15
    )  # of 24: well above chance

    # the minimum is adjustable: 5 leaves every genre out and says so; back to 4 learns again
    dialog.min_examples.setValue(5)
    qtbot.waitUntil(lambda: "Nothing to learn" in dialog.status.text(), timeout=WAIT)
    assert dialog.result is None and not dialog.adopt_button.isEnabled()
    assert "at least 5" in dialog.status.text()
    dialog.min_examples.setValue(4)
    qtbot.waitUntil(lambda: dialog.result is not None, timeout=WAIT)

    dialog.name.setText("Mine")
    with qtbot.waitSignal(dialog.adopted, timeout=WAIT) as adopted:
        dialog.adopt_button.click()
    assert adopted.args[0].name == "Mine" and "Mine" in _names()
    runner.shutdown()


def test_adopt_in_the_window_classifies_untagged_tracks_in_the_librarys_spellings(
    qtbot, library, monkeypatch
):
    lib, untagged = library
    win = MainWindow(AppSettings(device="cpu"))
    qtbot.addWidget(win)
    win.controller.classify_after_scan = False
    win.show()
    with qtbot.waitSignal(win.controller.scan_finished, timeout=WAIT):
        win.open_paths([lib])
    qtbot.waitUntil(win.learn_action.isEnabled, timeout=WAIT)  # rows can land just after scan_finished
    # a genre accepted during review is learnt from too: the untagged rock clip accepted as "Rock"
    rock = next(p for p, g in untagged.items() if g == "rock")
    win.controller.session.accept(rock, ["Rock"])
    win.open_learn_dialog()
    dialog = win.learn_dialog
    dialog.min_examples.setValue(4)
    qtbot.waitUntil(lambda: dialog.result is not None and not dialog.learning, timeout=WAIT)
    assert dialog.result.examples_per_genre["rock"] == 5 and dialog.result.n_accepted == 1
    dialog.name.setText("Library genres")
    with qtbot.waitSignal(win.controller.classification_finished, timeout=WAIT):
        dialog.adopt_button.click()
    assert win.settings.model == "Library genres"
    assert AppSettings.load().model == "Library genres"  # saved
    proposed = {p: win.controller.session.item(p) for p in untagged if p != rock}
    assert all(i.status is Status.CLASSIFIED for i in proposed.values())
    assert {i.predictions[0].genre for i in proposed.values()} <= LIBRARY_GENRES
    right = sum(i.predictions[0].genre == untagged[p] for p, i in proposed.items())
    assert right >= 3, {p.name: i.predictions[0].genre for p, i in proposed.items()}  # of 5, chance 1
    assert win.controller.session.item(rock).status is Status.ACCEPTED  # a decision is never overridden
    assert "Library genres" in win.model_label.text()

    # removing the model is one action in the settings; the window falls back to the default model
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    win.settings_action.trigger()  # the window's own Settings dialog, wired as the user gets it
    settings_dialog = win.settings_dialog
    assert settings_dialog.isVisible()
    assert settings_dialog.model.currentData() == "Library genres"
    assert settings_dialog.remove_model.isEnabled()
    with qtbot.waitSignal(settings_dialog.model_removed, timeout=WAIT):
        settings_dialog.remove_model.click()
    assert "Library genres" not in _names()
    assert settings_dialog.model.currentData() is None and win.settings.model is None
    settings_dialog.model.setCurrentIndex(settings_dialog.model.findData("msd-musicnn"))
    assert not settings_dialog.remove_model.isEnabled()  # built-in models cannot be removed
    settings_dialog.accept()  # OK: the window now uses the model picked in the dialog
    assert win.settings.model == "msd-musicnn" and AppSettings.load().model == "msd-musicnn"
    win.controller.shutdown()
