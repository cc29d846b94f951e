"""`serve`: the web server (JSON API, web page, monitoring, live stream) — needs the `server` extra.

Loopback only by default; any other address needs --token (clients send `Authorization: Bearer TOKEN`).
Exit codes (cli/exit_codes.py): 0 stopped normally, 2 usage (a public address without --token, a bad --port),
3 cannot run (the server extra missing, a --library that is not a folder, an unusable model).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from music_reclass_gui.cli.exit_codes import EXIT_CANNOT_RUN, EXIT_USAGE


def register(sub: argparse._SubParsersAction) -> None:
    from music_reclass_gui.inference.device import DEVICE_CHOICES

    p = sub.add_parser(
        "serve",
        help="serve the JSON API, web page and live stream over HTTP",
        description="Serve classification, review and tagging of the given libraries over HTTP "
        "(web page at http://HOST:PORT/, monitoring at /monitor, Prometheus metrics at /metrics).",
    )
    p.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1, this machine)"
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    p.add_argument(
        "--library",
        action="append",
        type=Path,
        default=[],
        metavar="DIR",
        help="a music folder the API may read and tag (repeat for several)",
    )
    p.add_argument(
        "--token",
        default=os.environ.get("MUSIC_RECLASS_TOKEN"),
        help="require 'Authorization: Bearer TOKEN' on every call (default: $MUSIC_RECLASS_TOKEN); "
        "needed to listen on anything but loopback",
    )
    p.add_argument("--model", default=None, help="default model (see `music-reclass models`)")
    p.add_argument("--device", default="auto", choices=DEVICE_CHOICES, help="where to run the network")
    p.add_argument("--max-upload-mb", type=float, default=200.0, help="largest accepted upload (default 200)")
    p.add_argument(
        "--max-queued-jobs", type=int, default=4, help="jobs that may wait (default 4); more get 503"
    )
    p.set_defaults(func=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    try:
        from music_reclass_gui.server.app import run
        from music_reclass_gui.server.config import ServerConfig, UnsafeBindError, check_bind
    except ImportError as exc:
        print(
            f"music-reclass: serve needs the server extra ({exc.name} is missing): pip install -e '.[server]'",
            file=sys.stderr,
        )
        return EXIT_CANNOT_RUN
    try:
        check_bind(args.host, args.token)
    except UnsafeBindError as exc:  # a public address needs --token: an option combination, so usage
        print(f"music-reclass: {exc}", file=sys.stderr)
        return EXIT_USAGE
    for lib in args.library:
        if not lib.is_dir():
            print(f"music-reclass: --library {lib}: not a folder", file=sys.stderr)
            return EXIT_CANNOT_RUN
    if not 1 <= args.port <= 65535:
        print(f"music-reclass: --port {args.port}: must be 1-65535", file=sys.stderr)
        return EXIT_USAGE
    config = ServerConfig(
        libraries=args.library,
        token=args.token or None,
        model=args.model,
        device=args.device,
        max_upload_bytes=int(args.max_upload_mb * 2**20),
        max_queued_jobs=max(0, args.max_queued_jobs),
    )
    if args.model:  # a wrong model name fails now, not at the first request
        from music_reclass_gui.core.errors import ModelError
        from music_reclass_gui.inference.registry import find_card

        try:
            find_card(args.model)
        except ModelError as exc:
            print(f"music-reclass: {exc}", file=sys.stderr)
            return EXIT_CANNOT_RUN
    print(
        f"music-reclass: serving {', '.join(map(str, config.libraries)) or 'no library (uploads only)'} "
        f"at http://{args.host}:{args.port}/",
        file=sys.stderr,
    )
    run(config, args.host, args.port)
    return 0
