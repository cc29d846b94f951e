"""Counters for `GET /metrics` (Prometheus text format, written by hand: no client library needed) and the
monitoring page's time series (`GET /api/stats`). Thread-safe; jobs, requests and streams all record here."""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections import Counter, deque
from typing import Any

SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
PREFIX = "music_reclass"
REVIEW_ACTIONS = ("accept", "edit", "reject")
ERROR_REASONS = (
    "decode",
    "model",
    "tags",
    "organize",
    "unauthorized",
    "forbidden",
    "too_large",
    "queue_full",
    "stream",
    "other",
)


def error_reason(exc: BaseException) -> str:
    """A small fixed set of label values for errors_total{reason}: the error's kind, never its text."""
    from music_reclass_gui.core.errors import DecodeError, ModelError, OrganizeError, TagError

    for cls, reason in (
        (DecodeError, "decode"),
        (ModelError, "model"),
        (TagError, "tags"),
        (OrganizeError, "organize"),
    ):
        if isinstance(exc, cls):
            return reason
    return "other"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _num(x: float) -> str:
    if math.isinf(x):
        return "+Inf"
    return repr(float(x)) if not float(x).is_integer() else str(int(x))


class Metrics:
    def __init__(self, history_s: float = 3600.0) -> None:
        self._lock = threading.Lock()
        self.started = time.time()
        self.classified = 0
        self.cache_hits = 0
        self.errors: Counter[str] = Counter()
        self.review: Counter[str] = Counter({a: 0 for a in REVIEW_ACTIONS})
        self.buckets = [0] * len(SECONDS_BUCKETS)
        self.seconds_sum = 0.0
        self.seconds_count = 0
        self.stream_updates = 0
        self.history_s = history_s
        self._events: deque[tuple[float, str, float]] = deque()  # (time, kind, value) for the charts

    def _event(self, kind: str, value: float = 0.0) -> None:
        now = time.time()
        self._events.append((now, kind, value))
        while self._events and self._events[0][0] < now - self.history_s:
            self._events.popleft()

    # -- recording
    def track(self, seconds: float, cached: bool) -> None:
        """One file classified (from the cache or not) in `seconds`."""
        with self._lock:
            self.classified += 1
            self.cache_hits += int(bool(cached))
            self.seconds_sum += seconds
            self.seconds_count += 1
            for i, bound in enumerate(SECONDS_BUCKETS):
                if seconds <= bound:
                    self.buckets[i] += 1
            self._event("track", seconds)

    def error(self, reason: str) -> None:
        with self._lock:
            self.errors[reason] += 1
            self._event("error")

    def decision(self, action: str) -> None:
        """A user's review decision (accept, edit or reject): the production 'accuracy'."""
        if action not in REVIEW_ACTIONS:
            return
        with self._lock:
            self.review[action] += 1
            self._event(action)

    def stream_update(self) -> None:
        with self._lock:
            self.stream_updates += 1

    # -- reading
    def render(self, gauges: dict[str, tuple[str, float]]) -> str:
        """Prometheus text exposition; `gauges` = {name: (help, value)} sampled by the caller."""
        p = PREFIX
        lines: list[str] = []

        def head(name: str, kind: str, text: str) -> None:
            lines.append(f"# HELP {p}_{name} {text}")
            lines.append(f"# TYPE {p}_{name} {kind}")

        with self._lock:
            head("tracks_classified_total", "counter", "Files classified (including cache hits).")
            lines.append(f"{p}_tracks_classified_total {self.classified}")
            head("cache_hits_total", "counter", "Files whose features came from the feature cache.")
            lines.append(f"{p}_cache_hits_total {self.cache_hits}")
            head("classification_seconds", "histogram", "Time to classify one file.")
            for bound, n in zip(SECONDS_BUCKETS, self.buckets, strict=True):
                lines.append(f'{p}_classification_seconds_bucket{{le="{_num(bound)}"}} {n}')
            lines.append(f'{p}_classification_seconds_bucket{{le="+Inf"}} {self.seconds_count}')
            lines.append(f"{p}_classification_seconds_sum {_num(round(self.seconds_sum, 6))}")
            lines.append(f"{p}_classification_seconds_count {self.seconds_count}")
            head(
                "errors_total", "counter", "Errors by reason (decode, model, tags, organize, http_4xx kinds)."
            )
            for reason in [*ERROR_REASONS, *sorted(set(self.errors) - set(ERROR_REASONS))]:
                lines.append(f'{p}_errors_total{{reason="{_escape(reason)}"}} {self.errors.get(reason, 0)}')
            head("review_decisions_total", "counter", "Review decisions by users (accept, edit, reject).")
            for action in REVIEW_ACTIONS:
                lines.append(f'{p}_review_decisions_total{{action="{action}"}} {self.review[action]}')
            for action in REVIEW_ACTIONS:
                name = {"accept": "accepts", "edit": "edits", "reject": "rejects"}[action]
                head(f"review_{name}_total", "counter", f"Review proposals the user chose to {action}.")
                lines.append(f"{p}_review_{name}_total {self.review[action]}")
            head("stream_updates_total", "counter", "Rolling estimates sent to live streams.")
            lines.append(f"{p}_stream_updates_total {self.stream_updates}")
        for name, (text, value) in gauges.items():
            head(name, "gauge", text)
            lines.append(f"{p}_{name} {_num(value)}")
        return "\n".join(lines) + "\n"

    def totals(self) -> dict[str, Any]:
        with self._lock:
            decided = sum(self.review.values())
            return {
                "uptime_s": round(time.time() - self.started, 1),
                "tracks_classified": self.classified,
                "cache_hits": self.cache_hits,
                "errors": dict(self.errors),
                "errors_total": sum(self.errors.values()),
                "review": dict(self.review),
                "acceptance_rate": (self.review["accept"] / decided) if decided else None,
                "mean_seconds": (self.seconds_sum / self.seconds_count) if self.seconds_count else None,
                "stream_updates": self.stream_updates,
            }

    def timeline(self, bucket_s: float = 10.0, n: int = 60) -> list[dict[str, Any]]:
        """The last `n` buckets of `bucket_s` seconds: tracks, mean seconds, errors, accepts/edits/rejects."""
        now = time.time()
        start = now - bucket_s * n
        rows = [
            {
                "t": round(start + (i + 1) * bucket_s, 1),
                "tracks": 0,
                "seconds": 0.0,
                "errors": 0,
                "accept": 0,
                "edit": 0,
                "reject": 0,
            }
            for i in range(n)
        ]
        with self._lock:
            events = list(self._events)
        for t, kind, value in events:
            if t < start:
                continue
            row = rows[min(n - 1, int((t - start) // bucket_s))]
            if kind == "track":
                row["tracks"] += 1
                row["seconds"] += value
            elif kind == "error":
                row["errors"] += 1
            elif kind in REVIEW_ACTIONS:
                row[kind] += 1
        for row in rows:
            row["mean_seconds"] = round(row.pop("seconds") / row["tracks"], 4) if row["tracks"] else None
        return rows


def gpu_gauges(device: Any) -> dict[str, tuple[str, float]]:
    """GPU utilisation and memory when the model runs on CUDA; nothing otherwise."""
    if getattr(device, "type", None) != "cuda":
        return {}
    import torch

    out: dict[str, tuple[str, float]] = {
        "gpu_memory_allocated_bytes": (
            "GPU memory held by tensors.",
            float(torch.cuda.memory_allocated(device)),
        ),
        "gpu_memory_reserved_bytes": (
            "GPU memory reserved by the caching allocator.",
            float(torch.cuda.memory_reserved(device)),
        ),
    }
    with contextlib.suppress(Exception):  # NVML (pynvml) missing: utilisation unknown, memory still reported
        out["gpu_utilization_percent"] = ("GPU utilisation (NVML).", float(torch.cuda.utilization(device)))
    return out
