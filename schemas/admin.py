"""Administrative units of Vietnam in both generations (SPEC §4).

Source: General Statistics Office codes as published in ``schemas/reference/admin/`` (see SOURCES.md there):
34 provinces and 3,321 communes since 2025-07-01; 63 provinces, 696 districts and ~10,000 communes before.
A bare code is ambiguous without its date, so every lookup says which generation it used.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import date
from functools import cached_property, lru_cache
from pathlib import Path

from schemas.text import clean, name_key, strip_marks

REFERENCE = Path(__file__).parent / "reference" / "admin"
MERGER_DATE = date(2025, 7, 1)

# Words in front of a unit's name that say what kind of unit it is (keys as produced by name_key).
_PREFIXES = [
    "Ủy ban nhân dân", "Uỷ ban nhân dân", "UBND", "Sở Công Thương", "SCT", "Thành phố", "TP", "Tỉnh", "Xã",
    "Phường", "Thị trấn", "Đặc khu", "Thị xã", "Quận", "Huyện", "TT",
]
# each with its tones and typed without them
_PREFIX_KEYS = sorted({name_key(p) for p in _PREFIXES} | {name_key(strip_marks(p)) for p in _PREFIXES},
                      key=len, reverse=True)
_LOWER_KINDS = {name_key(p) for p in ("Xã", "Phường", "Thị trấn", "Đặc khu", "Thị xã", "Quận", "Huyện", "TT")} | \
    {name_key(strip_marks(p)) for p in ("Xã", "Phường", "Thị trấn", "Đặc khu", "Thị xã", "Quận", "Huyện")}
_PROVINCE_KINDS = sorted({name_key(p) for p in ("Tỉnh", "Thành phố", "TP")} | {"tinh", "thanh pho", "tp"})
_CODE_PREFIX = re.compile(r"^\s*(\d{2,5})\s*(?:[-–—:.]|\s)\s*(.*)$")

# The six socio-economic regions of Vietnam, on the 2025 provinces (Resolution 81/2023/QH15 grouping).
REGIONS = {
    "Trung du và miền núi phía Bắc": ["04", "08", "11", "12", "14", "15", "19", "20", "25"],
    "Đồng bằng sông Hồng": ["01", "22", "24", "31", "33", "37"],
    "Bắc Trung Bộ và duyên hải miền Trung": ["38", "40", "42", "44", "46", "48", "51", "56"],
    "Tây Nguyên": ["52", "66", "68"],
    "Đông Nam Bộ": ["75", "79", "80"],
    "Đồng bằng sông Cửu Long": ["82", "86", "91", "92", "96"],
}


def is_unmarked(text: str) -> bool:
    """True when a name is typed without any Vietnamese diacritic (``Ha Noi``): then only a loose match is possible."""
    c = clean(text)
    return strip_marks(c) == c


def loose_name(text: str) -> str:
    """Name key without tones or prefix, for names typed without diacritics: ``TP. Ha Noi`` → ``ha noi``."""
    return bare_name(strip_marks(clean(text)))


def bare_name(text: str) -> str:
    """Name key without the unit-kind prefix: ``Tỉnh Ninh Bình`` and ``ninh binh`` agree."""
    return _strip_prefixes(name_key(text))[0]


def _strip_prefixes(key: str) -> tuple[str, set[str]]:
    """The key without its leading kind words, and the kind words removed."""
    removed: set[str] = set()
    changed = True
    while changed:
        changed = False
        for p in _PREFIX_KEYS:
            if key == p:
                return key, removed
            if key.startswith(p + " "):
                key = key[len(p) + 1:]
                removed.add(p)
                changed = True
    return key, removed


def names_lower_unit(text: str) -> bool:
    """True when a text names a commune or district (``UBND phường Lào Cai``), whatever name follows."""
    key = name_key(text)
    return (bool(_strip_prefixes(key)[1] & _LOWER_KINDS)
            or bool(_strip_prefixes(name_key(strip_marks(text)))[1] & _LOWER_KINDS))


def kind_words(text: str) -> set[str]:
    """The unit-kind words typed in front of a name (keys as produced by name_key, without tones for a name typed
    without diacritics): ``UBND Thành phố Lào Cai`` → {"ubnd", "thanh pho"}."""
    return _strip_prefixes(name_key(text))[1] | _strip_prefixes(name_key(strip_marks(text)))[1]


def names_province_only(text: str, units: list[Unit]) -> bool:
    """True when ``text``, found by :meth:`Admin.find_province` to name ``units``, names the province itself and
    not a district or commune of the same name: ``Lào Cai`` and ``Tỉnh Lào Cai`` name the province, ``Phường Lào
    Cai`` names a ward and ``TP Lào Cai`` the city (Lào Cai is a Tỉnh, so its "Thành phố" is a lower unit)."""
    if not units or names_lower_unit(text):
        return False
    city = {name_key(strip_marks(k)) for k in kind_words(text)} & {"thanh pho", "tp"}
    return not city or any(name_key(strip_marks(u.name)).startswith("thanh pho") for u in units)


@dataclass(frozen=True)
class Unit:
    level: str  # province | district | commune
    code: str
    name: str
    province_code: str
    generation: str  # "2025" | "pre2025"
    parent_code: str = ""
    parent_name: str = ""

    @property
    def label(self) -> str:
        return f"{self.code} - {self.name}"


def _rows(name: str) -> list[dict[str, str]]:
    with open(REFERENCE / name, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


class Admin:
    """Lookup of provinces and communes by code or name, in either generation."""

    @cached_property
    def provinces(self) -> dict[str, Unit]:
        """The 34 provinces since 2025-07-01, by code."""
        out: dict[str, Unit] = {}
        for r in _rows("wards_2025_34prov_v3.0.2.csv"):
            out.setdefault(r["province_code"],
                           Unit("province", r["province_code"], r["province_name"], r["province_code"], "2025"))
        return out

    @cached_property
    def communes(self) -> dict[str, Unit]:
        """The 3,321 communes since 2025-07-01, by code."""
        return {
            r["ward_code"]: Unit("commune", r["ward_code"], r["ward_name"], r["province_code"], "2025")
            for r in _rows("wards_2025_34prov_v3.0.2.csv")
        }

    @cached_property
    def old_provinces(self) -> dict[str, Unit]:
        """The 63 provinces before 2025-07-01, by code; ``parent_code`` is the 2025 province they merged into."""
        return {
            r["old_province_code"]: Unit("province", r["old_province_code"], r["old_province_name"],
                                         r["new_province_code"], "pre2025")
            for r in _rows("province_mapping_63_to_34.csv")
        }

    @cached_property
    def old_districts(self) -> dict[str, Unit]:
        out: dict[str, Unit] = {}
        for r in _rows("units_pre2025_63prov_v2.4.1.csv"):
            out.setdefault(r["district_code"], Unit(
                "district", r["district_code"], r["district_name"], r["province_code"], "pre2025",
                r["province_code"], r["province_name"]))
        return out

    @cached_property
    def old_communes(self) -> dict[str, Unit]:
        """The ~10,000 communes before 2025-07-01, by code; ``parent_code`` is their district."""
        return {
            r["ward_code"]: Unit("commune", r["ward_code"], r["ward_name"], r["province_code"], "pre2025",
                                 r["district_code"], r["district_name"])
            for r in _rows("units_pre2025_63prov_v2.4.1.csv")
        }

    @cached_property
    def respellings(self) -> dict[tuple[str, str], str]:
        """(level, code) → the other official spelling (``name_changes_*.csv``: 2025-07 and 2026-07 names)."""
        out: dict[tuple[str, str], str] = {}
        for path in sorted(REFERENCE.glob("name_changes_*.csv")):
            for r in _rows(path.name):
                out[(r["level"], r["code"])] = r["name_2026_07"]
        return out

    @cached_property
    def commune_mapping(self) -> dict[str, list[dict[str, str]]]:
        """Old commune code → its 2025 target(s) with ``merge_type`` (``full`` or ``partial``)."""
        out: dict[str, list[dict[str, str]]] = {}
        for r in _rows("ward_mapping_old_to_new_2025.csv"):
            out.setdefault(r["old_ward_code"], []).append(r)
        return out

    def region_of(self, province_code: str) -> str:
        for region, codes in REGIONS.items():
            if province_code in codes:
                return region
        return ""

    # --- name indexes -------------------------------------------------------------------------------------
    def _names_of(self, level: str, u: Unit) -> list[str]:
        other = self.respellings.get((level, u.code)) if u.generation == "2025" else None
        return [u.name] + ([other] if other else [])

    @cached_property
    def _province_names(self) -> dict[str, list[Unit]]:
        idx: dict[str, list[Unit]] = {}
        for u in list(self.provinces.values()) + list(self.old_provinces.values()):
            for name in self._names_of("province", u):
                _add(idx, bare_name(name), u)
        return idx

    @cached_property
    def _province_loose(self) -> dict[str, list[Unit]]:
        idx: dict[str, list[Unit]] = {}
        for u in list(self.provinces.values()) + list(self.old_provinces.values()):
            _add(idx, loose_name(u.name), u)
        return idx

    @cached_property
    def _commune_names(self) -> dict[tuple[str, str], list[Unit]]:
        """(province code, key) → 2025 communes, under both official spellings."""
        return _name_index(self.communes.values(), lambda u: self._names_of("ward", u))

    @cached_property
    def _district_names(self) -> dict[tuple[str, str], list[Unit]]:
        """(old province code, key) → districts before 2025-07-01."""
        return _name_index(self.old_districts.values())

    @cached_property
    def _old_commune_names(self) -> dict[tuple[str, str], list[Unit]]:
        """(old province code, key) → communes before 2025-07-01."""
        return _name_index(self.old_communes.values())

    def _by_name(self, idx: dict, scope: str, text: str) -> list[Unit]:
        """Units of ``scope`` (a province code) a name may denote; an unmarked name matches loosely, and the
        kind word typed (``Xã``/``Phường``, ``Huyện``/``Thị xã``) decides between namesakes: the leading words
        (``Ủy ban nhân dân``, then the kind) are dropped one at a time and the fullest key that matches wins."""
        unmarked = is_unmarked(text)
        key = name_key(strip_marks(text)) if unmarked else name_key(text)
        stages = [key]
        while True:
            for p in _PREFIX_KEYS:
                if key.startswith(p + " "):
                    key = key[len(p) + 1:]
                    stages.append(key)
                    break
            else:
                break
        for k in stages:  # "Thị xã Long Mỹ" before "Long Mỹ" (also a Huyện)
            found = idx.get((scope, ("~~" + k) if unmarked else k))
            if found:
                return list(dict.fromkeys(found))
        if unmarked:  # a name typed without diacritics and without its kind
            found = idx.get((scope, "~" + loose_name(text)))
            if found:
                return list(dict.fromkeys(found))
        return []

    def province_2025(self, code: str) -> str | None:
        """The 2025 province a province code stands for (new codes first, then the old ones)."""
        if code in self.provinces:
            return code
        old = self.old_provinces.get(code)
        return old.province_code if old else None

    def find_province(self, text: str, generation: str | None = None) -> list[Unit]:
        """Provinces a text may name: ``37``, ``37 - Ninh Bình``, ``Tỉnh Ninh Bình``,
        ``Sở Công Thương tỉnh Nam Định``."""
        s = clean(text)
        m = _CODE_PREFIX.match(s) or re.fullmatch(r"\s*(\d{2})\s*()", s)
        if m and len(m.group(1)) == 2:
            code, rest = m.group(1), m.group(2)
            table = self.old_provinces if generation == "pre2025" else self.provinces
            unit = table.get(code) or (self.old_provinces.get(code) if generation is None else None)
            if unit and (not rest or bare_name(rest) == bare_name(unit.name)):
                return [unit]
            if rest:
                s = rest
            elif unit:
                return [unit]
        if names_lower_unit(s):
            return []
        unmarked = is_unmarked(s)
        names = self._province_loose if unmarked else self._province_names
        key = loose_name(s) if unmarked else bare_name(s)
        found = list(names.get(key, []))
        if not found:
            # a name inside a longer sentence, after the word for a province: "Sở Công Thương tỉnh Nam Định"
            # (never a bare name inside a sentence: "UBND phường Lào Cai" names a ward, not the province)
            words = f" {name_key(strip_marks(s)) if unmarked else name_key(s)} "
            found = [u for k, units in names.items() for kind in _PROVINCE_KINDS if f" {kind} {k} " in words
                     for u in units]
            # prefer the longest names ("Hà Nam" inside "Hà Nam Ninh" is not wanted twice)
            if found:
                longest = max(len(loose_name(u.name)) for u in found)
                found = [u for u in found if len(loose_name(u.name)) == longest]
        if generation:
            found = [u for u in found if u.generation == generation] or found
        # the same name in both generations (Ninh Bình, Hà Nội): prefer 2025
        new = [u for u in found if u.generation == "2025"]
        return new or found

    def find_commune(self, text: str, province_code: str | None) -> list[Unit]:
        """2025 communes a text may name, within a province when it is known."""
        s = clean(text)
        m = _CODE_PREFIX.match(s)
        if m and len(m.group(1)) == 5:
            unit = self.communes.get(m.group(1))
            if (unit and (province_code is None or unit.province_code == province_code)
                    and (not m.group(2) or bare_name(m.group(2)) == bare_name(unit.name))):
                return [unit]
            s = m.group(2) or ""
        elif re.fullmatch(r"\d{5}", s):
            unit = self.communes.get(s)
            return [unit] if unit and (province_code is None or unit.province_code == province_code) else []
        if not s:
            return []
        provinces = [province_code] if province_code else list(self.provinces)
        out: list[Unit] = []
        for p in provinces:
            out.extend(u for u in self._by_name(self._commune_names, p, s) if u not in out)
        return out

    def find_district(self, text: str, old_province_code: str) -> list[Unit]:
        """Districts (before 2025-07-01) of an old province a text may name: ``Huyện Bảo Thắng``, ``083``."""
        s = clean(text)
        m = _CODE_PREFIX.match(s) or re.fullmatch(r"\s*(\d{3})\s*()", s)
        if m and len(m.group(1)) == 3:
            unit = self.old_districts.get(m.group(1))
            if (unit and unit.province_code == old_province_code
                    and (not m.group(2) or bare_name(m.group(2)) == bare_name(unit.name))):
                return [unit]
            s = m.group(2) or ""
        return self._by_name(self._district_names, old_province_code, s) if s else []

    def find_old_commune(self, text: str, old_province_code: str, district_code: str | None = None) -> list[Unit]:
        """Communes before 2025-07-01 a text may name, within an old province (and district when known)."""
        s = clean(text)
        m = _CODE_PREFIX.match(s) or re.fullmatch(r"\s*(\d{5})\s*()", s)
        if m and len(m.group(1)) == 5:
            unit = self.old_communes.get(m.group(1))
            if unit and unit.province_code == old_province_code:
                return [unit]
            s = m.group(2) or ""
        found = self._by_name(self._old_commune_names, old_province_code, s) if s else []
        if district_code:
            found = [u for u in found if u.parent_code == district_code]
        return found

    def successors(self, old_commune_code: str) -> list[Unit]:
        """The 2025 commune(s) an old commune became (several when it was split)."""
        return [self.communes[r["new_ward_code"]] for r in self.commune_mapping.get(old_commune_code, [])
                if r["new_ward_code"] in self.communes]


def _name_index(units, names=lambda u: [u.name]) -> dict[tuple[str, str], list[Unit]]:
    """(province code, key) → units, keyed by the name with tones (with and without its kind word) and, for names
    typed without diacritics, ``~~`` + the unmarked name with its kind and ``~`` + the unmarked bare name."""
    idx: dict[tuple[str, str], list[Unit]] = {}
    for u in units:
        for name in names(u):
            for k in (bare_name(name), name_key(name), "~" + loose_name(name), "~~" + name_key(strip_marks(name))):
                _add(idx, (u.province_code, k), u)
    return idx


def _add(idx: dict, key, unit: Unit) -> None:
    bucket = idx.setdefault(key, [])
    if unit not in bucket:
        bucket.append(unit)


@lru_cache(maxsize=1)
def admin() -> Admin:
    return Admin()
