"""The rule catalogue (``rules.toml``): every rule is one of four typed kinds, checked field by field when the
catalogue loads, and the findings the rules produce.

The kinds (``kind`` in rules.toml; a rule without one is a finding template):

* :class:`FindingRule` — a finding the reader writes (file, structure, value, identity, timeliness, register):
  its id, severity, where it attaches (``scope``) and message templates; ``expect`` makes the validate stage
  check again a value property (whole counts, 0/1 flags) over the batch.
* :class:`WithinFormRule` — DHIS2's validation rule within one report: a left side and a right side (each an
  expression over the report's rows with its missing-value strategy), an operator, a tolerance, a severity and
  the period kinds it applies to.  Sums (15 = 15.1 + 15.2), comparisons (4 ≤ 3) and ranges (5 ≤ 100) are all
  this kind.
* :class:`CrossLevelRule` — a report of ``form`` against the reports of ``lower_form`` inside its unit.
* :class:`CrossPeriodRule` — a report against the same unit's report of another period.
* :class:`OutlierRule` — an implausible value of a loaded report: against the unit's own history (growth bound,
  median and MAD), against its peers of the period (median and MAD of the same form's reports in the province or
  the nation), or a report copied forward from the previous one.  Always a warning: it never blocks loading.

A bad field stops the load with a :class:`CatalogueError` naming the rule and the field.
"""

from __future__ import annotations

import ast
import re
import string
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import ClassVar

from schemas.forms import all_rows, load_forms
from schemas.text import bilingual

HERE = Path(__file__).parent
CATALOGUE = HERE / "rules.toml"

SEVERITIES = ("error", "warning")  # error blocks loading, warning loads with a flag (DHIS2's importance)
# a severity in words, (Vietnamese, English), and a finding a steward has waived
SEVERITY_WORDS = {"error": ("lỗi", "error"), "warning": ("cảnh báo", "warning"), "waived": ("đã miễn trừ", "waived")}
SCOPES = ("file", "form", "submission")  # where a finding template's finding attaches
PERIOD_KINDS = ("H1", "Y")  # the period types a check applies to
OPERATORS = ("<=", ">=", "==")
# DHIS2's missing-value strategies, one per side: a side is skipped when any (all) of its rows are blank, or never;
# a side that is not skipped counts its blank rows as 0
MISSING = ("skip_if_any_missing", "skip_if_all_missing", "never_skip")
JOINS = ("province", "commune", "cluster")  # the submission column that puts a lower unit inside an upper one
# cross level: each summed row with the same row below, each row with the row below it rolls up from
# (indicators.csv), or a row with the number of lower reports
COMPARES = ("same", "rollup", "count")
AGAINST = ("previous", "same_year")  # cross period: the period before, or the other half of the same year
# outliers: the unit's history bounded by a growth factor, the unit's history by median and MAD, the peers of the
# period by median and MAD, a report equal to the unit's previous one
METHODS = ("growth", "history_mad", "peers", "copied")
SIDES = ("high", "low")  # outliers: a value above the plausible range, or below it
GROUPS = ("province", "nation")  # outlier peers: the reports of the same form and period in the province, or all


class CatalogueError(ValueError):
    """A field of rules.toml that is missing, of the wrong type or out of range."""

    def __init__(self, source: str, rule_id: str, field_name: str, vi: str, en: str) -> None:
        self.rule_id, self.field = rule_id, field_name
        super().__init__(bilingual(f"{source}: quy tắc {rule_id}, trường {field_name}: {vi}",
                                   f"{source}: rule {rule_id}, field {field_name}: {en}"))


# ───────────────────────────── findings ─────────────────────────────

@dataclass
class Finding:
    rule_id: str
    severity: str
    message_vi: str
    message_en: str
    sheet: str | None = None
    cell: str | None = None
    indicator_code: str | None = None
    expected: str | None = None

    @property
    def message(self) -> str:
        return bilingual(self.message_vi, self.message_en)

    @property
    def is_error(self) -> bool:
        return self.severity == "error"

    def where(self) -> str:
        return "!".join(p for p in (self.sheet, self.cell) if p)


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def fmt(value) -> str:
    """A number as a steward reads it: no trailing zeros, at most 4 decimals."""
    if value is None or value != value:
        return "—"
    return f"{float(value):.4f}".rstrip("0").rstrip(".")


