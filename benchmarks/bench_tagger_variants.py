"""The musicnn taggers' remaining speed levers, side by side (issue 15): int8 graphs, excerpt plans, ORT options.

    python benchmarks/bench_tagger_variants.py [--work /tmp/tagger-variants] [--patches 64] [--skip-quant]

Every track of ../shared/data/library and every GTZAN clip of ../shared/data/gtzan/clips is decoded once at
16 kHz (whole; cached under --work), so each excerpt plan is cut from the same samples. Then, in one run:

  variants  the float ONNX graphs (export v1 = torch's export as is, v2 = what tools/export_onnx.py ships now)
            and int8 quantisations of v2 (tools/quantize_onnx.py, calibrated on log-mel patches of the shared
            clips): CPU-seconds per patch with 2 and 1 intra-op threads (process CPU time, user+system: a
            machine shared with other work disturbs wall time far more), the ratio to v1, max |tag score
            diff| against the float PyTorch model over library + GTZAN (today's plan), how many tracks
            differ by 0.01 or more, and how many tracks keep the float PyTorch ``broad`` top-1.
  plans     excerpt plans for long tracks and for 30 s clips: patches per track, and how many tracks keep
            today's plan's ``broad`` top-1 (float ONNX graph; it is itself faithful to PyTorch).
  options   ORT session options on the float graph: threads, ENABLE_ALL vs EXTENDED, denormals as zero,
            NHWC transform, patches per call; CPU-s per patch and peak RSS of a child process.

The load average is printed with each table: numbers taken on a busy machine are noisier.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
LIBRARY = DATA / "library"
GTZAN = DATA / "gtzan" / "clips"
MODELS = ROOT / "models"
TAGGERS = {"msd-musicnn": "msd_musicnn", "mtt-musicnn": "mtt_musicnn"}
SR = 16000
TOLERANCE = 0.01  # issue 15: mean tag scores within 0.01 of the float PyTorch model

sys.path.insert(0, str(ROOT))


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads)."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# ---------------------------------------------------------------------------------------------- data


def track_files() -> list[Path]:
    from music_reclass_gui.core.library import scan

    lib = [t.path for t in scan(LIBRARY, read_tags=False)]
    return [Path(p) for p in lib] + sorted(GTZAN.glob("*/*.wav"))


def decoded_waves(work: Path) -> dict[str, np.ndarray]:
    """Whole 16 kHz waveform of every track (cached in ``work``/waves.npz)."""
    from music_reclass_gui.core import audio

    cache = work / "waves.npz"
    if cache.is_file():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    waves = {str(p): audio.load_audio(p, SR) for p in track_files()}
    work.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **waves)
    return waves


Plan = Callable[[float], list[tuple[float, float | None]]]


def spread(n: int, length: float) -> Callable[[float], list[tuple[float, float | None]]]:
    """excerpts.plan_excerpts with another count/length (long tracks only)."""
    from music_reclass_gui.inference.excerpts import plan_excerpts

    return lambda d: plan_excerpts(d, n=n, length=length)


LONG_PLANS: dict[str, tuple[int, float]] = {
    "4x6s (today)": (4, 6.0),
    "2x6s": (2, 6.0),
    "3x3s": (3, 3.0),
    "4x3s": (4, 3.0),
    "6x3s": (6, 3.0),
    "3x6s": (3, 6.0),
    "8x3s": (8, 3.0),
}
# Which of a 30 s clip's ten 3 s patches to keep (indices), None = all (today).
CLIP_PLANS: dict[str, list[int] | None] = {
    "10 (today)": None,
    "5 even (0,2,..8)": [0, 2, 4, 6, 8],
    "5 odd (1,3,..9)": [1, 3, 5, 7, 9],
    "4 (1,3,5,7)": [1, 3, 5, 7],
    "6 (1..6)": [1, 2, 3, 4, 5, 6],
    "8 (1..8)": list(range(1, 9)),
}


def cut(wave: np.ndarray, plan: list[tuple[float, float | None]]) -> list[np.ndarray]:
    out = []
    for off, dur in plan:
        a = int(round(off * SR))
        b = wave.size if dur is None else a + int(round(dur * SR))
        if wave[a:b].size:
            out.append(wave[a:b])
    return out


def plan_patches(waves: dict[str, np.ndarray], n: int, length: float) -> dict[str, np.ndarray]:
    """Log-mel patches (P, 187, 96) of every track under a long-track plan (short tracks: whole)."""
    from music_reclass_gui.inference.excerpts import plan_excerpts

    ext = frontend_extractor()
    out = {}
    for path, w in waves.items():
        plan = plan_excerpts(w.size / SR, n=n, length=length)
        out[path] = np.asarray(ext.prepare([cut(w, plan)])[0])
    return out


_FRONT = None


def frontend_extractor():
    global _FRONT
    if _FRONT is None:
        import torch

        from music_reclass_gui.inference.extractors import MusicnnExtractor
        from music_reclass_gui.inference.registry import find_card

        card = find_card("msd-musicnn")
        _FRONT = MusicnnExtractor(
            "msd-musicnn", card.path.parent, card.weights, torch.device("cpu"), backend="torch"
        )
    return _FRONT


# ---------------------------------------------------------------------------------------------- runners


def ort_session(graph: Path, threads: int = 2, level: str = "all", daz: bool = False, nhwc: bool = True):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = {
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
    }[level]
    opts.enable_mem_pattern = False
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if daz:
        opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    if not nhwc:
        opts.add_session_config_entry("optimization.disable_specified_optimizers", "NhwcTransformer")
    opts.log_severity_level = 3
    return ort.InferenceSession(str(graph), opts, providers=["CPUExecutionProvider"])


def run_session(sess, patches: np.ndarray, batch: int = 8) -> tuple[np.ndarray, np.ndarray]:
    name = sess.get_inputs()[0].name
    tags, embs = [], []
    for s in range(0, len(patches), batch):
        t, e = sess.run(None, {name: np.ascontiguousarray(patches[s : s + batch], dtype=np.float32)})
        tags.append(t)
        embs.append(e)
    return np.concatenate(tags), np.concatenate(embs)


def per_track(
    run: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], patches: dict[str, np.ndarray]
) -> dict[str, dict[str, np.ndarray]]:
    """Mean tags/embedding per track, patches of all tracks batched together as the app does."""
    keys = list(patches)
    counts = [len(patches[k]) for k in keys]
    tags, embs = run(np.concatenate([patches[k] for k in keys]))
    out, s = {}, 0
    for k, n in zip(keys, counts, strict=True):
        out[k] = {"tags": tags[s : s + n].mean(0), "embedding": embs[s : s + n].mean(0)}
        s += n
    return out


def torch_reference(
    work: Path, patches: dict[str, np.ndarray]
) -> dict[str, dict[str, dict[str, np.ndarray]]]:
    """Float PyTorch features per tagger per track (today's plan), cached in ``work``."""
    import pickle

    cache = work / "torch_reference.pkl"
    if cache.is_file():
        return pickle.loads(cache.read_bytes())
    import torch

    from music_reclass_gui.inference.backends import TorchRunner
    from music_reclass_gui.inference.networks.musicnn import load_musicnn

    torch.set_num_threads(2)
    ref = {}
    for name in TAGGERS:
        runner = TorchRunner(load_musicnn(name, MODELS, torch.device("cpu")), torch.device("cpu"))
        ref[name] = per_track(lambda x, r=runner: _batched(r.run, x, 16), patches)
    cache.write_bytes(pickle.dumps(ref))
    return ref


def _batched(fn, x: np.ndarray, batch: int):
    tags, embs = [], []
    for s in range(0, len(x), batch):
        t, e = fn(x[s : s + batch])
        tags.append(t)
        embs.append(e)
    return np.concatenate(tags), np.concatenate(embs)


_MODEL = None


def broad_top1(feats: dict[str, dict[str, dict[str, np.ndarray]]]) -> dict[str, str]:
    """``broad`` top-1 genre per track from per-tagger features."""
    global _MODEL
    if _MODEL is None:
        from music_reclass_gui.inference.registry import load_model

        _MODEL = load_model("broad", "cpu")
    keys = {e.name: e.key for e in _MODEL.extractors}
    out = {}
    for track in next(iter(feats.values())):
        p = _MODEL.predict({keys[n]: feats[n][track] for n in keys}).probs
        out[track] = _MODEL.labels[int(np.argmax(p))]
    return out


def agreement(a: dict[str, str], b: dict[str, str]) -> tuple[str, str, list[str]]:
    """'same/total' for the library and for GTZAN, plus the tracks that differ."""
    lib = [k for k in a if "/library/" in k]
    gtz = [k for k in a if "/gtzan/" in k]
    diff = [f"{Path(k).name}: {b[k]} -> {a[k]}" for k in a if a[k] != b[k]]
    return (
        f"{sum(a[k] == b[k] for k in lib)}/{len(lib)}",
        f"{sum(a[k] == b[k] for k in gtz)}/{len(gtz)}",
        diff,
    )


# ---------------------------------------------------------------------------------------------- timing


def time_patches(sess, patches: np.ndarray, batch: int = 8, repeat: int = 1) -> float:
    """CPU-seconds per patch of ``sess`` over ``patches`` (after one warm-up call)."""
    run_session(sess, patches[:batch], batch)
    c0 = cpu_seconds()
    for _ in range(repeat):
        run_session(sess, patches, batch)
    return (cpu_seconds() - c0) / (len(patches) * repeat)


def child_timing(graph: Path, sample: Path, **kw) -> dict:
    """Time a session in a fresh process, so its peak RSS is its own."""
    cmd = [
        sys.executable,
        __file__,
        "--child",
        json.dumps({"graph": str(graph), "sample": str(sample), **kw}),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def child_main(spec: dict) -> None:
    sample = np.load(spec.pop("sample"))
    batch = spec.pop("batch", 8)
    repeat = spec.pop("repeat", 1)
    sess = ort_session(Path(spec.pop("graph")), **spec)
    per = time_patches(sess, sample, batch, repeat)
    # VmHWM, not ru_maxrss: the latter keeps the forking parent's high-water mark across exec.
    status = Path("/proc/self/status").read_text().splitlines()
    rss = next((int(x.split()[1]) / 1024.0 for x in status if x.startswith("VmHWM:")), float("nan"))
    print(json.dumps({"cpu_s_per_patch": per, "rss_mb": rss}))


# ---------------------------------------------------------------------------------------------- main


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/tagger-variants"))
    ap.add_argument("--patches", type=int, default=64, help="patches per timing run")
    ap.add_argument("--skip-quant", action="store_true")
    ap.add_argument(
        "--variants", nargs="*", help="only these int8 variants (tools/quantize_onnx.py VARIANTS)"
    )
    ap.add_argument("--skip-plans", action="store_true")
    ap.add_argument("--skip-options", action="store_true")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child_main(json.loads(args.child))
        return
    os.environ.setdefault("MUSIC_RECLASS_CACHE_DIR", str(args.work / "cache"))
    work = args.work
    work.mkdir(parents=True, exist_ok=True)
    print(f"load average at start: {loadavg()} ({os.cpu_count()} CPUs)", flush=True)
    waves = decoded_waves(work)
    today = plan_patches(waves, 4, 6.0)
    ref = torch_reference(work, today)
    ref_top1 = broad_top1(ref)
    rng = np.random.default_rng(0)
    pool = np.concatenate(list(today.values()))
    sample = pool[rng.choice(len(pool), size=min(args.patches, len(pool)), replace=False)]
    np.save(work / "sample.npy", sample)
    print(f"tracks: {len(today)}; patches (today's plan): {len(pool)}; timing sample: {len(sample)} patches")

    if not args.skip_quant:
        variants_table(work, today, ref, ref_top1, work / "sample.npy", args.variants)
    if not args.skip_plans:
        plans_table(waves, today)
    if not args.skip_options:
        options_table(work / "sample.npy")


def float_v1_graphs(work: Path) -> dict[str, Path]:
    """The float graphs as export version 1 wrote them (torch's export as is: the baseline of issue 15)."""
    import torch

    from music_reclass_gui.inference.backends import export_onnx
    from music_reclass_gui.inference.extractors import file_digest
    from music_reclass_gui.inference.networks.musicnn import load_musicnn

    out = {}
    for name, stem in TAGGERS.items():
        out[name] = work / f"{stem}.v1.onnx"
        if not out[name].is_file():
            net = load_musicnn(name, MODELS, torch.device("cpu"))
            export_onnx(net, out[name], file_digest(MODELS / f"{stem}.pt"), optimise=False)
    return out


def variants_table(work: Path, today, ref, ref_top1, sample: Path, only: list[str] | None = None) -> None:
    sys.path.insert(0, str(ROOT / "tools"))
    from quantize_onnx import VARIANTS, quantize

    calib = calibration_patches(today)
    v1 = float_v1_graphs(work)
    graphs: dict[str, dict[str, Path]] = {
        "float, export v1": v1,
        "float, export v2": {n: MODELS / f"{s}.onnx" for n, s in TAGGERS.items()},
    }
    for variant, kw in VARIANTS.items():
        if only is not None and variant not in only:
            continue
        graphs[f"int8 {variant}"] = {}
        for name, stem in TAGGERS.items():
            graph = work / f"{stem}.{variant}.int8.onnx"
            if not graph.is_file():
                quantize(MODELS / f"{stem}.onnx", graph, calib, variant=variant, **kw)
            graphs[f"int8 {variant}"][name] = graph
    shipped = {n: MODELS / f"{s}.int8.onnx" for n, s in TAGGERS.items()}
    if all(p.is_file() for p in shipped.values()):
        graphs["int8 shipped (models/)"] = shipped
    rows = []
    for label, per_tagger in graphs.items():
        feats, timing = {}, {"t2": [], "t1": []}
        for name, graph in per_tagger.items():
            sess = ort_session(graph, threads=2)
            feats[name] = per_track(lambda x, s=sess: run_session(s, x), today)
            timing["t2"].append(child_timing(graph, sample, threads=2, repeat=2)["cpu_s_per_patch"])
            timing["t1"].append(child_timing(graph, sample, threads=1, repeat=2)["cpu_s_per_patch"])
        per = {k: max(np.abs(feats[n][k]["tags"] - ref[n][k]["tags"]).max() for n in TAGGERS) for k in today}
        worst = max(per, key=per.get)
        over = sum(d >= TOLERANCE for d in per.values())
        lib, gtz, changed = agreement(broad_top1(feats), ref_top1)
        if over:
            changed = [f"max |dtag| {per[worst]:.4f} on {Path(worst).name}", *changed]
        rows.append(
            (label, np.mean(timing["t2"]), np.mean(timing["t1"]), per[worst], over, lib, gtz, changed)
        )
        print(f"  done {label} (load {loadavg()})", flush=True)
    f2, f1 = rows[0][1], rows[0][2]
    print(
        f"\nvariants (load average {loadavg()}); CPU-s per patch = mean of the two taggers; ratio vs export v1"
    )
    print(
        f"{'graph':<26}{'2 thr':>9}{'ratio':>7}{'1 thr':>9}{'ratio':>7}{'max|dtag|':>11}{'>=0.01':>8}"
        f"{'lib top1':>10}{'gtzan':>8}"
    )
    for v, t2, t1, d, over, lib, gtz, changed in rows:
        print(
            f"{v:<26}{t2:>9.4f}{t2 / f2:>7.2f}{t1:>9.4f}{t1 / f1:>7.2f}{d:>11.4f}{over:>8}{lib:>10}{gtz:>8}"
        )
        for c in changed:
            print(f"{'':<28}{c}")


def calibration_patches(today: dict[str, np.ndarray]) -> np.ndarray:
    """256 random patches (seed 0) of the library + GTZAN under today's plan, as tools/quantize_onnx.py takes."""
    pool = np.concatenate(list(today.values()))
    rng = np.random.default_rng(0)
    return pool[np.sort(rng.choice(len(pool), size=min(256, len(pool)), replace=False))]


def plans_table(waves, today) -> None:
    import onnxruntime  # noqa: F401

    sessions = {n: ort_session(MODELS / f"{s}.onnx", threads=2) for n, s in TAGGERS.items()}

    def feats_of(patches):
        return {n: per_track(lambda x, s=s: run_session(s, x), patches) for n, s in sessions.items()}

    base_top1 = broad_top1(feats_of(today))
    long_tracks = [k for k, w in waves.items() if w.size / SR > 31.0]
    short_tracks = [k for k in waves if k not in long_tracks]
    print(f"\nexcerpt plans, long tracks ({len(long_tracks)} library tracks > 31 s); load {loadavg()}")
    print(f"{'plan':<16}{'patches/track':>14}{'same top-1':>12}")
    for label, (n, length) in LONG_PLANS.items():
        pats = plan_patches({k: waves[k] for k in long_tracks}, n, length)
        top1 = broad_top1(feats_of(pats))
        same = sum(top1[k] == base_top1[k] for k in long_tracks)
        per = np.mean([len(p) for p in pats.values()])
        print(f"{label:<16}{per:>14.1f}{f'{same}/{len(long_tracks)}':>12}")
        for k in long_tracks:
            if top1[k] != base_top1[k]:
                print(f"{'':<18}{Path(k).name}: {base_top1[k]} -> {top1[k]}")
    n_lib = sum("/library/" in k for k in short_tracks)
    print(f"\nclip plans, tracks <= 31 s ({n_lib} library + {len(short_tracks) - n_lib} GTZAN)")
    print(f"{'plan':<20}{'patches/track':>14}{'lib same':>10}{'gtzan same':>12}")
    for label, keep in CLIP_PLANS.items():
        pats = {
            k: today[k] if keep is None else today[k][[i for i in keep if i < len(today[k])]]
            for k in short_tracks
        }
        top1 = broad_top1(feats_of(pats))
        lib = [k for k in short_tracks if "/library/" in k]
        gtz = [k for k in short_tracks if "/gtzan/" in k]
        per = np.mean([len(p) for p in pats.values()])
        print(
            f"{label:<20}{per:>14.1f}{f'{sum(top1[k] == base_top1[k] for k in lib)}/{len(lib)}':>10}"
            f"{f'{sum(top1[k] == base_top1[k] for k in gtz)}/{len(gtz)}':>12}"
        )
        for k in short_tracks:
            if top1[k] != base_top1[k]:
                print(f"{'':<22}{Path(k).name}: {base_top1[k]} -> {top1[k]}")


def options_table(sample: Path) -> None:
    configs = [
        ("2 thr, ALL, batch 8 (today)", {"threads": 2}),
        ("1 thr", {"threads": 1}),
        ("2 thr, EXTENDED", {"threads": 2, "level": "extended"}),
        ("2 thr, denormal as zero", {"threads": 2, "daz": True}),
        ("2 thr, NHWC transform off", {"threads": 2, "nhwc": False}),
        ("2 thr, batch 4", {"threads": 2, "batch": 4}),
        ("2 thr, batch 16", {"threads": 2, "batch": 16}),
        ("2 thr, batch 32", {"threads": 2, "batch": 32}),
    ]
    graphs = {"float v2": MODELS / "msd_musicnn.onnx", "int8": MODELS / "msd_musicnn.int8.onnx"}
    graphs = {k: g for k, g in graphs.items() if g.is_file()}
    print(f"\nORT session options, msd-musicnn graphs (load average {loadavg()}); ratio vs the first row")
    print(f"{'options':<30}" + "".join(f"{k + ' CPU-s':>15}{'ratio':>7}{'RSS MB':>8}" for k in graphs))
    rows = [
        (label, [child_timing(g, sample, repeat=2, **kw) for g in graphs.values()]) for label, kw in configs
    ]
    base = [r["cpu_s_per_patch"] for r in rows[0][1]]
    for label, rs in rows:
        cells = "".join(
            f"{r['cpu_s_per_patch']:>15.4f}{r['cpu_s_per_patch'] / b:>7.2f}{r['rss_mb']:>8.0f}"
            for r, b in zip(rs, base, strict=True)
        )
        print(f"{label:<30}{cells}")


if __name__ == "__main__":
    main()
