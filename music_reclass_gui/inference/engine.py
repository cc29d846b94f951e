"""The Classifier: files in, genre predictions out, for the GUI, the CLI and training alike.

Pipeline (``extract_features``): for each file, the feature cache is asked first (no decoding on a hit);
otherwise a thread pool decodes the planned excerpts (excerpts.py) of the next few files while the network
runs a batch of patches from several files at once. Results stream out in input order. A genre model
(registry.py) then maps the features to genre probabilities; the top-k become Predictions.
"""

from __future__ import annotations

import errno
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from music_reclass_gui.core import audio
from music_reclass_gui.core.errors import DecodeError, ModelError, MusicReclassError
from music_reclass_gui.inference.backends import check_backend
from music_reclass_gui.inference.cache import FeatureCache, FileKey, file_key
from music_reclass_gui.inference.device import Device, describe_device, pick_device
from music_reclass_gui.inference.excerpts import decode_excerpts, plan_excerpts
from music_reclass_gui.inference.extractors import Extractor, Features
from music_reclass_gui.inference.registry import load_model

DEFAULT_MODEL = "broad"
LABELS_FLOOR = 0.1  # `classify --multi-label` lists the genres whose own probability reaches this


@dataclass
class Prediction:
    genre: str
    confidence: float


@dataclass
class ClassificationResult:
    audio_path: Path
    model: str
    genre: str
    confidence: float
    top_predictions: list[Prediction]
    processing_time: float
    tags: dict[str, float] = field(default_factory=dict)
    embedding: np.ndarray | None = None
    cached: bool = False  # features came from the cache (no decoding, no inference)
    # every genre's own calibrated probability, best first (multi-label models); None for single-label ones
    labels: list[Prediction] | None = None

    def labels_above(self, floor: float = LABELS_FLOOR) -> list[Prediction]:
        """The genres whose own probability reaches ``floor`` (none for a single-label model)."""
        return [p for p in self.labels or [] if p.confidence >= floor]

    def to_json(
        self, include_tags: bool = False, multi_label: bool = False, floor: float = LABELS_FLOOR
    ) -> dict[str, Any]:
        out: dict[str, Any] = {
            "audio_path": str(self.audio_path),
            "model": self.model,
            "genre": self.genre,
            "confidence": round(float(self.confidence), 4),
            "top_predictions": [
                {"genre": p.genre, "confidence": round(float(p.confidence), 4)} for p in self.top_predictions
            ],
            "processing_time": round(float(self.processing_time), 4),
        }
        if multi_label:
            out["labels"] = (
                None
                if self.labels is None
                else [
                    {"genre": p.genre, "probability": round(float(p.confidence), 4)}
                    for p in self.labels_above(floor)
                ]
            )
        if include_tags:
            out["tags"] = {k: round(float(v), 4) for k, v in self.tags.items()}
        return out


@dataclass
class ClassificationFailure:
    audio_path: Path
    error: str
    exception: MusicReclassError | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        return {"audio_path": str(self.audio_path), "error": self.error}


@dataclass
class TrackFeatures:
    """One file's features per extractor key, or the error that stopped it."""

    path: Path
    features: dict[str, Features] | None
    error: MusicReclassError | None
    seconds: float
    cached: bool


@dataclass
class _Job:
    path: Path
    key: FileKey | None
    have: dict[str, Features]
    todo: list[Extractor]
    lookup: float
    future: Future | None = None
    error: MusicReclassError | None = None


def _decode(path: Path, rates: set[int]) -> tuple[dict[int, list[np.ndarray]], float]:
    t0 = time.perf_counter()
    plan = plan_excerpts(audio.audio_duration(path))
    waves = {sr: decode_excerpts(path, sr, plan) for sr in sorted(rates)}
    return waves, time.perf_counter() - t0


def _as_error(path: Path, exc: BaseException) -> MusicReclassError:
    if isinstance(exc, MusicReclassError):
        return exc
    if isinstance(exc, FileNotFoundError):
        return DecodeError(path, "file not found")
    if isinstance(exc, OSError) and exc.errno == errno.ELOOP:
        return DecodeError(
            path,
            f"a symbolic link loop: the link in folder {path.parent} leads back to itself; fix or remove it",
        )
    if isinstance(exc, OSError):
        return DecodeError(path, f"cannot read the file ({exc.strerror or exc})")
    return DecodeError(path, f"{type(exc).__name__}: {exc}")


def default_jobs(device_type: str = "cpu") -> int:
    """Decode threads: up to 4 next to a CPU network (which needs the cores itself), up to 16 to keep a GPU fed."""
    return max(1, min(4 if device_type == "cpu" else 16, os.cpu_count() or 1))


