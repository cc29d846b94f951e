"""Everything one server instance holds: its config, loaded models, metrics, the job queue and the review
session the web page works on. Route handlers reach it through `deps.get_state`."""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from music_reclass_gui.server.config import ServerConfig
from music_reclass_gui.server.jobs import JobManager
from music_reclass_gui.server.metrics import Metrics, error_reason


class ClassifierPool:
    """Classifiers by model name, loaded on first use (at most `limit` kept, least recently used dropped)."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._loaded: OrderedDict[str, Any] = OrderedDict()
        if config.classifier is not None:
            self._loaded[config.classifier.model_name] = config.classifier

    @property
    def default_name(self) -> str:
        from music_reclass_gui.inference.engine import DEFAULT_MODEL

        if self.config.model:
            return self.config.model
        if self.config.classifier is not None:
            return self.config.classifier.model_name
        return DEFAULT_MODEL

    def get(self, name: str | None = None) -> Any:
        """The classifier for `name` (default model when None). Raises ModelError for unknown models."""
        from music_reclass_gui.inference.engine import Classifier

        name = name or self.default_name
        with self._lock:
            clf = self._loaded.get(name)
            if clf is None:
                clf = Classifier(
                    name,
                    device=self.config.device,
                    top_k=max(10, self.config.top_k),
                    use_cache=self.config.use_cache,
                )
                self._loaded[name] = clf
                while len(self._loaded) > max(1, self.config.max_loaded_models):
                    self._loaded.popitem(last=False)
            self._loaded.move_to_end(name)
        return clf

    def loaded(self) -> list[Any]:
        with self._lock:
            return list(self._loaded.values())


class ServerState:
    def __init__(self, config: ServerConfig) -> None:
        from music_reclass_gui.server.review import ReviewService

        self.config = config
        self.metrics = Metrics()
        self.jobs = JobManager(config.max_queued_jobs)
        self.classifiers = ClassifierPool(config)
        self.review = ReviewService(self)
        self.inference = threading.Semaphore(max(1, config.inference_slots))

    @property
    def upload_dir(self) -> Path:
        from music_reclass_gui.core.appdirs import user_data_dir

        folder = self.config.upload_dir or user_data_dir() / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder.resolve()

    @property
    def roots(self) -> list[Path]:
        """Folders the API may read and tag: the served libraries and the upload folder."""
        return [*self.config.libraries, self.upload_dir]

    def inside(self, path: Path) -> bool:
        """True when the real path (symlinks followed) is inside a served library or the upload folder."""
        real = Path(os.path.realpath(path))
        return any(real == root or real.is_relative_to(root) for root in self.roots)

    def record(self, out: Any, top_k: int | None = None) -> dict[str, Any]:
        """Count one ClassificationResult/Failure in the metrics; its JSON for the API (top `top_k`)."""
        if hasattr(out, "genre"):
            self.metrics.track(float(out.processing_time), bool(getattr(out, "cached", False)))
            return result_json(out, top_k or self.config.top_k)
        exc = getattr(out, "exception", None)
        self.metrics.error(error_reason(exc) if exc is not None else "decode")
        return out.to_json()


def result_json(result: Any, top_k: int) -> dict[str, Any]:
    """The single-file result as the CLI prints it (multi-label models: with every genre's own probability in
    `labels`), plus `cached`."""
    multi = bool(getattr(result, "labels", None))
    out = result.to_json(multi_label=True) if multi else result.to_json()
    out["top_predictions"] = out["top_predictions"][: max(1, top_k)]
    out["cached"] = bool(getattr(result, "cached", False))
    return out
