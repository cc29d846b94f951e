"""The command line of the window (--screenshot), the settings dialog, the genre editor and multi-select
review, with the real model."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtTest import QTest

from music_reclass_gui.core.review import Status
from music_reclass_gui.ui.delegates import GenreCombo
from music_reclass_gui.ui.main_window import MainWindow
from music_reclass_gui.ui.settings import AppSettings
from music_reclass_gui.ui.settings_dialog import SettingsDialog
from music_reclass_gui.ui.track_table import Column

pytestmark = pytest.mark.slow
WAIT = 120_000


@pytest.fixture
def classifier(default_classifier):
    return default_classifier


@pytest.fixture
def classified(qtbot, classifier, make_audio, tmp_path):
    """A window with three classified tracks."""
    lib = tmp_path / "lib"
    for i, ext in enumerate(("flac", "ogg", "mp3")):
        make_audio(f"t{i}.{ext}", seconds=3.0, freq=200.0 * (i + 1), folder=lib)
    win = MainWindow(AppSettings(), classifier=classifier)
    qtbot.addWidget(win)
    win.resize(1024, 600)
    win.show()
    with qtbot.waitSignal(win.controller.classification_finished, timeout=WAIT):
        win.open_paths([lib])
    yield win
    win.controller.shutdown()


def test_screenshot_command_classifies_and_saves_a_png(qtbot, make_audio, tmp_path):
    from music_reclass_gui.ui.app import main

    lib = tmp_path / "lib"
    make_audio("a.ogg", seconds=3.0, folder=lib)
    make_audio("b.flac", seconds=3.0, freq=660, folder=lib)
    out = tmp_path / "shot.png"
    assert main(["--screenshot", str(out), "--size", "1024x600", "--device", "cpu", str(lib)]) == 0
    image = QImage(str(out))
    assert (image.width(), image.height()) == (1024, 600)


def test_command_line_overrides_are_not_saved_and_an_error_fails_the_screenshot(qtbot, make_audio, tmp_path):
    """`--model nonesuch --device cpu` is for this run only: settings.json keeps what the user chose; the
    screenshot run that ended in an error exits non-zero; the banner reads the quotes as quotes."""
    import json

    from music_reclass_gui.ui.app import main

    AppSettings(model="msd-musicnn", device="auto", top_k=4).save()
    lib = tmp_path / "lib"
    make_audio("a.ogg", seconds=2.0, folder=lib)
    out = tmp_path / "shot.png"
    code = main(
        ["--screenshot", str(out), "--model", "nonesuch", "--device", "cpu", "--timeout", "60", str(lib)]
    )
    assert code == 1
    saved = json.loads(AppSettings.path().read_text(encoding="utf-8"))
    assert (saved["model"], saved["device"], saved["top_k"]) == ("msd-musicnn", "auto", 4)
    assert saved["recent_folders"] == [str(lib.resolve())]  # the file was written this run
    assert "overrides" not in saved
    loaded = AppSettings.load()
    assert (loaded.model, loaded.device) == ("msd-musicnn", "auto")


def test_overrides_give_way_to_a_value_picked_in_settings(tmp_path):
    settings = AppSettings(model="gtzan")
    settings.override(model="nonesuch", device="cpu")
    assert (settings.model, settings.device) == ("nonesuch", "cpu")
    settings.save()
    assert (AppSettings.load().model, AppSettings.load().device) == ("gtzan", "auto")
    import dataclasses

    chosen = dataclasses.replace(settings, model="msd-musicnn")  # the user picks another model in Settings
    chosen.save()
    assert (AppSettings.load().model, AppSettings.load().device) == ("msd-musicnn", "auto")


def test_the_error_banner_shows_quotes_once(qtbot):
    win = MainWindow(AppSettings())
    qtbot.addWidget(win)
    win.notice.show_message("device 'cuda' was requested <b>but</b> & not there", "error", ["a 'b' c"])
    assert win.notice.label.textFormat() == Qt.TextFormat.RichText  # the escaped HTML is rendered, once
    assert win.notice.plain_text == "device 'cuda' was requested <b>but</b> & not there\na 'b' c"
    assert "&#x27;" not in win.notice.plain_text and "&amp;" not in win.notice.plain_text


def test_settings_dialog_persists_and_applies(qtbot, classified):
    win = classified
    dialog = SettingsDialog(win.settings, win)
    qtbot.addWidget(dialog)
    assert dialog.model.findData("msd-musicnn") >= 0  # the installed models are offered
    dialog.top_k.setValue(5)
    dialog.threshold.setValue(40)
    dialog.keep_existing.setChecked(True)
    dialog.id3_version.setCurrentIndex(dialog.id3_version.findData(3))
    new = dialog.result_settings()
    win.apply_settings(new)
    loaded = AppSettings.load()
    assert (loaded.top_k, loaded.threshold, loaded.keep_existing, loaded.id3_version) == (5, 0.4, True, 3)
    assert win.keep_existing.isChecked() and win.review.threshold_box.value() == 40
    assert win.controller.classifier is None  # top-k changed: the model reloads on next use
    assert "loads on first use" in win.model_label.text()


def test_genre_editor_offers_top3_and_vocabulary_and_free_text(qtbot, classified):
    win = classified
    model = win.controller.model
    item = model.item(0)
    win.table.selectRow(win.proxy.mapFromSource(model.index(0, 0)).row())
    win.table.setFocus()
    QTest.keyClick(win.table, Qt.Key.Key_E)
    editor = win.table.focusWidget()
    while editor is not None and not isinstance(editor, GenreCombo):
        editor = editor.parentWidget()
    assert isinstance(editor, GenreCombo)
    texts = [editor.itemText(i) for i in range(editor.count())]
    assert texts[:3] == [p.genre for p in item.predictions[:3]]
    assert set(win.controller.vocabulary) <= set(texts)
    editor.setCurrentText("Chiptune; Electronic")  # free text, two genres
    QTest.keyClick(editor, Qt.Key.Key_Return)
    assert item.status is Status.ACCEPTED and item.proposed == ("Chiptune", "Electronic")
    assert model.index(0, Column.PROPOSED).data() == "Chiptune; Electronic"


def test_multi_select_accept_and_reject(qtbot, classified):
    win = classified
    session = win.controller.session
    win.table.setFocus()
    QTest.keyClick(win.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all
    assert len(win.review.selected_items()) == 3
    assert "3 tracks selected" in win.detail.title.text()
    QTest.keyClick(win.table, Qt.Key.Key_A)
    assert session.counts()[Status.ACCEPTED] == 3
    QTest.keyClick(win.table, Qt.Key.Key_R)
    assert session.counts()[Status.REJECTED] == 3
    win.review.set_genres(win.review.selected_items(), "Soundtrack")
    assert all(i.proposed == ("Soundtrack",) and i.status is Status.ACCEPTED for i in session)
    assert len(session.pending_changes()) == 3


def test_recent_folders_on_the_empty_state(qtbot, tmp_path):
    settings = AppSettings()
    settings.add_recent(tmp_path)
    win = MainWindow(settings)
    qtbot.addWidget(win)
    texts = [
        win.empty.recent_box.itemAt(i).widget().text()
        for i in range(win.empty.recent_box.count())
        if win.empty.recent_box.itemAt(i).widget()
    ]
    assert str(tmp_path.resolve()) in texts


def test_preview_plays_pauses_and_reports_a_broken_file(qtbot, make_audio, tmp_path):
    from music_reclass_gui.ui.player import MULTIMEDIA_ERROR, PreviewPlayer

    if MULTIMEDIA_ERROR is not None:
        pytest.skip(MULTIMEDIA_ERROR)
    player = PreviewPlayer()
    qtbot.addWidget(player)
    player.set_track(make_audio("song.flac", seconds=3.0))
    player.button.click()
    qtbot.waitUntil(lambda: player.playing, timeout=10_000)
    player.button.click()
    qtbot.waitUntil(lambda: not player.playing, timeout=10_000)
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"not audio at all" * 200)
    player.set_track(broken)
    with qtbot.waitSignal(player.error, timeout=10_000) as blocker:
        player.button.click()
    assert "broken.mp3" in blocker.args[0]
    assert not player.playing