def extract_features(
    paths: Iterable[str | Path],
    extractors: Sequence[Extractor],
    *,
    cache: FeatureCache | None = None,
    jobs: int | None = None,
    batch_tracks: int | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> Iterator[TrackFeatures]:
    """Features of every path from every extractor, in input order; decoding only what the cache lacks."""
    cancelled = cancelled or (lambda: False)
    jobs = jobs or default_jobs()
    on_gpu = any(getattr(getattr(e, "device", None), "type", "cpu") != "cpu" for e in extractors)
    batch_tracks = batch_tracks or (16 if on_gpu else 4)
    window = 2 * batch_tracks + jobs
    source = iter(paths)
    pending: deque[_Job] = deque()
    pool = ThreadPoolExecutor(max_workers=jobs, thread_name_prefix="decode")

    def admit() -> None:
        while len(pending) < window:
            raw = next(source, None)
            if raw is None:
                return
            path = Path(raw)
            t0 = time.perf_counter()
            job = _Job(path, None, {}, [], 0.0)
            try:
                job.key = file_key(path)
                if not Path(job.key[0]).is_file():
                    raise DecodeError(path, "not a regular file")
                for ext in extractors:
                    hit = cache.get(job.key, ext.key) if cache is not None else None
                    if hit is None:
                        job.todo.append(ext)
                    else:
                        job.have[ext.key] = hit
                if job.todo:
                    job.future = pool.submit(_decode, path, {e.sample_rate for e in job.todo})
            except Exception as exc:
                job.error = _as_error(path, exc)
            job.lookup = time.perf_counter() - t0
            pending.append(job)

    try:
        while not cancelled():
            admit()
            if not pending:
                return
            batch = [pending.popleft() for _ in range(min(batch_tracks, len(pending)))]
            spent: dict[int, float] = {}
            waves: dict[int, dict[int, list[np.ndarray]]] = {}
            for i, job in enumerate(batch):
                if cancelled():
                    return
                if job.future is not None and job.error is None:
                    try:
                        waves[i], spent[i] = job.future.result()
                    except Exception as exc:
                        job.error = _as_error(job.path, exc)
            shared: dict[tuple[str, tuple[int, ...]], Any] = {}  # one front end for taggers that share it
            for ext in extractors:
                if cancelled():  # stop between network passes, not only between batches
                    return
                idx = [i for i in waves if ext in batch[i].todo]
                if idx:
                    _run_extractor(ext, batch, idx, waves, spent, cache, shared)
            for i, job in enumerate(batch):
                secs = spent.get(i, 0.0) + job.lookup
                ok = job.error is None
                yield TrackFeatures(job.path, job.have if ok else None, job.error, secs, ok and not job.todo)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def _run_extractor(ext: Extractor, batch: list[_Job], idx: list[int], waves, spent, cache, shared) -> None:
    """One network pass over the patches of several tracks; its time is shared out by track. Extractors with
    the same ``frontend_key`` (both musicnn taggers) get the front end's output computed once (``shared``)."""
    t0 = time.perf_counter()
    tracks = [waves[i][ext.sample_rate] for i in idx]
    try:
        fkey = getattr(ext, "frontend_key", None)
        if fkey is None:
            feats = ext.extract(tracks)
        else:
            prepared = shared.get((fkey, tuple(idx)))
            if prepared is None:
                prepared = shared[(fkey, tuple(idx))] = ext.prepare(tracks)
            feats = ext.extract(tracks, prepared=prepared)
    except Exception:  # find the track that broke the batch, keep the others
        feats = []
        for i in idx:
            try:
                feats.extend(ext.extract([waves[i][ext.sample_rate]]))
            except Exception as exc:
                batch[i].error = ModelError(batch[i].path, f"analysis failed ({type(exc).__name__}: {exc})")
                feats.append(None)
    share = (time.perf_counter() - t0) / len(idx)
    for i, f in zip(idx, feats, strict=True):
        spent[i] = spent.get(i, 0.0) + share
        if f is None:
            continue
        batch[i].have[ext.key] = f
        if cache is not None and batch[i].key is not None:
            cache.put(batch[i].key, ext.key, f)


BACKEND_NAMES = {"onnx": "ONNX Runtime", "onnx-int8": "ONNX Runtime int8", "torch": "PyTorch"}


def describe_backends(extractors: Iterable[Extractor]) -> str:
    """What runs the taggers, for the status bar: "ONNX Runtime int8", "PyTorch" ... ("" if none say)."""
    planned = [getattr(e, "planned_backend", None) for e in extractors]
    return ", ".join(dict.fromkeys(BACKEND_NAMES.get(p, p) for p in planned if p))


class Classifier:
    """Load a genre model once, classify many files (see module docstring)."""

    def __init__(
        self,
        model: str | None = None,
        *,
        device: str = "auto",
        top_k: int = 3,
        use_cache: bool = True,
        jobs: int | None = None,
        backend: str = "auto",
    ) -> None:
        self.device: Device = pick_device(device)
        self.backend = check_backend(backend)
        self.device_description = describe_device(self.device)
        self.model_name = model or DEFAULT_MODEL
        self.model = load_model(self.model_name, self.device, backend=self.backend)
        self.backend_description = describe_backends(self.model.extractors)
        self.labels: list[str] = list(self.model.labels)
        self.top_k = max(1, int(top_k))
        self.jobs = jobs or default_jobs(self.device.type)
        self.cache = FeatureCache() if use_cache else None

    def backends(self) -> dict[str, str]:
        """Extractor key -> backend actually used ("onnx" | "onnx-int8" | "torch"), for reports and the
        benchmark (loads the runners; ``backend_description`` says the same without loading)."""
        return {e.key: e.runner.name for e in self.model.extractors if hasattr(e, "runner")}

    def classify(self, path: str | Path) -> ClassificationResult:
        """One file; raises the MusicReclassError that stopped it."""
        (out,) = list(self.classify_many([path]))
        if isinstance(out, ClassificationFailure):
            raise out.exception or DecodeError(out.audio_path, out.error)
        return out

    def classify_many(
        self, paths: Iterable[str | Path], *, cancelled: Callable[[], bool] | None = None
    ) -> Iterator[ClassificationResult | ClassificationFailure]:
        """One result or failure per path, in input order, streamed as batches finish."""
        for tf in extract_features(
            paths, self.model.extractors, cache=self.cache, jobs=self.jobs, cancelled=cancelled
        ):
            if tf.error is not None or tf.features is None:
                err = tf.error or DecodeError(tf.path, "no features")
                yield ClassificationFailure(tf.path, str(err), err)
                continue
            try:
                features, seconds, cached = self._complete(tf, cancelled)
            except MusicReclassError as exc:
                yield ClassificationFailure(tf.path, str(exc), exc)
                continue
            if features is None:  # cancelled while a later stage ran
                return
            try:
                yield self._predict(tf.path, features, seconds, cached)
            except MusicReclassError as exc:
                yield ClassificationFailure(tf.path, str(exc), exc)

    def _complete(self, tf: TrackFeatures, cancelled) -> tuple[dict[str, Features] | None, float, bool]:
        """Lazy stages: a model with ``missing_extractors(features)`` (e.g. the staged ensemble) is asked
        what else it needs for this track; only that is extracted (cache first). (features, seconds, all
        from cache), features None when cancelled."""
        features, seconds, cached = dict(tf.features or {}), tf.seconds, tf.cached
        more = getattr(self.model, "missing_extractors", None)
        while more is not None and (need := more(features)):
            if all(e.key in features for e in need):
                raise ModelError(tf.path, "the model asked again for features it already has")
            extra = next(
                iter(extract_features([tf.path], need, cache=self.cache, jobs=1, cancelled=cancelled)), None
            )
            if extra is None:
                return None, seconds, cached
            if extra.error is not None or extra.features is None:
                raise extra.error or DecodeError(tf.path, "no features")
            features.update(extra.features)
            seconds += extra.seconds
            cached = cached and extra.cached
        return features, seconds, cached

    def _predict(
        self, path: Path, features: dict[str, Features], seconds: float, cached: bool
    ) -> ClassificationResult:
        """The genre model on one track's features → top-k result (raises MusicReclassError)."""
        t0 = time.perf_counter()
        out = self.model.predict(features)
        labels = None
        scores = out.probs
        if out.label_probs is not None:  # multi-label: confidences are each genre's own probability
            scores = np.asarray(out.label_probs, dtype=np.float64)
            every = np.argsort(-scores, kind="stable")
            labels = [Prediction(self.labels[i], float(scores[i])) for i in every]
        order = np.argsort(-scores, kind="stable")[: self.top_k]
        top = [Prediction(self.labels[i], float(scores[i])) for i in order]
        return ClassificationResult(
            audio_path=path,
            model=self.model_name,
            genre=top[0].genre,
            confidence=top[0].confidence,
            top_predictions=top,
            processing_time=seconds + time.perf_counter() - t0,
            tags=out.tags,
            embedding=out.embedding,
            cached=cached,
            labels=labels,
        )

    def classify_samples(
        self, samples: np.ndarray, sample_rate: int, name: str | Path = "<stream>"
    ) -> ClassificationResult:
        """Audio already in memory (mono float32 at ``sample_rate``), analysed exactly as a file of that
        length: same excerpt plan, same resampling, same lazy stages; no cache (there is no file key)."""
        import soxr

        t0 = time.perf_counter()
        path = Path(name)
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        if not samples.size:
            raise DecodeError(path, "the stream contains no audio samples")
        excerpts = []
        for off, dur in plan_excerpts(samples.size / sample_rate):
            start = int(round(off * sample_rate))
            end = None if dur is None else start + int(round(dur * sample_rate))
            if (piece := samples[start:end]).size:
                excerpts.append(piece)
        features: dict[str, Features] = {}
        more = getattr(self.model, "missing_extractors", None)
        need: list[Extractor] = list(self.model.extractors)
        while need:
            for ext in need:
                waves = [
                    w
                    if sample_rate == ext.sample_rate
                    else soxr.resample(w, sample_rate, ext.sample_rate, quality="HQ").astype(
                        np.float32, copy=False
                    )
                    for w in excerpts
                ]
                (features[ext.key],) = ext.extract([waves])
            need = [e for e in (more(features) if more is not None else []) if e.key not in features]
        return self._predict(path, features, time.perf_counter() - t0, False)
