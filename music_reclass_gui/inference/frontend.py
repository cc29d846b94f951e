"""musicnn's log-mel front end: constants, mel filters and the numpy version (frontend_torch.py has the torch
one, for GPUs, where the whole tagger then runs on one device).

musicnn (Pons & Serra 2019) computes, with librosa of its day (0.6/0.7):
``librosa.feature.melspectrogram(y, sr=16000, hop_length=256, n_fft=512, n_mels=96).T`` then
``log10(1 + 10000 * mel)``. That is a centred STFT (``center=True`` with *reflect* padding, the librosa
default before 0.10), periodic Hann window, power 2, and librosa's Slaney-normalised mel filters.
The mel filters are computed here exactly as librosa does (``slaney_mel_filters``), so classifying never imports
librosa. The original casts the mel to float16 before the log; that overflows for loud input, so we stay in float32.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

SAMPLE_RATE = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
# librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1, as musicnn's extractor computes it.
PATCH_FRAMES = 187
PAD_MODE = "reflect"  # librosa < 0.10 default used by musicnn; librosa >= 0.10 defaults to "constant"


def min_samples_for_frames(frames: int = PATCH_FRAMES) -> int:
    """Fewest samples whose centred STFT has ``frames`` frames (frames = 1 + n // hop)."""
    return (frames - 1) * HOP_LENGTH


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, ``htk=False``): linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    mel = hz / (200.0 / 3)
    log_region = hz >= 1000.0
    return np.where(log_region, 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0), mel)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def slaney_mel_filters(sr: int, n_fft: int, n_mels: int) -> np.ndarray:
    """(n_mels, 1 + n_fft // 2) float32: ``librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)`` (Slaney
    scale and area normalisation, 0 Hz to sr / 2), computed here so the classify path never imports librosa
    (with scipy and numba, about a second of start-up). tests/test_inference_musicnn.py pins it to librosa."""
    fft_freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    mel_f = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(sr / 2.0), n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    lower = -ramps[:-2] / fdiff[:-1, None]
    upper = ramps[2:] / fdiff[1:, None]
    weights = np.maximum(0.0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return weights.astype(np.float32)


def log_mel(waves: np.ndarray) -> np.ndarray:
    """(B, n_samples) or (n_samples,) float32 waveform at 16 kHz -> (B, frames, 96) musicnn log-mel, in numpy.

    ``frames = 1 + n_samples // 256``: a centred STFT with reflect padding and a periodic Hann window, power
    spectrum, Slaney mel filters, ``log10(1 + 10000 * mel)``. The same numbers as ``LogMelFrontend``
    (frontend_torch.py; tests pin the two together), so a CPU run needs no torch at all."""
    x = np.atleast_2d(np.asarray(waves, dtype=np.float32))
    if x.shape[-1] <= N_FFT // 2:
        raise ValueError(f"need more than {N_FFT // 2} samples for a centred STFT, got {x.shape[-1]}")
    x = np.pad(x, ((0, 0), (N_FFT // 2, N_FFT // 2)), mode=PAD_MODE)
    frames = np.lib.stride_tricks.sliding_window_view(x, N_FFT, axis=-1)[:, ::HOP_LENGTH]  # (B, F, 512) view
    spec = np.fft.rfft(frames * _hann(), axis=-1)  # (B, F, 257)
    power = (spec.real**2 + spec.imag**2).astype(np.float32)
    mel = power @ _mel_basis().T  # (B, F, 96)
    return np.log10(1.0 + 10000.0 * mel, dtype=np.float32)


@functools.cache
def _hann() -> np.ndarray:
    """Periodic Hann window (torch.hann_window(periodic=True), scipy's "hann" with sym=False)."""
    return (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)


@functools.cache
def _mel_basis() -> np.ndarray:
    return slaney_mel_filters(SAMPLE_RATE, N_FFT, N_MELS)


def patch_starts(n_frames: int, patch_frames: int = PATCH_FRAMES) -> list[int]:
    """musicnn's rule: every non-overlapping patch from frame 0 that fits entirely (tail dropped)."""
    return list(range(0, n_frames - patch_frames + 1, patch_frames))


def split_patches(mel: Any, patch_frames: int = PATCH_FRAMES) -> Any:
    """(frames, 96) -> (P, patch_frames, 96) non-overlapping patches from the start, as musicnn's extractor
    (a numpy array or a torch tensor; the result is the same kind).

    musicnn itself fails on input shorter than one patch; here such input is repeat-padded (tiled) to one
    patch, which is what musicnn's training config does for short clips ("pad_short": "repeat-pad").
    """
    frames = mel.shape[0]
    if frames == 0:
        raise ValueError("empty spectrogram")
    if frames < patch_frames:
        mel = mel[np.arange(patch_frames) % frames]  # (patch_frames, 96), tiled
        frames = patch_frames
    n = len(patch_starts(frames, patch_frames))
    return mel[: n * patch_frames].reshape(n, patch_frames, mel.shape[1])  # (P, patch_frames, 96)
