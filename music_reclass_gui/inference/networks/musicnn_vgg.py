"""The musicnn wheel's VGG baseline taggers (``MSD_vgg``, ``MTT_vgg``) in PyTorch, for measurement only.

The TF1 graph (``musicnn==0.1.0``, ``models.vgg`` with ``num_filters=128``) on a (B, 187, 96) log-mel patch
(time, mel), channels-last in TF, here (B, C, time, mel)::

    BN(1)                                       eps 1e-3 (TF default)
    5 x [conv 3x3 'same' (128) -> ReLU -> BN -> max-pool 'valid']
         pool sizes / strides: [4,1]/[2,2], [2,2]/[2,2], [2,2]/[2,2], [2,2]/[2,2], [4,4]/[4,4]
         maps: 187x96 -> 92x48 -> 46x24 -> 23x12 -> 11x6 -> 2x1   (floor division, 'valid')
    flatten pool5 in TF's (time, mel, channel) order -> 256 -> dense 50 -> sigmoid

Dropout layers are identity at inference. TF 'same' with a 3x3 kernel at stride 1 pads one zero on every
side, which is torch's ``padding=1``. The embedding is pool5 flattened (256 = 2 time steps x 128
channels), what musicnn's ``extractor`` returns as ``features['pool5']`` for the vgg models (there, shape
(patches, 2, 128) after its squeeze). Weights: ``tools/convert_musicnn_vgg.py``; not shipped.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

TF_BN_EPS = 1e-3
FILTERS = 128
# (pool size, stride) of max_pooling2d after each conv, (time, mel)
POOLS: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((4, 1), (2, 2)),
    ((2, 2), (2, 2)),
    ((2, 2), (2, 2)),
    ((2, 2), (2, 2)),
    ((4, 4), (4, 4)),
)
EMBEDDING_DIM = 2 * 1 * FILTERS  # pool5 is (time 2, mel 1, 128) for a 187 x 96 patch


class VggBlock(nn.Module):
    """conv 3x3 'same' -> ReLU -> BN -> max-pool ('valid')."""

    def __init__(self, in_channels: int, pool: tuple[int, int], stride: tuple[int, int]) -> None:
        super().__init__()
        self.conv = nn.Conv2d(in_channels, FILTERS, 3, padding=1)
        self.bn = nn.BatchNorm2d(FILTERS, eps=TF_BN_EPS)
        self.pool = pool
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.max_pool2d(self.bn(F.relu(self.conv(x))), self.pool, self.stride)


class MusicnnVgg(nn.Module):
    """(B, 187, 96) log-mel patches -> (tags (B, 50) sigmoid, embedding (B, 256) = pool5 flattened)."""

    def __init__(self, labels: list[str], name: str = "") -> None:
        super().__init__()
        self.name = name
        self.labels = list(labels)
        self.input_bn = nn.BatchNorm2d(1, eps=TF_BN_EPS)
        self.blocks = nn.ModuleList(
            [VggBlock(1 if i == 0 else FILTERS, p, s) for i, (p, s) in enumerate(POOLS)]
        )
        self.out = nn.Linear(EMBEDDING_DIM, len(self.labels))

    def forward(self, patches: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.input_bn(patches.unsqueeze(1))  # (B, 1, 187, 96)
        for blk in self.blocks:
            x = blk(x)  # ... -> (B, 128, 2, 1)
        embedding = x.permute(0, 2, 3, 1).flatten(1)  # TF NHWC flatten: index = (t * 1 + f) * 128 + c
        return torch.sigmoid(self.out(embedding)), embedding
