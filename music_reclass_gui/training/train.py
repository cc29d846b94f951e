"""Training loops for the spec's models: the feature MLP and the mel CNN.

Every loop is seeded (same data + seed = same weights), prints progress on stderr, and can checkpoint
after every epoch so an interrupted run resumes where it stopped (``checkpoint=`` path, ``resume=True``).
A checkpoint is only resumed when it was written for the same configuration; otherwise training starts
over (a stale checkpoint must never silently mix two runs).
"""

from __future__ import annotations

import contextlib
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from music_reclass_gui.inference.networks.mlp import SPEC_DROPOUT, SPEC_HIDDEN, FeatureMLP
from music_reclass_gui.inference.weights_io import save_atomic

# ---------------------------------------------------------------- plumbing


def set_seed(seed: int) -> None:
    """Seed python, numpy and torch (CPU and GPU) so runs repeat."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)


class Progress:
    """A minimal progress bar on stderr (no extra dependency); silent when ``enabled`` is False."""

    def __init__(self, desc: str, total: int, enabled: bool = True) -> None:
        self.desc, self.total, self.enabled = desc, max(1, int(total)), enabled
        self.start = time.perf_counter()
        self.done = 0
        self.last = 0.0

    def update(self, n: int = 1, note: str = "") -> None:
        self.done += n
        now = time.perf_counter()
        if not self.enabled or (now - self.last < 0.2 and self.done < self.total):
            return
        self.last = now
        width = 24
        filled = int(width * min(self.done, self.total) / self.total)
        bar = "#" * filled + "-" * (width - filled)
        sys.stderr.write(f"\r{self.desc} [{bar}] {self.done}/{self.total} {now - self.start:5.1f}s {note}   ")
        if self.done >= self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


@contextlib.contextmanager
def single_cpu_thread(device: torch.device):
    """Small models: one intra-op thread. On a busy shared CPU, torch's thread pool made a 57->256->128
    MLP 25x slower than one thread (measured: 63 s vs 2.7 s for 300 epochs on 422 rows)."""
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _load_checkpoint(path: Path | None, config: dict, resume: bool) -> dict | None:
    if not (resume and path is not None and Path(path).is_file()):
        return None
    state = torch.load(path, map_location="cpu", weights_only=False)
    if state.get("config") != config:
        print(f"checkpoint {path} was written for another configuration; starting over", file=sys.stderr)
        return None
    return state


# ---------------------------------------------------------------- feature MLP


@dataclass
class MLPConfig:
    """The spec's settings by default: 256-128, dropout 0.3, Adam 1e-3, batch 128."""

    hidden: tuple[int, ...] = SPEC_HIDDEN
    dropout: float = SPEC_DROPOUT
    lr: float = 1e-3
    batch_size: int = 128
    epochs: int = 7
    weight_decay: float = 0.0
    seed: int = 0

    def as_dict(self) -> dict:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d


def train_mlp(
    x: np.ndarray,
    y: np.ndarray,
    n_classes: int,
    cfg: MLPConfig,
    *,
    device: torch.device | str = "cpu",
    checkpoint: Path | None = None,
    resume: bool = False,
    on_epoch: Callable[[int, FeatureMLP], None] | None = None,
    progress: bool = True,
    desc: str = "mlp",
) -> FeatureMLP:
    """Train a FeatureMLP on raw features ``x`` (n, F) with integer labels ``y``; standardisation is fitted
    on ``x`` and stored in the model. ``on_epoch(epoch, model)`` runs after each epoch (eval mode)."""
    device = torch.device(device)
    with single_cpu_thread(device):
        return _train_mlp(x, y, n_classes, cfg, device, checkpoint, resume, on_epoch, progress, desc)


