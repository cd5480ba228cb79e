"""Administrative geography over time (SPEC §4): the units of before 2025-07-01 and how they map onto 2025.

Periods up to 2025-H1 were reported by 63 provinces and their 696 districts; from 2025-Y by 34 provinces and
their communes.  A report keeps the unit it came from; national and provincial series are compared on the 34
provinces of 2025 (every old province merged whole into one new province, so that mapping is exact).  An old
commune split between several new communes (``partial`` in the GSO mapping) has no single successor: it is
flagged with its candidates, never assigned to one of them.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

from schemas.admin import MERGER_DATE, REFERENCE, admin
from schemas.periods import Period

PRE2025_VALID_TO = "2025-06-30"


def generation_of(period: Period) -> str:
    """``pre2025`` when the period's reports were due before the merger (2025-H1 and earlier), else ``2025``."""
    return "pre2025" if period.deadline("12-31" if period.kind == "Y" else "06-30").date() < MERGER_DATE else "2025"


@dataclass(frozen=True)
class Successor:
    """The 2025 commune an old commune became: ``code`` when unique; None with ``split`` and its candidates."""

    old_code: str
    code: str | None
    province_code: str
    split: bool
    candidates: tuple[str, ...]


@lru_cache(maxsize=1)
def _mapping() -> dict[str, list[dict[str, str]]]:
    return admin().commune_mapping


def successor_commune(old_code: str) -> Successor | None:
    """Where an old (pre-2025) commune went; None when the code is not an old commune."""
    rows = _mapping().get(old_code)
    if not rows:
        return None
    split = any(r["merge_type"] == "partial" for r in rows) or len({r["new_ward_code"] for r in rows}) > 1
    targets = tuple(sorted({r["new_ward_code"] for r in rows}))
    return Successor(old_code, None if split else targets[0], rows[0]["new_province_code"], split, targets)


def successor_province(old_code: str) -> str | None:
    """The 2025 province an old province merged into."""
    unit = admin().old_provinces.get(old_code)
    return unit.province_code if unit else None


def pre2025_rows() -> dict[str, list[dict]]:
    """Rows for the warehouse tables ``district``, ``commune`` (generation pre2025) and ``commune_successor``."""
    a = admin()
    districts: dict[str, dict] = {}
    communes: dict[str, dict] = {}
    with open(REFERENCE / "units_pre2025_63prov_v2.4.1.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            new_province = a.old_provinces[r["province_code"]].province_code
            districts.setdefault(r["district_code"], {
                "code": r["district_code"], "name": r["district_name"], "old_province_code": r["province_code"],
                "province_code": new_province, "valid_to": PRE2025_VALID_TO})
            communes.setdefault(r["ward_code"], {
                "code": r["ward_code"], "generation": "pre2025", "name": r["ward_name"],
                "province_code": r["province_code"], "district_code": r["district_code"],
                "district_name": r["district_name"], "valid_from": None, "valid_to": PRE2025_VALID_TO})
    successors: dict[tuple[str, str], dict] = {}
    for old, rows in _mapping().items():
        for r in rows:
            successors.setdefault((old, r["new_ward_code"]), {
                "old_code": old, "new_code": r["new_ward_code"], "old_province_code": r["old_province_code"],
                "old_district_code": r["old_district_code"] or None, "new_province_code": r["new_province_code"],
                "merge_type": r["merge_type"], "targets": int(r["n_new_targets"] or len(rows))})
    return {"district": list(districts.values()), "commune": list(communes.values()),
            "commune_successor": list(successors.values())}
