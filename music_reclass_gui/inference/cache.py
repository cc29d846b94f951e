"""SQLite cache of per-track features, so a second run over an unchanged folder decodes and infers nothing.

Key: (resolved path, size, mtime_ns, extractor key). The extractor key carries the extractor's version and
the excerpt plan version, so new weights or a new plan never reuse stale features. A row whose size or
mtime no longer matches the file is a miss and is replaced on the next ``put``. Values are the feature dict
stored as ``np.savez`` bytes (no pickle). A cache file that is not a readable SQLite database of our schema
(garbage, truncated, an older schema) is moved aside as ``*.corrupt-<time>`` (only the newest such copy
is kept) and rebuilt: the cache can only ever cost a recompute, never a crash. One connection guarded by a lock (WAL, busy timeout) serves all
threads; several processes may share the file.
"""

from __future__ import annotations

import contextlib
import errno
import glob
import io
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from music_reclass_gui.core.appdirs import user_cache_dir

log = logging.getLogger(__name__)

CACHE_FILE = "features.sqlite3"
SCHEMA_VERSION = 1
Features = dict[str, np.ndarray]
FileKey = tuple[str, int, int]  # (resolved path, size, mtime_ns)


def file_key(path: str | Path) -> FileKey:
    """(resolved path, size, mtime_ns) of a file; raises OSError when it cannot be stat'ed (a symbolic link
    loop too: Path.resolve reports that one as a RuntimeError)."""
    try:
        resolved = Path(path).resolve()
    except RuntimeError as exc:  # "Symlink loop from ..."
        raise OSError(errno.ELOOP, os.strerror(errno.ELOOP), str(path)) from exc
    st = resolved.stat()
    return str(resolved), st.st_size, st.st_mtime_ns


# numpy parses .npy headers with ast.literal_eval, which CPython 3.11 cannot run in several threads at once
# ("AST constructor recursion depth mismatch"): (de)serialise one at a time.
_NPY_LOCK = threading.Lock()


def _encode(features: Mapping[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    with _NPY_LOCK:
        np.savez(buf, **{k: np.asarray(v) for k, v in features.items()})
    return buf.getvalue()


def _decode(blob: bytes) -> Features:
    with _NPY_LOCK, np.load(io.BytesIO(blob), allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


class FeatureCache:
    """Thread-safe feature store; every failure degrades to a cache miss."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else user_cache_dir() / CACHE_FILE
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self.recovered: list[str] = []  # messages about cache files moved aside

    # -- connection -------------------------------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        if self._conn is not None:
            return self._conn
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = self._open()
        except sqlite3.DatabaseError as exc:
            self._move_aside(exc)
            self._conn = self._open()
        return self._conn

    def _open(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=10.0, check_same_thread=False, isolation_level=None)
        try:
            conn.execute("PRAGMA busy_timeout=10000")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            row = conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
                if tables - {"meta"}:
                    raise sqlite3.DatabaseError("unknown tables without a schema version")
                conn.execute(
                    "CREATE TABLE features (path TEXT NOT NULL, extractor TEXT NOT NULL, size INTEGER NOT NULL,"
                    " mtime_ns INTEGER NOT NULL, data BLOB NOT NULL, created REAL NOT NULL,"
                    " PRIMARY KEY (path, extractor))"
                )
                conn.execute("INSERT INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise sqlite3.DatabaseError(f"schema {row[0]!r}, expected {SCHEMA_VERSION}")
            conn.execute("SELECT path, extractor, size, mtime_ns, data FROM features LIMIT 1").fetchall()
        except sqlite3.DatabaseError:
            conn.close()
            raise
        return conn

    def _move_aside(self, exc: BaseException) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.Error):
                self._conn.close()
            self._conn = None
        for old in self.path.parent.glob(f"{glob.escape(self.path.name)}.corrupt-*"):
            old.unlink(missing_ok=True)  # keep only the newest damaged copy: they would pile up otherwise
        stamp = time.strftime("%Y%m%d-%H%M%S")
        target = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{self.path}{suffix}")
            if src.exists():
                try:
                    os.replace(src, Path(f"{target}{suffix}"))
                except OSError:
                    src.unlink(missing_ok=True)
        msg = f"{self.path}: feature cache was unreadable ({exc}); moved aside to {target.name} and rebuilt"
        log.warning(msg)
        self.recovered.append(msg)

    def _run(self, fn, default):
        """Run fn(conn) under the lock; a database error moves the file aside once and retries, then gives up."""
        with self._lock:
            for attempt in (0, 1):
                try:
                    return fn(self._connect())
                except sqlite3.DatabaseError as exc:
                    if attempt:
                        log.warning("%s: feature cache unusable (%s)", self.path, exc)
                        return default
                    self._move_aside(exc)
                except sqlite3.Error as exc:  # locked for too long, disk full: just a miss
                    log.warning("%s: feature cache skipped (%s)", self.path, exc)
                    return default
        return default

    # -- API --------------------------------------------------------------------------------------------
    def get(self, key: FileKey, extractor: str) -> Features | None:
        """Features for an unchanged file, else None."""
        path, size, mtime = key

        def fetch(conn: sqlite3.Connection):
            return conn.execute(
                "SELECT data FROM features WHERE path=? AND extractor=? AND size=? AND mtime_ns=?",
                (path, extractor, size, mtime),
            ).fetchone()

        row = self._run(fetch, None)
        if row is None:
            return None
        try:
            return _decode(row[0])
        except (ValueError, OSError, EOFError, KeyError) as exc:  # a damaged blob: forget it
            log.warning("%s: dropping damaged cache entry for %s (%s)", self.path, path, exc)
            self._run(
                lambda c: c.execute("DELETE FROM features WHERE path=? AND extractor=?", (path, extractor)),
                None,
            )
            return None

    def put(self, key: FileKey, extractor: str, features: Mapping[str, np.ndarray]) -> None:
        blob = _encode(features)
        self._run(
            lambda c: c.execute(
                "INSERT OR REPLACE INTO features VALUES (?, ?, ?, ?, ?, ?)",
                (key[0], extractor, key[1], key[2], blob, time.time()),
            ),
            None,
        )

    def __len__(self) -> int:
        return int(self._run(lambda c: c.execute("SELECT COUNT(*) FROM features").fetchone()[0], 0))

    def clear(self) -> None:
        self._run(lambda c: c.execute("DELETE FROM features"), None)

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
