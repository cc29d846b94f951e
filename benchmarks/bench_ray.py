"""Throughput of `batch --engine ray` next to the local engine, and a 1- vs 2-worker scaling run.

    nice -n 10 python benchmarks/bench_ray.py [--library ../shared/data/library] [--tracks 8] [--rounds 1]
                                              [--model msd-musicnn]

One local Ray is started first (its start-up is reported on its own, not charged to the runs). Then, per
round and interleaved so background load on a shared machine hits all of them alike:
  local    inference.engine.Classifier over the tracks (no feature cache), in this process
  ray-1    the Ray pipeline with one tagger actor, into a fresh results folder
  ray-2    the same with two tagger actors
Printed: tracks/min of each, the Ray overhead as ray/local time ratio, the Ray runs' fixed cost (seconds
to the first finished block: listing, first decodes, actor start) and their steady rate after it, the 2-vs-1-worker speed-up, and the
local engine's CPU seconds per track (process CPU time, robust to other load), from which
docs/scale-out.md's cost model is built. The Ray times include each run's actor start (loading the model),
as a real run's do; over a million tracks that fixed cost vanishes, over a few tracks it does not.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "shared" / "data" / "library"


def _cpu_seconds() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _pick(library: Path, n: int, into: Path) -> list[Path]:
    """n tracks spread over the library's folders (several formats), linked into one folder tree."""
    from music_reclass_gui.core.library import scan

    by_folder: dict[Path, list[Path]] = {}
    for t in scan(library, read_tags=False):
        by_folder.setdefault(t.path.parent, []).append(t.path)
    picked: list[Path] = []
    while len(picked) < n and any(by_folder.values()):
        for files in by_folder.values():
            if files and len(picked) < n:
                picked.append(files.pop(0))
    out = []
    for src in picked:
        dst = into / src.parent.name / src.name
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, dst)
        out.append(dst)
    return out


def run_local(paths: list[Path], model: str) -> tuple[float, float]:
    from music_reclass_gui.inference.engine import Classifier

    clf = Classifier(model, device="cpu", use_cache=False)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    outs = list(clf.classify_many(paths))
    assert all(hasattr(o, "genre") for o in outs), [getattr(o, "error", None) for o in outs]
    return time.perf_counter() - t0, _cpu_seconds() - c0


def run_ray(folder: Path, workers: int, scratch: Path, model: str) -> tuple[float, float, float]:
    """(total seconds, seconds to the first finished block, steady tracks/s after that block)."""
    from music_reclass_gui.cluster.pipeline import RayOptions, classify_archive

    out = scratch / f"results-{workers}-{time.monotonic_ns()}"
    arrivals: list[float] = []
    t0 = time.perf_counter()
    summary = classify_archive(
        folder,
        out,
        RayOptions(model=model, device="cpu", workers=workers),
        on_row=lambda _: arrivals.append(time.perf_counter()),
    )
    seconds = time.perf_counter() - t0
    assert summary["failed"] == 0 and summary["processed"] > 0, summary
    shutil.rmtree(out)
    first = arrivals[0]
    block = sum(1 for t in arrivals if t - first < 0.05)  # rows of the first block arrive together
    later = len(arrivals) - block
    steady = later / (arrivals[-1] - first) if later and arrivals[-1] > first else float("nan")
    return seconds, first - t0, steady


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--library", type=Path, default=LIBRARY)
    ap.add_argument("--tracks", type=int, default=8)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument(
        "--model", default="msd-musicnn", help="model for both engines (docs/scale-out.md used msd-musicnn)"
    )
    args = ap.parse_args()
    import ray

    from music_reclass_gui.cluster.pipeline import LOCAL_OBJECT_STORE_BYTES

    scratch = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    try:
        paths = _pick(args.library, args.tracks, scratch / "lib")
        t0 = time.perf_counter()
        ray.init(
            num_cpus=max(os.cpu_count() or 1, 4),
            object_store_memory=LOCAL_OBJECT_STORE_BYTES,
            include_dashboard=False,
            logging_level="WARNING",
            log_to_driver=False,
        )
        startup = time.perf_counter() - t0
        times: dict[str, list[float]] = {"local": [], "ray-1": [], "ray-2": []}
        first: dict[str, list[float]] = {"ray-1": [], "ray-2": []}
        steady: dict[str, list[float]] = {"ray-1": [], "ray-2": []}
        cpu_local: list[float] = []
        for _ in range(args.rounds):
            wall, cpu = run_local(paths, args.model)
            times["local"].append(wall)
            cpu_local.append(cpu)
            for workers in (1, 2):
                key = f"ray-{workers}"
                total, to_first, rate = run_ray(scratch / "lib", workers, scratch, args.model)
                times[key].append(total)
                first[key].append(to_first)
                steady[key].append(rate)
        ray.shutdown()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    n = len(paths)
    med = {k: statistics.median(v) for k, v in times.items()}
    report = {
        "model": args.model,
        "tracks": n,
        "formats": sorted({p.suffix for p in paths}),
        "rounds": args.rounds,
        "cores": os.cpu_count(),
        "ray_startup_s": round(startup, 2),
        "tracks_per_min": {k: round(n / v * 60, 1) for k, v in med.items()},
        "ray_overhead_ratio_1_worker": round(med["ray-1"] / med["local"], 2),
        "ray_seconds_to_first_block": {k: round(statistics.median(v), 1) for k, v in first.items()},
        "ray_steady_tracks_per_min_after_first_block": {
            k: round(statistics.median(v) * 60, 1) for k, v in steady.items()
        },
        "speedup_2_vs_1_workers": round(med["ray-1"] / med["ray-2"], 2),
        "local_cpu_s_per_track": round(statistics.median(cpu_local) / n, 3),
        "local_tracks_per_hour_per_core": round(3600 / (statistics.median(cpu_local) / n), 0),
        "note": "shared machine: wall times include other users' load; compare the ratios, measured interleaved",
    }
    print(f"{'engine':8} {'tracks/min':>10}")
    for k, v in report["tracks_per_min"].items():
        print(f"{k:8} {v:10.1f}")
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
