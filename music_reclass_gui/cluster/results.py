"""The Parquet results folder of `batch --engine ray`: one row per file, written once per block, read deduped.

Layout: ``RESULTS/part-<digest>.parquet``. Each block of files the actor pool finishes is written as one part
whose name is a digest of the block's (path, size, mtime_ns) keys, atomically (temporary name, then rename).
A task Ray retries (a killed worker) rewrites the same name instead of adding a second copy, so no row is lost
or duplicated. A later run that reclassifies a changed file adds a newer row; ``read_results`` keeps the newest
row per path (``written_at``). pyarrow is imported lazily with a clear error, so the rest of the app runs
without it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from music_reclass_gui.core.errors import MusicReclassError

PART_PREFIX = "part-"
PART_SUFFIX = ".parquet"
INSTALL_HINT = 'install the cluster extra: pip install -e ".[cluster]"'


def _pyarrow():
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise MusicReclassError(
            None, f"reading or writing Parquet results needs pyarrow ({INSTALL_HINT})"
        ) from exc
    return pa, pq


def schema():
    """The results table's columns (see docs/scale-out.md)."""
    pa, _ = _pyarrow()
    scored = pa.list_(pa.struct([("genre", pa.string()), ("confidence", pa.float64())]))
    return pa.schema(
        [
            ("audio_path", pa.string()),
            ("size", pa.int64()),
            ("mtime", pa.float64()),  # seconds since the epoch, as `os.stat` gives
            ("mtime_ns", pa.int64()),  # what resuming compares
            ("model", pa.string()),
            ("genre", pa.string()),
            ("confidence", pa.float64()),
            ("top_k", scored),
            ("labels", scored),  # every genre's own probability, for models that give them; else null
            ("album", pa.string()),  # album key (core.albums) when available; else null
            ("error", pa.string()),
            ("processing_time", pa.float64()),
            ("written_at", pa.float64()),
        ]
    )


@dataclass(frozen=True)
class Scored:
    """A genre and its confidence, read back from a result row (duck-types inference's Prediction)."""

    genre: str
    confidence: float


@dataclass
class ResultRow:
    """One file's result as read back; attribute names follow ClassificationResult so the decision layer
    reads it like a local result."""

    audio_path: Path
    size: int | None
    mtime_ns: int | None
    model: str | None
    genre: str | None
    confidence: float | None
    top_predictions: list[Scored] = field(default_factory=list)
    labels: list[Scored] | None = None
    album: str | None = None
    error: str | None = None

    def matches_disk(self) -> bool:
        """The file is still the one that was classified (same size and mtime)."""
        try:
            st = os.stat(self.audio_path)
        except OSError:
            return False
        return st.st_size == self.size and st.st_mtime_ns == self.mtime_ns


def part_name(keys: Iterable[tuple[str, int | None, int | None]]) -> str:
    """Deterministic part file name for a block of (path, size, mtime_ns) keys."""
    h = hashlib.sha1()
    for path, size, mtime_ns in sorted(keys, key=lambda k: (k[0], k[1] or -1, k[2] or -1)):
        h.update(f"{path}\0{size}\0{mtime_ns}\n".encode("utf-8", "surrogateescape"))
    return f"{PART_PREFIX}{h.hexdigest()[:20]}{PART_SUFFIX}"


def write_part(out_dir: str | Path, rows: Sequence[dict[str, Any]]) -> Path | None:
    """Write one block's rows as one part, atomically; rewriting the same block replaces its part."""
    if not rows:
        return None
    pa, pq = _pyarrow()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    target = out / part_name((r["audio_path"], r.get("size"), r.get("mtime_ns")) for r in rows)
    tmp = out / f".{target.name}.{os.getpid()}.tmp"
    table = pa.Table.from_pylist([dict(r) for r in rows], schema=schema())
    pq.write_table(table, tmp)
    os.replace(tmp, target)
    return target


def part_files(results: str | Path) -> list[Path]:
    folder = Path(results)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.startswith(PART_PREFIX) and p.suffix == PART_SUFFIX)


def read_rows(results: str | Path) -> list[dict[str, Any]]:
    """Every row of every part, not deduplicated (tests count these)."""
    _, pq = _pyarrow()
    rows: list[dict[str, Any]] = []
    for part in part_files(results):
        try:
            rows.extend(pq.read_table(part).to_pylist())
        except Exception as exc:  # a truncated part from a crashed writer outside our atomic rename
            raise MusicReclassError(
                part, f"not a readable results part ({type(exc).__name__}: {exc})"
            ) from exc
    return rows


def read_results(results: str | Path) -> list[ResultRow]:
    """The newest row per file, sorted by path. Raises MusicReclassError when the folder holds no results."""
    if not part_files(results):
        raise MusicReclassError(Path(results), "no results here (expected part-*.parquet files)")
    newest: dict[str, dict[str, Any]] = {}
    for row in read_rows(results):
        old = newest.get(row["audio_path"])
        if old is None or (row.get("written_at") or 0.0) >= (old.get("written_at") or 0.0):
            newest[row["audio_path"]] = row
    return [_to_result(newest[p]) for p in sorted(newest)]


def done_keys(results: str | Path) -> set[tuple[str, int, int]]:
    """(path, size, mtime_ns) of every file classified without error: a re-run skips exactly these."""
    if not part_files(results):
        return set()
    return {
        (str(r.audio_path), r.size, r.mtime_ns)
        for r in read_results(results)
        if r.error is None and r.size is not None and r.mtime_ns is not None
    }


def _scored(items: list[dict[str, Any]] | None) -> list[Scored] | None:
    if items is None:
        return None
    return [Scored(str(i["genre"]), float(i["confidence"])) for i in items]


def _to_result(row: dict[str, Any]) -> ResultRow:
    return ResultRow(
        audio_path=Path(row["audio_path"]),
        size=row.get("size"),
        mtime_ns=row.get("mtime_ns"),
        model=row.get("model"),
        genre=row.get("genre"),
        confidence=row.get("confidence"),
        top_predictions=_scored(row.get("top_k")) or [],
        labels=_scored(row.get("labels")),
        album=row.get("album"),
        error=row.get("error"),
    )
