"""`music-reclass-gui [FOLDER]` opens the window; `--screenshot OUT.png FOLDER` opens the folder, classifies
it, saves a PNG of the window and exits (for docs and checks)."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEventLoop, QItemSelectionModel, QTimer
from PySide6.QtWidgets import QApplication

from music_reclass_gui.inference.device import DEVICE_CHOICES
from music_reclass_gui.ui.settings import AppSettings

if TYPE_CHECKING:
    from music_reclass_gui.ui.main_window import MainWindow

log = logging.getLogger(__name__)


def _size(text: str) -> tuple[int, int]:
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT, e.g. 1366x768, not {text!r}") from None
    return w, h


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, not {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="music-reclass-gui", description="Classify, review and tag a music library."
    )
    p.add_argument("folder", nargs="?", type=Path, help="music folder (or file) to open")
    p.add_argument(
        "--model",
        help="model name for this run only (default: the one in Settings, else the built-in default)",
    )
    p.add_argument(
        "--device", choices=DEVICE_CHOICES, help="where the model runs, for this run only (default: Settings)"
    )
    p.add_argument(
        "--screenshot", type=Path, metavar="OUT.png", help="classify FOLDER, save a PNG of the window, exit"
    )
    p.add_argument(
        "--size",
        type=_size,
        default=None,
        metavar="WxH",
        help="window size (default 1366x768 for screenshots)",
    )
    p.add_argument(
        "--timeout", type=_seconds, default=900.0, help="--screenshot gives up after this many seconds"
    )
    return p


def recover_messages() -> list[str]:
    """Finish or roll back an operation a crash interrupted, before the user can touch anything."""
    try:
        from music_reclass_gui.core import organize

        return list(organize.recover_interrupted())
    except Exception as exc:  # recovery problems are shown, never fatal
        log.exception("recovery failed")
        return [f"Could not check for interrupted operations: {exc}"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # QtMultimedia probes optional system libraries (PipeWire, VA-API) and warns about each one it lacks
    os.environ.setdefault("QT_LOGGING_RULES", "qt.multimedia.symbolsresolver=false")
    if args.screenshot and args.folder is None:
        build_parser().error("--screenshot needs a FOLDER to open")
    from music_reclass_gui.ui.main_window import MainWindow  # after the logging rule: it loads QtMultimedia

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    app = QApplication.instance() or QApplication([sys.argv[0] if sys.argv else "music-reclass-gui"])
    app.setApplicationName("Music ReClass")
    app.setOrganizationName("music-reclass")

    settings = AppSettings.load()
    settings.override(model=args.model, device=args.device)  # for this run only: never saved
    messages = recover_messages()
    window = MainWindow(settings)
    if messages:
        kind = "error" if any("could not" in m.lower() for m in messages) else "info"
        window.notice.show_message("Recovered from an interrupted operation:", kind, messages)
    width, height = args.size or ((1366, 768) if args.screenshot else (1200, 760))
    window.resize(width, height)
    window.show()
    if args.folder is not None:
        QTimer.singleShot(0, lambda: window.open_paths([args.folder]))
    if args.screenshot:
        return _screenshot(app, window, args.screenshot, args.timeout)
    return app.exec()


def _screenshot(app: QApplication, window: MainWindow, out: Path, timeout: float) -> int:
    """Save the window once classification is over (or nothing is left to do); returns the exit code.
    Runs its own event loop so it also works inside an application that is already running (tests)."""
    c = window.controller
    taken = False
    loop = QEventLoop()
    code = 1

    def shoot(result: int = 0) -> None:
        nonlocal taken
        if taken:
            return
        taken = True
        if window.proxy.rowCount():
            index = window.proxy.index(0, 0)
            flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
            window.table.selectionModel().setCurrentIndex(index, flags)
        app.processEvents()

        def save() -> None:
            nonlocal code
            out.parent.mkdir(parents=True, exist_ok=True)
            ok = window.grab().save(str(out))
            print(f"screenshot {'saved to' if ok else 'FAILED:'} {out}", file=sys.stderr)
            code = result if ok else 1
            if window.notice.isVisible() and window.notice.kind == "error":  # the shot shows an error
                print(f"music-reclass-gui: {window.notice.plain_text}", file=sys.stderr)
                code = code or 1
            loop.quit()

        QTimer.singleShot(300, save)

    c.classification_finished.connect(lambda *_: shoot())
    c.scan_finished.connect(lambda n: n == 0 and shoot())
    QTimer.singleShot(int(timeout * 1000), lambda: shoot(2))
    loop.exec()
    c.shutdown()
    window.close()
    window.deleteLater()
    return code


if __name__ == "__main__":
    raise SystemExit(main())
