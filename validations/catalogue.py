"""The rule catalogue (``rules.toml``) and the findings it produces."""

from __future__ import annotations

import ast
import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from schemas.text import bilingual

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Rule:
    id: str
    severity: str  # error | warning
    scope: str
    description_vi: str
    description_en: str
    message_vi: str
    message_en: str
    extra: dict = field(default_factory=dict, hash=False, compare=False)


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


_KNOWN = {"id", "severity", "scope", "description_vi", "description_en", "message_vi", "message_en"}


@lru_cache(maxsize=1)
def rules() -> dict[str, Rule]:
    data = tomllib.loads((HERE / "rules.toml").read_text(encoding="utf-8"))
    out = {}
    for r in data["rules"]:
        out[r["id"]] = Rule(**{k: r[k] for k in _KNOWN}, extra={k: v for k, v in r.items() if k not in _KNOWN})
    return out


class _Params(dict):
    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


def finding(rule_id: str, *, sheet: str | None = None, cell: str | None = None,
            indicator_code: str | None = None, expected: str | None = None, **params: object) -> Finding:
    """A finding of a catalogued rule, its messages filled from ``params``."""
    rule = rules()[rule_id]
    p = _Params({k: "" if v is None else v for k, v in params.items()})
    p.setdefault("detail", "")
    p.setdefault("cell", cell or "")  # where the finding is, for a message that names its cell
    if expected is not None:
        p.setdefault("expected", expected)
    return Finding(
        rule_id=rule.id, severity=rule.severity,
        message_vi=rule.message_vi.format_map(p), message_en=rule.message_en.format_map(p),
        sheet=sheet, cell=cell, indicator_code=indicator_code, expected=expected,
    )


# ───────────────────────────── expressions (left side, operator, right side) ─────────────────────────────

_REF = re.compile(r"#\{([^}]+)\}")
OPERATORS = ("<=", ">=", "==")
MISSING = ("skip", "zero", "finding")


@dataclass(frozen=True)
class Expression:
    """Arithmetic over a report's rows, ``#{code}`` for a row (``100 * #{18} / #{17}``)."""

    text: str

    @property
    def codes(self) -> list[str]:
        return list(dict.fromkeys(_REF.findall(self.text)))

    def evaluate(self, frame, zero_missing: bool = False):
        """The expression over every row of a wide frame (one column per indicator code); NaN where an operand
        is missing (unless ``zero_missing``) or a division by zero happens."""
        import numpy as np
        import pandas as pd

        names = {code: f"_c{i}" for i, code in enumerate(self.codes)}
        tree = ast.parse(_REF.sub(lambda m: names[m.group(1)], self.text), mode="eval")
        cols = {}
        for code, name in names.items():
            col = frame[code] if code in frame else pd.Series(np.nan, index=frame.index)
            col = col.astype("float64")
            cols[name] = col.fillna(0.0) if zero_missing else col
        out = _eval(tree.body, cols)
        if not isinstance(out, pd.Series):
            out = pd.Series(float(out), index=frame.index)
        return out.replace([np.inf, -np.inf], np.nan)


def _eval(node, cols):
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div)):
        a, b = _eval(node.left, cols), _eval(node.right, cols)
        return {ast.Add: lambda: a + b, ast.Sub: lambda: a - b, ast.Mult: lambda: a * b,
                ast.Div: lambda: a / b}[type(node.op)]()
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_eval(node.operand, cols)
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.Name) and node.id in cols:
        return cols[node.id]
    raise ValueError(f"not allowed in a rule expression: {ast.dump(node)}")


@dataclass(frozen=True)
class Check:
    """One expression rule applied to one form (a ``#{*}`` rule gives one check per row of the form)."""

    rule: Rule
    form: str
    left: Expression
    right: Expression
    operator: str
    tolerance: float
    tolerance_rel: float
    missing: str
    code: str  # the row the finding points at (the first row of the left side)

    @property
    def column(self) -> str:
        """Name of the computed column Great Expectations checks (``rule_id`` or ``rule_id[code]``)."""
        return f"{self.rule.id}[{self.code}]" if self.rule.extra.get("left") == "#{*}" else self.rule.id

    def sides(self, frame):
        zero = self.missing == "zero"
        return self.left.evaluate(frame, zero), self.right.evaluate(frame, zero)

    def excess(self, frame):
        """How far each report is beyond what the rule allows: > 0 breaks the rule, NaN means not checked."""
        import numpy as np

        left, right = self.sides(frame)
        size = np.maximum(left.abs(), right.abs())
        slack = self.tolerance + self.tolerance_rel * size + 1e-9 * (1.0 + size)
        if self.operator == "<=":
            return left - right - slack
        if self.operator == ">=":
            return right - left - slack
        return (left - right).abs() - slack

    def expected(self) -> str:
        right = self.right.text.replace("#{", "dòng/row ").replace("}", "")
        tol = f" ± {self.tolerance:g}" if self.operator == "==" and self.tolerance else ""
        return f"{self.operator.replace('==', '=')} {right}{tol}"


def checks(form: str) -> list[Check]:
    """The within-form checks of ``form``, in catalogue order."""
    from schemas.forms import load_forms

    spec = load_forms()[form]
    out = []
    for rule in rules().values():
        x = rule.extra
        if rule.scope != "form" or "left" not in x or form not in x.get("forms", ()):
            continue
        if x["operator"] not in OPERATORS or x.get("missing", "skip") not in MISSING:
            raise ValueError(f"rule {rule.id}: operator must be one of {OPERATORS}, missing one of {MISSING}")
        if x["left"] == "#{*}":
            units = set(x.get("units", ())) or None
            lefts = [(f"#{{{r.code}}}", r.code) for r in spec.rows if units is None or r.unit in units]
        else:
            lefts = [(x["left"], Expression(x["left"]).codes[0])]
        for left, code in lefts:
            if code not in spec.rows_by_code:
                raise ValueError(f"rule {rule.id}: row {code} is not a row of Biểu {form}")
            out.append(Check(rule=rule, form=form, left=Expression(left), right=Expression(str(x["right"])),
                             operator=x["operator"], tolerance=float(x.get("tolerance", 0.0)),
                             tolerance_rel=float(x.get("tolerance_rel", 0.0)), missing=x.get("missing", "skip"),
                             code=code))
    return out


def fmt(value) -> str:
    """A number as a steward reads it: no trailing zeros, at most 4 decimals."""
    if value is None or value != value:
        return "—"
    return f"{float(value):.4f}".rstrip("0").rstrip(".")
