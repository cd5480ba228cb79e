"""Reporting periods (SPEC §1).

A period code is ``YYYY-H1`` (6-month report: 15 Dec of the previous year to 14 Jun) or ``YYYY-Y`` (annual
report: 15 Dec of the previous year to 14 Dec).  Both start on the same day, so the two kinds overlap and an
annual flow already contains H1.  A deadline is the first instant that is late: a report "due before 20 Jun"
is late from 20 Jun 00:00 in Asia/Ho_Chi_Minh.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from schemas.text import loose_key, strip_marks

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
_CODE = re.compile(r"^(\d{4})-(H1|Y)$")


@dataclass(frozen=True, order=True)
class Period:
    year: int
    kind: str  # "H1" | "Y"

    @classmethod
    def parse(cls, code: str) -> Period:
        m = _CODE.match(code.strip().upper().replace("-y", "-Y"))
        if not m:
            raise ValueError(f"period must look like 2025-H1 or 2025-Y, not {code!r}")
        return cls(int(m.group(1)), m.group(2))

    @property
    def code(self) -> str:
        return f"{self.year}-{self.kind}"

    def __str__(self) -> str:
        return self.code

    @property
    def start(self) -> date:
        return date(self.year - 1, 12, 15)

    @property
    def end(self) -> date:
        return date(self.year, 6, 14) if self.kind == "H1" else date(self.year, 12, 14)

    def deadline(self, month_day: str) -> datetime:
        """First late instant for a deadline given as ``MM-DD`` (from the form definition)."""
        month, day = (int(x) for x in month_day.split("-"))
        return datetime.combine(date(self.year, month, day), time(0, 0), tzinfo=VN_TZ)

    @property
    def label_vi(self) -> str:
        return f"6 tháng đầu năm {self.year}" if self.kind == "H1" else f"Năm {self.year}"


def period_kind(text: str) -> str | None:
    """``H1``, ``Y``, ``ambiguous`` or None for a period text such as ``6 tháng đầu năm 2026``."""
    raw = strip_marks(text).lower()
    if re.search(r"6\s*thang\s*/\s*(ca\s*)?nam", raw) or re.search(r"nam\s*/\s*6\s*thang", raw):
        return "ambiguous"
    key = loose_key(text)
    if (re.search(r"\b(0?6 thang|sau thang|h1|6t|6th|ban nien|giua nam)\b", key)
            or re.search(r"(?<![0-9a-z])(6t|h1)(?=\d|\b)", key)):
        return "H1"
    if re.search(r"\b(nam|ca nam|hang nam|annual|year)\b", key) or re.search(r"(?<![0-9a-z])(y|nam)(?=20\d\d)", key):
        return "Y"
    return None
