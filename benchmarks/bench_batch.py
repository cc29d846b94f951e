"""Throughput and peak memory of `music-reclass batch` over a real library, next to a naive baseline.

    python benchmarks/bench_batch.py [--library ../shared/data/library] [--model msd-musicnn] [--device cpu]
                                     [--sweep]

Phases, each in its own process so the peak RSS (ru_maxrss) belongs to that phase alone:
  naive   whole track decoded, every 3 s patch run (musicnn's own recipe); its top-1 is the reference
  cold    `batch` with an empty feature cache (excerpt plan, cross-track batching, decode threads)
  warm    `batch` again over the unchanged folder (cache hits: no decoding, no inference)
Prints tracks/min, peak RSS (and peak CUDA memory on a GPU), and how often the top-1 genre of the excerpt
plan agrees with the full-track analysis (all tracks, and tracks longer than 30 s, where the plan differs).
--sweep also scores other excerpt plans against the full-track analysis, from the same decoded audio.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[2] / "shared" / "data" / "library"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _cpu_seconds() -> float:
    """User + system CPU time of this process: unlike wall time, barely affected by other load on the machine."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _cuda_peak_mb() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def _files(library: Path) -> list[Path]:
    from music_reclass_gui.core.library import scan

    return [t.path for t in scan(library, read_tags=False)]


def phase_naive(args: argparse.Namespace) -> dict:
    import numpy as np
    import torch

    from music_reclass_gui.core.audio import audio_duration, load_audio
    from music_reclass_gui.inference.excerpts import plan_excerpts
    from music_reclass_gui.inference.models import tagger_genre_probs
    from music_reclass_gui.inference.registry import load_model

    model = load_model(args.model, torch.device(args.device))
    net = model.extractors[0].net
    sweep_plans = [(3, 3.0), (4, 3.0), (5, 3.0), (8, 3.0), (3, 6.0), (4, 6.0), (5, 6.0)] if args.sweep else []
    out, sweep = {}, {f"{n}x{int(s)}s": {} for n, s in sweep_plans}
    files = _files(args.library)
    t0, c0 = time.perf_counter(), _cpu_seconds()
    for path in files:
        try:
            wave = load_audio(path, 16000)
        except Exception as exc:
            out[str(path)] = {"error": str(exc)}
            continue
        tags, _ = net.tag_waveform(wave)
        probs = tagger_genre_probs(tags.mean(0).cpu().numpy(), model.groups, model.temperature)
        out[str(path)] = {"genre": model.labels[int(np.argmax(probs))], "seconds": wave.size / 16000}
        if sweep_plans and wave.size / 16000 > 31:
            dur = audio_duration(path)
            for n, s in sweep_plans:
                parts = [wave[int(o * 16000) : int((o + d) * 16000)] for o, d in plan_excerpts(dur, n, s)]
                t = torch.cat([net.tag_waveform(p)[0] for p in parts]).mean(0).cpu().numpy()
                sweep[f"{n}x{int(s)}s"][str(path)] = model.labels[
                    int(np.argmax(tagger_genre_probs(t, model.groups, model.temperature)))
                ]
    elapsed = time.perf_counter() - t0
    return {"elapsed": elapsed, "cpu": _cpu_seconds() - c0, "tracks": len(files), "top1": out, "sweep": sweep}


def phase_batch(args: argparse.Namespace) -> dict:
    from music_reclass_gui.inference.engine import Classifier

    files = _files(args.library)
    t0 = time.perf_counter()
    clf = Classifier(args.model, device=args.device)
    load_s = time.perf_counter() - t0
    top1, failed, cached = {}, 0, 0
    t1, c1 = time.perf_counter(), _cpu_seconds()
    for r in clf.classify_many(files):
        if hasattr(r, "genre"):
            top1[str(r.audio_path)] = {"genre": r.genre}
            cached += r.cached
        else:
            failed += 1
    elapsed = time.perf_counter() - t1
    return {
        "elapsed": elapsed,
        "cpu": _cpu_seconds() - c1,
        "model_load": load_s,
        "tracks": len(files),
        "failed": failed,
        "cached": cached,
        "top1": top1,
    }


