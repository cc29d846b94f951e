"""Requests/s and latency of the server's POST /api/classify (cached and uncached, 1 and 16 concurrent
clients), next to the same classification called in-process (the baseline: what HTTP costs on top), and the
live stream's delay from audio to update (WS /api/stream fed in real time).

    python benchmarks/bench_server.py [--clips DIR] [--model msd-musicnn] [--device cpu] [--quick]

Real servers (uvicorn on free loopback ports, one with the feature cache, one without) in this process,
real httpx clients in threads, a real websockets client. Files: real GTZAN clips (../shared/data) when
present, else generated 30 s tones. Wall-clock figures depend on the machine's load: say so when quoting.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

CLIPS = Path(__file__).resolve().parents[2] / "shared" / "data" / "gtzan" / "clips"


def _pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(round(q * (len(s) - 1))))]


def _files(args: argparse.Namespace, folder: Path) -> list[Path]:
    import shutil

    if args.clips.is_dir():
        picks = [
            sorted(g.glob("*.wav"))[i] for i in range(3) for g in sorted(args.clips.iterdir()) if g.is_dir()
        ]
        out = []
        for p in picks[: args.files]:
            dst = folder / p.name
            shutil.copyfile(p, dst)
            out.append(dst)
        return out
    import soundfile as sf

    out = []
    for i in range(args.files):
        t = np.arange(30 * 22050) / 22050
        wave = 0.3 * np.sin(2 * np.pi * (200 + 40 * i) * t) + 0.02 * np.random.default_rng(i).standard_normal(
            t.size
        )
        path = folder / f"tone{i:02d}.wav"
        sf.write(path, wave.astype(np.float32), 22050, subtype="PCM_16")
        out.append(path)
    return out


def _load(url: str, files: list[Path], clients: int, requests: int) -> dict:
    """`requests` POSTs spread over `clients` threads, each with its own keep-alive connection."""
    import httpx

    latencies: list[float] = []
    failures = 0
    lock = threading.Lock()
    counter = iter(range(requests))

    def worker() -> None:
        nonlocal failures
        with httpx.Client(base_url=url, timeout=600) as c:
            for i in counter:
                t0 = time.perf_counter()
                r = c.post("/api/classify", json={"audio_path": str(files[i % len(files)])})
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    failures += r.status_code != 200

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    return {
        "clients": clients,
        "requests": requests,
        "failed": failures,
        "rps": requests / wall,
        "p50_ms": 1000 * _pct(latencies, 0.5),
        "p95_ms": 1000 * _pct(latencies, 0.95),
    }


def _direct(clf, files: list[Path], n: int) -> dict:
    """Baseline: the same classification called in-process, one at a time (no HTTP, no JSON)."""
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        clf.classify(files[i % len(files)])
        lat.append(time.perf_counter() - s)
    wall = time.perf_counter() - t0
    return {"rps": n / wall, "p50_ms": 1000 * _pct(lat, 0.5), "p95_ms": 1000 * _pct(lat, 0.95)}


def _stream_delay(url: str, clip: Path, seconds: float) -> dict:
    """Feed a clip in real time (0.25 s chunks); delay = when an update arrives − when its audio was sent."""
    import soundfile as sf
    from websockets.sync.client import connect

    data, rate = sf.read(clip, dtype="float32", always_2d=True)
    data = data[: int(seconds * rate), 0]
    step = int(0.25 * rate)
    delays, compute = [], []
    with connect(url.replace("http://", "ws://") + "/api/stream", max_size=None) as ws:
        ws.send(json.dumps({"sample_rate": rate, "format": "f32le"}))
        json.loads(ws.recv())
        start = time.perf_counter()
        received: list[tuple[float, dict]] = []

        def reader() -> None:
            while True:
                msg = json.loads(ws.recv())
                received.append((time.perf_counter(), msg))
                if msg.get("final") or "error" in msg:
                    return

        th = threading.Thread(target=reader)
        th.start()
        for i in range(0, data.size, step):
            time.sleep(max(0.0, start + (i + step) / rate - time.perf_counter()))
            ws.send(data[i : i + step].astype("<f4").tobytes())
        ws.send(json.dumps({"end": True}))
        th.join(600)
    for when, msg in received:
        if not msg.get("final"):
            delays.append(when - (start + msg["t"]))
            compute.append(msg["compute_s"])
    return {
        "updates": len(delays),
        "delay_mean_s": statistics.mean(delays),
        "delay_p95_s": _pct(delays, 0.95),
        "delay_max_s": max(delays),
        "compute_mean_s": statistics.mean(compute),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=Path, default=CLIPS)
    ap.add_argument("--model", default="msd-musicnn")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--files", type=int, default=16)
    ap.add_argument("--quick", action="store_true", help="fewer requests (a smoke run)")
    ap.add_argument("--stream-seconds", type=float, default=30.0)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-server-"))
    os.environ.setdefault("MUSIC_RECLASS_CACHE_DIR", str(tmp / "cache"))
    os.environ.setdefault("MUSIC_RECLASS_DATA_DIR", str(tmp / "data"))
    from music_reclass_gui.inference.engine import Classifier
    from music_reclass_gui.server.background import serve_in_thread
    from music_reclass_gui.server.config import ServerConfig

    lib = tmp / "lib"
    lib.mkdir()
    files = _files(args, lib)
    print(
        f"{len(files)} files ({'GTZAN clips' if args.clips.is_dir() else 'generated tones'}), model {args.model}, "
        f"device {args.device}, {os.cpu_count()} CPUs (shared machine: wall-clock figures include others' load)"
    )
    cached_clf = Classifier(args.model, device=args.device)
    uncached_clf = Classifier(args.model, device=args.device, use_cache=False)
    for path in files:  # fill the cache for the cached runs
        cached_clf.classify(path)
    n_unc = 4 if args.quick else len(files)
    n_cached = 40 if args.quick else 400
    rows = []
    with (
        serve_in_thread(ServerConfig(libraries=[lib], classifier=cached_clf)) as (curl, _),
        serve_in_thread(ServerConfig(libraries=[lib], classifier=uncached_clf, use_cache=False)) as (uurl, _),
    ):
        for label, url, clf, n in (
            ("cached", curl, cached_clf, n_cached),
            ("uncached", uurl, uncached_clf, n_unc),
        ):
            base = _direct(clf, files, max(4, n // 4))
            for clients in (1, 16):
                r = _load(url, files, clients, n if clients == 16 else max(4, n // 4))
                rows.append((label, r, base))
        stream_clip = files[0]
        stream = _stream_delay(curl, stream_clip, args.stream_seconds)
    print()
    print(
        f"{'POST /api/classify':<20}{'clients':>8}{'requests':>9}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}"
        f"{'in-process p50 ms':>19}{'HTTP/in-process p50':>21}"
    )
    for label, r, base in rows:
        print(
            f"{label:<20}{r['clients']:>8}{r['requests']:>9}{r['rps']:>9.1f}{r['p50_ms']:>9.1f}{r['p95_ms']:>9.1f}"
            f"{base['p50_ms']:>19.1f}{r['p50_ms'] / base['p50_ms']:>20.2f}x"
        )
        if r["failed"]:
            print(f"   {r['failed']} requests failed")
    print()
    print(
        f"WS /api/stream, {args.stream_seconds:.0f} s of {stream_clip.name} fed in real time (hop 3 s, window 15 s):"
    )
    print(
        f"  {stream['updates']} updates; delay from audio to update: mean {stream['delay_mean_s']:.2f} s, "
        f"p95 {stream['delay_p95_s']:.2f} s, max {stream['delay_max_s']:.2f} s "
        f"(of which analysis {stream['compute_mean_s']:.2f} s on average)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
