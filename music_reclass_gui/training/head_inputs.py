"""Which musicnn features a transfer head can read. Plain data without torch, so that building the CLI's
parser (`train head --inputs`) does not import torch for every command."""

from __future__ import annotations

TAGGERS = ("msd-musicnn", "mtt-musicnn")

# name -> (extractor model, feature) pairs, concatenated in this order (heads.head_input)
INPUT_SETS: dict[str, list[tuple[str, str]]] = {
    "msd-emb": [("msd-musicnn", "embedding")],
    "mtt-emb": [("mtt-musicnn", "embedding")],
    "msd-all": [("msd-musicnn", "tags"), ("msd-musicnn", "embedding")],
    "emb": [("msd-musicnn", "embedding"), ("mtt-musicnn", "embedding")],
    "tags": [("msd-musicnn", "tags"), ("mtt-musicnn", "tags")],
    "all": [
        ("msd-musicnn", "tags"),
        ("msd-musicnn", "embedding"),
        ("mtt-musicnn", "tags"),
        ("mtt-musicnn", "embedding"),
    ],
}
