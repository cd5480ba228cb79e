"""Progress of long stages, shown on a terminal by the ``ccn`` command and silent elsewhere."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable

Reporter = Callable[[str, int, int], None]  # (stage, done, total)

_reporter: Reporter | None = None


def set_reporter(fn: Reporter | None) -> None:
    global _reporter  # noqa: PLW0603 - one reporter for the process, set by the ccn command
    _reporter = fn


def reporter() -> Reporter | None:
    return _reporter


class TerminalProgress:
    """One updating line per stage on a terminal (stderr); a line at the end of each stage otherwise."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = 0.0
        self.stage: str | None = None
        self.started = time.monotonic()

    def __call__(self, stage: str, done: int, total: int) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.started = stage, now
        final = done >= total
        if self.tty and (final or now - self.last > 0.1):
            width = 30
            filled = int(width * done / max(total, 1))
            self.stream.write(f"\r{stage:<9} [{'#' * filled}{'.' * (width - filled)}] {done}/{total}")
            if final:
                self.stream.write(f"  {now - self.started:.1f}s\n")
            self.stream.flush()
            self.last = now
        elif not self.tty and final:
            self.stream.write(f"{stage}: {total} in {now - self.started:.1f}s\n")