def run_phase(name: str, args: argparse.Namespace, cache_dir: str) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--phase",
        name,
        "--library",
        str(args.library),
        "--model",
        args.model,
        "--device",
        args.device,
    ]
    if args.sweep:
        cmd.append("--sweep")
    env = dict(os.environ, MUSIC_RECLASS_CACHE_DIR=cache_dir)
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--library", type=Path, default=LIBRARY)
    ap.add_argument("--model", default="msd-musicnn")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--sweep", action="store_true")
    ap.add_argument("--skip-naive", action="store_true")
    ap.add_argument("--phase", choices=["naive", "cold", "warm"])
    args = ap.parse_args()
    if args.phase:
        result = phase_naive(args) if args.phase == "naive" else phase_batch(args)
        result.update(peak_rss_mb=_peak_rss_mb(), cuda_peak_mb=_cuda_peak_mb())
        print(json.dumps(result))
        return

    import torch

    print(
        f"library: {args.library}  model: {args.model}  device: {args.device}  torch threads: {torch.get_num_threads()}  cpus: {os.cpu_count()}"
    )
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as cache_dir:
        phases = {}
        for name in ("cold", "warm") + (() if args.skip_naive else ("naive",)):
            phases[name] = run_phase(name, args, cache_dir)
    print(
        f"{'phase':8s} {'tracks':>6s} {'seconds':>8s} {'tracks/min':>10s} {'CPU s':>7s} {'peak RSS MB':>11s} {'CUDA peak MB':>12s}"
    )
    for name, r in phases.items():
        rate = r["tracks"] / r["elapsed"] * 60
        cuda = f"{r['cuda_peak_mb']:.0f}" if r.get("cuda_peak_mb") is not None else "-"
        print(
            f"{name:8s} {r['tracks']:6d} {r['elapsed']:8.1f} {rate:10.1f} {r['cpu']:7.1f} {r['peak_rss_mb']:11.0f} {cuda:>12s}"
        )
    print(
        f"load average before/after: {load_before:.2f}/{os.getloadavg()[0]:.2f} (other processes share the {os.cpu_count()} cores; CPU s is robust to that)"
    )
    cold, warm = phases["cold"], phases["warm"]
    print(
        f"model load (not in the rates): {cold['model_load']:.1f} s; warm run: {warm['cached']}/{warm['tracks']} from cache; speed-up warm/cold: {cold['elapsed'] / warm['elapsed']:.0f}x"
    )
    if "naive" in phases:
        ref = {p: v["genre"] for p, v in phases["naive"]["top1"].items() if "genre" in v}
        long = {p for p, v in phases["naive"]["top1"].items() if v.get("seconds", 0) > 31}
        got = {p: v["genre"] for p, v in cold["top1"].items()}
        both = [p for p in ref if p in got]
        agree = sum(ref[p] == got[p] for p in both)
        agree_long = sum(ref[p] == got[p] for p in both if p in long)
        n_long = sum(p in long for p in both)
        print(
            f"top-1 agreement, excerpt plan vs full track: {agree}/{len(both)} all tracks, {agree_long}/{n_long} tracks > 30 s"
        )
        print(f"speed-up cold/naive: {phases['naive']['elapsed'] / cold['elapsed']:.1f}x")
        for plan, picks in phases["naive"].get("sweep", {}).items():
            n_ok = sum(ref[p] == g for p, g in picks.items())
            print(
                f"  sweep plan {plan:6s}: top-1 agrees with full track on {n_ok}/{len(picks)} tracks > 30 s"
            )
        for p in sorted(both):
            if ref[p] != got[p]:
                print(f"  differs: {Path(p).name}: full={ref[p]} plan={got[p]}")


if __name__ == "__main__":
    main()
