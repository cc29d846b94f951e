"""musicnn's log-mel front end in torch (frontend.py explains the computation and has the numpy twin).

Used where the tagger runs in PyTorch on a GPU, so waveform -> tags stays on one device.
"""

from __future__ import annotations

import torch
from torch import nn

from music_reclass_gui.inference.frontend import (
    HOP_LENGTH,
    N_FFT,
    N_MELS,
    PAD_MODE,
    SAMPLE_RATE,
    slaney_mel_filters,
)


class LogMelFrontend(nn.Module):
    """(B, n_samples) float32 waveform at 16 kHz -> (B, frames, 96) musicnn log-mel.

    ``frames = 1 + n_samples // 256``. The mel filterbank is a non-persistent buffer, so it follows
    ``.to(device)`` but is not stored in checkpoints (it is rebuilt, never drifts).
    """

    def __init__(self) -> None:
        super().__init__()
        mel = slaney_mel_filters(SAMPLE_RATE, N_FFT, N_MELS)  # (96, 257)
        self.register_buffer("mel_basis", torch.from_numpy(mel), persistent=False)
        self.register_buffer("window", torch.hann_window(N_FFT, periodic=True), persistent=False)

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        if wave.dim() == 1:
            wave = wave.unsqueeze(0)  # (1, n)
        wave = wave.to(torch.float32)
        if wave.shape[-1] <= N_FFT // 2:
            raise ValueError(f"need more than {N_FFT // 2} samples for a centred STFT, got {wave.shape[-1]}")
        spec = torch.stft(
            wave,  # (B, n)
            n_fft=N_FFT,
            hop_length=HOP_LENGTH,
            win_length=N_FFT,
            window=self.window,
            center=True,
            pad_mode=PAD_MODE,
            return_complex=True,
        )  # (B, 257, frames) complex64
        power = spec.real.square() + spec.imag.square()  # (B, 257, frames)
        mel = torch.matmul(self.mel_basis, power)  # (96, 257) @ (B, 257, frames) -> (B, 96, frames)
        return torch.log10(1.0 + 10000.0 * mel).transpose(1, 2).contiguous()  # (B, frames, 96)
