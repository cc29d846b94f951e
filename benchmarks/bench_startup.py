"""Startup and warm-batch timings of the CLI, as a user sees them (each a fresh `python -m` process).

    python benchmarks/bench_startup.py [--model NAME] [--files 1000] [--library ../shared/data/library]

  classify  wall time until `music-reclass classify ONE_FILE` has printed its result (empty feature cache;
            model loading, imports, decoding and inference included); the target is < 2 s.
  warm      `music-reclass batch` over ``--files`` paths (hard links to the library's tracks, so no disk space
            is used) whose features are all in the cache (pre-seeded from one cold pass over the library);
            the target is < 10 s for 1,000 files.
  imports   the slowest top-level imports of the classify process (`python -X importtime`).
Wall times depend on other load on the machine; CPU seconds (user + system of the child) are printed too.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "shared" / "data" / "library"


def _run(cmd: list[str], env: dict[str, str]) -> tuple[float, float, subprocess.CompletedProcess]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if res.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-2000:]}")
    return wall, cpu, res


def _seed(library: Path, links: list[tuple[Path, Path]], model: str, cache_dir: str) -> None:
    """Features of the library's tracks (one cold pass), then the same features under every link's key."""
    os.environ["MUSIC_RECLASS_CACHE_DIR"] = cache_dir
    from music_reclass_gui.inference.cache import file_key
    from music_reclass_gui.inference.engine import Classifier

    clf = Classifier(model, device="cpu")
    originals = sorted({src for src, _ in links})
    for _ in clf.classify_many(originals):
        pass
    for src, dst in links:
        for ext in clf.model.extractors:
            feats = clf.cache.get(file_key(src), ext.key)
            if feats is not None:
                clf.cache.put(file_key(dst), ext.key, feats)
    clf.cache.close()


def main() -> None:
    from music_reclass_gui.core.library import scan
    from music_reclass_gui.inference.engine import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--library", type=Path, default=LIBRARY)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--files", type=int, default=1000)
    args = ap.parse_args()
    tracks = [t.path for t in scan(args.library, read_tags=False)]
    cli = [sys.executable, "-m", "music_reclass_gui.cli"]
    load0 = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, MUSIC_RECLASS_CACHE_DIR=os.path.join(tmp, "empty"))
        one = next(p for p in tracks if p.suffix == ".mp3")
        wall, cpu, _ = _run([*cli, "classify", str(one), "--model", args.model], env)
        env_torch = dict(env, MUSIC_RECLASS_CACHE_DIR=os.path.join(tmp, "empty-torch"))
        wall_t, cpu_t, _ = _run(
            [*cli, "classify", str(one), "--model", args.model, "--backend", "torch"], env_torch
        )
        print(
            f"classify ONE_FILE (cold cache, {one.name}): {wall:.2f} s wall, {cpu:.2f} CPU s  (target < 2 s)\n"
            f"  baseline --backend torch (PyTorch network, torch imported): {wall_t:.2f} s wall, {cpu_t:.2f} CPU s"
            f"  -> {wall_t / wall:.2f}x faster wall, {cpu_t / cpu:.2f}x less CPU"
        )
        env_imp = dict(env, MUSIC_RECLASS_CACHE_DIR=os.path.join(tmp, "empty2"))
        _, _, res = _run(
            [
                sys.executable,
                "-X",
                "importtime",
                "-m",
                "music_reclass_gui.cli",
                "classify",
                str(one),
                "--model",
                args.model,
            ],
            env_imp,
        )
        rows = []
        for line in res.stderr.splitlines():
            parts = line.split("|")
            if len(parts) == 3 and parts[1].strip().isdigit() and not parts[2].startswith("  "):
                rows.append((int(parts[1]) / 1e6, parts[2].strip()))
        print(
            "  slowest top-level imports: " + ", ".join(f"{n} {s:.2f} s" for s, n in sorted(rows)[::-1][:6])
        )
        print(
            f"  torch imported by the default path: {'yes' if any(n == 'torch' for _, n in rows) else 'no'}"
        )

        root = Path(tmp) / "lib"
        links = []
        for i in range(args.files):
            src = tracks[i % len(tracks)]
            dst = root / f"{i // 100:02d}" / f"{i:04d}-{src.name}"
            dst.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.link(src, dst)
            except OSError:
                dst.symlink_to(src)
            links.append((src, dst))
        cache_dir = os.path.join(tmp, "seeded")
        t0 = time.perf_counter()
        _seed(args.library, links, args.model, cache_dir)
        print(
            f"pre-seeded the cache for {len(links)} files in {time.perf_counter() - t0:.0f} s (not timed below)"
        )
        env = dict(os.environ, MUSIC_RECLASS_CACHE_DIR=cache_dir)
        wall, cpu, res = _run([*cli, "batch", str(root), "--model", args.model], env)
        print(
            f"warm batch of {len(links)} files (all cached): {wall:.2f} s wall, {cpu:.2f} CPU s  (target < 10 s)"
        )
    load1 = os.getloadavg()[0]
    shared = "SHARED machine: wall times are inflated" if max(load0, load1) > 1.5 else "quiet"
    print(f"load average before/after: {load0:.2f}/{load1:.2f} on {os.cpu_count()} cores ({shared})")


if __name__ == "__main__":
    main()
