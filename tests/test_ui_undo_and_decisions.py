"""The window's Undo reverts only what this window did to the library it has open, says what it will undo and
is off when there is nothing; unapplied decisions are never dropped without asking (the real question box is
answered by clicking its buttons); Apply can be cancelled. Real files, tags read back with plain mutagen."""

from __future__ import annotations

from pathlib import Path

import mutagen
from PySide6.QtWidgets import QMessageBox

from music_reclass_gui.core.organize import TagChange, apply_tag_changes, list_operations
from music_reclass_gui.core.review import Status
from music_reclass_gui.ui.main_window import MainWindow
from music_reclass_gui.ui.settings import AppSettings

WAIT = 60_000
Button = QMessageBox.StandardButton


def _genres(path: Path) -> list[str]:
    return list(mutagen.File(path).tags.get("genre") or [])


def _library(make_audio, folder: Path, n: int) -> list[Path]:
    return [make_audio(f"t{i:02d}.flac", seconds=0.5, freq=200.0 + 40 * i, folder=folder) for i in range(n)]


def _window(qtbot) -> MainWindow:
    win = MainWindow(AppSettings())  # no model needed: the user types the genres
    win.controller.classify_after_scan = False
    qtbot.addWidget(win)
    win.show()
    return win


def _open(qtbot, win: MainWindow, folder: Path) -> None:
    with qtbot.waitSignal(win.controller.scan_finished, timeout=WAIT):
        win.open_paths([folder])


def _answer(qtbot, win: MainWindow, button: Button) -> None:
    qtbot.waitUntil(lambda: win.settle_box is not None and win.settle_box.isVisible(), timeout=WAIT)
    win.settle_box.button(button).click()


def test_undo_is_off_until_this_window_changes_a_file_and_ignores_other_operations(
    qtbot, make_audio, tmp_path
):
    lib, other = tmp_path / "lib", tmp_path / "other"
    a, b = _library(make_audio, lib, 2)
    [x] = _library(make_audio, other, 1)
    apply_tag_changes([TagChange(x, ("Polka",))])  # another face's write, before the window opened
    win = _window(qtbot)
    _open(qtbot, win, lib)
    assert not win.undo_action.isEnabled() and win.undo_action.text() == "Undo"
    win.undo_action.trigger()
    assert _genres(x) == ["Polka"] and not any(op.undone for op in list_operations())

    win.controller.session.edit(a, "Jazz")
    with qtbot.waitSignal(win.controller.apply_finished, timeout=WAIT):
        win.apply_action.trigger()
    assert _genres(a) == ["Jazz"]
    qtbot.waitUntil(win.undo_action.isEnabled, timeout=WAIT)
    assert win.undo_action.text() == "Undo Tag Write (1 file)"

    apply_tag_changes([TagChange(x, ("Ska",))])  # another face writes after the window: the newest op
    with qtbot.waitSignal(win.controller.undo_finished, timeout=WAIT):
        win.undo_action.trigger()
    assert _genres(a) == [] and _genres(x) == ["Ska"]  # the window's write undone, the other one kept
    qtbot.waitUntil(lambda: not win.undo_action.isEnabled(), timeout=WAIT)

    # a write made while another folder was open is not undone from this one
    assert win.controller.session.item(a).status is Status.ACCEPTED  # undone: the decision is back
    win.controller.session.edit(b, "Blues")
    with qtbot.waitSignal(win.controller.apply_finished, timeout=WAIT) as applied:
        win.apply_action.trigger()
    n = len(applied.args[0].done)
    assert b in applied.args[0].done
    _open(qtbot, win, other)
    assert not win.undo_action.isEnabled()
    _open(qtbot, win, lib)
    qtbot.waitUntil(win.undo_action.isEnabled, timeout=WAIT)
    assert win.undo_action.text() == f"Undo Tag Write ({n} file{'s' if n != 1 else ''})"
    win.controller.shutdown()


def test_opening_another_folder_asks_about_unapplied_decisions(qtbot, make_audio, tmp_path):
    lib, other = tmp_path / "lib", tmp_path / "other"
    a, b = _library(make_audio, lib, 2)
    _library(make_audio, other, 1)
    win = _window(qtbot)
    _open(qtbot, win, lib)
    win.controller.session.edit(a, "Jazz")

    win.open_paths([other])  # Cancel: nothing changes, the decision stays
    _answer(qtbot, win, Button.Cancel)
    assert win.controller.folder == lib and win.controller.session.item(a).status is Status.ACCEPTED
    assert _genres(a) == []

    win.open_paths([other])  # Apply: written first, then the other folder opens
    with qtbot.waitSignal(win.controller.scan_finished, timeout=WAIT):
        _answer(qtbot, win, Button.Apply)
    assert _genres(a) == ["Jazz"] and win.controller.folder == other

    _open(qtbot, win, lib)  # nothing pending: no question
    assert win.settle_box is None and win.controller.folder == lib
    win.controller.session.edit(b, "Blues")
    win.open_paths([other])  # Discard: forgotten, nothing written
    with qtbot.waitSignal(win.controller.scan_finished, timeout=WAIT):
        _answer(qtbot, win, Button.Discard)
    assert _genres(b) == [] and win.controller.folder == other
    win.controller.shutdown()


def test_closing_the_window_asks_about_unapplied_decisions(qtbot, make_audio, tmp_path):
    lib = tmp_path / "lib"
    [a] = _library(make_audio, lib, 1)
    win = _window(qtbot)
    _open(qtbot, win, lib)
    win.controller.session.edit(a, "Jazz")

    assert not win.close()
    _answer(qtbot, win, Button.Cancel)
    assert win.isVisible() and _genres(a) == []

    win.close()
    _answer(qtbot, win, Button.Apply)
    qtbot.waitUntil(lambda: not win.isVisible(), timeout=WAIT)
    assert _genres(a) == ["Jazz"]


def test_apply_can_be_cancelled_and_the_rest_stay_accepted(qtbot, make_audio, tmp_path):
    lib = tmp_path / "lib"
    files = _library(make_audio, lib, 40)
    win = _window(qtbot)
    _open(qtbot, win, lib)
    for path in files:
        win.controller.session.edit(path, "Jazz")
    with qtbot.waitSignal(win.controller.apply_finished, timeout=WAIT) as applied:
        win.apply_action.trigger()
        assert win.progress.cancel.isVisible() and win.progress.cancel.isEnabled()
        win.progress.cancel.click()
    report = applied.args[0]
    assert report.cancelled and len(report.done) < len(files)
    session = win.controller.session
    written = [p for p in files if _genres(p) == ["Jazz"]]
    assert sorted(written) == sorted(report.done)
    assert all(session.item(p).status is Status.ACCEPTED for p in files if p not in written)
    assert "Cancelled" in win.notice.plain_text
    win.controller.shutdown()