# ───────────────────────────── expressions ─────────────────────────────

_REF = re.compile(r"#\{([^}]+)\}")
EVERY_ROW = "#{*}"


_NODES = (ast.Expression, ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.UnaryOp, ast.USub, ast.Constant,
          ast.Name, ast.Load)


@dataclass(frozen=True)
class Expression:
    """Arithmetic over a report's rows, ``#{code}`` for a row (``100 * #{18} / #{17}``): numbers, rows, + - * /
    and parentheses.  Evaluated over a batch by ``validations.within_form``."""

    text: str

    @property
    def codes(self) -> list[str]:
        return list(dict.fromkeys(_REF.findall(self.text)))

    def parse(self) -> tuple[ast.Expression, dict[str, str]]:
        """The syntax tree, rows renamed to Python names, and the names (code -> name); ValueError when the text
        holds anything but arithmetic."""
        names = {code: f"_c{i}" for i, code in enumerate(self.codes)}
        try:
            tree = ast.parse(_REF.sub(lambda m: names[m.group(1)], self.text), mode="eval")
        except SyntaxError as e:
            raise ValueError(f"not arithmetic: {e.msg}") from None
        for node in ast.walk(tree):
            if (not isinstance(node, _NODES) or (isinstance(node, ast.Name) and node.id not in names.values())
                    or (isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)))):
                raise ValueError(f"not allowed in a rule expression: {ast.unparse(node) or type(node).__name__}")
        return tree, names


@dataclass(frozen=True)
class Side:
    """One side of a rule: an expression and what a blank row in it means (DHIS2's missing-value strategy)."""

    expression: Expression
    missing: str  # one of MISSING


# ───────────────────────────── the rule kinds ─────────────────────────────

@dataclass(frozen=True, kw_only=True)
class Rule:
    """What every rule has: an id, a severity, a description and a message, each in Vietnamese and English."""

    id: str
    severity: str
    description_vi: str
    description_en: str
    message_vi: str
    message_en: str

    scope: ClassVar[str]
    PLACEHOLDERS: ClassVar[frozenset[str] | None] = None  # the message fields a check kind fills; None: free

    def finding(self, *, sheet: str | None = None, cell: str | None = None, indicator_code: str | None = None,
                expected: str | None = None, **params: object) -> Finding:
        """A finding of this rule, its messages filled from ``params``."""
        p = _Params({k: "" if v is None else v for k, v in params.items()})
        p.setdefault("detail", "")
        p.setdefault("cell", cell or "")  # where the finding is, for a message that names its cell
        if expected is not None:
            p.setdefault("expected", expected)
        return Finding(rule_id=self.id, severity=self.severity,
                       message_vi=self.message_vi.format_map(p), message_en=self.message_en.format_map(p),
                       sheet=sheet, cell=cell, indicator_code=indicator_code, expected=expected)


@dataclass(frozen=True)
class ValueExpectation:
    """A property of the values of rows with one of ``units``, checked again over the batch by Great
    Expectations: whole numbers, or values within ``in_set``."""

    units: tuple[str, ...]
    whole: bool = False
    in_set: tuple[float, ...] = ()


@dataclass(frozen=True, kw_only=True)
class FindingRule(Rule):
    """A finding template: the reader (or the loader) decides when it applies and fills its message."""

    scope: str  # type: ignore[misc]  # one of SCOPES: a template's own data, where other kinds fix it per kind
    expect: ValueExpectation | None = None


@dataclass(frozen=True, kw_only=True)
class CheckRule(Rule):
    """A rule the validate stage evaluates; it applies to reports of the period kinds in ``periods``."""

    periods: tuple[str, ...]  # the period kinds (H1, Y) of the reports it applies to

    def applies_to(self, period: str | None) -> bool:
        """Whether the rule applies to a report of ``period`` (``2026-H1``, ``H1``, or None when unknown)."""
        return period is None or period.rsplit("-", 1)[-1] in self.periods


