"""The spec's mel-spectrogram CNN, with its log-mel front end inside the module.

Waveform in, logits out: the STFT/mel/log steps are part of ``forward`` (torch.stft + librosa's mel
filters as a buffer), so training, evaluation and the app compute exactly the same input on any device.

Architecture (spec): four conv blocks 1->16->32->64->128 (3x3 conv, batch norm, ReLU, 2x2 max-pool),
dropout 0.2 after blocks 2 and 3 and 0.3 before the classifier, adaptive average pooling, linear layer.
"""

from __future__ import annotations

import librosa
import numpy as np
import torch
from torch import nn

SAMPLE_RATE = 22050
N_FFT = 2048
HOP_LENGTH = 512
N_MELS = 128
CHANNELS = (16, 32, 64, 128)
BLOCK_DROPOUT = (0.0, 0.2, 0.2)  # after blocks 1..3; block 4 is followed by pooling + HEAD_DROPOUT
HEAD_DROPOUT = 0.3


class LogMel(nn.Module):
    """(B, n) waveform at ``sample_rate`` -> (B, 1, n_mels, frames) log-power mel in dB.

    frames = 1 + n // hop_length (centred STFT, reflect padding as librosa < 0.10 did).
    """

    def __init__(
        self,
        sample_rate: int = SAMPLE_RATE,
        n_fft: int = N_FFT,
        hop_length: int = HOP_LENGTH,
        n_mels: int = N_MELS,
    ) -> None:
        super().__init__()
        self.n_fft, self.hop_length = n_fft, hop_length
        mel = librosa.filters.mel(sr=sample_rate, n_fft=n_fft, n_mels=n_mels)  # (n_mels, n_fft//2+1)
        # Rebuilt from librosa on load (non-persistent), so it never drifts from the parameters.
        self.register_buffer("mel_basis", torch.from_numpy(mel.astype(np.float32)), persistent=False)
        self.register_buffer("window", torch.hann_window(n_fft, periodic=True), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 1:
            wave = wave.unsqueeze(0)  # (1, n)
        spec = torch.stft(
            wave.to(torch.float32),  # (B, n)
            n_fft=self.n_fft,
            hop_length=self.hop_length,
            window=self.window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )  # (B, n_fft//2+1, frames)
        power = spec.real.square() + spec.imag.square()  # (B, F, T)
        mel = torch.matmul(self.mel_basis, power)  # (B, n_mels, T)
        db = 10.0 * torch.log10(mel.clamp_min(1e-10))  # (B, n_mels, T)
        return db.unsqueeze(1)  # (B, 1, n_mels, T)


def _block(c_in: int, c_out: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel_size=3, padding=1),  # (B, c_out, H, W)
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),  # (B, c_out, H/2, W/2)
    ]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    return nn.Sequential(*layers)


class MelCNN(nn.Module):
    """(B, n) waveform at SAMPLE_RATE -> (B, n_classes) logits. Needs at least ~0.4 s of audio
    (16 mel frames survive the four 2x pools); training uses fixed-length crops (see training/train.py)."""

    sample_rate = SAMPLE_RATE

    def __init__(self, n_classes: int, n_mels: int = N_MELS) -> None:
        super().__init__()
        self.n_classes = int(n_classes)
        self.frontend = LogMel(n_mels=n_mels)
        # Normalises the dB input with statistics learnt in training (kept in the state dict).
        self.input_norm = nn.BatchNorm2d(1)
        blocks, c_in = [], 1
        for c_out, p in zip(CHANNELS, (*BLOCK_DROPOUT, 0.0), strict=True):
            blocks.append(_block(c_in, c_out, p))
            c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Sequential(
            nn.Flatten(), nn.Dropout(HEAD_DROPOUT), nn.Linear(CHANNELS[-1], self.n_classes)
        )

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        x = self.input_norm(self.frontend(wave))  # (B, 1, 128, T)
        x = self.blocks(x)  # (B, 128, 128/16=8, T/16)
        x = self.pool(x)  # (B, 128, 1, 1)
        return self.head(x)  # (B, n_classes)


def crops(wave: np.ndarray, length: int) -> np.ndarray:
    """Non-overlapping ``length``-sample windows covering ``wave`` (short audio tiled to one window);
    (k, length). The app averages a track's window logits."""
    wave = np.asarray(wave, dtype=np.float32)
    if wave.size < length:
        wave = np.tile(wave, -(-length // max(1, wave.size)))[:length]
    k = wave.size // length
    return wave[: k * length].reshape(k, length)
