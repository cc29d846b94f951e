"""Albums end to end on real GTZAN clips tagged by the test: organize keeps albums whole (covers included)
and undo restores every byte; compilations go per track; the CLI and the GUI's ReviewSession decide alike."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import gtzan_clips, make_album_track, needs_shared_data
from test_cli_organize import full_state

from music_reclass_gui.cli import main
from music_reclass_gui.core.library import scan
from music_reclass_gui.core.review import ReviewSession
from music_reclass_gui.core.tags import read_tags, write_genres

pytestmark = [needs_shared_data, pytest.mark.slow]
FORMATS = ("flac", "mp3", "ogg", "m4a")


def album(
    lib: Path, artist: str, title: str, clips: list[Path], artists: list[str] | None = None
) -> list[Path]:
    """A real album folder: converted clips tagged album/artist/album artist/track number, plus a cover."""
    folder = lib / artist / title
    tracks = [
        make_album_track(
            src,
            folder / f"{n:02d} {src.stem}.{FORMATS[n % len(FORMATS)]}",
            album=title,
            artist=artists[n - 1] if artists else artist,
            albumartist=artist,
            n=n,
        )
        for n, src in enumerate(clips, 1)
    ]
    (folder / "cover.jpg").write_bytes(hashlib.sha256(title.encode()).digest() * 64)
    return tracks


def test_organize_by_prediction_keeps_albums_whole_and_undo_restores_every_byte(tmp_path, capsys):
    lib, out = tmp_path / "lib", tmp_path / "out"
    rock = album(lib, "Stone Band", "Loud", gtzan_clips("rock")[:5])
    jazz = album(lib, "Late Trio", "Blue Hour", gtzan_clips("jazz")[:4])
    comp_clips = [gtzan_clips(g)[0] for g in ("classical", "metal", "hiphop")]
    comp = album(lib, "Various Artists", "Hits", comp_clips, artists=["Orchestra", "Shredders", "MC Test"])
    before = full_state(tmp_path)

    assert main(["organize", str(lib), "--to", str(out), "--by", "prediction", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    summary = lines[-1]
    assert summary["type"] == "summary" and summary["tracks"] == 12 and summary["albums"] == 2
    tracks = {Path(r["source"]): r for r in lines if r["type"] == "move" and "of" not in r}

    for files, artist, title, genre in (
        (rock, "Stone Band", "Loud", "Rock"),
        (jazz, "Late Trio", "Blue Hour", "Jazz"),
    ):
        target = out / genre / artist / title
        assert {tracks[f]["genre"] for f in files} == {genre}, "the whole album in one genre folder"
        assert {Path(tracks[f]["target"]) for f in files} == {target / f.name for f in files}
        assert all((target / f.name).is_file() for f in files)
        assert (target / "cover.jpg").read_bytes() == hashlib.sha256(title.encode()).digest() * 64
        assert {tracks[f]["album"] for f in files} == {f"{artist} — {title}"}
    # the compilation: every track decided on its own, so its tracks go to their own genres
    comp_genres = {tracks[f]["genre"] for f in comp}
    assert {tracks[f]["album"] for f in comp} == {None} and len(comp_genres) >= 2
    assert all(Path(tracks[f]["target"]).parent.parts[-2:] == ("Various Artists", "Hits") for f in comp)
    for g in comp_genres:  # its cover is copied to every genre the compilation went to
        assert (out / g / "Various Artists" / "Hits" / "cover.jpg").is_file()

    assert main(["undo"]) == 0
    assert {k: v for k, v in full_state(tmp_path).items() if not k.startswith("out")} == before
    assert not any(p.is_file() for p in out.rglob("*"))


def test_cli_and_review_session_make_the_same_decisions(tmp_path, default_classifier, capsys):
    """Same settings → same genres from `batch --write-tags` and from the ReviewSession the GUI uses."""
    lib = tmp_path / "lib"
    halves = album(lib, "Two Faces", "Split", gtzan_clips("classical")[1:3] + gtzan_clips("metal")[1:3])
    reggae = album(lib, "Dub Crew", "Roots", gtzan_clips("reggae")[:3])
    write_genres(reggae[0], ["Reggae"])  # the user tagged one track: evidence, and kept with keep-existing
    loose = make_album_track(gtzan_clips("disco")[0], lib / "loose" / "x.mp3", album=None, artist="Solo")
    files = [*halves, *reggae, loose]

    session = ReviewSession(keep_existing=True, multi_genre=True, threshold=0.2)
    for track in scan([lib]):
        session.add_track(track)
    for result in default_classifier.classify_many(files):
        session.set_result(result)
    proposed = {f: session.item(f).proposed for f in files}
    assert {proposed[f] for f in halves} == {proposed[halves[0]]}, "one genre set for the whole album"
    assert proposed[reggae[0]][0] == "Reggae" and all(proposed[f] for f in files)
    assert session.item(reggae[1]).album.tracks == 3

    args = ["batch", str(lib), "--device", "cpu", "--write-tags", "--keep-existing", "--multi-genre"]
    assert main([*args, "--threshold", "0.2"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert {f: read_tags(f).genres for f in files} == proposed
    albums = {Path(r["audio_path"]): r.get("album") for r in summary["results"]}
    assert albums[loose] is None and albums[halves[0]]["tracks"] == 4
    assert albums[reggae[2]]["genre"] == session.item(reggae[2]).album.genre
    assert set(albums[reggae[2]]) >= {"key", "genre", "confidence", "tracks"}

    # the user splits the two halves: each half now follows its own tracks
    assert len(session.split_album("Two Faces — Split", [halves[:2], halves[2:]])) == 2
    genres = [session.item(f).proposal.folder_genre for f in halves]
    assert genres[0] == genres[1] and genres[2] == genres[3] and genres[0] != genres[2]
    assert session.item(halves[0]).album.key != session.item(halves[2]).album.key
