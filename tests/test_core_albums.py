"""core.albums: grouping real tagged files into albums, the album genre, compilations and user splits."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import gtzan_clips, make_album_track, needs_shared_data

from music_reclass_gui.core.albums import group_albums
from music_reclass_gui.core.decide import DecisionPolicy, decide_library
from music_reclass_gui.core.library import scan
from music_reclass_gui.core.review import ReviewSession, Status
from music_reclass_gui.core.tags import TagInfo
from music_reclass_gui.inference.engine import ClassificationResult, Prediction


def _r(path: Path, *preds: tuple[str, float]) -> ClassificationResult:
    """A result as the engine makes it (no model needed)."""
    top = [Prediction(g, c) for g, c in preds]
    return ClassificationResult(path, "test", top[0].genre, top[0].confidence, top, 0.01)


def _tags(album=None, artist=None, albumartist=None, genres=(), duration=30.0) -> TagInfo:
    return TagInfo(album=album, artist=artist, albumartist=albumartist, genres=genres, duration=duration)


def test_grouping_albums_compilations_and_untagged_folders(tmp_path):
    a, b, c, d, e = (tmp_path / x for x in ("a", "b", "c", "dl", "rip"))
    tags = {
        a / "1.flac": _tags("Blue", "Ann"),
        a / "2.flac": _tags("Blue", "Ann"),
        b / "1.mp3": _tags("Hits", "X", "Various Artists"),
        b / "2.mp3": _tags("Hits", "Y", "Various Artists"),
        c / "1.ogg": _tags("Mix", "P"),
        c / "2.ogg": _tags("Mix", "Q"),
        c / "3.ogg": _tags("Mix", "R"),
        d / "song.mp3": _tags(artist="K"),
        d / "other.mp3": _tags(artist="L"),
        e / "01 intro.flac": _tags(),
        e / "02 outro.flac": _tags(),
    }
    albums, singles = group_albums(tags)
    by_key = {al.key: al for al in albums}
    assert by_key["Ann — Blue"].tracks == (a / "1.flac", a / "2.flac")
    assert str(e) in by_key and by_key[str(e)].kind == "folder"  # numbered files: one release
    assert set(singles) == {b / "1.mp3", b / "2.mp3", c / "1.ogg", c / "2.ogg", c / "3.ogg"} | {
        d / "song.mp3",
        d / "other.mp3",
    }  # a "Various Artists" album, three artists without album artist, and a Downloads-like folder


def test_album_genre_outvotes_an_odd_track_and_tags_count_as_evidence(tmp_path):
    paths = [tmp_path / f"{i}.flac" for i in range(5)]
    tags = {p: _tags("Loud", "Band") for p in paths}
    results = [_r(p, ("Rock", 0.7), ("Jazz", 0.2)) for p in paths[:4]] + [
        _r(paths[4], ("Jazz", 0.5), ("Rock", 0.4))
    ]
    out = decide_library(results, tags)
    assert {p.genres for p in out.values()} == {("Rock",)}
    info = out[paths[4]].album
    assert info.agreement == "4 of 5 tracks lean Rock" and info.tracks == 5 and len(info.top) == 2
    assert out[paths[4]].reason.startswith("album: 4 of 5 tracks lean Rock")
    per_track = decide_library(results, tags, DecisionPolicy(album_mode=False))
    assert per_track[paths[4]].genres == ("Jazz",) and per_track[paths[4]].album is None

    # the user tagged 3 of 5 tracks Jazz: the album follows them although the model leans Rock
    tagged = {p: _tags("Loud", "Band", genres=("Jazz",) if i < 3 else ()) for i, p in enumerate(paths)}
    weak = [_r(p, ("Rock", 0.5), ("Jazz", 0.4)) for p in paths]
    assert {p.genres for p in decide_library(weak, tagged).values()} == {("Jazz",)}


def test_user_split_decides_each_half_on_its_own(tmp_path):
    paths = [tmp_path / f"{i}.flac" for i in range(6)]
    tags = {p: _tags("Two Sides", "Band") for p in paths}
    results = [_r(p, ("Classical", 0.8), ("Metal", 0.1)) for p in paths[:3]]
    results += [_r(p, ("Metal", 0.7), ("Classical", 0.2)) for p in paths[3:]]
    whole = decide_library(results, tags)
    assert len({p.genres for p in whole.values()}) == 1
    split = decide_library(results, tags, splits={"Band — Two Sides": [paths[:3], paths[3:]]})
    assert [split[p].genres for p in paths] == [("Classical",)] * 3 + [("Metal",)] * 3


@needs_shared_data
def test_review_session_groups_real_tagged_files_and_splits(tmp_path):
    """Real files with real tags: the session proposes the album genre, accepts and splits in one action."""
    rock, classical = gtzan_clips("rock"), gtzan_clips("classical")
    lib = tmp_path / "lib"
    files = [
        make_album_track(
            src, lib / "Band" / "Two Sides" / f"{i:02d}.{ext}", album="Two Sides", artist="Band", n=i
        )
        for i, (src, ext) in enumerate(
            zip(rock[:2] + classical[:2], ("flac", "mp3", "ogg", "m4a"), strict=True), 1
        )
    ]
    session = ReviewSession()
    for track in scan([lib]):
        session.add_track(track)
    for f, g in zip(files, ("Rock", "Rock", "Classical", "Classical"), strict=True):
        other = "Classical" if g == "Rock" else "Rock"
        session.set_result(_r(f, (g, 0.8 if g == "Rock" else 0.7), (other, 0.1)))
    (album,) = session.albums()
    assert album.key == "Band — Two Sides" and set(album.tracks) == set(files)
    assert {session.item(f).proposed for f in files} == {("Rock",)}
    assert session.item(files[2]).album.agreement == "2 of 4 tracks lean Rock"

    parts = session.split_album(album.key, [files[:2], files[2:]])
    assert len(parts) == 2
    assert [session.item(f).proposed for f in files] == [("Rock",)] * 2 + [("Classical",)] * 2
    second = session.album_of(files[3])
    assert session.accept_album(second.key) == files[2:]
    assert [session.item(f).status for f in files] == [Status.CLASSIFIED] * 2 + [Status.ACCEPTED] * 2
    assert session.primary_genre(files[3]) == "Classical"


def test_multi_label_albums_keep_each_genres_own_probability(tmp_path):
    """With every genre's own probability (result.labels) the album's is their geometric mean, not a share
    of 1, so the multi-genre threshold means the same for an album as for a track."""
    paths = [tmp_path / f"{i}.flac" for i in range(3)]
    tags = {p: _tags("Heavy", "Band") for p in paths}
    results = []
    for p, rock, metal in zip(paths, (0.9, 0.8, 0.7), (0.6, 0.7, 0.5), strict=True):
        r = _r(p, ("Rock", rock), ("Metal", metal))
        r.labels = [Prediction("Rock", rock), Prediction("Metal", metal), Prediction("Jazz", 0.01)]
        results.append(r)
    out = decide_library(results, tags, DecisionPolicy(multi_genre=True, threshold=0.5))
    info = out[paths[0]].album
    assert info.confidence == pytest.approx((0.9 * 0.8 * 0.7) ** (1 / 3))
    assert info.top[1].confidence == pytest.approx((0.6 * 0.7 * 0.5) ** (1 / 3))
    assert {p.genres for p in out.values()} == {("Rock", "Metal")}


def test_a_multi_label_albums_genre_tag_does_not_pull_its_other_genres_down(tmp_path):
    """Two tracks tagged "Soundtrack" (a genre the model lacks) that the model hears as Electronic 0.8 and
    0.35: a tag says yes to its genre and nothing against Electronic (a track can be both), so the album is
    Electronic at the tracks' own geometric mean, not below both tracks as when the tag counted against it."""
    paths = [tmp_path / f"{i}.ogg" for i in range(2)]
    tags = {p: _tags("SuperTux Soundtrack", "SuperTux", genres=("Soundtrack",)) for p in paths}
    results = []
    for p, electronic in zip(paths, (0.8, 0.35), strict=True):
        r = _r(p, ("Electronic", electronic), ("Classical", 0.1))
        r.labels = [Prediction("Electronic", electronic), Prediction("Classical", 0.1)]
        results.append(r)
    info = decide_library(results, tags)[paths[0]].album
    assert info.genre == "Electronic" and info.agreement == "2 of 2 tracks lean Electronic"
    assert info.confidence == pytest.approx((0.8 * 0.35) ** 0.5)
    soundtrack = next(c for c in info.top if c.genre == "Soundtrack")
    assert soundtrack.confidence == pytest.approx((0.05 * 0.05 * 0.9 * 0.9) ** 0.25)  # model's floor, tags
