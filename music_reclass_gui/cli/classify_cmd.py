"""`classify`, `batch` and `models`: the command-line classification API.

classify FILE...   one JSON object per file per line (failures: {"audio_path", "error"}); exit 1 if any failed
batch DIR          one JSON object {"total_files", "processed", "failed", "results", "errors"}; progress bar on
                   stderr only when it is a terminal; --write-tags writes the decided genres (journaled,
                   undoable) through core.decide, with the GUI's rules (threshold, keep-existing, multi-genre)
Albums: a result of a track that belongs to an album (core.albums) carries
"album": {"key", "genre", "confidence", "tracks", "agreement", "top"}, and in batch --write-tags every track of
the album gets the album's genre; --per-track turns both off.
models             installed models with labels, source, licence and metrics
Exit codes (cli/exit_codes.py): 0 all good, 1 some files failed, 2 usage, 3 the model/device/folder could not be
used.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from music_reclass_gui.cli import batch_ray
from music_reclass_gui.cli.argtypes import add_device_option, positive_int, probability
from music_reclass_gui.cli.decide_args import add_per_track_arg, add_policy_args, policy_from_args
from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN as EXIT_MODEL
from music_reclass_gui.cli.exit_codes import EXIT_FILES_FAILED
from music_reclass_gui.cli.progress import Progress
from music_reclass_gui.core.errors import ModelError, MusicReclassError


def register(sub: argparse._SubParsersAction) -> None:
    """Add classify, batch and models."""
    p = sub.add_parser("classify", help="classify audio files, one JSON line per file")
    p.add_argument("files", nargs="+", type=Path, metavar="FILE", help="audio files to classify")
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
        type=probability,
        default=None,
        help="smallest probability listed by --multi-label (default 0.1)",
    )
    p.add_argument("--no-cache", action="store_true", help="ignore and do not update the feature cache")
    add_per_track_arg(p)
    p.set_defaults(func=run_classify)

    b = sub.add_parser("batch", help="classify every audio file under a folder, print one JSON summary")
    b.add_argument("folder", type=Path, metavar="DIR", help="folder searched recursively for audio files")
    _model_args(b)
    b.add_argument(
        "--write-tags",
        action="store_true",
        help="write each file's decided genre into its tags (undoable; see the decision flags)",
    )
    b.add_argument("--jobs", type=positive_int, default=None, help="decoding threads (default: up to 4)")
    b.add_argument("--no-cache", action="store_true", help="ignore and do not update the feature cache")
    add_policy_args(b)
    batch_ray.add_arguments(b)
    b.set_defaults(func=run_batch)

    m = sub.add_parser("models", help="list installed models")
    m.add_argument("--json", action="store_true", help="one JSON object per model instead of a table")
    m.set_defaults(func=run_models)


def _model_args(p: argparse.ArgumentParser) -> None:
    from music_reclass_gui.inference.backends import BACKEND_CHOICES

    p.add_argument("--model", default=None, help="model name (see `music-reclass models`)")
    p.add_argument(
        "--top-k", type=positive_int, default=3, help="how many candidate genres to report (default 3)"
    )
    add_device_option(p, "where to run the network")
    p.add_argument(
        "--backend",
        default="auto",
        choices=BACKEND_CHOICES,
        help="what runs the taggers: onnx = ONNX Runtime (CPU, the 'fast' extra), onnx-int8 = its int8 graph "
        "(less CPU, scores within 0.01 of float on the shared tracks; CPUs with VNNI only), torch = PyTorch, "
        "auto = ONNX Runtime float on a CPU when installed, else PyTorch (default)",
    )


def _classifier(args: argparse.Namespace, jobs: int | None = None):
    from music_reclass_gui.inference.engine import Classifier

    try:
        return Classifier(
            args.model,
            device=args.device,
            top_k=args.top_k,
            use_cache=not args.no_cache,
            jobs=jobs,
            backend=args.backend,
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
    albums = _AlbumBuffer(args.files, policy_from_args(args))
    for out in clf.classify_many(args.files):
        failed += not hasattr(out, "genre")
        for result in albums.add(out):
            line = (
                result.to_json(include_tags=args.tags, multi_label=args.multi_label, floor=floor)
                if hasattr(result, "genre")
                else result.to_json()
            )
            if hasattr(result, "genre"):
                albums.annotate(result, line)
            print(json.dumps(line, ensure_ascii=False), flush=True)
    return EXIT_FILES_FAILED if failed else 0


class _AlbumBuffer:
    """classify streams a line per file; a track of an album waits until its album is complete, so its line
    can carry the album's decision ("album": {...}). Files outside albums are printed at once."""

    def __init__(self, files: list[Path], policy) -> None:
        from music_reclass_gui.core.albums import group_albums

        self.policy = policy
        self.tags: dict[Path, Any] = {}
        self.album_of: dict[Path, tuple[Path, ...]] = {}
        self.decided: dict[Path, Any] = {}
        self.waiting: dict[tuple[Path, ...], list] = {}
        if not policy.album_mode:
            return
        self.tags = {Path(f): _tags_or_none(Path(f)) for f in files}
        for album in group_albums(self.tags)[0]:
            if len(album.tracks) > 1:
                self.album_of.update(dict.fromkeys(album.tracks, album.tracks))

    def add(self, out) -> list:
        members = self.album_of.get(Path(out.audio_path))
        if members is None:
            return [out]
        got = self.waiting.setdefault(members, [])
        got.append(out)
        if len(got) < len(members):
            return []
        from music_reclass_gui.core.decide import decide_library

        ok = [r for r in got if hasattr(r, "genre")]
        self.decided.update(decide_library(ok, {p: self.tags.get(p) for p in members}, self.policy))
        return sorted(got, key=lambda r: members.index(Path(r.audio_path)))

    def annotate(self, result, line: dict) -> None:
        proposal = self.decided.get(Path(result.audio_path))
        if proposal is not None and proposal.album is not None:
            line["album"] = proposal.album.to_json()


