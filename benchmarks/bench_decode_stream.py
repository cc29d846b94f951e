"""Peak memory and time of decoding the excerpts of a long streaming-header WAV, this tree against a baseline.

    python benchmarks/bench_decode_stream.py [--minutes 80] [--baseline REV]

Writes a real N-minute 44.1 kHz stereo 16-bit WAV and gives it the header `ffmpeg ... -f wav -` leaves
(RIFF and data sizes 0xFFFFFFFF). Then `inference.excerpts.decode_excerpts(path, 16000)` (what
classification decodes) runs in a fresh process for the old code (`git archive REV`, default cd719e3, the
revision before issue 12) and for this tree, one after the other; each reports its peak RSS (ru_maxrss)
and wall time. The machine may be shared: compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import json, resource, sys, time
from music_reclass_gui.inference.excerpts import decode_excerpts
t0 = time.perf_counter()
waves = decode_excerpts(sys.argv[1], 16000)
seconds = time.perf_counter() - t0
print(json.dumps({"seconds": seconds, "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                  "decoded_s": sum(w.size for w in waves) / 16000}))
"""


def write_streaming_wav(path: Path, minutes: float, sr: int = 44100) -> None:
    rng = np.random.default_rng(0)
    with sf.SoundFile(path, "w", samplerate=sr, channels=2, subtype="PCM_16") as f:
        for i in range(int(minutes * 6)):  # 10 s blocks
            t = (np.arange(10 * sr) + i * 10 * sr) / sr
            block = (
                0.3 * np.sin(2 * np.pi * (220 + i % 50) * t) + 0.02 * rng.standard_normal(t.size)
            ).astype(np.float32)
            f.write(np.stack([block, block], axis=1))
    with open(path, "r+b") as fh:
        head = fh.read(4096)
        fh.seek(4)
        fh.write(struct.pack("<I", 0xFFFFFFFF))
        fh.seek(head.index(b"data") + 4)
        fh.write(struct.pack("<I", 0xFFFFFFFF))


def run(code_root: Path, wav: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, str(wav)], env=env, cwd=code_root, capture_output=True, text=True
    )
    if proc.returncode:
        raise SystemExit(f"bench_decode_stream: {code_root} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=80.0, help="length of the WAV (default: %(default)s)")
    ap.add_argument(
        "--baseline", default="cd719e3", help="git revision of the old code (default: %(default)s)"
    )
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-decode-") as tmp:
        base = Path(tmp) / "baseline"
        base.mkdir()
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.baseline], check=True, capture_output=True
        )
        subprocess.run(["tar", "-x", "-C", str(base)], input=archive.stdout, check=True)
        wav = Path(tmp) / "stream.wav"
        write_streaming_wav(wav, args.minutes)
        size = wav.stat().st_size
        old, new = run(base, wav), run(ROOT, wav)
    print(
        f"{args.minutes:g}-minute streaming-header WAV ({size / 2**20:.0f} MiB), decode_excerpts at 16 kHz; "
        f"baseline {args.baseline}; one run each; shared machine"
    )
    print(f"{'':10} {'peak RSS MiB':>12} {'time s':>8} {'audio decoded s':>16}")
    for label, r in (("old", old), ("new", new)):
        print(f"{label:10} {r['peak_rss_mib']:12.0f} {r['seconds']:8.2f} {r['decoded_s']:16.1f}")
    print(
        f"{'new/old':10} {new['peak_rss_mib'] / old['peak_rss_mib']:12.3f} {new['seconds'] / old['seconds']:8.3f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
