"""The within-form rules of the catalogue as checks over a batch: one per rule and form (one per row of the form
for a ``#{*}`` rule), each computing how far a report is beyond what its rule allows; and :func:`form_finding`,
the one place a failed check becomes a finding (``ccn check`` and the validate stage both call it)."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import pandas as pd

from schemas.forms import load_forms
from validations.catalogue import Expression, Finding, Side, WithinFormRule, excess, fmt, rules


def evaluate(expression: Expression, frame: pd.DataFrame, zero_missing: bool = False) -> pd.Series:
    """The expression over every row of a wide frame (one column per indicator code); NaN where an operand is
    missing (unless ``zero_missing``) or a division by zero happens."""
    tree, names = expression.parse()
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
    if isinstance(node, ast.Constant) and isinstance(node.value, int | float):
        return float(node.value)
    return cols[node.id]  # Expression.parse lets nothing else through


def skipped(side: Side, frame: pd.DataFrame) -> pd.Series:
    """Per report, whether ``side`` is skipped for its blank rows (by its missing-value strategy; a side of
    constants never is)."""
    codes = side.expression.codes
    if not codes or side.missing == "never_skip":
        return pd.Series(False, index=frame.index)
    present = pd.DataFrame({c: frame[c].notna() if c in frame else False for c in codes}, index=frame.index)
    return ~present.all(axis=1) if side.missing == "skip_if_any_missing" else ~present.any(axis=1)


def side_values(side: Side, frame: pd.DataFrame) -> pd.Series:
    """The side's value per report: NaN when it is skipped or its arithmetic has no value (a division by 0); a
    side that is not skipped counts its blank rows as 0."""
    values = evaluate(side.expression, frame, zero_missing=side.missing != "skip_if_any_missing")
    return values.where(~skipped(side, frame))


@dataclass(frozen=True)
class Check:
    """One within-form rule applied to one form (a ``#{*}`` rule gives one check per row of the form)."""

    rule: WithinFormRule
    form: str
    left: Side
    right: Side
    code: str  # the row the finding points at (the first row of the left side)

    @property
    def column(self) -> str:
        """Name of the computed column Great Expectations checks (``rule_id`` or ``rule_id[code]``)."""
        return f"{self.rule.id}[{self.code}]" if self.rule.every_row else self.rule.id

    @property
    def operator(self) -> str:
        return self.rule.operator

    @property
    def tolerance(self) -> float:
        return self.rule.tolerance

    def sides(self, frame: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
        return side_values(self.left, frame), side_values(self.right, frame)

    def skipped(self, frame: pd.DataFrame) -> pd.Series:
        """Per report, whether the check is skipped for a blank row (by either side's missing-value strategy)."""
        return skipped(self.left, frame) | skipped(self.right, frame)

    def excess(self, frame: pd.DataFrame) -> pd.Series:
        """How far each report is beyond what the rule allows: > 0 breaks the rule, NaN means not checked."""
        left, right = self.sides(frame)
        return excess(left, self.operator, right, self.rule.tolerance, self.rule.tolerance_rel)

    def expected(self) -> str:
        right = self.right.expression.text.replace("#{", "dòng/row ").replace("}", "")
        tol = f" ± {self.tolerance:g}" if self.operator == "==" and self.tolerance else ""
        return f"{self.operator.replace('==', '=')} {right}{tol}"


@cache
def _checks(form: str) -> tuple[Check, ...]:
    spec = load_forms()[form]
    out = []
    for rule in rules().values():
        if not isinstance(rule, WithinFormRule) or form not in rule.forms:
            continue
        if rule.every_row:
            units = set(rule.units) or None
            lefts = [(Side(Expression(f"#{{{r.code}}}"), rule.left.missing), r.code) for r in spec.rows
                     if units is None or r.unit in units]
        else:
            lefts = [(rule.left, rule.left.expression.codes[0])]
        out += [Check(rule=rule, form=form, left=left, right=rule.right, code=code) for left, code in lefts]
    return tuple(out)


def checks(form: str) -> list[Check]:
    """The within-form checks of ``form``, in catalogue order."""
    return list(_checks(form))


def _blank(value) -> bool:
    return value is None or value != value


def form_finding(check: Check, values: Mapping[str, float | None], *, sheet: str | None,
                 cell: str | None) -> Finding | None:
    """The finding of ``check`` on one report, whose values are ``values`` (row code -> number; None or NaN when
    blank), placed at ``sheet``/``cell`` (the cell of the check's row); None when the report meets the rule or the
    check is skipped for a blank row without a finding of its own.

    ``ccn check`` (pipelines/steward/check.py) calls it for each check of a sheet and the validate stage for each
    report Great Expectations found failing, so a finding reads the same whichever found it."""
    frame = pd.DataFrame([{c: np.nan if v is None else float(v) for c, v in values.items()}], dtype="float64")
    over = float(check.excess(frame).iloc[0])
    if over > 0:
        left, right = (float(s.iloc[0]) for s in check.sides(frame))
        expected = check.expected()
        return check.rule.finding(
            sheet=sheet, cell=cell, indicator_code=check.code,
            expected=f"{expected} = {fmt(right)}" if check.right.expression.codes else expected,
            left=fmt(left), right=fmt(right), code=check.code,
            label=load_forms()[check.form].rows_by_code[check.code].label_vi,
            left_expr=check.left.expression.text, right_expr=check.right.expression.text)
    if check.rule.skipped_finding and bool(check.skipped(frame).iloc[0]):
        codes = check.left.expression.codes + check.right.expression.codes
        rows = ", ".join(dict.fromkeys(c for c in codes if _blank(values.get(c))))
        rule = check.rule
        return Finding(rule_id=rule.id, severity="warning",
                       message_vi=f"Không kiểm tra được quy tắc \"{rule.description_vi}\": dòng {rows} chưa có số liệu",
                       message_en=f"Rule \"{rule.description_en}\" cannot be checked: row {rows} has no value",
                       sheet=sheet, cell=cell, indicator_code=check.code, expected=f"dòng/row {rows}")
    return None
