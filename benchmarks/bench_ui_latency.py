"""How responsive the window stays while a batch is classified, and how fast Cancel stops it.

A QTimer ticks every 10 ms on the UI thread while the real window classifies a folder with the real model;
the gaps between ticks are the event-loop latency a user feels (a gap of 100 ms is a visible stutter).
Then the same folder is classified again with a cold cache and cancelled --cancel-delay seconds after the first
results (while the engine is in the middle of a batch): the time from Cancel to the worker's end is reported.
The window itself shows the cancellation at once (no further results are taken); this is how long the worker
thread keeps the CPU busy after it.

    python benchmarks/bench_ui_latency.py [FOLDER] [--device cpu]

FOLDER defaults to ../shared/data/library (29 full-length tracks); prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
DEFAULT_FOLDER = Path(__file__).resolve().parents[2] / "shared" / "data" / "library"


def _run(folder: Path, device: str, cancel_after_first: bool, cancel_delay: float = 0.0) -> dict:
    from PySide6.QtCore import QEventLoop, QTimer
    from PySide6.QtWidgets import QApplication

    from music_reclass_gui.inference.engine import Classifier
    from music_reclass_gui.ui.main_window import MainWindow
    from music_reclass_gui.ui.settings import AppSettings

    app = QApplication.instance() or QApplication([])
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MUSIC_RECLASS_CACHE_DIR"] = cache  # cold: every track is decoded and analysed
        classifier = Classifier(device=device)
        window = MainWindow(AppSettings(device=device), classifier=classifier)
        window.resize(1366, 768)
        window.show()
        c = window.controller
        ticks: list[float] = []
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
        loop = QEventLoop()
        outcome: dict = {}

        def cancel() -> None:
            outcome["cancel_at"] = time.perf_counter()
            c.cancel()

        def first_results(_paths) -> None:
            if cancel_after_first and "armed" not in outcome:
                outcome["armed"] = True  # cancel while the next batch is being analysed, the slow case
                QTimer.singleShot(int(cancel_delay * 1000), cancel)

        def finished(done: int, cancelled: bool) -> None:
            outcome.update(done=done, cancelled=cancelled, end=time.perf_counter())
            loop.quit()

        c.rows_changed.connect(first_results)
        c.classification_finished.connect(finished)
        timer.start()
        start = time.perf_counter()
        window.open_paths([folder])
        QTimer.singleShot(1_800_000, loop.quit)
        loop.exec()
        timer.stop()
        window.close()
        app.processEvents()
    gaps = sorted(b - a for a, b in zip(ticks, ticks[1:], strict=False))
    result = {
        "tracks": c.model.rowCount(),
        "classified": outcome.get("done"),
        "seconds": round(outcome.get("end", time.perf_counter()) - start, 2),
        "ui_ticks": len(ticks),
        "max_gap_ms": round(gaps[-1] * 1000, 1) if gaps else None,
        "p99_gap_ms": round(gaps[int(0.99 * (len(gaps) - 1))] * 1000, 1) if gaps else None,
        "median_gap_ms": round(statistics.median(gaps) * 1000, 1) if gaps else None,
        "gaps_over_100ms": sum(g > 0.1 for g in gaps),
    }
    if cancel_after_first:
        result["cancel_to_stopped_s"] = (
            round(outcome["end"] - outcome["cancel_at"], 3) if "cancel_at" in outcome else None
        )
    elif outcome.get("done"):
        result["tracks_per_minute"] = round(60 * outcome["done"] / result["seconds"], 1)
    return result


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", nargs="?", type=Path, default=DEFAULT_FOLDER)
    p.add_argument("--device", default="cpu")
    p.add_argument(
        "--cancel-delay", type=float, default=0.5, help="seconds after the first results to press Cancel"
    )
    args = p.parse_args(argv)
    if not args.folder.is_dir():
        print(f"{args.folder}: not a folder", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as home:  # never touch the user's settings or journal
        for name in ("CONFIG", "DATA"):
            os.environ[f"MUSIC_RECLASS_{name}_DIR"] = str(Path(home) / name.lower())
        full = _run(args.folder, args.device, cancel_after_first=False)
        cancel = _run(args.folder, args.device, cancel_after_first=True, cancel_delay=args.cancel_delay)
    print(
        json.dumps(
            {"folder": str(args.folder), "device": args.device, "full_run": full, "cancel_run": cancel},
            indent=2,
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