def _train_mlp(x, y, n_classes, cfg, device, checkpoint, resume, on_epoch, progress, desc) -> FeatureMLP:
    x = np.asarray(x, dtype=np.float32)
    y = np.asarray(y, dtype=np.int64)
    set_seed(cfg.seed)
    model = FeatureMLP(x.shape[1], n_classes, cfg.hidden, cfg.dropout)
    model.set_standardisation(x)
    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    start_epoch = 0
    run_config = {"kind": "mlp", **cfg.as_dict(), "n": int(len(y)), "F": int(x.shape[1]), "C": int(n_classes)}
    state = _load_checkpoint(checkpoint, run_config, resume)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        start_epoch = int(state["epoch"])
        if on_epoch is not None:
            model.eval()
            on_epoch(start_epoch, model)
    xt = torch.from_numpy(x).to(device)
    yt = torch.from_numpy(y).to(device)
    loss_fn = nn.CrossEntropyLoss()
    bar = Progress(desc, cfg.epochs, progress)
    bar.update(start_epoch)
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        order = torch.randperm(len(yt), generator=gen).to(device)
        total = 0.0
        for s in range(0, len(order), cfg.batch_size):
            idx = order[s : s + cfg.batch_size]
            opt.zero_grad()
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * len(idx)
        model.eval()
        if checkpoint is not None:
            save_atomic(
                {
                    "config": run_config,
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optim": opt.state_dict(),
                    "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                },
                checkpoint,
            )
        if on_epoch is not None:
            on_epoch(epoch + 1, model)
        bar.update(1, f"loss {total / len(yt):.3f}")
    model.eval()
    return model


@torch.inference_mode()
def mlp_logits(model: FeatureMLP, x: np.ndarray) -> np.ndarray:
    dev = model.feature_mean.device
    model.eval()
    return model(torch.as_tensor(np.asarray(x, dtype=np.float32), device=dev)).float().cpu().numpy()


def logistic_regression_mlp(
    x: np.ndarray, y: np.ndarray, n_classes: int, C: float = 1.0, seed: int = 0
) -> FeatureMLP:
    """Multinomial logistic regression (sklearn lbfgs, L2 strength 1/C) on standardised features, copied
    into a FeatureMLP with no hidden layer, so it ships and runs exactly like the MLP (no pickles)."""
    from sklearn.linear_model import LogisticRegression

    model = FeatureMLP(x.shape[1], n_classes, hidden=(), dropout=0.0)
    model.set_standardisation(x)
    xs = (
        np.asarray(x, dtype=np.float64) - model.feature_mean.double().numpy()
    ) / model.feature_std.double().numpy()
    clf = LogisticRegression(C=C, max_iter=5000, random_state=seed).fit(xs, y)
    if list(clf.classes_) != list(range(n_classes)):
        raise ValueError("every class needs at least one training example")
    linear = model.net[0]
    with torch.no_grad():
        linear.weight.copy_(torch.as_tensor(clf.coef_, dtype=torch.float32))
        linear.bias.copy_(torch.as_tensor(clf.intercept_, dtype=torch.float32))
    model.eval()
    return model


# ---------------------------------------------------------------- mel CNN


@dataclass
class CNNConfig:
    """The spec's settings by default: batch 32, Adam 1e-4, augmentation on."""

    epochs: int = 20
    batch_size: int = 32
    lr: float = 1e-4
    crop_seconds: float = 3.0
    augment: bool = True
    gain_db: float = 6.0
    noise_snr_db: float = 30.0
    time_mask_frac: float = 0.1
    seed: int = 0
    extra: dict = field(default_factory=dict)


def augment_batch(waves: torch.Tensor, cfg: CNNConfig, gen: torch.Generator) -> torch.Tensor:
    """Random gain (+-gain_db), white noise at >= noise_snr_db SNR, and one zeroed time span per clip.
    (B, n) -> (B, n). The random crop is taken before this (see random_crop)."""
    b, n = waves.shape
    gain_db = (torch.rand(b, 1, generator=gen) * 2 - 1) * cfg.gain_db
    out = waves * (10 ** (gain_db / 20)).to(waves)
    power = out.pow(2).mean(dim=1, keepdim=True).clamp_min(1e-10)
    snr_db = cfg.noise_snr_db + torch.rand(b, 1, generator=gen) * 20
    noise_power = power / (10 ** (snr_db.to(waves) / 10))
    out = out + torch.randn(b, n, generator=gen).to(waves) * noise_power.sqrt()
    span = int(cfg.time_mask_frac * n)
    if span > 0:
        starts = (torch.rand(b, generator=gen) * (n - span)).long()
        pos = torch.arange(n).unsqueeze(0)
        mask = (pos >= starts.unsqueeze(1)) & (pos < (starts + span).unsqueeze(1))
        out = out.masked_fill(mask.to(out.device), 0.0)
    return out


def random_crop(wave: np.ndarray, length: int, rng: np.random.Generator | None) -> np.ndarray:
    """A ``length``-sample window (random start when rng is given, else centred); short audio is tiled."""
    if wave.size < length:
        wave = np.tile(wave, -(-length // max(1, wave.size)))
    start = (
        0
        if wave.size == length
        else (int(rng.integers(0, wave.size - length + 1)) if rng else (wave.size - length) // 2)
    )
    return wave[start : start + length]


def train_cnn(
    waves: Sequence[np.ndarray],
    y: np.ndarray,
    n_classes: int,
    cfg: CNNConfig,
    *,
    device: torch.device | str = "cpu",
    checkpoint: Path | None = None,
    resume: bool = False,
    progress: bool = True,
    desc: str = "cnn",
):
    """Train a MelCNN on decoded waveforms (at the network's sample rate); each step sees a random crop of
    ``crop_seconds`` of every clip, augmented. Returns the model in eval mode."""
    from music_reclass_gui.inference.networks.cnn import MelCNN

    device = torch.device(device)
    y = np.asarray(y, dtype=np.int64)
    set_seed(cfg.seed)
    model = MelCNN(n_classes).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    gen = torch.Generator().manual_seed(cfg.seed)
    rng = np.random.default_rng(cfg.seed)
    run_config = {"kind": "cnn", **asdict(cfg), "n": int(len(y)), "C": int(n_classes)}
    start_epoch = 0
    state = _load_checkpoint(checkpoint, run_config, resume)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optim"])
        gen.set_state(state["generator"])
        rng.bit_generator.state = state["np_rng"]
        torch.set_rng_state(state["torch_rng"])
        start_epoch = int(state["epoch"])
    length = int(cfg.crop_seconds * model.sample_rate)
    loss_fn = nn.CrossEntropyLoss()
    steps = -(-len(y) // cfg.batch_size)
    bar = Progress(desc, cfg.epochs * steps, progress)
    bar.update(start_epoch * steps)
    for epoch in range(start_epoch, cfg.epochs):
        model.train()
        order = rng.permutation(len(y))
        for s in range(0, len(order), cfg.batch_size):
            idx = order[s : s + cfg.batch_size]
            batch = torch.from_numpy(np.stack([random_crop(waves[i], length, rng) for i in idx]))
            if cfg.augment:
                batch = augment_batch(batch, cfg, gen)
            opt.zero_grad()
            loss = loss_fn(model(batch.to(device)), torch.from_numpy(y[idx]).to(device))
            loss.backward()
            opt.step()
            bar.update(1, f"epoch {epoch + 1} loss {float(loss.detach()):.3f}")
        if checkpoint is not None:
            save_atomic(
                {
                    "config": run_config,
                    "epoch": epoch + 1,
                    "model": model.state_dict(),
                    "optim": opt.state_dict(),
                    "generator": gen.get_state(),
                    "np_rng": rng.bit_generator.state,
                    "torch_rng": torch.get_rng_state(),
                },
                checkpoint,
            )
    model.eval()
    return model
