"""The track table: a QAbstractTableModel over a core ReviewSession, its sort/filter proxy and the view."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt
from PySide6.QtGui import QBrush, QColor, QFont
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView

from music_reclass_gui.core.library import Track
from music_reclass_gui.core.review import ReviewItem, ReviewSession, Status

_Index = QModelIndex | QPersistentModelIndex


class Column(enum.IntEnum):
    FILE = 0
    TITLE = 1
    ARTIST = 2
    CURRENT = 3
    PROPOSED = 4
    TOP3 = 5
    STATUS = 6
    ALBUM = 7  # the album and its decision ("Loud · Rock, 4 of 5 tracks lean Rock"); sort by it to group


HEADERS = {
    Column.FILE: "File",
    Column.TITLE: "Title",
    Column.ARTIST: "Artist",
    Column.CURRENT: "Genre on disk",
    Column.PROPOSED: "Proposed genre",
    Column.TOP3: "Top 3",
    Column.STATUS: "Status",
    Column.ALBUM: "Album",
}
# Starting widths at a laptop size; FILE stretches (see TrackView).
DEFAULT_WIDTHS = {
    Column.TITLE: 170,
    Column.ARTIST: 130,
    Column.CURRENT: 110,
    Column.PROPOSED: 170,
    Column.TOP3: 230,
    Column.STATUS: 90,
    Column.ALBUM: 220,
}

# On small windows columns shrink towards these (see TrackView.fit_columns_to_width).
MIN_WIDTHS = {
    Column.TITLE: 100,
    Column.ARTIST: 80,
    Column.CURRENT: 80,
    Column.PROPOSED: 130,
    Column.TOP3: 90,
    Column.STATUS: 80,
    Column.ALBUM: 90,
}
FILE_MIN_WIDTH = 130

ConfidenceRole = Qt.ItemDataRole.UserRole + 1  # float 0..1 or None, for the confidence bar
ItemRole = Qt.ItemDataRole.UserRole + 2  # the ReviewItem
SortRole = Qt.ItemDataRole.UserRole + 3
PathRole = Qt.ItemDataRole.UserRole + 4  # str path, stable across sorting

_ROLES = frozenset(
    int(role)
    for role in {
        Qt.ItemDataRole.DisplayRole,
        Qt.ItemDataRole.EditRole,
        Qt.ItemDataRole.ToolTipRole,
        Qt.ItemDataRole.ForegroundRole,
        Qt.ItemDataRole.BackgroundRole,
        Qt.ItemDataRole.FontRole,
        ConfidenceRole,
        ItemRole,
        SortRole,
        PathRole,
    }
)
_STATUS_ORDER = {s: i for i, s in enumerate(Status)}
STATUS_COLOURS = {
    Status.PENDING: QColor("#7a7a7a"),
    Status.CLASSIFIED: QColor("#1f5fa8"),
    Status.ACCEPTED: QColor("#1b7f3b"),
    Status.REJECTED: QColor("#8a6d00"),
    Status.WRITTEN: QColor("#0b5e2a"),
    Status.ERROR: QColor("#b3261e"),
}
ERROR_BACKGROUND = QColor(179, 38, 30, 28)


def genres_text(genres: Iterable[str]) -> str:
    return "; ".join(genres)


def album_text(item: ReviewItem) -> str:
    """The album a track's proposal follows, with its genre and agreement; its album tag otherwise."""
    album = item.album
    if album is not None:
        return f"{album.title or album.key} · {album.genre}, {album.agreement}"
    tags = item.track.tags
    return (tags.album or "") if tags else ""


def top_text(item: ReviewItem, k: int = 3) -> str:
    return " · ".join(f"{p.genre} {p.confidence:.0%}" for p in item.predictions[:k])


