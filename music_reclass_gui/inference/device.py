"""Which device to run on: CUDA, then Apple MPS, else CPU; overridable by the user.

torch is imported only when an accelerator could be there: on a machine without an NVIDIA/AMD driver or
Apple silicon, "auto" is the CPU without asking torch (importing it costs 1.5-2 s of every cold start, and
the CPU path runs on ONNX Runtime and numpy). ``--device cuda`` still asks torch whatever the OS shows.
"""

from __future__ import annotations

import os
import platform
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from music_reclass_gui.core.errors import ModelError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")


class Device(str):
    """A device name ("cpu", "cuda", "cuda:1", "mps"). Being a str, torch takes it wherever it takes a device
    (``tensor.to(device)``, ``torch.device(device)``), and ``.type`` reads like torch.device's."""

    @property
    def type(self) -> str:
        return self.split(":")[0]


def as_device(device: str | Device | torch.device) -> Device:
    """``device`` (a name, a Device or a torch.device) as a Device."""
    return device if isinstance(device, Device) else Device(str(device))


def accelerator_possible() -> bool:
    """Whether the OS shows a GPU driver torch could use (cheap: no torch import unless it is loaded)."""
    if "torch" in sys.modules:
        return True
    if sys.platform == "darwin":
        return platform.machine() == "arm64"  # Apple silicon: MPS
    if sys.platform.startswith("linux"):
        return any(os.path.exists(p) for p in ("/proc/driver/nvidia/version", "/dev/nvidiactl", "/dev/kfd"))
    if sys.platform == "win32":
        system = Path(os.environ.get("SYSTEMROOT", r"C:\Windows")) / "System32"
        return (system / "nvcuda.dll").exists() or (system / "amdhip64.dll").exists()
    return True  # unknown platform: ask torch


def _mps_available() -> bool:
    import torch

    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def pick_device(requested: str | Device | torch.device = "auto") -> Device:
    """ "auto" -> cuda, mps, cpu (first available). An explicit device that is unavailable is a ModelError
    with a clear message rather than a silent fallback, so the user knows their GPU is not used."""
    name = str(requested).lower()
    kind = name.split(":")[0]
    if kind == "cpu":
        return Device("cpu")
    if kind == "auto" and not accelerator_possible():
        return Device("cpu")
    if kind not in DEVICE_CHOICES:
        raise ModelError(None, f"unknown device {requested!r}; choose one of {', '.join(DEVICE_CHOICES)}")
    import torch

    if kind == "auto":
        if torch.cuda.is_available():
            return Device("cuda")
        return Device("mps") if _mps_available() else Device("cpu")
    if kind == "cuda":
        if not torch.cuda.is_available():
            build = (
                "a CPU-only build of PyTorch" if torch.version.cuda is None else "no usable NVIDIA GPU/driver"
            )
            raise ModelError(
                None,
                f"device 'cuda' was requested but CUDA is not available ({build}); use --device cpu or auto",
            )
        return Device(name)
    if kind == "mps":
        if not _mps_available():
            raise ModelError(
                None, "device 'mps' was requested but Apple Metal (MPS) is not available; use cpu or auto"
            )
        return Device("mps")
    raise AssertionError(kind)  # every kind of DEVICE_CHOICES is handled above


def describe_device(device: Device | torch.device) -> str:
    """Human name for the status bar: "CPU", the GPU's name, or "Apple GPU (MPS)"."""
    if device.type == "cuda":
        import torch

        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return "CPU"
