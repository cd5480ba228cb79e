"""The four forms of Circular 14/2024/TT-BCT as data.

``forms.toml`` holds what is said of a form (title, sender, receiver, deadlines, legal generations) and the words
offices type around and inside a form (``[columns]``, ``[vocabulary]``); ``indicators.csv`` holds the forms' rows
(code, Vietnamese label, English gloss, unit, cumulative or in-period, how the row aggregates upward, and which row
of a lower form it is the sum of: ``rollup_form``/``rollup_code``, e.g. Biểu 03/04 row 18, leased land, is the sum
of Biểu 02 row 4 of the clusters inside).  This module only loads them; nothing about a particular form is written
here.
"""

from __future__ import annotations

import csv
import tomllib
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from pathlib import Path

from schemas.text import bilingual, loose_key

HERE = Path(__file__).parent


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
    decimals: int  # the decimals a value keeps: its unit's, from forms.toml [unit_decimals]
    rollup_form: str = ""  # the lower form whose reports inside this unit add up to this row ("" for none)
    rollup_code: str = ""  # ... and the row of it that is summed

    @property
    def is_integer(self) -> bool:
        """Whether the row's values are whole numbers (counts and 1/0 flags)."""
        return self.decimals == 0

    def rounded(self, value: float) -> float | int:
        """``value`` to the row's decimals (an ``int`` for a count), as the BI views round it."""
        return round_to(value, self.decimals)

    def shown(self, value: float) -> str:
        """``value`` as a table prints it: ``6,070.150`` to the row's decimals, thousands separated."""
        return f"{self.rounded(value):,.{self.decimals}f}"

    @property
    def number_format(self) -> str:
        """The spreadsheet number format that shows the row's decimals: ``#,##0`` or ``#,##0.000``."""
        return "#,##0" + ("." + "0" * self.decimals if self.decimals else "")

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
class HeaderLine:
    """An identification line of one form only (``extra_header``): the field it fills and its label."""

    field: str
    label: str


@dataclass(frozen=True)
class FormSpec:
    form: str  # "01".."04"
    title: str
    title_en: str
    sender_level: str
    unit_key: str
    deadline: dict[str, str]  # period kind -> "MM-DD" (first late day)
    extra_header: tuple[HeaderLine, ...]
    generations: tuple[Generation, ...]
    rows: tuple[RowSpec, ...] = field(repr=False)
    signer: str = ""  # the signature block under the table
    value_header: str = "Kết quả"  # the heading of column (4)

    @property
    def label(self) -> str:
        return f"Biểu số {self.form}"

    def row(self, code: str) -> RowSpec:
        return self.rows_by_code[code]

    def rollup(self, lower_form: str) -> dict[str, str]:
        """Row of this form -> row of ``lower_form`` whose sum over the units inside it the row is."""
        return {r.code: r.rollup_code for r in self.rows if r.rollup_form == lower_form}

    @property
    def rows_by_code(self) -> dict[str, RowSpec]:
        return {r.code: r for r in self.rows}

    def generation_on(self, day: date) -> Generation:
        for g in self.generations:
            if g.valid_from <= day and (g.valid_to is None or day <= g.valid_to):
                return g
        return self.generations[-1] if day > self.generations[-1].valid_from else self.generations[0]


@lru_cache(maxsize=1)
def _toml() -> dict:
    """forms.toml as read (read once; the loaders below build their own objects from it and never change it)."""
    return tomllib.loads((HERE / "forms.toml").read_text(encoding="utf-8"))


def _date(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


def round_to(value: float, decimals: int) -> float | int:
    """``value`` rounded to ``decimals`` half away from zero on the number as written (2.675 → 2.68), as SQL's
    ``ROUND`` of a ``NUMERIC`` does; an ``int`` when ``decimals`` is 0."""
    exact = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    return int(exact) if decimals == 0 else float(exact)


@lru_cache(maxsize=1)
def unit_decimals() -> dict[str, int]:
    """Unit of indicators.csv -> the decimals its values keep (forms.toml ``[unit_decimals]``)."""
    return {unit: int(d) for unit, d in _toml()["unit_decimals"].items()}


@lru_cache(maxsize=1)
def load_forms() -> dict[str, FormSpec]:
    meta = _toml()
    decimals = unit_decimals()
    rows: dict[str, list[RowSpec]] = {}
    with open(HERE / "indicators.csv", encoding="utf-8", newline="") as fh:
        for r in csv.DictReader(fh):
            if r["unit"] not in decimals:
                raise ValueError(bilingual(
                    f"indicators.csv: Biểu {r['form']} dòng {r['code']} có đơn vị {r['unit']!r}, forms.toml "
                    f"[unit_decimals] không nói đơn vị này giữ mấy chữ số thập phân",
                    f"indicators.csv: Biểu {r['form']} row {r['code']} has the unit {r['unit']!r}, whose decimals "
                    f"forms.toml [unit_decimals] does not give"))
            rows.setdefault(r["form"], []).append(
                RowSpec(
                    form=r["form"], code=r["code"], section=r["section"], label_vi=r["label_vi"],
                    label_en=r["label_en"], unit_vi=r["unit_vi"], unit=r["unit"],
                    period_kind=r["period_kind"], aggregation=r["aggregation"],
                    numerator=r["numerator"], denominator=r["denominator"],
                    scale=float(r["scale"]) if r["scale"] else None, sort_order=int(r["sort_order"]),
                    rollup_form=r["rollup_form"], rollup_code=r["rollup_code"], decimals=decimals[r["unit"]],
                )
            )
    codes = {(form, r.code) for form, rs in rows.items() for r in rs}
    for spec in (spec for specs in rows.values() for spec in specs):
        if (spec.rollup_form or spec.rollup_code) and (spec.rollup_form, spec.rollup_code) not in codes:
            raise ValueError(bilingual(
                f"indicators.csv: Biểu {spec.form} dòng {spec.code} là tổng của Biểu {spec.rollup_form!r} dòng "
                f"{spec.rollup_code!r}, dòng này không có",
                f"indicators.csv: Biểu {spec.form} row {spec.code} rolls up from Biểu {spec.rollup_form!r} row "
                f"{spec.rollup_code!r}, which does not exist"))
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
            unit_key=m["unit_key"], deadline=dict(m["deadline"]),
            extra_header=tuple(HeaderLine(**h) for h in m["extra_header"]),
            generations=gens, rows=tuple(rows[code]), signer=m.get("signer", ""),
            value_header=m.get("value_header", "Kết quả"),
        )
    return forms


