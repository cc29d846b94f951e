"""Scan speed on a generated library: 10,000 small real audio files, mixed formats, with tags.

    python benchmarks/bench_scan.py [--count 10000] [--link] [--keep DIR]

Prints files/second for a scan with tags (what the app does on opening a folder) and without. Files are
copies (or hard links with --link) of one tagged template per format, 100 per album folder. The page cache
is warm (the files were just written), so this measures our code + mutagen, not the disk.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import mutagen
import numpy as np
import soundfile as sf

from music_reclass_gui.core.library import scan

FORMATS = ("mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff")


def make_template(folder: Path, fmt: str) -> Path:
    """Half a second of real audio in `fmt`, tagged with title/artist/album/genre."""
    sr = 48000 if fmt == "opus" else 44100
    t = np.arange(sr // 2) / sr
    samples = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    path = folder / f"template.{fmt}"
    if fmt == "m4a":
        import av

        with av.open(str(path), "w", format="ipod") as out:
            stream = out.add_stream("aac", rate=sr)
            stream.layout = "mono"
            for start in range(0, samples.size, 1024):
                frame = av.AudioFrame.from_ndarray(
                    samples[None, start : start + 1024], format="fltp", layout="mono"
                )
                frame.sample_rate, frame.pts = sr, start
                for packet in stream.encode(frame):
                    out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
    else:
        fmt_name = {"mp3": "MP3", "flac": "FLAC", "ogg": "OGG", "opus": "OGG", "wav": "WAV", "aiff": "AIFF"}[
            fmt
        ]
        subtype = {"mp3": "MPEG_LAYER_III", "ogg": "VORBIS", "opus": "OPUS"}.get(fmt, "PCM_16")
        sf.write(path, samples, sr, format=fmt_name, subtype=subtype)
    f = mutagen.File(path)
    if f.tags is None:
        f.add_tags()
    if fmt in ("mp3", "wav", "aiff"):
        from mutagen.id3 import TALB, TCON, TIT2, TPE1

        for frame in (
            TIT2(text=["A Song"]),
            TPE1(text=["An Artist"]),
            TALB(text=["An Album"]),
            TCON(text=["Rock", "Pop"]),
        ):
            f.tags.add(frame)
    elif fmt == "m4a":
        f.tags.update(
            {
                "\xa9nam": ["A Song"],
                "\xa9ART": ["An Artist"],
                "\xa9alb": ["An Album"],
                "\xa9gen": ["Rock", "Pop"],
            }
        )
    else:
        f.tags.update(
            {"TITLE": ["A Song"], "ARTIST": ["An Artist"], "ALBUM": ["An Album"], "GENRE": ["Rock", "Pop"]}
        )
    f.save()
    return path


def build_library(root: Path, count: int, link: bool) -> None:
    templates = {fmt: make_template(root, fmt) for fmt in FORMATS}
    place = os.link if link else shutil.copyfile
    for i in range(count):
        fmt = FORMATS[i % len(FORMATS)]
        album = root / "library" / f"artist {i // 1000:02d}" / f"album {i // 100:03d}"
        album.mkdir(parents=True, exist_ok=True)
        place(templates[fmt], album / f"{i:05d} track.{fmt}")
        if i % 100 == 0:
            (album / "cover.jpg").write_bytes(b"\xff\xd8\xff\xe0" + bytes(2000))  # sniffed, not audio


def timed_scan(root: Path, read_tags: bool) -> tuple[int, int, float]:
    start, cpu = time.perf_counter(), time.process_time()
    tracks = list(scan(root, read_tags=read_tags))
    elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    return len(tracks), sum(t.error is not None for t in tracks), elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--link", action="store_true", help="hard-link instead of copying (less disk)")
    parser.add_argument("--keep", type=Path, help="build the library here and keep it")
    args = parser.parse_args()
    base = args.keep or Path(tempfile.mkdtemp(prefix="bench_scan_"))
    base.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        build_library(base, args.count, args.link)
        print(
            f"built {args.count} files ({', '.join(FORMATS)}) in {time.perf_counter() - t0:.1f} s under {base}"
        )
        for read_tags in (True, False):
            n, errors, elapsed, cpu = timed_scan(base / "library", read_tags)
            label = "with tags" if read_tags else "no tags  "
            print(
                f"scan {label}: {n} files in {elapsed:.2f} s wall = {n / elapsed:,.0f} files/s "
                f"(CPU {cpu:.2f} s = {n / cpu:,.0f} files/s per core; {errors} errors)"
            )
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
