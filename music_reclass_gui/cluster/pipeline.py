"""`batch --engine ray`: a Ray Data pipeline for offline batch classification of a large archive.

Stages (streaming, with Ray Data's back-pressure, so memory stays flat however large the archive):

1. listing — the driver lists only DIR's top level; each top-level folder is walked by a CPU task
   (core.library.scan), yielding rows in chunks with each file's album key (core.albums). Files already in
   the results with the same size and mtime are marked ``skipped`` here and cost nothing further.
2. decoding — CPU tasks decode each file's planned excerpts (inference.excerpts plan/decode, as the local
   engine does) and hand them on as ``np.savez`` bytes (no pickle).
3. classification — an actor pool (``ActorPoolStrategy``; one GPU per actor where the cluster has GPUs, the
   device picked by inference.device) runs the taggers over the patches of a whole block at once, then the
   local engine's own ``Classifier`` (fed the features through its cache interface) applies the genre model,
   so a file gets exactly the values the local engine gives it. Each block's rows are written once as a
   Parquet part with a deterministic name (results.py); Ray restarts a killed actor and retries its task,
   which rewrites the same part.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import ray

from music_reclass_gui.cluster import results as res
from music_reclass_gui.core.errors import DecodeError, MusicReclassError

LOCAL_OBJECT_STORE_BYTES = 200 * 1024**2
LIST_CHUNK = 256
# Each stage asks for different resources: listing is mostly stat calls, decoding holds a track's samples.
# Distinct resource requests also keep Ray Data from fusing the stages into one task, so decoding scales out
# on every CPU separately from the model actors.
LIST_CPUS = 0.25
DECODE_MEMORY_BYTES = 256 * 1024**2
TODO, SKIPPED, DONE, FAILED = "todo", "skipped", "done", "failed"

STAGE_SCHEMA = pa.schema(
    [
        ("audio_path", pa.string()),
        ("size", pa.int64()),
        ("mtime", pa.float64()),
        ("mtime_ns", pa.int64()),
        ("status", pa.string()),
        ("error", pa.string()),
        ("waves", pa.binary()),
        ("decode_s", pa.float64()),
        ("album", pa.string()),
    ]
)
SUMMARY_SCHEMA = pa.schema(
    [("audio_path", pa.string()), ("status", pa.string()), ("genre", pa.string()), ("error", pa.string())]
)


@dataclass
class RayOptions:
    """How to run: which cluster, how many tagger actors, which model."""

    model: str | None = None
    top_k: int = 3
    device: str = "auto"
    address: str | None = None  # None: start a small local Ray on this machine
    workers: int | None = None  # tagger actors (default: one per GPU, else 1)
    num_cpus: int | None = None  # local Ray only (default: the cores, >= workers + 2, so decoding runs)
    decode_batch: int = 2  # files per decoding task
    infer_batch: int | None = None  # files per actor call (default 16 on GPUs, 4 on CPUs)
    progress: bool = False  # Ray Data's progress bars on stderr
    crash_once: str | None = None  # test hook: a marker file; the first actor to create it exits hard


# -- stage 1: listing -----------------------------------------------------------------------------------------
def top_entries(folder: Path) -> list[dict[str, str]]:
    """DIR's top level as listing work: each visible subfolder on its own, DIR's own files as one item."""
    items = [{"entry": str(folder.resolve()), "kind": "files"}]
    with os.scandir(folder) as it:
        for e in sorted(it, key=lambda e: (e.name.casefold(), e.name)):
            if not e.name.startswith(".") and e.is_dir():
                items.append({"entry": os.path.abspath(e.path), "kind": "tree"})
    return items


def _own_files(folder: str) -> Iterator[str]:
    with os.scandir(folder) as it:
        for e in sorted(it, key=lambda e: (e.name.casefold(), e.name)):
            if not e.name.startswith(".") and e.is_file():
                yield e.path


def _stage_table(rows: list[dict[str, Any]]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=STAGE_SCHEMA)


def album_keys(tags: dict[Path, Any]) -> dict[Path, str]:
    """Album key (core.albums) of the tracks of one folder. Keys do not depend on other folders: a tagged
    album is keyed by artist and title, an untagged one by its folder, so grouping folder by folder gives the
    keys the whole library would."""
    from music_reclass_gui.core.albums import group_albums

    albums, _ = group_albums(tags)
    return {p: a.key for a in albums for p in a.tracks}


def list_files(batch: pa.Table, done: ray.ObjectRef) -> Iterator[pa.Table]:
    """Walk each listing item (a Ray task), yielding chunks of rows, each folder's files with their album key;
    files in ``done`` (an object ref of (path, size, mtime_ns) keys, shared by all listing tasks) are marked
    skipped."""
    from music_reclass_gui.core.library import scan

    done_keys: frozenset[tuple[str, int, int]] = ray.get(done)
    rows: list[dict[str, Any]] = []
    folder: list[tuple[Any, dict[str, Any]]] = []  # (track, row) of the folder being listed

    def failed(path: Path, reason: str) -> None:
        rows.append({"audio_path": str(path), "status": FAILED, "error": f"{path}: {reason}"})

    def flush_folder() -> None:
        keys = album_keys({t.path: t.tags for t, _ in folder})
        for track, row in folder:
            row["album"] = keys.get(track.path)
            rows.append(row)
        folder.clear()

    for item in batch.to_pylist():
        source = _own_files(item["entry"]) if item["kind"] == "files" else [item["entry"]]
        for track in scan(source, read_tags=True, on_error=failed):
            if folder and folder[-1][0].path.parent != track.path.parent:
                flush_folder()
            path = str(track.path)
            try:
                st = os.stat(path)
            except OSError as exc:
                failed(track.path, f"cannot read the file ({exc.strerror or exc})")
                continue
            status = SKIPPED if (path, st.st_size, st.st_mtime_ns) in done_keys else TODO
            row = {"audio_path": path, "size": st.st_size, "mtime": st.st_mtime, "mtime_ns": st.st_mtime_ns}
            folder.append((track, row | {"status": status}))
            if len(rows) >= LIST_CHUNK:
                yield _stage_table(rows)
                rows = []
    flush_folder()
    if rows:
        yield _stage_table(rows)


# -- stage 2: decoding ----------------------------------------------------------------------------------------
def pack_waves(waves: dict[int, list[np.ndarray]]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **{f"{sr}_{i}": w for sr, ws in waves.items() for i, w in enumerate(ws)})
    return buf.getvalue()


def unpack_waves(blob: bytes) -> dict[int, list[np.ndarray]]:
    out: dict[int, list[tuple[int, np.ndarray]]] = {}
    with np.load(io.BytesIO(blob), allow_pickle=False) as data:
        for name in data.files:
            sr, i = (int(x) for x in name.split("_"))
            out.setdefault(sr, []).append((i, data[name]))
    return {sr: [w for _, w in sorted(ws, key=lambda t: t[0])] for sr, ws in out.items()}


def error_message(path: str, exc: BaseException) -> str:
    """The human message for a file that failed, naming it (as the local engine's errors do)."""
    if isinstance(exc, MusicReclassError):
        return str(exc)
    if isinstance(exc, FileNotFoundError):
        return str(DecodeError(path, "file not found"))
    if isinstance(exc, OSError):
        return str(DecodeError(path, f"cannot read the file ({exc.strerror or exc})"))
    return str(DecodeError(path, f"{type(exc).__name__}: {exc}"))


def decode_files(batch: pa.Table, rates: list[int]) -> pa.Table:
    """Decode the planned excerpts of every ``todo`` file at each rate the model's extractors need."""
    from music_reclass_gui.core import audio
    from music_reclass_gui.inference.excerpts import decode_excerpts, plan_excerpts

    rows = batch.to_pylist()
    for row in rows:
        if row["status"] != TODO:
            continue
        t0 = time.perf_counter()
        try:
            if not os.path.isfile(row["audio_path"]):
                raise DecodeError(row["audio_path"], "not a regular file")
            plan = plan_excerpts(audio.audio_duration(row["audio_path"]))
            row["waves"] = pack_waves({sr: decode_excerpts(row["audio_path"], sr, plan) for sr in rates})
        except Exception as exc:
            row["status"], row["error"] = FAILED, error_message(row["audio_path"], exc)
        row["decode_s"] = time.perf_counter() - t0
    return _stage_table(rows)


# -- stage 3: the taggers and the genre model, in an actor pool ----------------------------------------------
class _Handoff:
    """The feature-cache interface of the local engine, holding the features this actor just computed, so
    ``Classifier.classify_many`` finds them and does only what it does after extraction."""

    def __init__(self) -> None:
        self.store: dict[tuple[Any, str], dict[str, np.ndarray]] = {}

    def get(self, key, ext_key: str):
        return self.store.get((key, ext_key))

    def put(self, key, ext_key: str, features) -> None:
        self.store[(key, ext_key)] = features


class Tagger:
    """One actor: the model loaded once on its device; classifies whole blocks and writes their part."""

    def __init__(
        self, model: str | None, device: str, top_k: int, output: str, crash_once: str | None
    ) -> None:
        from music_reclass_gui.inference.engine import Classifier

        self.clf = Classifier(model, device=device, top_k=top_k, use_cache=False, jobs=1)
        self.handoff = _Handoff()
        self.clf.cache = self.handoff  # type: ignore[assignment]
        self.output, self.crash_once = output, crash_once

    def _extract(self, todo: list[dict[str, Any]], waves: list[dict[int, list[np.ndarray]]]) -> list[float]:
        """Every extractor once over the whole block (cross-track patch batches); a track that breaks a
        batch is found by retrying one by one, and only it fails. Returns seconds spent per track."""
        from music_reclass_gui.inference.cache import file_key

        spent = [0.0] * len(todo)
        keys: list[Any] = []
        for row in todo:
            try:
                keys.append(file_key(row["audio_path"]))
            except OSError as exc:
                row["status"], row["error"] = FAILED, error_message(row["audio_path"], exc)
                keys.append(None)
        for ext in self.clf.model.extractors:
            idx = [i for i, k in enumerate(keys) if k is not None and todo[i]["status"] == TODO]
            if not idx:
                continue
            t0 = time.perf_counter()
            try:
                feats: list[Any] = ext.extract([waves[i][ext.sample_rate] for i in idx])
            except Exception:
                feats = []
                for i in idx:
                    try:
                        feats.extend(ext.extract([waves[i][ext.sample_rate]]))
                    except Exception as exc:
                        todo[i]["status"] = FAILED
                        todo[i]["error"] = (
                            f"{todo[i]['audio_path']}: analysis failed ({type(exc).__name__}: {exc})"
                        )
                        feats.append(None)
            share = (time.perf_counter() - t0) / len(idx)
            for i, f in zip(idx, feats, strict=True):
                spent[i] += share
                if f is not None:
                    self.handoff.put(keys[i], ext.key, f)
        return spent

    def __call__(self, batch: pa.Table) -> pa.Table:
        rows = batch.to_pylist()
        todo = [r for r in rows if r["status"] == TODO]
        waves = [unpack_waves(r["waves"]) for r in todo]
        spent = self._extract(todo, waves)
        ready = [(r, s) for r, s in zip(todo, spent, strict=True) if r["status"] == TODO]
        now = time.time()
        written: list[dict[str, Any]] = []
        outs = self.clf.classify_many([r["audio_path"] for r, _ in ready])
        for (row, secs), out in zip(ready, outs, strict=True):
            if hasattr(out, "genre"):
                row["status"] = DONE
                labels = getattr(out, "labels", None)
                written.append(
                    self._result_row(row, now, secs + (row.get("decode_s") or 0.0) + out.processing_time)
                    | {
                        "model": out.model,
                        "genre": out.genre,
                        "confidence": float(out.confidence),
                        "top_k": [
                            {"genre": p.genre, "confidence": float(p.confidence)} for p in out.top_predictions
                        ],
                        "labels": None
                        if labels is None
                        else [{"genre": p.genre, "confidence": float(p.confidence)} for p in labels],
                    }
                )
            else:
                row["status"], row["error"] = FAILED, out.error
        self.handoff.store.clear()
        for row in rows:
            if row["status"] == FAILED:
                written.append(
                    self._result_row(row, now, row.get("decode_s") or 0.0) | {"error": row["error"]}
                )
        res.write_part(self.output, written)
        if written:
            self._maybe_crash()
        genre = {r["audio_path"]: r.get("genre") for r in written}
        return pa.Table.from_pylist(
            [
                {
                    "audio_path": r["audio_path"],
                    "status": r["status"],
                    "genre": genre.get(r["audio_path"]),
                    "error": r.get("error"),
                }
                for r in rows
            ],
            schema=SUMMARY_SCHEMA,
        )

    def _result_row(self, row: dict[str, Any], now: float, seconds: float) -> dict[str, Any]:
        return {
            "audio_path": row["audio_path"],
            "size": row.get("size"),
            "mtime": row.get("mtime"),
            "mtime_ns": row.get("mtime_ns"),
            "model": self.clf.model_name,
            "album": row.get("album"),
            "processing_time": seconds,
            "written_at": now,
        }

    def _maybe_crash(self) -> None:
        """Test hook: after writing a part (the worst moment), the first actor to claim the marker dies."""
        if not self.crash_once:
            return
        try:
            fd = os.open(self.crash_once, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            return
        os.close(fd)
        os._exit(1)


# -- the driver ---------------------------------------------------------------------------------------------
def connect(opts: RayOptions) -> bool:
    """Join the cluster at ``opts.address``, or start a small local Ray. True when this call started it."""
    if ray.is_initialized():
        return False
    if opts.address:
        ray.init(address=opts.address, logging_level="WARNING", log_to_driver=False)
        return False
    workers = opts.workers or 1
    ray.init(
        num_cpus=opts.num_cpus or max(os.cpu_count() or 1, workers + 2),
        object_store_memory=LOCAL_OBJECT_STORE_BYTES,
        include_dashboard=False,
        logging_level="WARNING",
        log_to_driver=False,  # stdout carries the JSON summary; worker logs stay in Ray's session logs
    )
    return True


def model_sample_rates(model: str | None) -> tuple[str, list[int]]:
    """The model's name and the sample rates its extractors decode at (the model is loaded on the CPU once,
    which also fails early, in the driver, on a bad model name)."""
    from music_reclass_gui.inference.device import pick_device
    from music_reclass_gui.inference.engine import DEFAULT_MODEL
    from music_reclass_gui.inference.registry import load_model

    name = model or DEFAULT_MODEL
    loaded = load_model(name, pick_device("cpu"))
    return name, sorted({e.sample_rate for e in loaded.extractors})


def classify_archive(
    folder: Path,
    output: Path,
    opts: RayOptions,
    on_row: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the pipeline over ``folder`` into ``output``; the summary counts like the local ``batch``."""
    from ray.data import ActorPoolStrategy, DataContext

    name, rates = model_sample_rates(opts.model)
    done = frozenset(res.done_keys(output))
    output.mkdir(parents=True, exist_ok=True)
    started = connect(opts)
    try:
        ctx = DataContext.get_current()
        ctx.enable_progress_bars = opts.progress
        ctx.print_on_execution_start = False
        gpus = int(ray.cluster_resources().get("GPU", 0))
        workers = opts.workers or max(1, gpus)
        infer_batch = opts.infer_batch or (16 if gpus else 4)
        ds = ray.data.from_items(top_entries(folder))
        ds = ds.map_batches(
            list_files,
            batch_size=1,
            batch_format="pyarrow",
            fn_kwargs={"done": ray.put(done)},
            num_cpus=LIST_CPUS,
        )
        ds = ds.map_batches(
            decode_files,
            batch_size=opts.decode_batch,
            batch_format="pyarrow",
            fn_kwargs={"rates": rates},
            num_cpus=1,
            memory=DECODE_MEMORY_BYTES,
        )
        ds = ds.map_batches(
            Tagger,
            batch_size=infer_batch,
            batch_format="pyarrow",
            compute=ActorPoolStrategy(size=workers),
            fn_constructor_kwargs={
                "model": name,
                "device": opts.device,
                "top_k": opts.top_k,
                "output": str(output.resolve()),
                "crash_once": opts.crash_once,
            },
            num_cpus=1,
            num_gpus=1 if gpus else 0,
        )  # Ray Data's actor defaults: max_restarts=-1, max_task_retries=-1 (a killed actor's task reruns)
        counts = {DONE: 0, SKIPPED: 0, FAILED: 0}
        errors: list[dict[str, str]] = []
        genres: dict[str, int] = {}
        t0 = time.perf_counter()
        for row in ds.iter_rows():
            counts[row["status"]] = counts.get(row["status"], 0) + 1
            if row["status"] == FAILED:
                errors.append({"audio_path": row["audio_path"], "error": row["error"]})
            elif row["status"] == DONE and row["genre"]:
                genres[row["genre"]] = genres.get(row["genre"], 0) + 1
            if on_row is not None:
                on_row(row)
        return {
            "engine": "ray",
            "model": name,
            "output": str(output),
            "total_files": counts[DONE] + counts[SKIPPED] + counts[FAILED],
            "processed": counts[DONE],
            "skipped": counts[SKIPPED],
            "failed": counts[FAILED],
            "workers": workers,
            "gpus": gpus,
            "seconds": round(time.perf_counter() - t0, 3),
            "genres": dict(sorted(genres.items(), key=lambda kv: (-kv[1], kv[0]))),
            "errors": errors,
        }
    finally:
        if started:
            ray.shutdown()
