"""The GUI's albums on real GTZAN clips with the real default model: album column and agreement, accept /
edit / split an album in one action, and Reorganise's folder tree with the layout from Settings."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from conftest import gtzan_clips, make_album_track, needs_shared_data
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from music_reclass_gui.core.review import Status
from music_reclass_gui.ui.main_window import MainWindow
from music_reclass_gui.ui.settings import AppSettings
from music_reclass_gui.ui.settings_dialog import SettingsDialog
from music_reclass_gui.ui.track_table import Column

pytestmark = [needs_shared_data, pytest.mark.slow]
WAIT = 180_000  # ms; generous bounds, never a speed target


@pytest.fixture
def window(qtbot, default_classifier):
    win = MainWindow(AppSettings(), classifier=default_classifier)
    qtbot.addWidget(win)
    win.resize(1200, 700)
    win.show()
    yield win
    win.controller.shutdown()


def _select(window: MainWindow, paths: list[Path]) -> None:
    model = window.controller.model
    window.table.clearSelection()
    for path in paths:
        index = window.proxy.mapFromSource(model.index(model.row_of(path), 0))
        window.table.selectionModel().select(
            index,
            window.table.selectionModel().SelectionFlag.Select
            | window.table.selectionModel().SelectionFlag.Rows,
        )


def test_album_accept_split_and_reorganise_with_its_cover(qtbot, window, tmp_path):
    lib = tmp_path / "Music"
    folder = lib / "Stone Band" / "Loud"
    clips = gtzan_clips("rock")[:3] + gtzan_clips("classical")[:1]
    tracks = [
        make_album_track(
            src, folder / f"{n:02d}.{ext}", album="Loud", artist="Stone Band", albumartist="Stone Band", n=n
        )
        for n, (src, ext) in enumerate(zip(clips, ("flac", "mp3", "ogg", "m4a"), strict=True), 1)
    ]
    cover = folder / "cover.jpg"
    cover.write_bytes(b"\xff\xd8" + hashlib.sha256(b"cover").digest() * 32)
    with qtbot.waitSignal(window.controller.classification_finished, timeout=WAIT):
        window.open_paths([lib])
    session, model = window.controller.session, window.controller.model
    album = session.album_of(tracks[0])
    assert album is not None and album.key == "Stone Band — Loud"
    genre = session.item(tracks[0]).album.genre
    assert {session.item(t).proposed for t in tracks} == {(genre,)}
    text = model.index(model.row_of(tracks[3]), Column.ALBUM).data()
    assert text.startswith(f"Loud · {genre}, ") and "of 4 tracks lean" in text

    _select(window, [tracks[1]])  # one row is enough: the action is for the whole album
    assert f"album: {session.item(tracks[1]).album.agreement}" in window.detail.status.text()
    window.albums.accept_action.trigger()
    assert {session.item(t).status for t in tracks} == {Status.ACCEPTED}

    _select(window, [tracks[3]])  # the odd track is split off and follows its own prediction again
    window.albums.split_action.trigger()
    odd = session.item(tracks[3])
    assert odd.status is Status.CLASSIFIED and session.album_of(tracks[3]) is None
    assert odd.proposed == (odd.predictions[0].genre,) and odd.album is None
    window.albums.set_album_genres([session.album_of(tracks[0])], "Hard Rock")
    assert {session.item(t).proposed for t in tracks[:3]} == {("Hard Rock",)}
    session.reject(tracks[3])

    with qtbot.waitSignal(window.controller.plan_ready, timeout=WAIT):
        window.organize_action.trigger()
    dialog = window.organize_dialog
    assert dialog.tree.genres() == {"Hard Rock": 4}  # three tracks and the cover, under Artist/Album
    assert dialog.tree.topLevelItem(0).child(0).text(0) == "Stone Band"
    with qtbot.waitSignal(dialog.finished, timeout=WAIT):
        QTest.mouseClick(dialog.move_button, Qt.MouseButton.LeftButton)
        qtbot.waitUntil(lambda: dialog.report is not None, timeout=WAIT)
        QTest.mouseClick(dialog.close_button, Qt.MouseButton.LeftButton)
    target = tmp_path / "Music_Classified" / "Hard Rock" / "Stone Band" / "Loud"
    assert sorted(p.name for p in target.iterdir()) == ["01.flac", "02.mp3", "03.ogg", "cover.jpg"]
    assert (folder / "cover.jpg").is_file() and tracks[3].is_file()  # a track stayed: its cover was copied
    with qtbot.waitSignal(window.controller.undo_finished, timeout=WAIT):
        window.undo_action.trigger()
    assert all(t.is_file() for t in tracks) and not any(target.glob("*"))


def test_layout_template_and_album_mode_in_settings(qtbot):
    dialog = SettingsDialog(AppSettings())
    qtbot.addWidget(dialog)
    dialog.layout_template.setText("{genre}/{nope}/{filename}")
    assert "unknown field" in dialog.layout_error.text()
    assert dialog.result_settings().layout == AppSettings().layout  # an unusable template is not taken
    dialog.layout_template.setText("{genre}/{relpath}")
    dialog.album_mode.setChecked(False)
    result = dialog.result_settings()
    assert result.layout == "{genre}/{relpath}" and result.album_mode is False
    assert result.decision_policy().album_mode is False
