"""The decision flags shared by `batch --write-tags` and `organize --by prediction`, turned into one
`core.decide.DecisionPolicy` so the CLI decides exactly as the GUI does with the same settings."""

from __future__ import annotations

import argparse

from music_reclass_gui.core.decide import DecisionPolicy


def _fraction(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not between 0 and 1")
    return value


def add_policy_args(p: argparse.ArgumentParser) -> None:
    """--keep-existing, --multi-genre, --threshold, --min-confidence, --per-track."""
    g = p.add_argument_group("decision (same rules as the GUI's Settings)")
    g.add_argument(
        "--keep-existing", action="store_true", help="add the new genre to those already in the tags"
    )
    g.add_argument("--multi-genre", action="store_true", help="also write other genres reaching --threshold")
    g.add_argument(
        "--threshold",
        type=_fraction,
        default=DecisionPolicy.threshold,
        help=f"probability an extra genre needs with --multi-genre (default {DecisionPolicy.threshold})",
    )
    g.add_argument(
        "--min-confidence",
        type=_fraction,
        default=DecisionPolicy.min_confidence,
        help="leave files whose best genre is less likely than this unchanged (default 0: decide every file)",
    )
    g.add_argument(
        "--per-track",
        action="store_true",
        help="decide every file on its own instead of giving each album one genre",
    )


def policy_from_args(args: argparse.Namespace) -> DecisionPolicy:
    return DecisionPolicy(
        threshold=args.threshold,
        keep_existing=args.keep_existing,
        multi_genre=args.multi_genre,
        min_confidence=args.min_confidence,
        album_mode=not args.per_track,
    )
