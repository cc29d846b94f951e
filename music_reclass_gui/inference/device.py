"""Which torch device to run on: CUDA, then Apple MPS, else CPU; overridable by the user."""

from __future__ import annotations

from typing import TYPE_CHECKING

from music_reclass_gui.core.errors import ModelError

if TYPE_CHECKING:  # torch is imported lazily so the CLI's parser (which lists DEVICE_CHOICES) starts fast
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(requested: str | torch.device = "auto") -> torch.device:
    """ "auto" -> cuda, mps, cpu (first available). An explicit device that is unavailable is a ModelError
    with a clear message rather than a silent fallback, so the user knows their GPU is not used."""
    import torch

    name = str(requested).lower()
    kind = name.split(":")[0]
    if kind == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    if kind == "cpu":
        return torch.device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            build = (
                "a CPU-only build of PyTorch" if torch.version.cuda is None else "no usable NVIDIA GPU/driver"
            )
            raise ModelError(
                None,
                f"device 'cuda' was requested but CUDA is not available ({build}); use --device cpu or auto",
            )
        return torch.device(name)
    if kind == "mps":
        if not _mps_available():
            raise ModelError(
                None, "device 'mps' was requested but Apple Metal (MPS) is not available; use cpu or auto"
            )
        return torch.device("mps")
    raise ModelError(None, f"unknown device {requested!r}; choose one of {', '.join(DEVICE_CHOICES)}")


def describe_device(device: torch.device) -> str:
    """Human name for the status bar: "CPU", the GPU's name, or "Apple GPU (MPS)"."""
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return "CPU"
