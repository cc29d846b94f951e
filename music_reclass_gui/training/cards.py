"""The one place a training run finishes: weights file names, the model card written atomically (last, so a
half-written model is never listed), and the resume state dropped. Every kind of training publishes here."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(kw_only=True)
class CardText:
    """What a training run says about itself on its model card; the CLI fills it from the dataset policy.
    Keyword-only, so each run's own required fields (name, out_dir, ...) can come first."""

    description: str = ""
    source: str = ""
    licence: str = ""
    training_data: str = ""
    reproduce: str = ""


def log(msg: str) -> None:
    """Progress and results of a run, on stderr (stdout carries the command's JSON answer)."""
    print(msg, file=sys.stderr, flush=True)


def weights_filename(name: str, suffix: str = ".pt") -> str:
    return name.replace("-", "_").replace(" ", "_") + suffix


def write_card(out_dir: Path, card: dict[str, Any]) -> Path:
    """Write ``<name>.json`` atomically (after the weights, so a half-written model is never listed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{card['name']}.", suffix=".json.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(card, fh, indent=2, ensure_ascii=False)
        fh.write("\n")
    path = out_dir / f"{card['name']}.json"
    os.replace(tmp, path)
    return path


def publish(out_dir: Path, card: dict[str, Any], weights: Path) -> Path:
    """Finish a training run: write the card (which makes the model visible) and drop the resume state."""
    path = write_card(out_dir, card)
    for leftover in out_dir.glob(f".{card['name']}.train-state*"):
        leftover.unlink()
    log(f"wrote {weights} and {path}")
    return path