@dataclass(frozen=True, kw_only=True)
class WithinFormRule(CheckRule):
    """``left operator right`` (± tolerance) over one report of each form in ``forms``."""

    forms: tuple[str, ...]
    left: Side
    operator: str  # one of OPERATORS
    right: Side
    tolerance: float = 0.0  # absolute slack, in the row's unit
    tolerance_rel: float = 0.0  # slack as a share of the larger side
    units: tuple[str, ...] = ()  # with left "#{*}": only the rows of these units
    skipped_finding: bool = False  # a check skipped for a blank row is a warning of its own, naming the row

    scope: ClassVar[str] = "form"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"left", "right", "left_expr", "right_expr", "code",
                                                        "label"})

    @property
    def every_row(self) -> bool:
        return self.left.expression.text == EVERY_ROW


@dataclass(frozen=True, kw_only=True)
class CrossLevelRule(CheckRule):
    """A report of ``form`` against the sum (or the number) of the reports of ``lower_form`` of the same period
    whose unit lies inside its unit (``join``)."""

    form: str
    lower_form: str
    join: str  # one of JOINS
    compare: str  # one of COMPARES
    row: str = ""  # compare = "count": the row of form that counts the lower reports
    tolerance: float = 0.0
    tolerance_rel: float = 0.0

    scope: ClassVar[str] = "cross_level"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"code", "lower_code", "left", "right", "parts"})

    def row_pairs(self) -> dict[str, str]:
        """Row of ``form`` -> row of ``lower_form`` whose sum it must equal (compare = same or rollup)."""
        if self.compare == "same":
            return {r.code: r.code for r in load_forms()[self.form].rows if r.aggregation == "sum"}
        return load_forms()[self.form].rollup(self.lower_form)


@dataclass(frozen=True, kw_only=True)
class CrossPeriodRule(CheckRule):
    """A report's ``rows`` against the same unit's accepted report of another period (``against``): the later
    period's value ``operator`` the earlier period's value, within ``tolerance``."""

    rows: tuple[tuple[str, tuple[str, ...]], ...]  # (form, row codes)
    against: str  # one of AGAINST
    operator: str  # one of OPERATORS
    tolerance: float = 0.0
    remark_waives: bool = False  # no finding when the office wrote a remark (column 5) beside the value

    scope: ClassVar[str] = "cross_period"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({"code", "left", "right", "left_period", "right_period"})


@dataclass(frozen=True, kw_only=True)
class OutlierRule(CheckRule):
    """An implausible value of a report of ``forms`` once it is loaded (``method``, see METHODS), evaluated over a
    whole period in the warehouse by ``validations.outliers``.  Robust methods only: a ratio to the unit's
    previous values (``growth``), or a distance in natural logarithms from a median, measured in robust standard
    deviations (1.4826 × the median absolute deviation, never below ``min_spread``) and also at least
    ``min_ratio`` times away (``history_mad``, ``peers``).  Zeros take no part (a zero is a value of its own in
    zero-inflated rows, not a small number), and a value below ``small[unit]`` is too small a count to judge."""

    method: str  # one of METHODS
    forms: tuple[str, ...]
    units: tuple[str, ...] = ()  # rows of these units only; () every row (copied)
    sides: tuple[str, ...] = SIDES  # growth, history_mad, peers: above the plausible range, below it, or both
    history: int = 0  # previous periods looked at (growth, history_mad, copied)
    min_history: int = 0  # previous values needed (growth, history_mad)
    factor: float = 0.0  # growth: within [lowest / factor, highest × factor] of the previous values
    threshold: float = 0.0  # history_mad, peers: robust standard deviations from the median (natural log)
    min_spread: float = 0.0  # history_mad, peers: the robust standard deviation's floor (natural log)
    min_ratio: float = 1.0  # history_mad, peers: and at least this many times above (or below) the median
    group: str = ""  # peers: one of GROUPS
    min_peers: int = 0  # peers: non-zero values needed in the group
    max_zero_share: float = 1.0  # peers: a row whose share of zeros in the group is above this is not judged
    # unit -> the size under which a value is a small count: growth and history_mad do not judge a value against a
    # reference (a previous value, their median) under it, peers do not judge a value under it
    small: tuple[tuple[str, float], ...] = ()
    min_nonzero: int = 0  # copied: non-zero values the report must hold
    require_flow: bool = False  # copied: one of them in a row of the period (a flow), which never repeats exactly

    scope: ClassVar[str] = "outlier"
    PLACEHOLDERS: ClassVar[frozenset[str]] = frozenset({
        "code", "label", "form", "value", "change_vi", "change_en", "ref", "ref_period", "ref_submission", "low",
        "high", "factor", "n", "median", "basis_vi", "basis_en", "group_vi", "group_en"})

    def small_of(self, unit: str) -> float:
        return dict(self.small).get(unit, 0.0)


