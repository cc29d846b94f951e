"""`classify`, `batch` and `models`: the command-line classification API.

classify FILE...   one JSON object per file per line (failures: {"audio_path", "error"}); exit 1 if any failed
batch DIR          one JSON object {"total_files", "processed", "failed", "results", "errors"}; progress bar on
                   stderr only when it is a terminal; --write-tags writes each top genre (journaled, undoable)
models             installed models with labels, source, licence and metrics
Exit codes: 0 all good, 1 some files failed, 2 the model/device could not be used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from music_reclass_gui.core.errors import ModelError, MusicReclassError

EXIT_FILES_FAILED = 1
EXIT_MODEL = 2


def register(sub: argparse._SubParsersAction) -> None:
    """Add classify, batch and models."""
    p = sub.add_parser("classify", help="classify audio files, one JSON line per file")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    _model_args(p)
    p.add_argument("--tags", action="store_true", help="also print the model's raw scores for all its labels")
    p.add_argument(
        "--multi-label",
        action="store_true",
        help='also print "labels": every genre whose own calibrated probability reaches --floor (a track '
        "can have several; needs a multi-label model such as the default)",
    )
    p.add_argument(
        "--floor",
        type=_probability,
        default=None,
        help="smallest probability listed by --multi-label (default 0.1)",
    )
    p.add_argument("--no-cache", action="store_true", help="ignore and do not update the feature cache")
    p.set_defaults(func=run_classify)

    b = sub.add_parser("batch", help="classify every audio file under a folder, print one JSON summary")
    b.add_argument("folder", type=Path, metavar="DIR")
    _model_args(b)
    b.add_argument(
        "--write-tags", action="store_true", help="write each file's top genre into its tags (undoable)"
    )
    b.add_argument("--jobs", type=int, default=None, help="decoding threads (default: up to 4)")
    b.add_argument("--no-cache", action="store_true", help="ignore and do not update the feature cache")
    b.set_defaults(func=run_batch)

    m = sub.add_parser("models", help="list installed models")
    m.add_argument("--json", action="store_true", help="one JSON object per model instead of a table")
    m.set_defaults(func=run_models)


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"{text} is not a probability between 0 and 1")
    return value


def _model_args(p: argparse.ArgumentParser) -> None:
    from music_reclass_gui.inference.device import DEVICE_CHOICES

    p.add_argument("--model", default=None, help="model name (see `music-reclass models`)")
    p.add_argument("--top-k", type=int, default=3, help="how many candidate genres to report (default 3)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where to run the network")


def _classifier(args: argparse.Namespace, jobs: int | None = None):
    from music_reclass_gui.inference.engine import Classifier

    try:
        return Classifier(
            args.model, device=args.device, top_k=args.top_k, use_cache=not args.no_cache, jobs=jobs
        )
    except ModelError as exc:
        print(f"music-reclass: {exc}", file=sys.stderr)
        return None


def run_classify(args: argparse.Namespace) -> int:
    clf = _classifier(args)
    if clf is None:
        return EXIT_MODEL
    from music_reclass_gui.inference.engine import LABELS_FLOOR

    floor = LABELS_FLOOR if args.floor is None else args.floor
    if args.multi_label and getattr(clf.model, "multi_label", False) is False:
        print(
            f"music-reclass: model {clf.model_name!r} gives one distribution over exclusive genres, not each "
            'genre its own probability: "labels" is null (use a multi-label model, e.g. the default)',
            file=sys.stderr,
        )
    failed = 0
    for out in clf.classify_many(args.files):
        if hasattr(out, "genre"):
            line = out.to_json(include_tags=args.tags, multi_label=args.multi_label, floor=floor)
        else:
            failed += 1
            line = out.to_json()
        print(json.dumps(line, ensure_ascii=False), flush=True)
    return EXIT_FILES_FAILED if failed else 0


class _Progress:
    """A one-line progress bar on stderr, drawn only when stderr is a terminal."""

    def __init__(self, total: int, stream: TextIO = sys.stderr) -> None:
        self.total, self.stream, self.start = total, stream, time.perf_counter()
        self.enabled = stream.isatty()

    def update(self, done: int, failed: int) -> None:
        if not self.enabled or not self.total:
            return
        width = 30
        fill = int(width * done / self.total)
        rate = done / max(1e-6, time.perf_counter() - self.start) * 60
        self.stream.write(
            f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{self.total}  {failed} failed  {rate:.0f}/min"
        )
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()


def run_batch(args: argparse.Namespace) -> int:
    from music_reclass_gui.core.library import scan

    if not args.folder.is_dir():
        print(f"music-reclass: {args.folder}: not a folder", file=sys.stderr)
        return EXIT_MODEL
    clf = _classifier(args, jobs=args.jobs)
    if clf is None:
        return EXIT_MODEL
    scan_errors: list[dict[str, str]] = []
    files = [
        t.path
        for t in scan(
            args.folder,
            read_tags=False,
            on_error=lambda p, r: scan_errors.append({"audio_path": str(p), "error": f"{p}: {r}"}),
        )
    ]
    results: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = list(scan_errors)
    winners = []
    bar = _Progress(len(files))
    for out in clf.classify_many(files):
        if hasattr(out, "genre"):
            results.append(out.to_json())
            winners.append((out.audio_path, out.genre))
        else:
            errors.append(out.to_json())
        bar.update(len(results) + len(errors) - len(scan_errors), len(errors) - len(scan_errors))
    bar.close()
    summary: dict[str, Any] = {
        "total_files": len(files),
        "processed": len(results),
        "failed": len(errors),
        "results": results,
        "errors": errors,
    }
    write_failed = False
    if args.write_tags:
        summary["tags_written"] = written = _write_tags(winners)
        write_failed = bool(written["failed"])
    print(json.dumps(summary, ensure_ascii=False))
    return EXIT_FILES_FAILED if errors or write_failed else 0


def _write_tags(winners: list[tuple[Path, str]]) -> dict[str, Any]:
    """Write each top genre through the journaled organiser, so the whole batch can be undone at once.
    Returns {"op_id", "written", "failed": [{"audio_path", "error"}]}."""
    from music_reclass_gui.core.organize import TagChange, apply_tag_changes

    try:
        report = apply_tag_changes([TagChange(p, (g,)) for p, g in winners])
    except MusicReclassError as exc:  # e.g. another operation holds the journal lock
        return {
            "op_id": None,
            "written": 0,
            "failed": [{"audio_path": "", "error": f"no tags written: {exc}"}],
        }
    failed = [{"audio_path": str(p), "error": f"{p}: {reason}"} for p, reason in report.failed]
    return {"op_id": report.op_id, "written": len(report.done), "failed": failed}


def run_models(args: argparse.Namespace) -> int:
    from music_reclass_gui.inference.registry import list_models

    problems: list[ModelError] = []
    cards = list_models(problems)
    if args.json:
        for card in cards:
            print(json.dumps(card.summary(), ensure_ascii=False))
    else:
        for card in cards:
            metrics = (
                ", ".join(f"{k}={v}" for k, v in card.metrics.items() if not isinstance(v, (dict, list)))
                or "-"
            )
            print(f"{card.name}  [{card.kind}, {card.origin}]  licence: {card.licence or '?'}")
            if card.description:
                print(f"    {card.description}")
            print(f"    source: {card.source or '?'}")
            print(f"    labels ({len(card.labels)}): {', '.join(card.labels)}")
            print(f"    metrics: {metrics}")
    for err in problems:
        print(f"music-reclass: skipped a model: {err}", file=sys.stderr)
    return 0
