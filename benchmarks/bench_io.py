"""I/O and time of organising and tag-writing the shared library, this tree against a baseline revision.

    python benchmarks/bench_io.py [--baseline REV] [--repeats 2] [--library ../shared/data/library]

The baseline is the real old code: `git archive REV` unpacked into a temp folder (default REV: cd719e3, the
commit before issue 12's hardening), run in its own process exactly like the current tree. For each
workload a fresh copy of the library is made (not counted), then one child process per code version runs
it and reports the bytes its read()/write() calls moved (rchar/wchar from /proc/self/io, page cache
included: what the code asks of the disk) and the wall time. Workloads:

- organize, same drive: every track into OUT/<genre>/ on the filesystem of the copy;
- organize, cross drive: OUT on /dev/shm (a different filesystem), so every file is copied;
- tag write: a new genre written to every track through the journaled writer.

Versions run interleaved (old, new, old, new ...); the machine may be shared, so compare the ratios.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
AUDIO = {".mp3", ".ogg", ".opus", ".flac", ".wav"}

CHILD = r"""
import json, os, sys, time
from pathlib import Path
from music_reclass_gui.core import organize

what, lib, out = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
files = sorted(p for p in lib.rglob("*") if p.suffix.lower() in {".mp3", ".ogg", ".opus", ".flac", ".wav"})

def io():
    with open("/proc/self/io") as fh:
        return {k: int(v) for k, v in (line.split(": ") for line in fh)}

if what == "tags":
    work = lambda: organize.apply_tag_changes([organize.TagChange(p, (f"Bench {i % 3}",)) for i, p in enumerate(files)])
else:
    plan = organize.plan_moves([(p, f"G{i % 4}") for i, p in enumerate(files)], out)
    work = lambda: organize.execute_plan(plan)
a, t0 = io(), time.perf_counter()
report = work()
t1, b = time.perf_counter(), io()
assert not report.failed, report.failed
print(json.dumps({"read": b["rchar"] - a["rchar"], "written": b["wchar"] - a["wchar"], "seconds": t1 - t0,
                  "files": len(files), "bytes": sum(p.stat().st_size for p in (report.done or files))}))
"""


def unpack_baseline(rev: str, dest: Path) -> Path:
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", rev], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def run_once(code_root: Path, what: str, library: Path, scratch: Path) -> dict:
    lib = scratch / "lib"
    shutil.copytree(library, lib)
    lib.chmod(0o755)
    for p in lib.rglob("*"):
        p.chmod(0o644 if p.is_file() else 0o755)  # the shared data is read-only
    if what == "cross":
        out = Path(tempfile.mkdtemp(dir="/dev/shm", prefix="bench-io-")) / "out"
    else:
        out = scratch / "out"
    env = {
        **os.environ,
        "PYTHONPATH": str(code_root),
        "MUSIC_RECLASS_DATA_DIR": str(scratch / "data"),
        "MUSIC_RECLASS_CACHE_DIR": str(scratch / "cache"),
        "MUSIC_RECLASS_CONFIG_DIR": str(scratch / "config"),
    }
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, "tags" if what == "tags" else "move", str(lib), str(out)],
            env=env,
            cwd=code_root,
            capture_output=True,
            text=True,
        )
        if proc.returncode:
            raise SystemExit(f"bench_io: {code_root} failed on {what}:\n{proc.stderr[-3000:]}")
    finally:
        shutil.rmtree(lib, ignore_errors=True)
        shutil.rmtree(out.parent if what == "cross" else out, ignore_errors=True)
        shutil.rmtree(scratch / "data", ignore_errors=True)
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _median(runs: list[dict], key: str) -> float:
    vals = sorted(r[key] for r in runs)
    return vals[len(vals) // 2]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument(
        "--baseline", default="cd719e3", help="git revision of the old code (default: %(default)s)"
    )
    ap.add_argument("--repeats", type=int, default=2, help="runs per version and workload (default: 2)")
    ap.add_argument(
        "--library", type=Path, default=ROOT.parent / "shared" / "data" / "library", help="music to copy"
    )
    args = ap.parse_args()
    if not args.library.is_dir():
        print(f"bench_io: {args.library} is absent", file=sys.stderr)
        return 3
    if not Path("/dev/shm").is_dir() or os.stat("/dev/shm").st_dev == os.stat(tempfile.gettempdir()).st_dev:
        print("bench_io: /dev/shm is not a second filesystem here; the cross-drive row is meaningless")
    with tempfile.TemporaryDirectory(prefix="bench-io-") as tmp:
        base = unpack_baseline(args.baseline, Path(tmp) / "baseline")
        rows = []
        for what, label in (
            ("same", "organize, same drive"),
            ("cross", "organize, cross drive"),
            ("tags", "tag write"),
        ):
            res: dict[str, list[dict]] = {"old": [], "new": []}
            for _ in range(args.repeats):
                for version, root in (("old", base), ("new", ROOT)):
                    scratch = Path(tempfile.mkdtemp(dir=tmp))
                    res[version].append(run_once(root, what, args.library, scratch))
            rows.append((label, res))
        n, size = rows[0][1]["new"][0]["files"], rows[0][1]["new"][0]["bytes"]
        print(
            f"library: {args.library} ({n} files, {size / 2**20:.1f} MiB); baseline {args.baseline}; "
            f"{args.repeats} run(s) each, interleaved; bytes via read()/write() (rchar/wchar); shared machine"
        )
        print(
            f"{'workload':24} {'read old MiB':>12} {'read new MiB':>12} {'ratio':>6}  "
            f"{'written old':>11} {'written new':>11} {'ratio':>6}  {'time old s':>10} {'time new s':>10} {'ratio':>6}"
        )
        for label, res in rows:
            cols = []
            for key, scale in (("read", 2**20), ("written", 2**20), ("seconds", 1)):
                old, new = _median(res["old"], key) / scale, _median(res["new"], key) / scale
                cols.append((old, new, new / old if old else float("nan")))
            (ro, rn, rr), (wo, wn, wr), (so, sn, sr) = cols
            print(
                f"{label:24} {ro:12.1f} {rn:12.1f} {rr:6.2f}  {wo:11.1f} {wn:11.1f} {wr:6.2f}  {so:10.2f} {sn:10.2f} {sr:6.2f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
