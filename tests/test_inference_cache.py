"""The SQLite feature cache: hits for unchanged files, misses after a change, recovery from a corrupt file."""

from __future__ import annotations

import os
import sqlite3
import threading

import numpy as np

from music_reclass_gui.inference.cache import FeatureCache, file_key


def _features(seed: float) -> dict[str, np.ndarray]:
    return {"tags": np.full(50, seed, np.float32), "embedding": np.arange(200, dtype=np.float32) * seed}


def test_roundtrip_and_change_detection(tmp_path):
    song = tmp_path / "song.flac"
    song.write_bytes(b"x" * 100)
    cache = FeatureCache(tmp_path / "c.sqlite3")
    key = file_key(song)
    assert cache.get(key, "ext:1") is None
    cache.put(key, "ext:1", _features(0.5))
    got = cache.get(key, "ext:1")
    assert got is not None and np.array_equal(got["embedding"], _features(0.5)["embedding"])
    assert cache.get(key, "ext:2") is None  # another extractor version is another entry

    song.write_bytes(b"y" * 120)  # changed content and size
    assert cache.get(file_key(song), "ext:1") is None
    song.write_bytes(b"z" * 100)  # same size, newer mtime
    st = song.stat()
    os.utime(song, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))
    assert cache.get(file_key(song), "ext:1") is None


def test_survives_reopen(tmp_path):
    song = tmp_path / "a.wav"
    song.write_bytes(b"a")
    FeatureCache(tmp_path / "c.sqlite3").put(file_key(song), "k", _features(1.0))
    assert FeatureCache(tmp_path / "c.sqlite3").get(file_key(song), "k") is not None


def test_garbage_cache_file_is_moved_aside_and_rebuilt(tmp_path):
    db = tmp_path / "c.sqlite3"
    db.write_bytes(os.urandom(5000))
    song = tmp_path / "a.wav"
    song.write_bytes(b"a")
    cache = FeatureCache(db)
    assert cache.get(file_key(song), "k") is None
    cache.put(file_key(song), "k", _features(2.0))
    assert cache.get(file_key(song), "k")["tags"][0] == 2.0
    assert cache.recovered and list(tmp_path.glob("c.sqlite3.corrupt-*"))


def test_only_the_newest_damaged_copy_is_kept(tmp_path):
    db = tmp_path / "c.sqlite3"
    for stamp in ("20200101-000000", "20210101-000000"):  # left by earlier recoveries
        (tmp_path / f"c.sqlite3.corrupt-{stamp}").write_bytes(b"old")
        (tmp_path / f"c.sqlite3.corrupt-{stamp}-wal").write_bytes(b"old")
    song = tmp_path / "a.wav"
    song.write_bytes(b"a")
    for round_ in range(3):
        garbage = os.urandom(5000)
        db.write_bytes(garbage)
        cache = FeatureCache(db)
        cache.put(file_key(song), "k", _features(1.0))
        cache.close()
        kept = list(tmp_path.glob("c.sqlite3.corrupt-*"))
        assert [p.read_bytes() for p in kept] == [garbage], round_  # the newest damaged copy only


def test_a_symbolic_link_loop_is_named_as_such(tmp_path, default_classifier):
    (tmp_path / "a").symlink_to(tmp_path / "b")
    (tmp_path / "b").symlink_to(tmp_path / "a")
    [out] = list(default_classifier.classify_many([tmp_path / "a"]))
    assert "symbolic link loop" in out.error and str(tmp_path) in out.error
    assert "RuntimeError" not in out.error


def test_truncated_and_foreign_schema_files_are_rebuilt(tmp_path):
    song = tmp_path / "a.wav"
    song.write_bytes(b"a")
    good = tmp_path / "good.sqlite3"
    c = FeatureCache(good)
    for i in range(50):
        c.put((f"p{i}", 1, 1), "k", _features(i))
    c.close()
    data = good.read_bytes()
    trunc = tmp_path / "trunc.sqlite3"
    trunc.write_bytes(data[: len(data) // 3])
    foreign = tmp_path / "foreign.sqlite3"
    with sqlite3.connect(foreign) as conn:
        conn.execute("CREATE TABLE features (x INTEGER)")
    for db in (trunc, foreign):
        cache = FeatureCache(db)
        cache.put(file_key(song), "k", _features(3.0))
        assert cache.get(file_key(song), "k")["tags"][0] == 3.0


def test_damaged_entry_is_a_miss(tmp_path):
    song = tmp_path / "a.wav"
    song.write_bytes(b"a")
    db = tmp_path / "c.sqlite3"
    cache = FeatureCache(db)
    cache.put(file_key(song), "k", _features(1.0))
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE features SET data = X'00010203'")
    assert cache.get(file_key(song), "k") is None


def test_many_threads_share_one_cache(tmp_path):
    cache = FeatureCache(tmp_path / "c.sqlite3")
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(30):
                key = (f"/t{n}/{i}", i, i)
                cache.put(key, "k", _features(n))
                assert cache.get(key, "k")["tags"][0] == n
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) == 180
