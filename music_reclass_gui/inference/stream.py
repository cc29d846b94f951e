"""Real-time genre estimates from a live stream of PCM audio, shared by `serve` (WS /api/stream) and
`listen` (a file played in real time, or a sound card).

``PcmDecoder`` turns raw little-endian PCM bytes (``f32le`` or ``s16le``, mono or interleaved channels, split
anywhere) into mono float32 samples the way the file decoders do (channels averaged, int16 / 32768).
``RollingClassifier`` keeps the stream and, every ``hop_s`` seconds of audio, classifies the last ``window_s``
seconds; ``finish()`` classifies the whole stream exactly as the same audio read from a file would be
(``Classifier.classify_samples``: same excerpt plan and resampling), so the final answer equals the offline one.
No web framework and no Qt here.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

FORMATS = {"f32le": np.dtype("<f4"), "s16le": np.dtype("<i2")}
DEFAULT_WINDOW_S = 15.0
DEFAULT_HOP_S = 3.0
MAX_KEEP_S = 1800.0  # audio kept for the final result; older audio is dropped (the final says "truncated")


class StreamFormatError(ValueError):
    """A stream header that cannot be used; the message says which field and why."""


@dataclass(frozen=True)
class StreamFormat:
    sample_rate: int
    format: str = "f32le"
    channels: int = 1

    @classmethod
    def from_header(cls, header: dict[str, Any]) -> StreamFormat:
        """Validate a client's JSON header ({"sample_rate", "format", "channels"})."""
        rate = header.get("sample_rate")
        fmt = header.get("format", "f32le")
        channels = header.get("channels", 1)
        if not isinstance(rate, int) or isinstance(rate, bool) or not 4000 <= rate <= 192000:
            raise StreamFormatError("sample_rate must be an integer between 4000 and 192000")
        if fmt not in FORMATS:
            raise StreamFormatError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
        if not isinstance(channels, int) or isinstance(channels, bool) or not 1 <= channels <= 8:
            raise StreamFormatError("channels must be an integer from 1 to 8")
        return cls(rate, fmt, channels)


class PcmDecoder:
    """Bytes in, mono float32 out; a frame split across two chunks is carried over."""

    def __init__(self, fmt: StreamFormat) -> None:
        self.fmt = fmt
        self.dtype = FORMATS[fmt.format]
        self.frame_bytes = self.dtype.itemsize * fmt.channels
        self._rest = b""

    def decode(self, data: bytes) -> np.ndarray:
        data = self._rest + data
        usable = len(data) - len(data) % self.frame_bytes
        self._rest = data[usable:]
        raw = np.frombuffer(data[:usable], dtype=self.dtype)
        samples = raw.astype(np.float32) / 32768.0 if self.dtype.kind == "i" else raw.astype(np.float32)
        if self.fmt.channels > 1:
            samples = samples.reshape(-1, self.fmt.channels).mean(axis=1, dtype=np.float32)
        return samples


@dataclass
class StreamUpdate:
    """One estimate: ``t`` is the stream time (s) at the end of the analysed audio."""

    t: float
    result: Any  # ClassificationResult
    window: tuple[float, float]
    final: bool = False
    truncated: bool = False
    compute_s: float = 0.0  # wall time the estimate took

    def to_json(self) -> dict[str, Any]:
        r = self.result
        out: dict[str, Any] = {
            "t": round(self.t, 3),
            "genre": r.genre,
            "confidence": round(float(r.confidence), 4),
            "top_predictions": [
                {"genre": p.genre, "confidence": round(float(p.confidence), 4)} for p in r.top_predictions
            ],
            "window": [round(self.window[0], 3), round(self.window[1], 3)],
            "model": r.model,
            "compute_s": round(self.compute_s, 4),
        }
        labels = getattr(r, "labels", None)  # multi-label models (every genre's own probability)
        if labels:
            out["labels"] = [{"genre": p.genre, "probability": round(float(p.confidence), 4)} for p in labels]
        if self.final:
            out["final"] = True
            out["truncated"] = self.truncated
        return out


class RollingClassifier:
    """Feed samples as they arrive; get an estimate every ``hop_s`` seconds of audio over the last
    ``window_s`` seconds (the first one as soon as ``min(window_s, hop_s)`` seconds have arrived)."""

    def __init__(
        self,
        classifier: Any,
        sample_rate: int,
        *,
        window_s: float = DEFAULT_WINDOW_S,
        hop_s: float = DEFAULT_HOP_S,
        max_keep_s: float = MAX_KEEP_S,
        name: str = "<stream>",
    ) -> None:
        if not 0 < hop_s <= window_s:
            raise ValueError("hop_s must be positive and at most window_s")
        self.classifier = classifier
        self.sample_rate = sample_rate
        self.window = int(round(window_s * sample_rate))
        self.hop = int(round(hop_s * sample_rate))
        self.max_keep = max(self.window, int(max_keep_s * sample_rate))
        self.name = name
        self._chunks: list[np.ndarray] = []
        self._kept = 0  # samples in _chunks
        self._dropped = 0  # samples dropped from the front (beyond max_keep)
        self._next = self.hop  # stream position (samples) of the next estimate

    @property
    def total(self) -> int:
        """Samples received so far."""
        return self._dropped + self._kept

    def _audio(self) -> np.ndarray:
        if len(self._chunks) > 1:
            self._chunks = [np.concatenate(self._chunks)]
        return self._chunks[0] if self._chunks else np.zeros(0, dtype=np.float32)

    def feed(
        self, samples: np.ndarray, on_update: Callable[[StreamUpdate], None] | None = None
    ) -> list[StreamUpdate]:
        """Add samples; returns (and passes to ``on_update``) every estimate that fell due."""
        samples = np.asarray(samples, dtype=np.float32).reshape(-1)
        updates: list[StreamUpdate] = []
        while samples.size:
            take = min(samples.size, self._next - self.total)
            self._chunks.append(samples[:take])
            self._kept += take
            samples = samples[take:]
            if self.total >= self._next:
                update = self._estimate()
                self._next += self.hop
                updates.append(update)
                if on_update is not None:
                    on_update(update)
        if self._kept > self.max_keep:
            audio = self._audio()
            cut = self._kept - self.max_keep
            self._chunks = [audio[cut:]]
            self._kept -= cut
            self._dropped += cut
        return updates

    def _estimate(self) -> StreamUpdate:
        t0 = time.perf_counter()
        audio = self._audio()
        piece = audio[-self.window :]
        end = self.total / self.sample_rate
        result = self.classifier.classify_samples(piece, self.sample_rate, self.name)
        return StreamUpdate(
            end, result, (end - piece.size / self.sample_rate, end), compute_s=time.perf_counter() - t0
        )

    def finish(self) -> StreamUpdate:
        """The whole stream (what is kept of it) classified as one track. Raises DecodeError when empty."""
        t0 = time.perf_counter()
        audio = self._audio()
        end = self.total / self.sample_rate
        result = self.classifier.classify_samples(audio, self.sample_rate, self.name)
        return StreamUpdate(
            end,
            result,
            (self._dropped / self.sample_rate, end),
            final=True,
            truncated=self._dropped > 0,
            compute_s=time.perf_counter() - t0,
        )