def _tags_or_none(path: Path):
    from music_reclass_gui.core.tags import read_tags

    try:
        return read_tags(path)
    except MusicReclassError:
        return None


def run_batch(args: argparse.Namespace) -> int:
    """Classify, decide through core.decide (albums included), and optionally write the decisions."""
    from music_reclass_gui.core.decide import decide_library
    from music_reclass_gui.core.library import scan
    from music_reclass_gui.core.organize import TagChange

    if args.engine == "ray":
        return batch_ray.run_batch_ray(args)
    if not args.folder.is_dir():
        print(f"music-reclass: {args.folder}: not a folder", file=sys.stderr)
        return EXIT_MODEL
    clf = _classifier(args, jobs=args.jobs)
    if clf is None:
        return EXIT_MODEL
    scan_errors: list[dict[str, str]] = []
    tracks = list(
        scan(
            args.folder,
            read_tags=True,
            on_error=lambda p, r: scan_errors.append({"audio_path": str(p), "error": f"{p}: {r}"}),
        )
    )
    files = [t.path for t in tracks]
    results: list[dict[str, Any]] = []
    errors: list[dict[str, str]] = list(scan_errors)
    classified: list[Any] = []
    bar = Progress(len(files), label="classifying")
    for out in clf.classify_many(files):
        if hasattr(out, "genre"):
            results.append(out.to_json())
            classified.append(out)
        else:
            errors.append(out.to_json())
        bar.update(len(results) + len(errors) - len(scan_errors), len(errors) - len(scan_errors))
    bar.close()
    tags = {t.path: t.tags for t in tracks}
    proposals = decide_library(classified, tags, policy_from_args(args))
    for result, line in zip(classified, results, strict=True):
        proposal = proposals.get(Path(result.audio_path))
        if proposal is not None and proposal.album is not None:
            line["album"] = proposal.album.to_json()
    summary: dict[str, Any] = {
        "total_files": len(files),
        "processed": len(results),
        "failed": len(errors),
        "results": results,
        "errors": errors,
    }
    write_failed = False
    if args.write_tags:
        scanned = {t.path: t for t in tracks}  # a file replaced since its scan is refused, not written
        changes = [
            TagChange.for_track(scanned[p], prop.genres) if p in scanned else TagChange(p, prop.genres)
            for p, prop in proposals.items()
            if prop.auto and prop.genres
        ]
        summary["tags_written"] = written = _write_tags(changes)
        write_failed = bool(written["failed"])
    print(json.dumps(summary, ensure_ascii=False))
    return EXIT_FILES_FAILED if errors or write_failed else 0


def _write_tags(changes: list) -> dict[str, Any]:
    """Write the decided genres through the journaled tag writer, so the whole batch can be undone at once.
    Returns {"op_id", "written", "failed": [{"audio_path", "error"}]}."""
    from music_reclass_gui.core.organize import apply_tag_changes

    bar = Progress(len(changes), label="writing tags")
    try:
        report = apply_tag_changes(changes, progress=bar.callback)
    except MusicReclassError as exc:  # e.g. another operation holds the journal lock
        return {
            "op_id": None,
            "written": 0,
            "failed": [{"audio_path": "", "error": f"no tags written: {exc}"}],
        }
    finally:
        bar.close()
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
