"""Cold `batch` throughput of the default model on a real library: the app's backend next to today's PyTorch path.

    python benchmarks/bench_batch.py [--library ../shared/data/library] [--model NAME] [--device cpu]
                                     [--rounds 2] [--gtzan ../shared/data/gtzan/clips] [--split] [--full-track]

Prints, in one run (each phase in its own process, so its peak RSS (ru_maxrss) is its own):
  cold      `Classifier.classify_many` (what `batch` runs) over the library with an empty feature cache, for
            the backend the app picks (``auto``) and for ``--backend torch`` (today's PyTorch path),
            alternating new/torch/torch/new (``--rounds``) so that load from other processes hits both alike;
            tracks/min, CPU-seconds per track (user+system of the process: far less sensitive than wall time
            to a machine shared with other work), peak RSS, and the new/torch ratios.
  warm      the same batch again over the unchanged library (every track from the cache).
  faithful  the largest tag-score difference between the two backends per tagger, and how many tracks get
            the same top-1 genre, on the library (from the cold runs' features) and on every GTZAN clip;
            the front end's CPU time per track (computed once for both taggers instead of once per tagger).
  --split   decode vs front end + network wall time on the device (what gpu_check.sh reports).
  --full-track  also scores the excerpt plan against whole-track analysis (slow: every 3 s patch of a track).
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

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
LIBRARY = DATA / "library"
GTZAN = DATA / "gtzan" / "clips"


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: KiB


def _cpu_seconds() -> float:
    """User + system CPU time of this process (all its threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _cuda_peak_mb() -> float | None:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        import torch

        torch.cuda.synchronize()


def _files(folder: Path) -> list[Path]:
    from music_reclass_gui.core.library import scan

    return [t.path for t in scan(folder, read_tags=False)]


def phase_cold(args: argparse.Namespace) -> dict:
    """One `batch` over the library (cold or warm, depending on the cache dir it is given)."""
    from music_reclass_gui.inference.engine import Classifier

    files = _files(args.library)
    t0 = time.perf_counter()
    clf = Classifier(args.model, device=args.device, backend=args.backend)
    backends = clf.backends()
    load_s = time.perf_counter() - t0
    top1, failed, cached = {}, 0, 0
    t1, c1 = time.perf_counter(), _cpu_seconds()
    for r in clf.classify_many(files):
        if hasattr(r, "genre"):
            top1[str(r.audio_path)] = r.genre
            cached += r.cached
        else:
            failed += 1
    elapsed, cpu = time.perf_counter() - t1, _cpu_seconds() - c1
    feats = {}
    if clf.cache is not None:
        from music_reclass_gui.inference.cache import file_key

        for p in top1:
            feats[p] = {  # by tagger name: the int8 graph's cache key differs from the float one's
                getattr(e, "name", e.key): clf.cache.get(file_key(p), e.key)["tags"].tolist()
                for e in clf.model.extractors
                if clf.cache.get(file_key(p), e.key) is not None
            }
    return {
        "elapsed": elapsed,
        "cpu": cpu,
        "model_load": load_s,
        "backends": backends,
        "tracks": len(files),
        "failed": failed,
        "cached": cached,
        "top1": top1,
        "tags": feats,
    }


def phase_faithful(args: argparse.Namespace) -> dict:
    """Every GTZAN clip through both backends (no cache): tag diffs, top-1 agreement, front-end cost."""
    import numpy as np
    import torch

    from music_reclass_gui.inference.excerpts import decode_excerpts
    from music_reclass_gui.inference.extractors import MusicnnExtractor
    from music_reclass_gui.inference.registry import find_card, load_model

    device = torch.device(args.device)
    model = load_model(args.model, device)
    taggers = [e for e in model.extractors if isinstance(e, MusicnnExtractor)]
    files = sorted(args.gtzan.glob("*/*.wav")) if args.gtzan and args.gtzan.is_dir() else []
    waves = [decode_excerpts(p, 16000) for p in files]
    feats: dict[str, dict[str, list]] = {"new": {}, "torch": {}}
    fe_cpu = 0.0
    half_top1 = None
    for ext in taggers:
        card = find_card(ext.name)
        for which, backend in (("new", args.backend), ("torch", "torch")):
            x = MusicnnExtractor(ext.name, card.path.parent, card.weights, device, backend=backend)
            c0 = _cpu_seconds()
            prepared = x.prepare(waves) if waves else []
            fe_cpu += _cpu_seconds() - c0 if which == "new" else 0.0
            feats[which][ext.key] = x.extract(waves, prepared=prepared) if waves else []
    out = {"clips": len(files), "frontend_cpu_per_track": fe_cpu / max(1, len(files) * len(taggers))}
    out["max_tag_diff"] = {
        k: float(
            max(
                (np.abs(a["tags"] - b["tags"]).max() for a, b in zip(v, feats["torch"][k], strict=True)),
                default=0.0,
            )
        )
        for k, v in feats["new"].items()
    }
    same = 0
    for i in range(len(files)):
        p_new = model.predict({k: feats["new"][k][i] for k in feats["new"]}).probs
        p_ref = model.predict({k: feats["torch"][k][i] for k in feats["torch"]}).probs
        same += int(np.argmax(p_new) == np.argmax(p_ref))
    out["same_top1"] = same
    if device.type == "cuda" and waves:  # would half precision keep the top-1? (not used by the app yet)
        half = 0
        for i in range(len(files)):
            f = {}
            for ext in taggers:
                net = ext.net.half()
                with torch.inference_mode():
                    patches = ext.prepare([waves[i]])[0].half()
                    t, e = net(patches)
                f[ext.key] = {
                    "tags": t.float().mean(0).cpu().numpy(),
                    "embedding": e.float().mean(0).cpu().numpy(),
                }
                net.float()
            p_ref = model.predict({k: feats["torch"][k][i] for k in feats["torch"]}).probs
            half += int(np.argmax(model.predict(f).probs) == np.argmax(p_ref))
        half_top1 = half
    out["half_same_top1"] = half_top1
    return out


def phase_split(args: argparse.Namespace) -> dict:
    """Decode time (thread pool, as the engine) vs front end + network time on the device."""
    from concurrent.futures import ThreadPoolExecutor

    import torch

    from music_reclass_gui.core.audio import audio_duration
    from music_reclass_gui.inference.engine import default_jobs
    from music_reclass_gui.inference.excerpts import decode_excerpts, plan_excerpts
    from music_reclass_gui.inference.registry import load_model

    files = _files(args.library)
    model = load_model(args.model, torch.device(args.device), backend=args.backend)
    jobs = default_jobs()
    t0 = time.perf_counter()
    with ThreadPoolExecutor(jobs) as pool:
        waves = list(pool.map(lambda p: decode_excerpts(p, 16000, plan_excerpts(audio_duration(p))), files))
    decode_s = time.perf_counter() - t0
    model.extractors[0].extract(waves[:1])  # warm-up (kernels, allocator)
    _sync(args.device)
    t0 = time.perf_counter()
    prepared = model.extractors[0].prepare(waves)
    for e in model.extractors:
        e.extract(waves, prepared=prepared)
    _sync(args.device)
    net_s = time.perf_counter() - t0
    return {"tracks": len(files), "decode_s": decode_s, "decode_jobs": jobs, "network_s": net_s}


def phase_full_track(args: argparse.Namespace) -> dict:
    """Top-1 from every 3 s patch of the whole track (musicnn's own recipe) vs the excerpt plan."""
    import numpy as np

    from music_reclass_gui.core.audio import load_audio
    from music_reclass_gui.inference.registry import load_model

    model = load_model(args.model, args.device)
    out = {}
    for path in _files(args.library):
        wave = load_audio(path, 16000)
        f = {e.key: e.extract([[wave]])[0] for e in model.extractors}
        out[str(path)] = {
            "genre": model.labels[int(np.argmax(model.predict(f).probs))],
            "seconds": wave.size / 16000,
        }
    return {"top1": out}


PHASES = {
    "cold": phase_cold,
    "faithful": phase_faithful,
    "split": phase_split,
    "full-track": phase_full_track,
}


def run_phase(name: str, args: argparse.Namespace, cache_dir: str, backend: str) -> dict:
    cmd = [sys.executable, __file__, "--phase", name, "--library", str(args.library), "--device", args.device]
    cmd += ["--model", args.model, "--backend", backend, "--gtzan", str(args.gtzan)]
    env = dict(os.environ, MUSIC_RECLASS_CACHE_DIR=cache_dir)
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise SystemExit(f"phase {name} ({backend}) failed:\n{res.stderr}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def _row(label: str, r: dict) -> str:
    rate = r["tracks"] / r["elapsed"] * 60
    cuda = f"{r['cuda_peak_mb']:.0f}" if r.get("cuda_peak_mb") is not None else "-"
    backends = ",".join(sorted(set(r["backends"].values()))) or "-"
    return (
        f"{label:14s} {backends:8s} {r['tracks']:6d} {r['elapsed']:8.1f} {rate:10.1f} {r['cpu']:7.1f}"
        f" {r['cpu'] / r['tracks']:11.3f} {r['peak_rss_mb']:11.0f} {cuda:>12s}"
    )


def main() -> None:
    from music_reclass_gui.inference.engine import DEFAULT_MODEL

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--library", type=Path, default=LIBRARY)
    ap.add_argument("--gtzan", type=Path, default=GTZAN, help="GTZAN clips for the faithfulness check")
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--backend", default="auto", help="the new path's backend (auto = what the app picks)")
    ap.add_argument("--rounds", type=int, default=2, help="new/torch pairs, alternating (ABBA...)")
    ap.add_argument("--split", action="store_true")
    ap.add_argument("--full-track", action="store_true")
    ap.add_argument("--phase", choices=sorted(PHASES))
    args = ap.parse_args()
    if args.phase:
        result = PHASES[args.phase](args)
        result.update(peak_rss_mb=_peak_rss_mb(), cuda_peak_mb=_cuda_peak_mb())
        print(json.dumps(result))
        return

    load0 = os.getloadavg()[0]
    t_start = time.perf_counter()
    print(f"library: {args.library}  model: {args.model}  device: {args.device}  cpus: {os.cpu_count()}")
    order = []
    for i in range(max(1, args.rounds)):
        order += (
            [("new", args.backend), ("torch", "torch")]
            if i % 2 == 0
            else [("torch", "torch"), ("new", args.backend)]
        )
    runs: dict[str, list[dict]] = {"new": [], "torch": []}
    warm = None
    with tempfile.TemporaryDirectory() as tmp:
        for n, (which, backend) in enumerate(order):
            cache_dir = os.path.join(tmp, f"cold{n}")
            runs[which].append(run_phase("cold", args, cache_dir, backend))
            if which == "new" and warm is None:
                warm = run_phase("cold", args, cache_dir, backend)
        faith = (
            run_phase("faithful", args, os.path.join(tmp, "faith"), args.backend)
            if args.gtzan.is_dir()
            else None
        )
        split = run_phase("split", args, os.path.join(tmp, "split"), args.backend) if args.split else None
        full = (
            run_phase("full-track", args, os.path.join(tmp, "full"), args.backend)
            if args.full_track
            else None
        )

    head = f"{'phase':14s} {'backend':8s} {'tracks':>6s} {'wall s':>8s} {'tracks/min':>10s} {'CPU s':>7s} {'CPU s/track':>11s} {'peak RSS MB':>11s} {'CUDA peak MB':>12s}"
    print(head)
    for n, (which, _) in enumerate(order):
        print(_row(f"cold {which} #{n + 1}", runs[which][sum(w == which for w, _ in order[:n])]))
    print(_row("warm new", warm))
    new_wall = sum(r["elapsed"] for r in runs["new"])
    old_wall = sum(r["elapsed"] for r in runs["torch"])
    new_cpu = sum(r["cpu"] for r in runs["new"])
    old_cpu = sum(r["cpu"] for r in runs["torch"])
    tracks = sum(r["tracks"] for r in runs["new"])
    print(
        f"NEW vs TODAY'S PYTORCH PATH (cold, {len(runs['new'])} run(s) each, interleaved): "
        f"{tracks / new_wall * 60:.1f} vs {tracks / old_wall * 60:.1f} tracks/min = {old_wall / new_wall:.2f}x wall; "
        f"{new_cpu / tracks:.3f} vs {old_cpu / tracks:.3f} CPU s/track = {old_cpu / new_cpu:.2f}x CPU"
    )
    peak = max(r["peak_rss_mb"] for r in runs["new"])
    print(
        f"peak RSS of the new path: {peak:.0f} MB (target < 1024); model load: {runs['new'][0]['model_load']:.1f} s"
    )

    import numpy as np

    ref, got = runs["torch"][0], runs["new"][0]
    diffs: dict[str, float] = {}
    for p, per in got["tags"].items():
        for k, tags in per.items():
            if k in ref["tags"].get(p, {}):
                d = float(np.abs(np.asarray(tags) - np.asarray(ref["tags"][p][k])).max())
                diffs[k] = max(diffs.get(k, 0.0), d)
    same = sum(ref["top1"].get(p) == g for p, g in got["top1"].items())
    fmt = ", ".join(f"{k.split(':')[0]} {v:.1e}" for k, v in sorted(diffs.items()))
    print(
        f"faithfulness, library ({len(got['top1'])} tracks): max |tag score diff| {fmt}; same top-1 {same}/{len(ref['top1'])}"
    )
    if faith is not None:
        fmt = ", ".join(f"{k.split(':')[0]} {v:.1e}" for k, v in sorted(faith["max_tag_diff"].items()))
        print(
            f"faithfulness, GTZAN ({faith['clips']} clips): max |tag score diff| {fmt}; same top-1 {faith['same_top1']}/{faith['clips']}"
        )
        if faith.get("half_same_top1") is not None:
            print(
                f"half precision on the GPU (not enabled): same top-1 as float32 on {faith['half_same_top1']}/{faith['clips']} GTZAN clips"
            )
        print(
            f"shared front end: {faith['frontend_cpu_per_track']:.4f} CPU s per track and tagger, computed once for all "
            f"{len(diffs)} taggers (saves {(len(diffs) - 1) * faith['frontend_cpu_per_track']:.4f} CPU s/track)"
        )
    print(
        f"warm: {warm['cached']}/{warm['tracks']} from cache, {warm['tracks'] / warm['elapsed'] * 60:.0f} tracks/min"
    )
    if split:
        print(
            f"decode vs network: decoding {split['tracks']} tracks took {split['decode_s']:.1f} s on {split['decode_jobs']} threads;"
            f" front end + network on {args.device} {split['network_s']:.1f} s"
        )
    if full:
        ft = full["top1"]
        agree = sum(ft[p]["genre"] == g for p, g in got["top1"].items() if p in ft)
        print(f"excerpt plan vs whole track: same top-1 on {agree}/{len(ft)} tracks")
    load1 = os.getloadavg()[0]
    print(
        f"load average before/after: {load0:.2f}/{load1:.2f} on {os.cpu_count()} cores "
        f"({'SHARED machine: wall-clock rates are depressed, compare the ratios and CPU s/track' if max(load0, load1) > 1.5 else 'quiet'})"
        f"; benchmark took {time.perf_counter() - t_start:.0f} s"
    )


if __name__ == "__main__":
    main()