def excess(left, operator: str, right, tolerance: float, tolerance_rel: float = 0.0):
    """How far ``left operator right`` is from holding, beyond the tolerances (and a rounding hair): > 0 breaks
    it, NaN when a side is NaN.  Numbers or pandas Series alike."""
    a, b = abs(left), abs(right)
    size = (a + b + abs(a - b)) / 2  # the larger of the two
    slack = tolerance + tolerance_rel * size + 1e-9 * (1.0 + size)
    if operator == "<=":
        return left - right - slack
    if operator == ">=":
        return right - left - slack
    return abs(left - right) - slack


# ───────────────────────────── loading and checking rules.toml ─────────────────────────────

class _Fields:
    """The fields of one ``[[rules]]`` entry, taken one by one; what is left at the end is unknown."""

    def __init__(self, source: str, rule_id: str, entry: dict, prefix: str = "") -> None:
        self.source, self.rule_id, self.entry, self.prefix = source, rule_id, dict(entry), prefix

    def fail(self, name: str, vi: str, en: str):
        raise CatalogueError(self.source, self.rule_id, self.prefix + name, vi, en)

    def _take(self, name: str, default, kind, vi: str, en: str):
        if name not in self.entry:
            if default is _REQUIRED:
                self.fail(name, "thiếu trường bắt buộc", "required field is missing")
            return default
        value = self.entry.pop(name)
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            self.fail(name, f"phải là {vi}, không phải {value!r}", f"must be {en}, not {value!r}")
        return value

    def text(self, name: str, default=None) -> str:
        value = self._take(name, _REQUIRED if default is None else default, str, "một chuỗi", "a string")
        if not value.strip():
            self.fail(name, "không được để trống", "must not be empty")
        return value

    def choice(self, name: str, options, default=None) -> str:
        value = self.text(name, default)
        if value not in options:
            self.fail(name, f"phải là một trong {', '.join(options)}, không phải {value!r}",
                      f"must be one of {', '.join(options)}, not {value!r}")
        return value

    def choices(self, name: str, options, default=None) -> tuple[str, ...]:
        value = self._take(name, _REQUIRED if default is None else default, list, "một danh sách", "a list")
        if not value:
            self.fail(name, "không được để trống", "must not be empty")
        for v in value:
            if v not in options:
                self.fail(name, f"{v!r} không thuộc {', '.join(options)}", f"{v!r} is not one of {', '.join(options)}")
        return tuple(value)

    def number(self, name: str, default: float | None = None) -> float:
        value = self._take(name, _REQUIRED if default is None else default, (int, float), "một số", "a number")
        if value < 0:
            self.fail(name, "không được âm", "must not be negative")
        return float(value)

    def integer(self, name: str, default: int | None = None) -> int:
        value = self._take(name, _REQUIRED if default is None else default, int, "một số nguyên", "a whole number")
        if value < 0:
            self.fail(name, "không được âm", "must not be negative")
        return value

    def numbers(self, name: str) -> tuple[float, ...]:
        value = self._take(name, [], list, "một danh sách số", "a list of numbers")
        if any(isinstance(v, bool) or not isinstance(v, (int, float)) for v in value):
            self.fail(name, "chỉ gồm các số", "must hold numbers only")
        return tuple(float(v) for v in value)

    def flag(self, name: str, default: bool = False) -> bool:
        return self._take(name, default, bool, "true hoặc false", "true or false")

    def table(self, name: str, default=None) -> dict:
        return self._take(name, _REQUIRED if default is None else default, dict, "một bảng", "a table")

    def sub(self, name: str, value: dict) -> _Fields:
        return _Fields(self.source, self.rule_id, value, f"{self.prefix}{name}.")

    def done(self) -> None:
        for name in self.entry:
            self.fail(name, "trường không có trong loại quy tắc này", "unknown field for this kind of rule")


