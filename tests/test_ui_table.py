"""The track table model, its proxy and the settings store (no model needed: results are the engine's own
dataclasses, tracks come from a real scan of real files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QAbstractItemModelTester

from music_reclass_gui.core import library
from music_reclass_gui.core.review import Status
from music_reclass_gui.inference.engine import ClassificationFailure, ClassificationResult, Prediction
from music_reclass_gui.ui.settings import AppSettings
from music_reclass_gui.ui.track_table import (
    Column,
    ConfidenceRole,
    TrackFilterProxy,
    TrackTableModel,
)


def _result(path: Path, *preds: tuple[str, float]) -> ClassificationResult:
    top = [Prediction(g, c) for g, c in preds]
    return ClassificationResult(path, "test", top[0].genre, top[0].confidence, top, 0.01)


@pytest.fixture
def files(make_audio, tmp_path):
    names = ["beta.flac", "alpha.ogg", "gamma.wav"]
    return [make_audio(n, seconds=0.5, freq=300 + 100 * i) for i, n in enumerate(names)]


def test_model_under_the_model_tester(qtbot, files, tmp_path):
    model = TrackTableModel()
    tester = QAbstractItemModelTester(model, QAbstractItemModelTester.FailureReportingMode.Fatal)
    proxy = TrackFilterProxy()
    proxy.setSourceModel(model)
    proxy_tester = QAbstractItemModelTester(proxy, QAbstractItemModelTester.FailureReportingMode.Fatal)
    tracks = list(library.scan([tmp_path]))
    model.add_tracks(tracks[:1])
    model.add_tracks(tracks[1:])
    model.add_tracks(tracks[:1])  # a re-scan of a known file refreshes, never duplicates
    assert model.rowCount() == 3
    a, b, c = (model.item(r).path for r in range(3))
    model.session.set_result(_result(a, ("Rock", 0.8), ("Blues", 0.1)))
    model.session.set_failure(b, f"{b.name}: truncated file")
    model.refresh_paths([a, b])
    assert model.setData(model.index(0, Column.PROPOSED), "Soul; Funk")
    proxy.sort(Column.PROPOSED, Qt.SortOrder.DescendingOrder)
    proxy.set_search("SOUL")
    assert proxy.rowCount() == 1 and proxy.index(0, Column.FILE).data() == a.name
    proxy.set_search("")
    assert proxy.rowCount() == 3
    model.reset(model.session)
    assert model.rowCount() == 3
    assert [model.index(model.row_of(p), Column.STATUS).data() for p in (a, b, c)] == [
        "accepted",
        "error",
        "pending",
    ]  # the testers (Fatal mode) checked every signal above on the model and the proxy
    del tester, proxy_tester


def test_cells_show_what_the_user_needs(files, tmp_path):
    model = TrackTableModel()
    model.add_tracks(library.scan([tmp_path]))
    row = model.row_of(files[0])
    model.session.set_result(_result(files[0], ("Hip-Hop", 0.71), ("Soul", 0.2), ("Jazz", 0.05)))
    model.refresh_paths([files[0]])
    idx = lambda col: model.index(row, col)  # noqa: E731
    assert idx(Column.FILE).data() == "beta.flac"
    assert idx(Column.PROPOSED).data() == "Hip-Hop"
    assert idx(Column.PROPOSED).data(ConfidenceRole) == pytest.approx(0.71)
    assert idx(Column.TOP3).data() == "Hip-Hop 71% · Soul 20% · Jazz 5%"
    assert idx(Column.STATUS).data() == "classified"
    assert model.flags(idx(Column.PROPOSED)) & Qt.ItemFlag.ItemIsEditable
    assert not model.flags(idx(Column.FILE)) & Qt.ItemFlag.ItemIsEditable

    bad = model.row_of(files[1])
    model.session.set_failure(files[1], ClassificationFailure(files[1], "alpha.ogg: not audio").error)
    model.refresh_paths([files[1]])
    tip = model.index(bad, Column.TITLE).data(Qt.ItemDataRole.ToolTipRole)
    assert "not audio" in tip  # the reason is readable from any cell of an error row
    assert model.index(bad, Column.STATUS).data() == "error"


def test_proxy_status_filter_and_confidence_sort(files, tmp_path):
    model = TrackTableModel()
    model.add_tracks(library.scan([tmp_path]))
    for path, conf in zip(files, (0.3, 0.9, 0.6), strict=True):
        model.session.set_result(_result(path, ("Rock", conf)))
    model.session.accept(files[1])
    model.refresh_all()
    proxy = TrackFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(Column.PROPOSED, Qt.SortOrder.DescendingOrder)
    assert [proxy.index(r, Column.FILE).data() for r in range(3)] == ["alpha.ogg", "gamma.wav", "beta.flac"]
    proxy.set_statuses([Status.ACCEPTED])
    assert proxy.rowCount() == 1 and proxy.index(0, Column.FILE).data() == "alpha.ogg"
    proxy.set_statuses(None)
    assert proxy.rowCount() == 3


def test_settings_round_trip_and_damaged_file(tmp_path):
    s = AppSettings(model="mtt-musicnn", top_k=5, threshold=0.7, keep_existing=True, id3_version=3)
    s.add_recent(tmp_path)
    s.save()
    loaded = AppSettings.load()
    assert loaded == s and loaded.recent_folders == [str(tmp_path.resolve())]
    assert loaded.output_root_for(tmp_path / "Music") == tmp_path / "Music_Classified"
    AppSettings.path().write_text(json.dumps({"top_k": "many", "threshold": 7, "id3_version": 9, "x": 1}))
    damaged = AppSettings.load()
    assert (damaged.top_k, damaged.threshold, damaged.id3_version) == (3, 1.0, 4)
    AppSettings.path().write_text("{not json")
    assert AppSettings.load() == AppSettings()
