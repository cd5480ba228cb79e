"""Cross-level and cross-period rules, evaluated in the warehouse through SQLAlchemy.

Each rule of ``rules.toml`` of kind ``cross_level`` compares a pending report of ``form`` with the reports of
``lower_form`` of the same period whose unit lies inside it (``join``: the province, commune or cluster column of
``submission``); kind ``cross_period`` compares it with the same unit's report of another period (``against``).
Findings attach to the pending report, at the cell of its row, with both numbers in the message.

What counts as a lower report: per lower unit, its latest non-superseded report of the period.  It is *usable*
when accepted, or pending without errors (validated in this same batch).  When the latest report of some lower
unit is rejected (or pending with errors), or a lower report of the join unit has no identified period, the
comparison is skipped: the difference would be that report, which has its own finding.  When no lower report
was received at all, there is nothing to compare and the rule is skipped too (completeness is reported
elsewhere).
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import or_, select
from sqlalchemy.engine import Engine

from schemas.database import chunks
from schemas.periods import Period
from schemas.status import Status
from schemas.tables import indicator_value, submission, validation_finding
from validations.catalogue import CrossLevelRule, CrossPeriodRule, Finding, excess, fmt, rules

JOIN = {"province": "province_code", "commune": "commune_code", "cluster": "cluster_id"}


def _frame(conn, stmt) -> pd.DataFrame:
    result = conn.execute(stmt)
    columns = list(result.keys())
    return pd.DataFrame([tuple(r) for r in result], columns=columns)  # plain tuples: Row objects are slow here


def _pending(conn, ids: list[int]) -> pd.DataFrame:
    s = submission.c
    return _frame(conn, select(s.submission_id, s.form, s.period, s.province_code, s.commune_code, s.cluster_id,
                               s.unit_key, s.sheet).where(s.submission_id.in_(ids), s.status == Status.PENDING))


def _values(conn, ids, codes=None) -> pd.DataFrame:
    v = indicator_value.c
    ids = [int(i) for i in ids]
    stmt = select(v.submission_id, v.indicator_code, v.value, v.sheet, v.cell, v.note)
    if codes is not None:
        stmt = stmt.where(v.indicator_code.in_(sorted(codes)))
    parts = [_frame(conn, stmt.where(v.submission_id.in_(part))) for part in chunks(ids)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["submission_id", "indicator_code", "value", "sheet", "cell", "note"])


def _errors_of_pending(conn, form: str) -> set[int]:
    """Pending submissions of ``form`` that already carry an error finding."""
    f, s = validation_finding.c, submission.c
    return {r[0] for r in conn.execute(
        select(f.submission_id).join(submission, s.submission_id == f.submission_id)
        .where(s.form == form, s.status == Status.PENDING, f.severity == "error").distinct())}


class _Upper:
    """The pending reports of one form with their values, cells and remarks."""

    def __init__(self, pending: pd.DataFrame, values: pd.DataFrame) -> None:
        self.rows = pending
        col = {c: values[c].tolist() for c in values.columns}  # plain lists: iterating Series boxes every item
        keys = list(zip(col["submission_id"], col["indicator_code"], strict=True))
        self.value = dict(zip(keys, col["value"], strict=True))
        self.cell = dict(zip(keys, zip(col["sheet"], col["cell"], strict=True), strict=True))
        # values with a remark typed in column (5) Ghi chú (SPEC §6; ingest stores an empty one as NULL)
        self.remarked = {k for k, note in zip(keys, col["note"], strict=True) if isinstance(note, str)}

    def where(self, sid: int, code: str, sheet: str | None):
        return self.cell.get((sid, code), (sheet, None))


def evaluate(engine: Engine, pending_ids: list[int], pending_errors: set[int] | frozenset[int] = frozenset()
             ) -> list[tuple[int, Finding]]:
    """Every cross-level and cross-period finding for the pending submissions ``pending_ids``.
    ``pending_errors``: pending submissions the same validation found an error in that is not stored yet (the
    within-form findings are committed together with the cross ones), so they are not counted as usable."""
    out: list[tuple[int, Finding]] = []
    if not pending_ids:
        return out
    with engine.connect() as conn:
        pending = _pending(conn, pending_ids)
        pending = pending[pending.form.notna() & pending.period.notna()]
        if pending.empty:
            return out
        upper = _Upper(pending, _values(conn, pending.submission_id))
        for rule in rules().values():
            if isinstance(rule, CrossLevelRule):
                out += _cross_level(conn, rule, upper, pending_errors)
            elif isinstance(rule, CrossPeriodRule):
                out += _cross_period(conn, rule, upper)
    return out


# ───────────────────────────── across levels ─────────────────────────────

def _lowers(conn, form: str, join_col: str, periods: list[str], keys: list[str]) -> pd.DataFrame:
    s = submission.c
    col = getattr(s, join_col)
    frames = []
    for part in chunks(keys):
        frames.append(_frame(conn, select(s.submission_id, s.period, s.unit_key, s.status, s.received_at,
                                          col.label("join_key"))
                             .where(s.form == form, col.in_(part), s.status != Status.SUPERSEDED,
                                    or_(s.period.in_(periods), s.period.is_(None)))))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["submission_id", "period", "unit_key", "status", "received_at", "join_key"])


def _applies(rule, rows: pd.DataFrame) -> pd.Series:
    return rows.period.map(rule.applies_to).astype(bool)


def _cross_level(conn, rule: CrossLevelRule, upper: _Upper,
                 pending_errors: set[int] | frozenset[int]) -> list[tuple[int, Finding]]:
    form, lower_form, join_col = rule.form, rule.lower_form, JOIN[rule.join]
    ups = upper.rows[(upper.rows.form == form) & upper.rows[join_col].notna()]
    ups = ups[_applies(rule, ups)]
    if ups.empty:
        return []
    counting = rule.compare == "count"
    pairs = {rule.row: "count"} if counting else rule.row_pairs()
    lows = _lowers(conn, lower_form, join_col, sorted(set(ups.period)), sorted(set(ups[join_col])))
    if lows.empty:
        return []
    undated = set(lows.loc[lows.period.isna(), "join_key"])
    lows = lows[lows.period.notna()].copy()
    if counting:
        sums = lows.assign(unit=lows.unit_key.fillna("#" + lows.submission_id.astype(str))) \
            .groupby(["join_key", "period"]).unit.nunique().rename("count")
        parts = sums
        blocked: set = set()
    else:
        errors = _errors_of_pending(conn, lower_form) | set(pending_errors)
        usable_pending = (lows.status == Status.PENDING) & ~lows.submission_id.isin(errors)
        lows["usable"] = lows.status.isin(Status.ACTIVE) | usable_pending
        lows["unit"] = lows.unit_key.fillna("#" + lows.submission_id.astype(str))
        lows = lows.sort_values(["received_at", "submission_id"])
        usable = lows[lows.usable].groupby(["join_key", "period", "unit"]).tail(1)
        unusable_units = lows[~lows.usable].groupby(["join_key", "period"]).unit.agg(set)
        usable_units = usable.groupby(["join_key", "period"]).unit.agg(set)
        blocked = {k for k, units in unusable_units.items() if units - usable_units.get(k, set())}
        vals = _values(conn, usable.submission_id, set(pairs.values()))
        vals = vals[vals.value.notna()]
        vals = vals.merge(usable[["submission_id", "join_key", "period"]], on="submission_id")
        sums = vals.groupby(["join_key", "period", "indicator_code"]).value.sum()
        parts = usable.groupby(["join_key", "period"]).submission_id.count()
    out = []
    for u in ups.itertuples():
        key = (getattr(u, join_col), u.period)
        if key[0] in undated or key in blocked or key not in parts.index:
            continue
        n_parts = int(parts[key])
        for code, lower_code in pairs.items():
            left = upper.value.get((u.submission_id, code))
            if left is None or left != left:
                continue
            right = float(sums[key]) if counting else float(sums.get((*key, lower_code), 0.0))
            if excess(left, "==", right, rule.tolerance, rule.tolerance_rel) <= 0:
                continue
            sheet, cell = upper.where(u.submission_id, code, u.sheet)
            expected = f"= {fmt(right)} (Σ Biểu {lower_form}" + ("" if counting else f" dòng/row {lower_code}") + ")"
            out.append((int(u.submission_id), rule.finding(
                sheet=sheet, cell=cell, indicator_code=code, expected=expected, code=code, lower_code=lower_code,
                left=fmt(left), right=fmt(right), parts=n_parts if not counting else fmt(right))))
    return out


# ───────────────────────────── across periods ─────────────────────────────

def _previous(period: str) -> str:
    p = Period.parse(period)
    return f"{p.year - 1}-Y" if p.kind == "H1" else f"{p.year}-H1"


def _other_half(period: str) -> str:
    p = Period.parse(period)
    return f"{p.year}-Y" if p.kind == "H1" else f"{p.year}-H1"


# ``against`` -> the other period of a pending report's period, and whether the pending report is the later one
AGAINST = {
    "previous": lambda period: (_previous(period), True),
    "same_year": lambda period: (_other_half(period), period.endswith("-Y")),
}


def _counterparts(conn, ups: pd.DataFrame, period_of) -> dict[int, int]:
    """For each pending report, the other period's report of the same form and unit that counts (accepted,
    latest received), if any: submission_id -> submission_id."""
    s = submission.c
    want = {(u.form, u.unit_key, period_of(u.period)): int(u.submission_id) for u in ups.itertuples()}
    groups: dict[tuple[str, str], list[str]] = {}
    for form, key, period in want:
        groups.setdefault((form, period), []).append(key)
    out: dict[int, int] = {}
    for (form, period), keys in groups.items():
        for part in chunks(keys):
            rows = conn.execute(select(s.submission_id, s.unit_key)
                                .where(s.status.in_(Status.ACTIVE), s.form == form, s.period == period,
                                       s.unit_key.in_(part))
                                .order_by(s.received_at, s.submission_id)).all()
            for r in rows:  # the latest received wins
                out[want[(form, r.unit_key, period)]] = r.submission_id
    return out


def _cross_period(conn, rule: CrossPeriodRule, upper: _Upper) -> list[tuple[int, Finding]]:
    rows_of = dict(rule.rows)
    ups = upper.rows[upper.rows.form.isin(list(rows_of)) & upper.rows.unit_key.notna()]
    ups = ups[_applies(rule, ups)]
    other_of = AGAINST[rule.against]
    pairs = _counterparts(conn, ups, lambda period: other_of(period)[0])
    if not pairs:
        return []
    other_vals = _values(conn, list(pairs.values()))
    other = dict(zip(zip(other_vals.submission_id.tolist(), other_vals.indicator_code.tolist(), strict=True),
                     other_vals.value.tolist(), strict=True))
    out = []
    for u in ups.itertuples():
        sid = int(u.submission_id)
        if sid not in pairs:
            continue
        other_period, pending_is_later = other_of(u.period)
        for code in sorted(rows_of[u.form], key=lambda c: [float(p) for p in c.split(".")]):
            mine, theirs = upper.value.get((sid, code)), other.get((pairs[sid], code))
            if mine is None or theirs is None or mine != mine or theirs != theirs:
                continue
            later, earlier = (mine, theirs) if pending_is_later else (theirs, mine)
            periods = (u.period, other_period) if pending_is_later else (other_period, u.period)
            if excess(later, rule.operator, earlier, rule.tolerance) <= 0:
                continue
            sheet, cell = upper.where(sid, code, u.sheet)
            if rule.remark_waives and (sid, code) in upper.remarked:
                continue
            out.append((sid, rule.finding(
                sheet=sheet, cell=cell, indicator_code=code,
                expected=f"{rule.operator} {fmt(earlier)} ({periods[1]})", code=code, left=fmt(later),
                right=fmt(earlier), left_period=periods[0], right_period=periods[1])))
    return out