_REQUIRED = object()


def _common(f: _Fields, kind: type[Rule]) -> dict:
    out = {"id": f.rule_id, "severity": f.choice("severity", SEVERITIES)}
    for name in ("description_vi", "description_en", "message_vi", "message_en"):
        out[name] = f.text(name)
    for name in ("message_vi", "message_en"):
        try:
            used = {p[1] for p in string.Formatter().parse(out[name]) if p[1] is not None}
        except ValueError as e:
            f.fail(name, f"mẫu thông báo sai: {e}", f"malformed message template: {e}")
        if kind.PLACEHOLDERS is not None and used - kind.PLACEHOLDERS:
            unknown = ", ".join(sorted(used - kind.PLACEHOLDERS))
            f.fail(name, f"không điền được {{{unknown}}}; dùng {', '.join(sorted(kind.PLACEHOLDERS))}",
                   f"{{{unknown}}} is never filled; use {', '.join(sorted(kind.PLACEHOLDERS))}")
    return out


def _form(f: _Fields, name: str) -> str:
    return f.choice(name, tuple(load_forms()))


def _rows_of(f: _Fields, name: str, form: str, codes) -> None:
    rows = load_forms()[form].rows_by_code
    for code in codes:
        if code not in rows:
            f.fail(name, f"dòng {code} không thuộc Biểu {form}", f"row {code} is not a row of Biểu {form}")


def _side(f: _Fields, name: str, forms: tuple[str, ...], every_row: bool) -> Side:
    s = f.sub(name, f.table(name))
    text = s.text("expression")
    missing = s.choice("missing", MISSING)
    s.done()
    expr = Expression(text)
    if text == EVERY_ROW:
        if not every_row:
            f.fail(f"{name}.expression", f"{EVERY_ROW} chỉ dùng ở vế trái",
                   f"{EVERY_ROW} belongs on the left side only")
        return Side(expr, missing)
    if EVERY_ROW in text:
        f.fail(f"{name}.expression", f"{EVERY_ROW} phải đứng một mình", f"{EVERY_ROW} must stand alone")
    try:
        expr.parse()
    except ValueError as e:
        f.fail(f"{name}.expression", f"biểu thức sai ({e})", f"not a rule expression ({e})")
    for form in forms:
        _rows_of(f, f"{name}.expression", form, expr.codes)
    return Side(expr, missing)


def _finding_rule(f: _Fields) -> FindingRule:
    common = _common(f, FindingRule)
    scope = f.choice("scope", SCOPES)
    expect = None
    if "expect" in f.entry:
        e = f.sub("expect", f.table("expect"))
        units = e.choices("units", sorted({r.unit for r in all_rows()}))
        whole = e.flag("whole")
        in_set = e.numbers("in_set")
        if not whole and not in_set:
            e.fail("whole", "cần whole = true hoặc in_set", "needs whole = true or in_set")
        e.done()
        expect = ValueExpectation(units=units, whole=whole, in_set=in_set)
    return FindingRule(**common, scope=scope, expect=expect)


