"""The Ray engine on a real local Ray over real tracks: same values as the local engine, resumable, a killed
worker loses and duplicates nothing; `apply` writes tags and organises from the results, `undo` restores."""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import pytest
import ray

from music_reclass_gui.cli import main
from music_reclass_gui.cli.batch_ray import CRASH_HOOK_ENV
from music_reclass_gui.cluster.pipeline import LOCAL_OBJECT_STORE_BYTES
from music_reclass_gui.cluster.results import part_files, read_results, read_rows
from music_reclass_gui.core.albums import group_albums
from music_reclass_gui.core.tags import read_tags
from tests.conftest import SHARED_DATA, needs_shared_data

pytestmark = [pytest.mark.slow, pytest.mark.shared_data, needs_shared_data]

LIBRARY = SHARED_DATA / "library"
# Several formats and layouts: a file at the top, folders, a nested folder, and a broken "mp3".
SUBSET = {
    "fma-clips/000002.mp3": "000002.mp3",
    "chiptune/classic.ogg": "chip/classic.ogg",
    "chiptune/credits.ogg": "chip/credits.ogg",
    "electronic/menu.opus": "elec/sub/menu.opus",
    "fma-clips/000005.mp3": "fma/000005.mp3",
}
N_TRACKS = len(SUBSET)


@pytest.fixture(scope="module")
def local_ray():
    """One small local Ray for the module (as the CLI starts it without --address)."""
    ray.init(
        num_cpus=3,
        object_store_memory=LOCAL_OBJECT_STORE_BYTES,
        include_dashboard=False,
        logging_level="WARNING",
    )
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> Path:
    if not all((LIBRARY / src).is_file() for src in SUBSET):
        pytest.skip(f"the real tracks of {LIBRARY} are absent")
    lib = tmp_path_factory.mktemp("archive")
    for src, dst in SUBSET.items():
        (lib / dst).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(LIBRARY / src, lib / dst)
    (lib / "fma" / "broken.mp3").write_text("not audio at all\n")
    return lib


def _batch(lib: Path, out: Path, capsys, *extra: str) -> tuple[int, dict]:
    capsys.readouterr()
    code = main(["batch", str(lib), "--engine", "ray", "--output", str(out), "--device", "cpu", *extra])
    return code, json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def first_run(local_ray, library, tmp_path_factory) -> tuple[Path, int, dict]:
    """`batch --engine ray` over the library once: (results folder, exit code, printed summary)."""
    out = tmp_path_factory.mktemp("results") / "run"
    printed = io.StringIO()
    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(printed):
        mp.delenv(CRASH_HOOK_ENV, raising=False)
        code = main(["batch", str(library), "--engine", "ray", "--output", str(out), "--device", "cpu"])
    return out, code, json.loads(printed.getvalue())


def test_ray_results_equal_the_local_engine(library, first_run):
    from music_reclass_gui.inference.engine import Classifier

    first_run, code, summary = first_run
    assert code == 1  # the broken file failed; the batch carried on
    assert (summary["processed"], summary["failed"], summary["skipped"]) == (N_TRACKS, 1, 0)
    assert "broken.mp3" in summary["errors"][0]["error"]

    rows = {str(r.audio_path): r for r in read_results(first_run)}
    broken = rows.pop(str(library / "fma" / "broken.mp3"))
    assert broken.genre is None and "broken.mp3" in broken.error
    local = {
        str(r.audio_path): r for r in Classifier(device="cpu", use_cache=False).classify_many(sorted(rows))
    }
    assert set(rows) == set(local) and len(rows) == N_TRACKS
    for path, row in rows.items():
        mine, theirs = row, local[path]
        assert mine.model == theirs.model
        assert mine.genre == theirs.genre, path
        assert [p.genre for p in mine.top_predictions] == [p.genre for p in theirs.top_predictions]
        for a, b in zip(mine.top_predictions, theirs.top_predictions, strict=True):
            assert abs(a.confidence - b.confidence) < 1e-4, path
        theirs_labels = getattr(theirs, "labels", None)
        if theirs_labels is not None:
            assert [p.genre for p in mine.labels] == [p.genre for p in theirs_labels]
        st = os.stat(path)
        assert (row.size, row.mtime_ns) == (st.st_size, st.st_mtime_ns)


