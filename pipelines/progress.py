"""Progress of long stages, shown on a terminal by the ``ccn`` command and silent elsewhere.

A stage reports ``(stage, done, total)`` and, optionally, what it is working on now (``what``: "Biểu 02").  On a
terminal (stderr) each stage is one line that updates in place, named in words (Vietnamese, then the English
gloss); elsewhere (a log file, a test) one line when the stage ends.
"""

from __future__ import annotations

import shutil
import sys
import time
import unicodedata
from typing import Protocol


class Reporter(Protocol):
    def __call__(self, stage: str, done: int, total: int, what: str = "") -> None: ...


_reporter: Reporter | None = None

# a stage's name in words, by its id in the code (progress) and by its Dagster step (the run's closing table):
# (Vietnamese, English, what its count counts in Vietnamese and English)
STAGES: dict[str, tuple[str, str, str, str]] = {
    "sample": ("Tạo mẫu", "Writing the sample", "tệp", "files"),
    "archive": ("Lưu trữ tệp", "Archiving files", "tệp", "files"),
    "read": ("Đọc tệp", "Reading files", "tệp", "files"),
    "validate": ("Kiểm tra", "Validating", "bước", "steps"),
    "publish": ("Nạp kho", "Loading", "hồ sơ", "reports"),
    "outliers": ("Giá trị bất thường", "Outliers", "kỳ", "periods"),
    "inbox_files": ("Lưu trữ tệp", "Archiving files", "", ""),
    "read_reports": ("Đọc tệp", "Reading files", "", ""),
    "findings": ("Kiểm tra", "Validating", "", ""),
    "warehouse": ("Nạp kho", "Loading", "", ""),
    "expected_reports": ("Danh sách phải báo cáo", "Who should report", "", ""),
    "national_summary": ("Tổng hợp toàn quốc", "National summary", "", ""),
    "validation_checks": ("Kiểm định theo nhóm quy tắc", "Checks per rule family", "", ""),
}


def stage_name(stage: str) -> str:
    """``Đọc tệp / Reading files``; a stage without words keeps its id."""
    words = STAGES.get(stage)
    return f"{words[0]} / {words[1]}" if words else stage


def set_reporter(fn: Reporter | None) -> None:
    global _reporter  # noqa: PLW0603 - one reporter for the process, set by the ccn command
    _reporter = fn


def reporter() -> Reporter | None:
    return _reporter


def _width(text: str) -> int:
    return sum(1 for ch in unicodedata.normalize("NFC", text) if not unicodedata.combining(ch))


class TerminalProgress:
    """One updating line per stage on a terminal (stderr); a line at the end of each stage otherwise."""

    def __init__(self, stream=None) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.last = 0.0
        self.stage: str | None = None
        self.what = ""
        self.started = time.monotonic()
        self.label = max(_width(stage_name(s)) for s in ("archive", "read", "validate", "publish"))

    def __call__(self, stage: str, done: int, total: int, what: str = "") -> None:
        now = time.monotonic()
        fresh = stage != self.stage or what != self.what  # a new stage or step is always shown at once
        if stage != self.stage:
            self.stage, self.started = stage, now
        self.what = what
        final = done >= total
        if self.tty and (final or fresh or now - self.last > 0.1):
            name = stage_name(stage)
            count = f"{done}/{total}"
            columns = shutil.get_terminal_size((80, 24)).columns
            label = max(self.label, _width(name))
            # the same all through a stage, leaving room for the step's name (up to 24 columns)
            bar = max(min(30, columns - label - 2 * len(str(total)) - 32), 5)
            filled = int(bar * done / max(total, 1))
            line = f"{name}{' ' * (label - _width(name))} [{'#' * filled}{'.' * (bar - filled)}] {count}"
            if what and not final and _width(line) + 2 + _width(what) < columns:  # the step, if it fits whole
                line += f"  {what}"
            self.stream.write(f"\r{line}\x1b[K")  # \x1b[K: clear what a longer previous line left
            if final:
                self.stream.write(f"  {now - self.started:.1f}s\n")
            self.stream.flush()
            self.last = now
        elif not self.tty and final:
            vi, en, unit_vi, unit_en = STAGES.get(stage, (stage, stage, "", ""))
            secs = now - self.started
            self.stream.write(f"{vi}: {total} {unit_vi} trong {secs:.1f} giây — "
                              f"{en}: {total} {unit_en} in {secs:.1f}s\n".replace("  ", " "))