class TrackTableModel(QAbstractTableModel):
    """Rows are the session's items in the order they were found; edits go through the session."""

    def __init__(self, session: ReviewSession | None = None, parent=None) -> None:
        super().__init__(parent)
        self.session = session or ReviewSession()
        self._paths: list[Path] = [item.path for item in self.session]
        self._rows: dict[Path, int] = {p: i for i, p in enumerate(self._paths)}

    # -- structure
    def rowCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008 - Qt's signature
        return 0 if parent.isValid() else len(self._paths)

    def columnCount(self, parent: _Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == Qt.ItemDataRole.DisplayRole:
                return HEADERS[Column(section)]
            if role == Qt.ItemDataRole.ToolTipRole and section == Column.PROPOSED:
                return "What Apply will write; double-click or press E to edit"
        return None

    def flags(self, index: _Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == Column.PROPOSED and self.item(index.row()).status is not Status.WRITTEN:
            base |= Qt.ItemFlag.ItemIsEditable
        return base

    # -- data
    def item(self, row: int) -> ReviewItem:
        return self.session.item(self._paths[row])

    def row_of(self, path: str | Path) -> int:
        return self._rows.get(Path(path), -1)

    def data(self, index: _Index, role: int = Qt.ItemDataRole.DisplayRole):
        # views ask for a dozen roles per cell on every paint: answer the unused ones without any work
        if role not in _ROLES or not index.isValid() or not (0 <= index.row() < len(self._paths)):
            return None
        item = self.item(index.row())
        col = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, col)
        if role == Qt.ItemDataRole.EditRole:
            return genres_text(item.proposed) if col == Column.PROPOSED else self._display(item, col)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, col)
        if role == Qt.ItemDataRole.ForegroundRole and col == Column.STATUS:
            return QBrush(STATUS_COLOURS[item.status])
        if role == Qt.ItemDataRole.BackgroundRole and item.status is Status.ERROR:
            return QBrush(ERROR_BACKGROUND)
        if role == Qt.ItemDataRole.FontRole and col == Column.STATUS and item.status is Status.ACCEPTED:
            font = QFont()
            font.setBold(True)
            return font
        if role == ConfidenceRole:
            return item.confidence
        if role == ItemRole:
            return item
        if role == PathRole:
            return str(item.path)
        if role == SortRole:
            return self._sort_key(item, col)
        return None

    @staticmethod
    def _display(item: ReviewItem, col: Column) -> str:
        tags = item.track.tags
        if col == Column.FILE:
            return item.path.name
        if col == Column.TITLE:
            return tags.title or "" if tags else ""
        if col == Column.ARTIST:
            return tags.artist or "" if tags else ""
        if col == Column.CURRENT:
            return genres_text(item.current_genres)
        if col == Column.PROPOSED:
            return genres_text(item.proposed)
        if col == Column.TOP3:
            return top_text(item)
        if col == Column.ALBUM:
            return album_text(item)
        return item.status.value

    @staticmethod
    def _tooltip(item: ReviewItem, col: Column) -> str | None:
        if item.status is Status.ERROR and item.reason:
            return f"{item.path.name}: error\n{item.reason}"
        if col == Column.FILE:
            return str(item.path)
        if col == Column.ALBUM and item.album is not None:
            top = "\n".join(f"{c.genre}: {c.confidence:.1%}" for c in item.album.top)
            return f"{item.album.key}\n{item.album.agreement}\nAlbum top 3:\n{top}"
        if col == Column.TOP3 and item.predictions:
            return "\n".join(f"{p.genre}: {p.confidence:.1%}" for p in item.predictions)
        if col == Column.PROPOSED and item.proposed:
            conf = f" (model confidence {item.confidence:.0%})" if item.confidence is not None else ""
            return f"Apply writes: {genres_text(item.proposed)}{conf}"
        text = TrackTableModel._display(item, col)
        return text or None

    @staticmethod
    def _sort_key(item: ReviewItem, col: Column):
        if col == Column.PROPOSED:
            return item.confidence if item.confidence is not None else -1.0
        if col == Column.STATUS:
            return _STATUS_ORDER[item.status]
        return TrackTableModel._display(item, col).casefold()

    def setData(self, index: _Index, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if role != Qt.ItemDataRole.EditRole or index.column() != Column.PROPOSED or not index.isValid():
            return False
        item = self.item(index.row())
        text = str(value or "").strip()
        if not text or item.status is Status.WRITTEN:
            return False
        self.session.edit(item.path, text)
        self.refresh_rows([index.row()])
        return True

    # -- changes driven by workers and actions
    def add_tracks(self, tracks: Iterable[Track]) -> None:
        """Rows for newly scanned tracks (one insert per batch); known paths are refreshed in place."""
        new: dict[Path, None] = {}  # ordered, with O(1) membership
        changed: list[int] = []
        for track in tracks:
            known = track.path in self.session
            self.session.add_track(track)
            if known:
                changed.append(self._rows[track.path])
            else:
                new[track.path] = None
        if new:
            first = len(self._paths)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for path in new:
                self._rows[path] = len(self._paths)
                self._paths.append(path)
            self.endInsertRows()
        self.refresh_rows(changed)

    def search_text(self, row: int) -> str:
        """Everything the search box matches against, case-folded: one string per row."""
        item = self.item(row)
        return "\x1f".join(self._display(item, col) for col in Column).casefold()

    def refresh_paths(self, paths: Iterable[str | Path]) -> None:
        self.refresh_rows(self.row_of(p) for p in paths)

    def refresh_rows(self, rows: Iterable[int]) -> None:
        rows = sorted(r for r in set(rows) if r >= 0)
        if not rows:
            return
        # one signal per contiguous run keeps big updates cheap
        start = prev = rows[0]
        for r in [*rows[1:], None]:
            if r is not None and r == prev + 1:
                prev = r
                continue
            self.dataChanged.emit(self.index(start, 0), self.index(prev, len(Column) - 1))
            if r is not None:
                start = prev = r

    def refresh_all(self) -> None:
        if self._paths:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._paths) - 1, len(Column) - 1))

    def reset(self, session: ReviewSession) -> None:
        self.beginResetModel()
        self.session = session
        self._paths = [item.path for item in session]
        self._rows = {p: i for i, p in enumerate(self._paths)}
        self.endResetModel()


