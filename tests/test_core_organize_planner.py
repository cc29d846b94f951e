"""The planner: pure, never plans onto an existing file, merges spellings, carries sidecars along."""

from __future__ import annotations

import os
from pathlib import Path

from music_reclass_gui.core.organize import plan_moves


def tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_layout_counts_and_purity(tmp_path: Path, make_audio) -> None:
    src = tmp_path / "in"
    a = make_audio("a.mp3", seconds=0.5, folder=src)
    b = make_audio("b.flac", seconds=0.5, folder=src / "sub")
    c = make_audio("c.ogg", seconds=0.5, folder=src)
    before = tree(tmp_path)
    out = tmp_path / "out"
    plan = plan_moves([(a, "Rock"), (b, "Jazz"), (c, "Rock")], out)
    assert tree(tmp_path) == before, "planning must not touch the disk"
    assert [(m.src, m.dst) for m in plan.moves] == [
        (a, out / "Rock" / "a.mp3"),
        (b, out / "Jazz" / "b.flac"),
        (c, out / "Rock" / "c.ogg"),
    ]
    assert plan.counts_per_genre == {"Rock": 2, "Jazz": 1}
    assert plan.n_clashes == 0 and plan.skipped == []


def test_clash_with_existing_file_and_within_plan(tmp_path: Path) -> None:
    out = tmp_path / "out"
    existing = {os.path.normcase(out / "Rock" / "song.mp3")}
    one, two, three = (tmp_path / d / "song.mp3" for d in ("x", "y", "z"))
    plan = plan_moves(
        [(one, "Rock"), (two, "rock"), (three, "Jazz")],
        out,
        exists=lambda p: os.path.normcase(p) in existing,
        listdir=lambda p: [],
    )
    dsts = [m.dst for m in plan.moves]
    assert dsts == [out / "Rock" / "song (2).mp3", out / "Rock" / "song (3).mp3", out / "Jazz" / "song.mp3"]
    assert [m.clash for m in plan.moves] == [True, True, False]
    assert plan.counts_per_genre == {"Rock": 2, "Jazz": 1}


def test_existing_folder_spelling_wins_and_unicode_variants_merge(tmp_path: Path) -> None:
    out = tmp_path / "out"
    (out / "hip-hop").mkdir(parents=True)
    plan = plan_moves([(tmp_path / "1.mp3", "Hip-Hop"), (tmp_path / "2.mp3", "HIP\u2010HOP")], out)
    assert {m.dst.parent for m in plan.moves} == {out / "hip-hop"}
    assert plan.counts_per_genre == {"hip-hop": 2}


def test_no_genre_skipped_or_unsorted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    pairs = [(tmp_path / "a.mp3", None), (tmp_path / "b.mp3", "  "), (tmp_path / "c.mp3", "Pop")]
    plan = plan_moves(pairs, out)
    assert [m.src.name for m in plan.moves] == ["c.mp3"]
    assert [(p.name, why) for p, why in plan.skipped] == [("a.mp3", "no genre"), ("b.mp3", "no genre")]
    plan = plan_moves(pairs, out, unsorted="Unsorted")
    assert [m.dst.relative_to(out).as_posix() for m in plan.moves] == [
        "Unsorted/a.mp3",
        "Unsorted/b.mp3",
        "Pop/c.mp3",
    ]


def test_sidecars_follow_and_share_the_renamed_stem(tmp_path: Path, make_audio) -> None:
    src = tmp_path / "in"
    track = make_audio("live.mp3", seconds=0.5, folder=src)
    (src / "live.lrc").write_text("[00:00.00] la")
    (src / "live.CUE").write_text("FILE live.mp3")
    (src / "live.txt").write_text("not a sidecar")
    out = tmp_path / "out"
    (out / "Rock").mkdir(parents=True)
    (out / "Rock" / "live.lrc").write_text("someone else's lyrics")  # only the sidecar name is taken
    plan = plan_moves([(track, "Rock")], out)
    (move,) = plan.moves
    assert move.dst == out / "Rock" / "live (2).mp3" and move.clash
    assert sorted((s.name, d.name) for s, d in move.sidecars) == [
        ("live.CUE", "live (2).CUE"),
        ("live.lrc", "live (2).lrc"),
    ]


def test_weird_genres_stay_inside_out_root(tmp_path: Path) -> None:
    out = tmp_path / "out"
    genres = ["../../etc", "CON", "a/b", "x" * 300, "\u202eevil", "/abs", "C:\\x", "..", "\x00"]
    plan = plan_moves([(tmp_path / f"{i}.mp3", g) for i, g in enumerate(genres)], out)
    assert len(plan.moves) == len(genres)
    for m in plan.moves:
        real = Path(os.path.normpath(m.dst))
        assert real.parent.parent == out, m.dst


def test_already_in_place_and_duplicates_are_skipped(tmp_path: Path) -> None:
    out = tmp_path / "out"
    inside = out / "Rock" / "a.mp3"
    plan = plan_moves([(inside, "Rock"), (tmp_path / "b.mp3", "Pop"), (tmp_path / "b.mp3", "Jazz")], out)
    assert [m.src.name for m in plan.moves] == ["b.mp3"]
    assert sorted(why for _, why in plan.skipped) == ["already in place", "listed twice"]