def test_rows_carry_the_album_key_of_core_albums(library, first_run):
    rows = read_results(first_run[0])
    for folder in {r.audio_path.parent for r in rows}:
        here = [r for r in rows if r.audio_path.parent == folder and r.error is None]
        albums, _ = group_albums({r.audio_path: read_tags(r.audio_path) for r in here})
        expected = {p: a.key for a in albums for p in a.tracks}
        assert {r.audio_path: r.album for r in here} == {
            r.audio_path: expected.get(r.audio_path) for r in here
        }
    assert next(r.album for r in rows if r.audio_path.name == "000005.mp3") == "AWOL — AWOL - A Way Of Life"


def test_a_second_run_resumes_and_does_no_work(library, first_run, capsys):
    first_run = first_run[0]
    before = {p.name: p.stat().st_mtime_ns for p in part_files(first_run)}
    code, summary = _batch(library, first_run, capsys)
    assert (summary["processed"], summary["skipped"]) == (0, N_TRACKS)
    assert summary["failed"] == 1 and code == 1  # failed files are tried again, and fail again
    after = {p.name: p.stat().st_mtime_ns for p in part_files(first_run)}
    assert {k: v for k, v in after.items() if k in before} == before  # no part with a result was rewritten
    assert len(read_results(first_run)) == N_TRACKS + 1


def test_a_killed_worker_loses_and_duplicates_nothing(library, first_run, tmp_path, monkeypatch, capsys):
    marker = tmp_path / "crashed"
    monkeypatch.setenv(CRASH_HOOK_ENV, str(marker))
    out = tmp_path / "crash-run"
    code, summary = _batch(library, out, capsys)
    assert marker.exists(), "the test hook did not kill an actor"
    assert summary["processed"] == N_TRACKS and summary["failed"] == 1
    raw = read_rows(out)
    paths = [r["audio_path"] for r in raw]
    assert len(paths) == len(set(paths)) == N_TRACKS + 1  # nothing lost, nothing written twice
    clean = {str(r.audio_path): (r.genre, r.confidence) for r in read_results(first_run[0])}
    for r in raw:
        genre, conf = clean[r["audio_path"]]
        assert r["genre"] == genre and (conf is None or abs(r["confidence"] - conf) < 1e-4)


def _digest(path: Path) -> str:
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_apply_writes_tags_and_organises_and_undo_restores_everything(library, first_run, tmp_path, capsys):
    """Last in the module: it moves the library's files (and undo brings them back)."""
    first_run = first_run[0]
    results = {r.audio_path: r for r in read_results(first_run) if r.error is None}
    before = {p: (tuple(read_tags(p).genres), _digest(p)) for p in results}
    out = tmp_path / "sorted"

    apply = ["apply", str(first_run), "--write-tags", "--organize", "--to", str(out), "--per-track"]
    assert main([*apply, "--dry-run"]) == 0
    assert {p: (tuple(read_tags(p).genres), _digest(p)) for p in results} == before
    assert not out.exists()

    stale = sorted(results)[0]
    os.utime(stale, ns=(stale.stat().st_atime_ns, stale.stat().st_mtime_ns + 10**9))  # "changed" since
    capsys.readouterr()
    assert main(apply) == 0
    printed = capsys.readouterr().out
    assert f"skip {stale}: missing or changed" in printed
    assert stale.exists() and tuple(read_tags(stale).genres) == before[stale][0]
    for path, row in results.items():
        if path == stale:
            continue
        assert not path.exists()
        moved = next((out / row.genre).glob(f"{path.stem}*{path.suffix}"))
        assert tuple(read_tags(moved).genres) == (row.genre,)

    assert main(["undo"]) == 0  # the moves
    assert main(["undo"]) == 0  # the tag writes
    for path, (genres, _) in before.items():
        assert path.exists(), path
        assert tuple(read_tags(path).genres) == genres, path
    assert not any(p.is_file() for p in out.rglob("*"))
