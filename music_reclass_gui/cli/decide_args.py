"""The decision flags shared by `batch --write-tags` and `organize --by prediction`, turned into one
`core.decide.DecisionPolicy` so the CLI decides exactly as the GUI does with the same settings."""

from __future__ import annotations

import argparse

from music_reclass_gui.cli.argtypes import probability
from music_reclass_gui.core.decide import DecisionPolicy


def add_policy_args(p: argparse.ArgumentParser) -> None:
    """--keep-existing, --multi-genre, --threshold, --min-confidence, --per-track."""
    g = p.add_argument_group("decision (same rules as the GUI's Settings)")
    g.add_argument(
        "--keep-existing", action="store_true", help="add the new genre to those already in the tags"
    )
    g.add_argument("--multi-genre", action="store_true", help="also write other genres reaching --threshold")
    g.add_argument(
        "--threshold",
        type=probability,
        default=DecisionPolicy.threshold,
        help=f"probability an extra genre needs with --multi-genre (default {DecisionPolicy.threshold})",
    )
    g.add_argument(
        "--min-confidence",
        type=probability,
        default=DecisionPolicy.min_confidence,
        help="leave files whose best genre is less likely than this unchanged (default 0: decide every file)",
    )
    g.add_argument(
        "--per-track",
        action="store_true",
        help="decide every file on its own instead of giving each album one genre",
    )


def add_per_track_arg(p: argparse.ArgumentParser) -> None:
    """Only --per-track (for commands that report but never write, such as classify)."""
    p.add_argument(
        "--per-track",
        action="store_true",
        help='treat every file on its own (no "album" object in the results)',
    )


def policy_from_args(args: argparse.Namespace) -> DecisionPolicy:
    """The policy of the parsed flags; a flag the command does not have keeps the policy's default."""
    d = DecisionPolicy()
    return DecisionPolicy(
        threshold=getattr(args, "threshold", d.threshold),
        keep_existing=getattr(args, "keep_existing", d.keep_existing),
        multi_genre=getattr(args, "multi_genre", d.multi_genre),
        min_confidence=getattr(args, "min_confidence", d.min_confidence),
        album_mode=not getattr(args, "per_track", False),
    )