def word_key(text: str) -> str:
    """The key a typed word is compared by: its loose key, or the word itself when it is only signs (``%``)."""
    return loose_key(text) or text.strip()


@dataclass(frozen=True)
class Vocabulary:
    """How offices type the words around and inside a form (``[vocabulary]`` in forms.toml), as keys."""

    section_numerals: frozenset[str]  # I, II, III … as written (upper case)
    abbreviations: dict[str, str]  # abbreviation -> the words it stands for
    units: dict[str, frozenset[str]]  # unit (indicators.csv) -> unit words accepted besides the row's unit_vi
    identification: dict[str, tuple[str, ...]]  # identification field -> the labels that start its line
    wording: dict[str, tuple[str, ...]]  # generation name -> words that tell it, in the order they are tried
    senders: dict[str, tuple[str, ...]]  # form -> words of its sender line
    receivers: dict[str, tuple[str, ...]]  # form -> words of its receiver line


@lru_cache(maxsize=1)
def vocabulary() -> Vocabulary:
    v = _toml()["vocabulary"]

    def keys(table: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
        return {name: tuple(word_key(w) for w in words) for name, words in table.items()}

    identification = keys(v["identification"])
    for spec in load_forms().values():  # a form's own lines, by their label first
        for line in spec.extra_header:
            identification[line.field] = tuple(dict.fromkeys((word_key(line.label), *identification[line.field])))
    return Vocabulary(
        section_numerals=frozenset(v["section_numerals"]),
        abbreviations={word_key(short): word_key(long) for short, long in v["abbreviations"].items()},
        units={unit: frozenset(words) for unit, words in keys(v["units"]).items()},
        identification=identification, wording=keys(v["wording"]), senders=keys(v["senders"]),
        receivers=keys(v["receivers"]),
    )


def form_codes() -> tuple[str, ...]:
    """The forms' numbers, ``("01", "02", "03", "04")``: the one list of forms."""
    return tuple(load_forms())


@lru_cache(maxsize=1)
def column_words() -> dict[str, list[str]]:
    """Header words that identify each of the five numbered columns (loose keys)."""
    meta = _toml()
    return {k: [loose_key(w) for w in v] for k, v in meta["columns"].items()}


def all_rows() -> list[RowSpec]:
    return [r for f in load_forms().values() for r in f.rows]


def forms_by_deadline() -> list[tuple[tuple[FormSpec, ...], dict[str, str]]]:
    """The forms that share each distinct deadline, in form order:
    ``[((01, 02), {"H1": "06-20", "Y": "12-20"}), …]``."""
    groups: dict[tuple[tuple[str, str], ...], list[FormSpec]] = {}
    for spec in load_forms().values():
        groups.setdefault(tuple(spec.deadline.items()), []).append(spec)
    return [(tuple(specs), dict(deadline)) for deadline, specs in groups.items()]


def deadline_months() -> dict[str, int]:
    """The month of each period kind's deadlines (the latest over the forms), earliest first: ``{"H1": 6, "Y": 12}``."""
    months: dict[str, int] = {}
    for spec in load_forms().values():
        for kind, month_day in spec.deadline.items():
            months[kind] = max(months.get(kind, 0), int(month_day[:2]))
    return dict(sorted(months.items(), key=lambda km: km[1]))


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
    meta = _toml()["register"]
    cols = tuple(
        RegisterColumn(key=c["key"], label=c["label"], label_en=c["label_en"], kind=c["kind"],
                       required=c.get("required", False), aliases=tuple(c.get("aliases", ())),
                       width=c.get("width", 16), choices=dict(c.get("choices", {})))
        for c in meta["columns"]
    )
    return RegisterSpec(title=meta["title"], title_en=meta["title_en"], columns=cols)
