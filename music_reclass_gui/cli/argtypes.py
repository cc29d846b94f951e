"""Argument types that reject nonsense numbers at parse time, so `--jobs -1` is a usage error (exit 2)
with a clear message instead of a traceback deep inside."""

from __future__ import annotations

import argparse
import math


def _number(text: str, kind: type, what: str) -> int | float:
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, not {text!r}") from None
    if isinstance(value, float) and not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected {what}, not {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1 (jobs, folds, epochs, top-k)."""
    value = _number(text, int, "a whole number of at least 1")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, not {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """A whole number >= 0 (seeds, counts that may be zero)."""
    value = _number(text, int, "a whole number of at least 0")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, not {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0 (seconds)."""
    value = _number(text, float, "a number above 0")
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a number above 0, not {text!r}")
    return value


def probability(text: str) -> float:
    """A number between 0 and 1 (a probability floor or threshold)."""
    value = float(_number(text, float, "a probability"))
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability between 0 and 1")
    return value


def genre_name(text: str) -> str:
    """A genre to write: blank or whitespace-only text would silently clear the genre, so it is refused."""
    name = text.strip()
    if not name:
        raise argparse.ArgumentTypeError("a genre cannot be blank; use --clear-genres to remove the genre")
    return name


class _DeviceChoices(tuple):
    """The device names argparse offers (auto, cpu, cuda, mps) that also admit a numbered GPU (cuda:1)."""

    def __contains__(self, value: object) -> bool:
        text = str(value)
        kind, _, index = text.partition(":")
        return super().__contains__(text) or (kind == "cuda" and index.isdigit())


def add_device_option(parser: argparse.ArgumentParser, help: str, default: str | None = "auto") -> None:
    """--device with the one list of choices every command shares (a numbered GPU, cuda:1, works too)."""
    from music_reclass_gui.inference.device import DEVICE_CHOICES  # torch-free

    parser.add_argument(
        "--device",
        default=default,
        choices=_DeviceChoices(DEVICE_CHOICES),
        metavar="{" + ",".join(DEVICE_CHOICES) + "}",
        help=f"{help} (default {default}; cuda:N picks a GPU)" if default else help,
    )
