"""musicnn (Pons & Serra 2019) in PyTorch, matching the TF1 graph of the ``musicnn==0.1.0`` wheel.

The weights in ``models/{msd,mtt}_musicnn.pt`` are converted from the wheel's checkpoints by
``tools/convert_musicnn.py``. Things that must match TF exactly: batch-norm epsilon 1e-3, BN *after*
ReLU, TF "same" padding for the even temporal kernels (fewer zeros before than after), and the
backend's flatten of ``concat([max, mean], axis=2)`` which interleaves max and mean per channel.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from music_reclass_gui.core.errors import ModelError
from music_reclass_gui.inference.frontend import (
    N_MELS,
    PATCH_FRAMES,
    min_samples_for_frames,
    split_patches,
)
from music_reclass_gui.inference.frontend_torch import LogMelFrontend
from music_reclass_gui.inference.networks.musicnn_labels import MODELS, MSD_LABELS, MTT_LABELS, card_entry

__all__ = ["MODELS", "MSD_LABELS", "MTT_LABELS", "MusicnnTagger", "load_musicnn"]

TF_BN_EPS = 1e-3

EMBEDDING_DIM = 200
FRONTEND_CHANNELS = 204 + 204 + 3 * 51  # 561
MIDEND_CHANNELS = 64
POOL_CHANNELS = FRONTEND_CHANNELS + 3 * MIDEND_CHANNELS  # 753


def _bn2d(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=TF_BN_EPS)


def _bn1d(c: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(c, eps=TF_BN_EPS)


class _FreqPooledConv(nn.Module):
    """conv -> ReLU -> BN -> max over the whole frequency axis (musicnn's timbral/tempo blocks)."""

    def __init__(self, out_channels: int, kernel: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, out_channels, kernel)
        self.bn = _bn2d(out_channels)
        kt = kernel[0]
        if kernel[1] == 1:  # temporal block: TF "same" in time (even kernels pad one more zero after)
            self.pad_time = ((kt - 1) // 2, kt - 1 - (kt - 1) // 2)
        else:  # timbral block: explicit symmetric pad of 3 frames, "valid" in frequency
            self.pad_time = ((kt - 1) // 2, (kt - 1) // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.pad(x, (0, 0, *self.pad_time))  # (B, 1, T + kt - 1, 96)
        if self.training:
            return self.bn(F.relu(self.conv(x))).amax(dim=3)  # (B, C, T), literally as musicnn
        # Eval: ReLU and the frozen BN are per-channel monotonic, so max over frequency commutes with
        # them (BN with a negative scale turns the max into a min). Exact, and it skips ReLU+BN on the
        # big (B, C, T, F') map, which was a third of the CPU time.
        # The min is taken as -max of the conv with negated weights (an exact sign flip).
        bn = self.bn
        sign = torch.where(bn.weight >= 0, 1.0, -1.0).to(x.dtype)  # (C,); running_var > 0 always
        weight = (self.conv.weight * sign[:, None, None, None]).contiguous(memory_format=torch.channels_last)
        y = F.conv2d(
            x.contiguous(memory_format=torch.channels_last), weight, self.conv.bias * sign
        )  # (B, C, T, F')
        pooled = y.amax(dim=3) * sign[None, :, None]  # (B, C, T): max where scale >= 0, else min
        return F.batch_norm(
            F.relu(pooled), bn.running_mean, bn.running_var, bn.weight, bn.bias, False, 0.0, bn.eps
        )


class _MidConv(nn.Module):
    """conv over time spanning all channels (TF: conv2d with kernel [7, width]) -> ReLU -> BN."""

    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(in_channels, MIDEND_CHANNELS, 7, padding=3)
        self.bn = _bn1d(MIDEND_CHANNELS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(F.relu(self.conv(x)))  # (B, 64, T)


class MusicnnTagger(nn.Module):
    """musicnn tagger: 3 s log-mel patches -> 50 tag probabilities + 200-d penultimate embedding."""

    def __init__(self, labels: list[str], name: str = "") -> None:
        super().__init__()
        self.name = name
        self.labels: list[str] = list(labels)
        self.frontend = LogMelFrontend()
        self.input_bn = _bn2d(1)
        self.timbral = nn.ModuleList(
            [_FreqPooledConv(204, (7, int(0.4 * N_MELS))), _FreqPooledConv(204, (7, int(0.7 * N_MELS)))]
        )
        self.temporal = nn.ModuleList([_FreqPooledConv(51, (k, 1)) for k in (128, 64, 32)])
        self.mid = nn.ModuleList(
            [_MidConv(FRONTEND_CHANNELS), _MidConv(MIDEND_CHANNELS), _MidConv(MIDEND_CHANNELS)]
        )
        self.pool_bn = _bn1d(2 * POOL_CHANNELS)
        self.dense = nn.Linear(2 * POOL_CHANNELS, EMBEDDING_DIM)
        self.dense_bn = _bn1d(EMBEDDING_DIM)
        self.out = nn.Linear(EMBEDDING_DIM, len(self.labels))

    @property
    def device(self) -> torch.device:
        return self.out.weight.device

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, 187, 96) log-mel patches -> (tags (B, n_labels) sigmoid, embedding (B, 200))."""
        x = self.input_bn(patches.unsqueeze(1))  # (B, 1, T, 96)
        front = torch.cat([blk(x) for blk in (*self.timbral, *self.temporal)], dim=1)  # (B, 561, T)
        m1 = self.mid[0](front)  # (B, 64, T)
        r2 = self.mid[1](m1) + m1  # (B, 64, T)
        r3 = self.mid[2](r2) + r2  # (B, 64, T)
        feats = torch.cat([front, m1, r2, r3], dim=1)  # (B, 753, T)
        pooled = torch.stack([feats.amax(dim=2), feats.mean(dim=2)], dim=2)  # (B, 753, 2)
        pooled = self.pool_bn(pooled.flatten(1))  # (B, 1506): [max0, mean0, max1, mean1, ...] as TF
        embedding = self.dense_bn(F.relu(self.dense(pooled)))  # (B, 200) = musicnn's 'penultimate'
        return torch.sigmoid(self.out(embedding)), embedding  # (B, 50), (B, 200)

    @torch.inference_mode()
    def tag_waveform(self, wave: torch.Tensor, batch_size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
        """16 kHz mono wave (n,) or (B, n) -> (patch_tags (P, 50), patch_embeddings (P, 200)).

        Every non-overlapping 3 s patch from the start (musicnn's rule); rows of a (B, n) input are
        separate excerpts whose patches are concatenated in order. Input shorter than one patch is
        repeat-padded to one patch. Runs on the module's device; outputs stay there. Each patch in a
        batch needs about 25 MB of transient activations (float32), hence the small default batch.
        """
        wave = torch.as_tensor(wave, dtype=torch.float32, device=self.device)
        if wave.dim() == 1:
            wave = wave.unsqueeze(0)  # (1, n)
        if wave.shape[-1] == 0:
            raise ValueError("empty waveform")
        need = min_samples_for_frames(PATCH_FRAMES)
        if wave.shape[-1] < need:
            reps = -(-need // wave.shape[-1])
            wave = wave.repeat(1, reps)[:, :need]  # (B, need) repeat-padded
        mel = self.frontend(wave)  # (B, frames, 96)
        patches = torch.cat([split_patches(m) for m in mel], dim=0)  # (P, 187, 96)
        tags, embs = [], []
        for start in range(0, patches.shape[0], batch_size):
            t, e = self(patches[start : start + batch_size])
            tags.append(t)
            embs.append(e)
        return torch.cat(tags), torch.cat(embs)


def load_musicnn(name: str, models_dir: str | Path, device: str | torch.device = "cpu") -> MusicnnTagger:
    """Build the named tagger ("msd-musicnn" | "mtt-musicnn") from ``models_dir`` in eval mode on ``device``."""
    models_dir = Path(models_dir)
    labels, weights_name = card_entry(name, models_dir)
    weights = models_dir / weights_name
    if not weights.is_file():
        raise ModelError(weights, "musicnn weights not found (run tools/convert_musicnn.py)")
    model = MusicnnTagger(labels, name=name)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
    except (OSError, RuntimeError, ValueError, EOFError, pickle.UnpicklingError) as exc:
        raise ModelError(weights, f"weights are unreadable or do not fit the musicnn network: {exc}") from exc
    return model.to(torch.device(device)).eval()
