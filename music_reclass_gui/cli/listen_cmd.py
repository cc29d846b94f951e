"""`listen`: what genre is playing now — a file played in real time, or a sound card — one line per update.

The rolling estimate is the same code the server's WS /api/stream uses (inference/stream.py). Exit codes
(cli/exit_codes.py): 0 done, 1 the audio could not be read, 2 a bad option value (--window, --hop, --speed),
3 the model, device or sound-card input could not be used.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN, EXIT_FILES_FAILED, EXIT_USAGE

CHUNK_S = 0.25


def register(sub: argparse._SubParsersAction) -> None:
    from music_reclass_gui.inference.device import DEVICE_CHOICES

    p = sub.add_parser(
        "listen",
        help="live genre estimate of a file played in real time or of a sound card input",
        description="Print the genre of what is playing every few seconds (over the last WINDOW seconds), "
        "then the whole stream's genre.",
    )
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("file", nargs="?", type=Path, help="audio file to play through the estimator")
    src.add_argument(
        "--input", metavar="DEVICE", help="sound card input (name or number; needs `sounddevice`)"
    )
    p.add_argument("--model", default=None, help="model name (see `music-reclass models`)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where to run the network")
    p.add_argument(
        "--window", type=float, default=15.0, help="seconds analysed per update, 10-30 (default 15)"
    )
    p.add_argument("--hop", type=float, default=3.0, help="seconds of audio between updates (default 3)")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="playback speed for a file: 1 = real time (default), 2 = twice as fast, 0 = as fast as possible",
    )
    p.add_argument("--realtime", choices=("on", "off"), default="on", help="'off' is the same as --speed 0")
    p.add_argument("--seconds", type=float, default=None, help="stop after this many seconds of audio")
    p.add_argument("--json", action="store_true", help="one JSON object per update instead of a text line")
    p.set_defaults(func=run_listen)


def _line(update: Any, as_json: bool) -> str:
    data = update.to_json()
    if as_json:
        return json.dumps(data, ensure_ascii=False)
    others = ", ".join(f"{p['genre']} {p['confidence']:.0%}" for p in data["top_predictions"][1:])
    head = "final" if update.final else f"{update.t:7.1f} s"
    return f"{head}  {data['genre']:<16} {data['confidence']:4.0%}" + (f"   ({others})" if others else "")


def run_listen(args: argparse.Namespace) -> int:
    from music_reclass_gui.core.errors import DecodeError, ModelError
    from music_reclass_gui.inference.engine import Classifier

    if not 10.0 <= args.window <= 30.0 or not 0 < args.hop <= min(3.0, args.window):
        print(
            "music-reclass: --window must be 10-30 s and --hop more than 0 and at most 3 s", file=sys.stderr
        )
        return EXIT_USAGE
    speed = 0.0 if args.realtime == "off" else args.speed
    if speed < 0:
        print("music-reclass: --speed must be 0 or more", file=sys.stderr)
        return EXIT_USAGE
    if args.input is not None:
        try:
            import sounddevice  # noqa: F401
        except (ImportError, OSError) as exc:
            print(
                f"music-reclass: --input needs the optional 'sounddevice' package and PortAudio ({exc}); "
                "pip install sounddevice, or pass a FILE",
                file=sys.stderr,
            )
            return EXIT_CANNOT_RUN
    try:
        clf = Classifier(args.model, device=args.device, use_cache=False)
    except ModelError as exc:
        print(f"music-reclass: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN

    def show(update: Any) -> None:
        print(_line(update, args.json), flush=True)

    try:
        if args.input is not None:
            roll = _listen_device(clf, args, show)
        else:
            roll = _listen_file(clf, args, speed, show)
        if roll is None:
            return EXIT_CANNOT_RUN
        show(roll.finish())
    except DecodeError as exc:
        print(f"music-reclass: {exc}", file=sys.stderr)
        return EXIT_FILES_FAILED
    return 0


def _native_rate(path: Path) -> int:
    """The file's own sample rate (so the final result matches `classify` of the same file)."""
    import mutagen

    try:
        info = getattr(mutagen.File(path), "info", None)
    except Exception:
        info = None
    rate = int(getattr(info, "sample_rate", 0) or 0)
    return rate if 4000 <= rate <= 192000 else 44100


def _listen_file(clf: Any, args: argparse.Namespace, speed: float, show) -> Any:
    from music_reclass_gui.core import audio
    from music_reclass_gui.inference.stream import RollingClassifier

    rate = _native_rate(args.file)
    samples = audio.load_audio(args.file, rate, duration=args.seconds)
    roll = RollingClassifier(clf, rate, window_s=args.window, hop_s=args.hop, name=str(args.file))
    chunk = int(CHUNK_S * rate)
    start = time.monotonic()
    for i in range(0, samples.size, chunk):
        if speed > 0:  # play in (scaled) real time: wait until this chunk "has been heard"
            due = start + (i + chunk) / rate / speed
            time.sleep(max(0.0, due - time.monotonic()))
        roll.feed(samples[i : i + chunk], show)
    return roll


def _listen_device(clf: Any, args: argparse.Namespace, show) -> Any:
    import queue

    import numpy as np
    import sounddevice as sd

    from music_reclass_gui.inference.stream import RollingClassifier

    device: int | str = int(args.input) if args.input.isdigit() else args.input
    try:
        rate = int(sd.query_devices(device, "input")["default_samplerate"])
    except (ValueError, sd.PortAudioError) as exc:  # e.g. "No input device matching 'x'"
        print(f"music-reclass: --input {args.input}: {exc}", file=sys.stderr)
        return None
    roll = RollingClassifier(clf, rate, window_s=args.window, hop_s=args.hop, name=f"input {args.input}")
    blocks: queue.Queue[np.ndarray] = queue.Queue()
    print(f"listening to {args.input} at {rate} Hz; Ctrl+C stops", file=sys.stderr)
    with sd.InputStream(
        device=device,
        channels=1,
        samplerate=rate,
        dtype="float32",
        callback=lambda data, *_: blocks.put(data[:, 0].copy()),
    ):
        try:
            while args.seconds is None or roll.total < args.seconds * rate:
                roll.feed(blocks.get(), show)
        except KeyboardInterrupt:
            pass
    return roll
