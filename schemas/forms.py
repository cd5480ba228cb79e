"""The four forms of Circular 14/2024/TT-BCT as data.

``forms.toml`` holds what is said of a form (title, sender, receiver, deadlines, legal generations) and
``indicators.csv`` its rows (code, Vietnamese label, English gloss, unit, cumulative or in-period, how the
row aggregates upward).  This module only loads them; nothing about a particular form is written here.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path

from schemas.text import loose_key

HERE = Path(__file__).parent

# Units whose values are whole numbers (counts and flags).
INTEGER_UNITS = {"persons", "projects", "clusters", "flag"}


@dataclass(frozen=True)
class RowSpec:
    form: str
    code: str
    section: str
    label_vi: str
    label_en: str
    unit_vi: str
    unit: str
    period_kind: str  # cumulative | in_period | point
    aggregation: str  # sum | ratio | flag_count | none
    numerator: str
    denominator: str
    scale: float | None
    sort_order: int

    @property
    def is_integer(self) -> bool:
        return self.unit in INTEGER_UNITS

    @property
    def key(self) -> str:
        return loose_key(self.label_vi)


@dataclass(frozen=True)
class Generation:
    name: str
    valid_from: date
    valid_to: date | None
    title: str
    sender: str
    receiver: str


@dataclass(frozen=True)
class FormSpec:
    form: str  # "01".."04"
    title: str
    title_en: str
    sender_level: str
    unit_key: str
    deadline: dict[str, str]  # period kind -> "MM-DD" (first late day)
    extra_header: tuple[str, ...]
    generations: tuple[Generation, ...]
    rows: tuple[RowSpec, ...] = field(repr=False)
    signer: str = ""  # the signature block under the table
    value_header: str = "Kết quả"  # the heading of column (4)

    @property
    def label(self) -> str:
        return f"Biểu số {self.form}"

    def row(self, code: str) -> RowSpec:
        return self.rows_by_code[code]

    @property
    def rows_by_code(self) -> dict[str, RowSpec]:
        return {r.code: r for r in self.rows}

    def generation_on(self, day: date) -> Generation:
        for g in self.generations:
            if g.valid_from <= day and (g.valid_to is None or day <= g.valid_to):
                return g
        return self.generations[-1] if day > self.generations[-1].valid_from else self.generations[0]


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


@lru_cache(maxsize=1)
def load_forms() -> dict[str, FormSpec]:
    meta = tomllib.loads((HERE / "forms.toml").read_text(encoding="utf-8"))
    rows: dict[str, list[RowSpec]] = {}
    with open(HERE / "indicators.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            rows.setdefault(r["form"], []).append(
                RowSpec(
                    form=r["form"], code=r["code"], section=r["section"], label_vi=r["label_vi"],
                    label_en=r["label_en"], unit_vi=r["unit_vi"], unit=r["unit"],
                    period_kind=r["period_kind"], aggregation=r["aggregation"],
                    numerator=r["numerator"], denominator=r["denominator"],
                    scale=float(r["scale"]) if r["scale"] else None, sort_order=int(r["sort_order"]),
                )
            )
    forms = {}
    for code, m in meta["forms"].items():
        gens = tuple(
            Generation(
                name=g["name"], valid_from=date.fromisoformat(g["valid_from"]), valid_to=_date(g.get("valid_to")),
                title=g.get("title", m["title"]), sender=g["sender"], receiver=g["receiver"],
            )
            for g in m["generations"]
        )
        forms[code] = FormSpec(
            form=code, title=m["title"], title_en=m["title_en"], sender_level=m["sender_level"],
            unit_key=m["unit_key"], deadline=dict(m["deadline"]), extra_header=tuple(m["extra_header"]),
            generations=gens, rows=tuple(rows[code]), signer=m.get("signer", ""),
            value_header=m.get("value_header", "Kết quả"),
        )
    return forms


@lru_cache(maxsize=1)
def column_words() -> dict[str, list[str]]:
    """Header words that identify each of the five numbered columns (loose keys)."""
    meta = tomllib.loads((HERE / "forms.toml").read_text(encoding="utf-8"))
    return {k: [loose_key(w) for w in v] for k, v in meta["columns"].items()}


def all_rows() -> list[RowSpec]:
    return [r for f in load_forms().values() for r in f.rows]


@dataclass(frozen=True)
class RegisterColumn:
    """One column of a province's cluster register workbook (``[register]`` in forms.toml)."""

    key: str
    label: str
    label_en: str
    kind: str  # text | number | date | choice | commune
    required: bool
    aliases: tuple[str, ...]
    width: int
    choices: dict[str, str]  # typed word -> stored code

    @property
    def keys(self) -> tuple[str, ...]:
        """Loose keys a header cell may start with to name this column."""
        return (loose_key(self.label), *(loose_key(a) for a in self.aliases))


@dataclass(frozen=True)
class RegisterSpec:
    title: str
    title_en: str
    columns: tuple[RegisterColumn, ...]


@lru_cache(maxsize=1)
def load_register() -> RegisterSpec:
    meta = tomllib.loads((HERE / "forms.toml").read_text(encoding="utf-8"))["register"]
    cols = tuple(
        RegisterColumn(key=c["key"], label=c["label"], label_en=c["label_en"], kind=c["kind"],
                       required=c.get("required", False), aliases=tuple(c.get("aliases", ())),
                       width=c.get("width", 16), choices=dict(c.get("choices", {})))
        for c in meta["columns"]
    )
    return RegisterSpec(title=meta["title"], title_en=meta["title_en"], columns=cols)
