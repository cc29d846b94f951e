"""Album actions on the selected rows' albums — accept the album, edit its genre, split it — each one action
for all of an album's tracks, through the ReviewSession (core.albums / core.decide decide; nothing here does
I/O). A per-track/album switch re-proposes every undecided row."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenuBar

from music_reclass_gui.core.albums import Album
from music_reclass_gui.ui.review_actions import ask_genre

if TYPE_CHECKING:
    from music_reclass_gui.ui.main_window import MainWindow


class AlbumActions:
    def __init__(self, window: MainWindow) -> None:
        self.window = window
        self.accept_action = window._action(
            "Accept Album",
            self.accept_albums,
            "Ctrl+Shift+L",
            "Accept the album genre for every track of the album",
        )
        self.edit_action = window._action(
            "Edit Album Genre…",
            self.edit_albums,
            "Ctrl+Shift+E",
            "Choose one genre for every track of the album",
        )
        self.split_action = window._action(
            "Split Album",
            self.split_selected,
            "Ctrl+Shift+S",
            "Selected tracks become an album of their own (all selected: every track on its own)",
        )
        self.mode_action = QAction("Album Mode", window)
        self.mode_action.setCheckable(True)
        self.mode_action.setChecked(window.controller.session.policy.album_mode)
        self.mode_action.setStatusTip("One genre per album; off: every track on its own")
        self.mode_action.toggled.connect(self.set_album_mode)
        self.actions = [self.accept_action, self.edit_action, self.split_action, self.mode_action]

    def install(self, menu_bar: QMenuBar) -> None:
        menu = menu_bar.addMenu("&Album")
        for action in self.actions:
            if action is self.mode_action:
                menu.addSeparator()
            menu.addAction(action)

    # -- selection
    def selected_albums(self) -> list[Album]:
        session = self.window.controller.session
        albums: dict[str, Album] = {}
        for item in self.window.review.selected_items():
            album = session.album_of(item.path)
            if album is not None:
                albums.setdefault(album.key, album)
        return list(albums.values())

    def update_enabled(self) -> None:
        has = bool(self.selected_albums())
        for action in (self.accept_action, self.edit_action, self.split_action):
            action.setEnabled(has)

    def _changed(self, message: str) -> None:
        self.window.controller.model.refresh_all()
        self.window.detail.refresh()
        self.update_enabled()
        self.window.notice.show_message(message, "ok")

    # -- actions
    def accept_albums(self) -> None:
        session = self.window.controller.session
        albums = self.selected_albums()
        n = sum(len(session.accept_album(a.key)) for a in albums)
        self._changed(
            f"Accepted {n} track(s) of {len(albums)} album(s). Press Apply (Ctrl+Enter) to write them."
        )

    def edit_albums(self) -> None:
        albums = self.selected_albums()
        if not albums:
            return
        session = self.window.controller.session
        first = next((session.item(p).album for p in albums[0].tracks if session.item(p).album), None)
        leading = [c.genre for c in first.top] if first is not None else []
        text = ask_genre(self.window, "Album genre", f"Genre for {len(albums)} album(s)", leading)
        if text is not None:
            self.set_album_genres(albums, text)

    def set_album_genres(self, albums: list[Album], text: str) -> None:
        session = self.window.controller.session
        n = sum(len(session.accept_album(a.key, text)) for a in albums)
        self._changed(f"Set {text} on {n} track(s).")

    def split_selected(self) -> None:
        """Selected tracks of an album become their own part; selecting a whole album splits it into tracks."""
        session = self.window.controller.session
        selected = {i.path for i in self.window.review.selected_items()}
        for album in self.selected_albums():
            part = [p for p in album.tracks if p in selected]
            session.split_album(album.key, None if len(part) == len(album.tracks) else [part])
        self._changed("Album split: each part now has its own genre.")

    def set_album_mode(self, on: bool) -> None:
        self.window.controller.session.set_album_mode(on)
        self.window.settings.album_mode = on
        self._changed("Album mode: one genre per album." if on else "Per-track mode: every track on its own.")