def _within_form_rule(f: _Fields) -> WithinFormRule:
    common = _common(f, WithinFormRule)
    forms = f.choices("forms", tuple(load_forms()))
    periods = f.choices("periods", PERIOD_KINDS)
    left = _side(f, "left", forms, every_row=True)
    if not left.expression.codes:
        f.fail("left.expression", "phải có ít nhất một dòng #{mã}; phát hiện được ghi vào ô của dòng đầu tiên",
               "must name a row #{code}: the finding is written at the cell of its first row")
    right = _side(f, "right", forms, every_row=False)
    units: tuple[str, ...] = ()
    if "units" in f.entry:
        if left.expression.text != EVERY_ROW:
            f.fail("units", f"chỉ dùng khi vế trái là {EVERY_ROW}", f"only with a left side of {EVERY_ROW}")
        units = f.choices("units", sorted({r.unit for r in all_rows()}))
    return WithinFormRule(**common, periods=periods, forms=forms, left=left, operator=f.choice("operator", OPERATORS),
                          right=right, tolerance=f.number("tolerance", 0.0),
                          tolerance_rel=f.number("tolerance_rel", 0.0), units=units,
                          skipped_finding=f.flag("skipped_finding"))


def _cross_level_rule(f: _Fields) -> CrossLevelRule:
    common = _common(f, CrossLevelRule)
    periods = f.choices("periods", PERIOD_KINDS)
    form, lower_form = _form(f, "form"), _form(f, "lower_form")
    join = f.choice("join", JOINS)
    compare = f.choice("compare", COMPARES)
    row = ""
    if compare == "rollup" and not load_forms()[form].rollup(lower_form):
        f.fail("compare", f"không dòng nào của Biểu {form} là tổng một dòng của Biểu {lower_form} (indicators.csv, "
                          "rollup_form)",
               f"no row of Biểu {form} is the sum of a row of Biểu {lower_form} (indicators.csv, rollup_form)")
    if compare == "count":
        row = f.text("row")
        _rows_of(f, "row", form, [row])
    return CrossLevelRule(**common, periods=periods, form=form, lower_form=lower_form, join=join, compare=compare,
                          row=row, tolerance=f.number("tolerance", 0.0), tolerance_rel=f.number("tolerance_rel", 0.0))


def _cross_period_rule(f: _Fields) -> CrossPeriodRule:
    common = _common(f, CrossPeriodRule)
    periods = f.choices("periods", PERIOD_KINDS)
    table = f.table("rows")
    if not table:
        f.fail("rows", "không được để trống", "must not be empty")
    rows = []
    for form, codes in table.items():
        if form not in load_forms():
            f.fail("rows", f"không có Biểu {form}", f"there is no Biểu {form}")
        if not isinstance(codes, list) or not codes or not all(isinstance(c, str) for c in codes):
            f.fail(f"rows.{form}", "phải là danh sách mã dòng", "must be a list of row codes")
        _rows_of(f, f"rows.{form}", form, codes)
        rows.append((form, tuple(codes)))
    return CrossPeriodRule(**common, periods=periods, rows=tuple(rows), against=f.choice("against", AGAINST),
                           operator=f.choice("operator", OPERATORS), tolerance=f.number("tolerance", 0.0),
                           remark_waives=f.flag("remark_waives"))


# the fields each outlier method reads, beside forms, periods and the messages
_METHOD_FIELDS = {
    "growth": ("units", "sides", "history", "min_history", "factor", "small"),
    "history_mad": ("units", "sides", "history", "min_history", "threshold", "min_spread", "min_ratio", "small"),
    "peers": ("units", "sides", "group", "threshold", "min_spread", "min_ratio", "min_peers", "max_zero_share",
              "small"),
    "copied": ("history", "min_nonzero", "require_flow"),
}


