"""ReviewSession: decisions, keep-existing, pending changes and the apply/undo round-trip on real files."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mutagen
import pytest

from music_reclass_gui.core.decide import DecisionPolicy, with_existing
from music_reclass_gui.core.genres import genre_key
from music_reclass_gui.core.library import Track
from music_reclass_gui.core.review import (
    Action,
    Decision,
    ReviewSession,
    ScriptedHooks,
    Status,
    ThresholdHooks,
    parse_genres,
)
from music_reclass_gui.core.tags import TagInfo


@dataclass
class _Pred:  # the engine's Prediction is read by attribute; this mirrors its two fields
    genre: str
    confidence: float


@dataclass
class _Result:
    audio_path: Path
    top_predictions: list[_Pred]
    model: str = "test-model"


def _track(path: Path, genres: tuple[str, ...] = ()) -> Track:
    return Track(path=path, size=1, mtime=0.0, tags=TagInfo(title=path.stem, genres=genres))


def _session(tmp_path: Path, **kw) -> ReviewSession:
    session = ReviewSession(**kw)
    session.add_track(_track(tmp_path / "a.flac", ("Rock",)))
    session.add_track(_track(tmp_path / "b.flac"))
    session.add_track(_track(tmp_path / "c.flac", ("Jazz",)))
    session.set_result(
        _Result(tmp_path / "a.flac", [_Pred("Blues", 0.9), _Pred("Rock", 0.6), _Pred("Jazz", 0.1)])
    )
    session.set_result(_Result(tmp_path / "b.flac", [_Pred("Hip-Hop", 0.4), _Pred("R&B", 0.3)]))
    session.set_failure(tmp_path / "c.flac", "c.flac: truncated file")
    return session


def test_genre_helpers():
    assert genre_key("Hip-Hop") == genre_key("hip hop") == genre_key("Hip\u2010Hop")
    assert parse_genres(" Rock ; Blues;;") == ("Rock", "Blues")
    assert parse_genres("Rock/Pop") == ("Rock/Pop",)  # an edit box splits on ';' only
    keep = DecisionPolicy(keep_existing=True)
    assert with_existing(["Rock"], ["rock", "Blues"], keep) == ("Rock", "Blues")


def test_classification_states(tmp_path):
    s = _session(tmp_path)
    a, b, c = (s.item(tmp_path / n) for n in ("a.flac", "b.flac", "c.flac"))
    assert (a.status, a.proposed, a.confidence) == (Status.CLASSIFIED, ("Blues",), 0.9)
    assert b.proposed == ("Hip-Hop",) and b.current_genres == ()
    assert c.status is Status.ERROR and "truncated" in c.reason
    with pytest.raises(ValueError, match="c.flac"):
        s.accept(tmp_path / "c.flac")


def test_accept_above_and_reject(tmp_path):
    s = _session(tmp_path)
    assert s.accept_above(0.5) == [tmp_path / "a.flac"]
    assert s.item(tmp_path / "b.flac").status is Status.CLASSIFIED
    s.reject(tmp_path / "b.flac")
    assert s.counts()[Status.REJECTED] == 1
    assert [(c.path, c.new_genres) for c in s.pending_changes()] == [(tmp_path / "a.flac", ("Blues",))]


def test_keep_existing_adds_without_duplicates(tmp_path):
    s = _session(tmp_path, keep_existing=True)
    assert s.item(tmp_path / "a.flac").proposed == ("Rock", "Blues")
    s.edit(tmp_path / "a.flac", "rock; Soul")  # "rock" is the same genre as the existing "Rock"
    assert s.item(tmp_path / "a.flac").proposed == ("Rock", "Soul")
    s.set_keep_existing(False)  # decided items keep their decision
    assert s.item(tmp_path / "a.flac").proposed == ("Rock", "Soul")


def test_multi_genre_proposes_everything_above_threshold(tmp_path):
    s = _session(tmp_path, multi_genre=True, threshold=0.5)
    assert s.item(tmp_path / "a.flac").proposed == ("Blues", "Rock")
    assert s.item(tmp_path / "b.flac").proposed == ("Hip-Hop",)  # the best genre always, even below


def test_unchanged_accept_is_not_a_change(tmp_path):
    s = _session(tmp_path)
    s.edit(tmp_path / "a.flac", ["Rock"])  # what is already on disk
    assert s.pending_changes() == []


def test_scripted_review(tmp_path):
    s = _session(tmp_path)
    hooks = ScriptedHooks({"a.flac": Decision(Action.EDIT, ("Soul",)), "b.flac": Decision(Action.REJECT)})
    counts = s.review(hooks)
    assert counts[Action.EDIT] == 1 and counts[Action.REJECT] == 1
    assert hooks.asked == [tmp_path / "a.flac", tmp_path / "b.flac"]  # the error row is not asked
    assert [(c.path.name, c.new_genres) for c in s.pending_changes()] == [("a.flac", ("Soul",))]


def test_threshold_hooks(tmp_path):
    s = _session(tmp_path)
    s.review(ThresholdHooks(0.8))
    assert s.counts()[Status.ACCEPTED] == 1


def test_apply_and_undo_on_real_files(make_audio, tmp_path):
    """The full round-trip through the real organize writer: tags read back with plain mutagen."""
    from music_reclass_gui.core import organize
    from music_reclass_gui.core.library import scan

    good = make_audio("good.flac", seconds=1.0)
    other = make_audio("other.ogg", seconds=1.0)
    before = mutagen.File(good)
    before["genre"] = ["Rock"]
    before.save()
    s = ReviewSession()
    for track in scan([tmp_path]):
        s.add_track(track)
    s.set_result(_Result(good, [_Pred("Blues", 0.8)]))
    s.set_result(_Result(other, [_Pred("Jazz", 0.8)]))
    s.accept(good)
    s.accept(other)
    other.unlink()  # vanished between scan and write: an error row, the rest is written
    report = s.apply(ThresholdHooks(), organize.apply_tag_changes)
    assert report is not None
    assert mutagen.File(good)["genre"] == ["Blues"]
    assert s.item(good).status is Status.WRITTEN and s.item(good).current_genres == ("Blues",)
    assert s.item(other).status is Status.ERROR and "not found" in s.item(other).reason
    undo = organize.undo(report.op_id)
    s.undo_report(undo, report.op_id)
    assert mutagen.File(good)["genre"] == ["Rock"]
    assert s.item(good).status is Status.ACCEPTED and s.item(good).current_genres == ("Rock",)


def test_declined_apply_writes_nothing(tmp_path):
    s = _session(tmp_path)
    s.accept(tmp_path / "a.flac")
    called = []
    assert s.apply(ThresholdHooks(confirm=False), lambda ch: called.append(ch)) is None
    assert called == []


def test_keep_existing_merges_genre_map_aliases(tmp_path):
    from music_reclass_gui.core.genres import load_genre_map

    s = ReviewSession(keep_existing=True, genre_key=load_genre_map().key)
    s.add_track(_track(tmp_path / "a.flac", ("rnb",)))
    s.set_result(_Result(tmp_path / "a.flac", [_Pred("R&B", 0.9)]))
    assert s.item(tmp_path / "a.flac").proposed == ("rnb",)  # the same genre: nothing added


def test_undo_of_an_unknown_operation_only_clears_written(tmp_path):
    """Undo of an operation from an earlier session: no snapshot, the rows stop claiming to be written."""
    from music_reclass_gui.core.organize import OperationReport

    s = _session(tmp_path)
    s.accept(tmp_path / "a.flac")
    s.apply_report(OperationReport("op-1", "tags", [tmp_path / "a.flac"], [], False))
    assert s.item(tmp_path / "a.flac").status is Status.WRITTEN
    s.undo_report(OperationReport("op-0", "undo", [tmp_path / "a.flac"], [], False), "op-0")
    assert s.item(tmp_path / "a.flac").status is Status.ACCEPTED
    assert s.item(tmp_path / "a.flac").current_genres == ("Blues",)  # until the tags are re-read


def test_apply_refuses_a_file_replaced_since_the_scan_and_reapplies_after_its_own_write(make_audio, tmp_path):
    """The review writes what the model heard: a file replaced after the scan keeps its own genre (issue 12,
    item 3), while the session's own Apply and undo keep later writes possible."""
    import os
    import time

    from music_reclass_gui.core import organize
    from music_reclass_gui.core.library import scan

    mine = make_audio("mine.flac", seconds=1.0)
    swapped = make_audio("swapped.ogg", seconds=1.0)
    s = ReviewSession()
    for track in scan([tmp_path]):
        s.add_track(track)
    s.set_result(_Result(mine, [_Pred("Blues", 0.8)]))
    s.set_result(_Result(swapped, [_Pred("Jazz", 0.8)]))
    s.accept(mine)
    s.accept(swapped)
    replacement = make_audio("replacement.ogg", seconds=2.0, freq=880.0)
    os.replace(replacement, swapped)  # another program put other audio under the name
    before = bytes(swapped.read_bytes())
    report = s.apply(ThresholdHooks(), organize.apply_tag_changes)
    assert mutagen.File(mine)["genre"] == ["Blues"]
    assert s.item(swapped).status is Status.ERROR and "changed" in s.item(swapped).reason
    assert swapped.read_bytes() == before  # not a byte written
    time.sleep(0.01)
    s.undo_report(organize.undo(report.op_id), report.op_id)
    s.edit(mine, ("Folk",))
    again = s.apply(ThresholdHooks(), organize.apply_tag_changes)  # its own write and undo are not "changes"
    assert again is not None and not again.failed
    assert mutagen.File(mine)["genre"] == ["Folk"]
