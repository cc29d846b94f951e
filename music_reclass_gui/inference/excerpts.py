"""Which parts of a track are analysed, and decoding only those parts.

The plan (``PLAN_VERSION`` is part of every cache key, so changing it recomputes features):

- Tracks of at most ``SHORT_TRACK_S`` (30 s, plus a little slack for encoder padding) are decoded whole and
  every non-overlapping 3 s patch from the start is used (musicnn's own rule, so GTZAN/FMA clips and the
  published reference results are reproduced exactly).
- Longer tracks: ``N_EXCERPTS`` excerpts of ``EXCERPT_S`` seconds (two 3 s patches each: 8 patches, so a
  full-length track costs a little less than the ten patches of a 30 s clip), centred at evenly spaced positions between 10 %
  and 90 % of the duration (skipping intros, fade-outs and silence at the ends). Only those seconds are
  decoded (``load_audio`` with offset/duration; the duration comes from the container header).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from music_reclass_gui.core import audio
from music_reclass_gui.core.errors import DecodeError

PLAN_VERSION = 2
SHORT_TRACK_S = 30.0
SHORT_SLACK_S = 1.0
N_EXCERPTS = 4
EXCERPT_S = 6.0
MARGIN = 0.10
# Less decoded audio than this is an error, not a prediction: a 1-sample file once came out "Rock 35 %".
MIN_AUDIO_S = 0.5

Excerpt = tuple[float, float | None]  # (offset seconds, duration seconds or None = to the end)


def plan_excerpts(duration: float, n: int = N_EXCERPTS, length: float = EXCERPT_S) -> list[Excerpt]:
    """Excerpts to decode for a track of ``duration`` seconds (see module docstring)."""
    if duration <= SHORT_TRACK_S + SHORT_SLACK_S or duration <= 0:
        return [(0.0, None)]
    lo, hi = MARGIN * duration, (1.0 - MARGIN) * duration
    step = (hi - lo) / n
    out: list[Excerpt] = []
    for i in range(n):
        centre = lo + (i + 0.5) * step
        start = min(max(0.0, centre - length / 2), max(0.0, duration - length))
        out.append((round(start, 3), length))
    return out


def decode_excerpts(path: str | Path, sr: int, plan: list[Excerpt] | None = None) -> list[np.ndarray]:
    """Decode the planned excerpts of ``path`` at ``sr`` Hz (mono float32). Excerpts that come back empty
    (a header that over-states the duration) are dropped; if nothing is left the first
    ``SHORT_TRACK_S`` seconds are decoded instead (never the whole file: memory stays bounded whatever the
    header says). Raises DecodeError naming the file when it visibly ends early (a truncated Ogg or WAV is
    not classified from the part that survived) or holds less than ``MIN_AUDIO_S`` of audio."""
    audio.check_complete(path)
    if plan is None:
        plan = plan_excerpts(audio.audio_duration(path))
    waves = [w for off, dur in plan if (w := audio.load_audio(path, sr, offset=off, duration=dur)).size]
    if not waves and plan != [(0.0, None)]:
        first = audio.load_audio(path, sr, duration=SHORT_TRACK_S + SHORT_SLACK_S)
        waves = [first] if first.size else []
    if not waves:
        raise DecodeError(path, "the file contains no audio samples")
    seconds = sum(w.size for w in waves) / sr
    if seconds < MIN_AUDIO_S:
        raise DecodeError(
            path, f"too little audio to classify: {seconds:.3f} s decoded, at least {MIN_AUDIO_S} s needed"
        )
    return waves