def _outlier_rule(f: _Fields) -> OutlierRule:
    common = _common(f, OutlierRule)
    if common["severity"] != "warning":
        f.fail("severity", "giá trị bất thường chỉ là cảnh báo, không bao giờ chặn việc nạp",
               "an outlier is a warning: it never blocks loading")
    forms = f.choices("forms", tuple(load_forms()))
    periods = f.choices("periods", PERIOD_KINDS)
    method = f.choice("method", METHODS)
    wanted = _METHOD_FIELDS[method]
    for name in ("units", "sides", "history", "min_history", "factor", "threshold", "min_spread", "min_ratio", "group",
                 "min_peers", "max_zero_share", "small", "min_nonzero", "require_flow"):
        if name in f.entry and name not in wanted:
            f.fail(name, f"phương pháp {method} không dùng trường này", f"method {method} does not use this field")
    all_units = sorted({r.unit for r in all_rows()})
    out: dict = {}
    if "units" in wanted:
        out["units"] = f.choices("units", all_units)
        out["sides"] = f.choices("sides", SIDES, list(SIDES))
    for name in ("history", "min_history", "min_peers", "min_nonzero"):
        if name in wanted:
            out[name] = f.integer(name)
    for name in ("factor", "threshold", "min_spread", "min_ratio", "max_zero_share"):
        if name in wanted:
            out[name] = f.number(name)
    if "group" in wanted:
        out["group"] = f.choice("group", GROUPS)
    if "require_flow" in wanted:
        out["require_flow"] = f.flag("require_flow")
    if "small" in wanted:
        table = f.sub("small", f.table("small"))
        small = []
        for unit in sorted(table.entry):
            if unit not in all_units:
                table.fail(unit, f"không phải đơn vị của biểu nào ({', '.join(all_units)})",
                           f"not a unit of any form ({', '.join(all_units)})")
            small.append((unit, table.number(unit)))
        out["small"] = tuple(small)
    if out.get("history", 1) < 1:
        f.fail("history", "phải xét ít nhất 1 kỳ trước", "must look at 1 previous period at least")
    if not 1 <= out.get("min_history", 1) <= out.get("history", 1):
        f.fail("min_history", "phải từ 1 đến history", "must be between 1 and history")
    if out.get("factor", 2.0) <= 1 or out.get("min_ratio", 1.0) < 1:
        f.fail("factor" if out.get("factor", 2.0) <= 1 else "min_ratio", "phải lớn hơn 1", "must be above 1")
    if out.get("max_zero_share", 0.0) > 1:
        f.fail("max_zero_share", "là một tỉ lệ từ 0 đến 1", "is a share between 0 and 1")
    if method == "peers" and out["min_peers"] < 3:
        f.fail("min_peers", "cần ít nhất 3 đơn vị để có trung vị và độ lệch", "needs 3 units at least for a median "
               "and a deviation")
    return OutlierRule(**common, periods=periods, forms=forms, method=method, **out)


KINDS = {"finding": _finding_rule, "within_form": _within_form_rule, "cross_level": _cross_level_rule,
         "cross_period": _cross_period_rule, "outlier": _outlier_rule}


def load_catalogue(path: Path = CATALOGUE) -> dict[str, Rule]:
    """Every rule of ``path`` by id, each checked field by field; raises :class:`CatalogueError` on the first
    bad field."""
    source = path.name
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise CatalogueError(source, "—", "—", f"không phải TOML hợp lệ ({e})", f"not valid TOML ({e})") from None
    entries = data.get("rules")
    if not isinstance(entries, list) or not entries:
        raise CatalogueError(source, "—", "rules", "cần các mục [[rules]]", "needs [[rules]] entries")
    out: dict[str, Rule] = {}
    for i, entry in enumerate(entries, 1):
        rule_id = entry.get("id") if isinstance(entry, dict) else None
        if not isinstance(rule_id, str) or not rule_id.strip():
            raise CatalogueError(source, f"#{i}", "id", "thiếu mã quy tắc", "the rule has no id")
        f = _Fields(source, rule_id, {k: v for k, v in entry.items() if k != "id"})
        if rule_id in out:
            f.fail("id", "mã quy tắc bị trùng", "the id is used twice")
        rule = KINDS[f.choice("kind", tuple(KINDS), "finding")](f)
        f.done()
        out[rule_id] = rule
    return out


@lru_cache(maxsize=1)
def rules() -> dict[str, Rule]:
    """The catalogue ``validations/rules.toml``."""
    return load_catalogue()


def finding(rule_id: str, *, sheet: str | None = None, cell: str | None = None,
            indicator_code: str | None = None, expected: str | None = None, **params: object) -> Finding:
    """A finding of a catalogued rule, its messages filled from ``params``."""
    return rules()[rule_id].finding(sheet=sheet, cell=cell, indicator_code=indicator_code, expected=expected,
                                    **params)