class TrackFilterProxy(QSortFilterProxyModel):
    """Search box text over every column, plus an optional set of statuses to show."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SortRole)
        self.setFilterKeyColumn(-1)
        self.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.setDynamicSortFilter(False)  # rows must not jump under the user's cursor while results stream in
        self._statuses: frozenset[Status] | None = None
        self._needle = ""

    def set_search(self, text: str) -> None:
        """Rows whose file, title, artist, genres or status contain `text` (any case)."""
        needle = text.strip().casefold()
        if needle == self._needle:
            return
        self._change_filter(lambda: setattr(self, "_needle", needle))

    def _change_filter(self, change) -> None:
        if hasattr(self, "endFilterChange"):  # Qt >= 6.10 deprecates invalidateFilter()
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:  # pragma: no cover - older Qt
            change()
            self.invalidateFilter()

    def set_statuses(self, statuses: Iterable[Status] | None) -> None:
        value = frozenset(statuses) if statuses is not None else None
        self._change_filter(lambda: setattr(self, "_statuses", value))

    def filterAcceptsRow(self, source_row: int, source_parent: _Index) -> bool:
        model = self.sourceModel()
        if not isinstance(model, TrackTableModel):
            return super().filterAcceptsRow(source_row, source_parent)
        if self._statuses is not None and model.item(source_row).status not in self._statuses:
            return False
        return not self._needle or self._needle in model.search_text(source_row)


class TrackView(QTableView):
    """The table view with the app's defaults: whole-row selection, elided names, sensible widths."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.setSortingEnabled(True)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setTextElideMode(Qt.TextElideMode.ElideRight)
        self.setShowGrid(False)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(26)
        self.horizontalHeader().setHighlightSections(False)
        self.horizontalHeader().setStretchLastSection(False)
        self.horizontalHeader().setMinimumSectionSize(48)

    def apply_default_widths(self) -> None:
        header = self.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(Column.FILE, QHeaderView.ResizeMode.Stretch)
        self._user_sized = False
        self._fitting = False
        header.sectionResized.connect(self._section_resized)
        self.fit_columns_to_width(self.viewport().width())

    def _section_resized(self, index: int, _old: int, _new: int) -> None:
        """A column the user dragged keeps its width: stop fitting columns to the window from then on."""
        if not self._fitting and index != Column.FILE:
            self._user_sized = True

    def fit_columns_to_width(self, available: int) -> None:
        """Default widths when there is room; on small windows every column gives up part of its slack
        (Top 3 the most, it is repeated in the detail pane) so nothing needs a horizontal scroll bar."""
        room = max(available - FILE_MIN_WIDTH, 0)
        wanted = sum(DEFAULT_WIDTHS.values())
        slack = {c: DEFAULT_WIDTHS[c] - MIN_WIDTHS[c] for c in DEFAULT_WIDTHS}
        cut = min(1.0, max(0.0, (wanted - room) / max(1, sum(slack.values()))))
        self._fitting = True
        try:
            for col, width in DEFAULT_WIDTHS.items():
                self.setColumnWidth(col, int(width - cut * slack[col]))
        finally:
            self._fitting = False

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        if not getattr(self, "_user_sized", True):
            self.fit_columns_to_width(self.viewport().width())
