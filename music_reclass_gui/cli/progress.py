"""A one-line progress bar on stderr for long commands (batch, its tag writes, organize, undo, evaluate).

Drawn only when stderr is a terminal, so pipes, logs and JSON on stdout stay clean."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """`update(done, failed)` redraws "[####....] done/total  failed  rate/min  label"; `close()` ends the line."""

    def __init__(self, total: int, stream: TextIO | None = None, label: str = "") -> None:
        self.total, self.label, self.start = total, label, time.perf_counter()
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = self.stream.isatty()
        self.failed = 0

    def update(self, done: int, failed: int | None = None) -> None:
        if failed is not None:
            self.failed = failed
        if not self.enabled or not self.total:
            return
        width = 30
        fill = int(width * min(done, self.total) / self.total)
        rate = done / max(1e-6, time.perf_counter() - self.start) * 60
        label = f"  {self.label}" if self.label else ""
        self.stream.write(
            f"\r[{'#' * fill}{'.' * (width - fill)}] {done}/{self.total}  {self.failed} failed  {rate:.0f}/min{label}"
        )
        self.stream.flush()

    def callback(self, done: int, total: int) -> None:
        """For the core's `progress(done, total)` hooks (execute_plan, apply_tag_changes, undo)."""
        if total != self.total:
            self.total = total
        self.update(done)

    def note(self, text: str) -> None:
        """A message on a line of its own (the bar is redrawn below it by the next update)."""
        self.stream.write(("\r\033[K" if self.enabled else "") + text + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self.enabled:
            self.stream.write("\n")
            self.stream.flush()
