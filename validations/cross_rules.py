"""Cross-level and cross-period rules, evaluated in the warehouse through SQLAlchemy.

Each rule of ``rules.toml`` with scope ``cross_level`` compares a pending report of ``form`` with the reports of
``lower_form`` of the same period whose unit lies inside it (``join``: the province, commune or cluster column of
``submission``); scope ``cross_period`` compares it with the same unit's report of another period.  Findings
attach to the pending report, at the cell of its row, with both numbers in the message.

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

from schemas.tables import indicator_value, received_file, submission, validation_finding
from validations.catalogue import Finding, fmt, rules

ACTIVE = ("accepted", "accepted_with_warnings")
JOIN = {"province": "province_code", "commune": "commune_code", "cluster": "cluster_id"}


def _frame(conn, stmt) -> pd.DataFrame:
    result = conn.execute(stmt)
    columns = list(result.keys())
    return pd.DataFrame([tuple(r) for r in result], columns=columns)  # plain tuples: Row objects are slow here


def _pending(conn, ids: list[int]) -> pd.DataFrame:
    s = submission.c
    return _frame(conn, select(s.submission_id, s.form, s.period, s.province_code, s.commune_code, s.cluster_id,
                               s.unit_key, s.sheet).where(s.submission_id.in_(ids), s.status == "pending"))


def _values(conn, ids, codes=None) -> pd.DataFrame:
    v = indicator_value.c
    ids = [int(i) for i in ids]
    stmt = select(v.submission_id, v.indicator_code, v.value, v.sheet, v.cell)
    if codes is not None:
        stmt = stmt.where(v.indicator_code.in_(sorted(codes)))
    parts = [_frame(conn, stmt.where(v.submission_id.in_(ids[i:i + 5000]))) for i in range(0, len(ids), 5000)]
    parts = [p for p in parts if len(p)]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["submission_id", "indicator_code", "value", "sheet", "cell"])


def _errors_of_pending(conn, form: str) -> set[int]:
    """Pending submissions of ``form`` that already carry an error finding."""
    f, s = validation_finding.c, submission.c
    return {r[0] for r in conn.execute(
        select(f.submission_id).join(submission, s.submission_id == f.submission_id)
        .where(s.form == form, s.status == "pending", f.severity == "error").distinct())}


class _Upper:
    """The pending reports of one form with their values and cells."""

    def __init__(self, pending: pd.DataFrame, values: pd.DataFrame) -> None:
        self.rows = pending
        col = {c: values[c].tolist() for c in values.columns}  # plain lists: iterating Series boxes every item
        keys = list(zip(col["submission_id"], col["indicator_code"], strict=True))
        self.value = dict(zip(keys, col["value"], strict=True))
        self.cell = dict(zip(keys, zip(col["sheet"], col["cell"], strict=True), strict=True))

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
            if rule.scope == "cross_level":
                out += _cross_level(conn, rule, upper, pending_errors)
            elif rule.scope == "cross_period":
                out += _cross_period(conn, rule, upper)
    return out


# ───────────────────────────── across levels ─────────────────────────────

def _lowers(conn, form: str, join_col: str, periods: list[str], keys: list[str]) -> pd.DataFrame:
    s = submission.c
    col = getattr(s, join_col)
    frames = []
    for i in range(0, len(keys), 2000):
        frames.append(_frame(conn, select(s.submission_id, s.period, s.unit_key, s.status, s.received_at,
                                          col.label("join_key"))
                             .where(s.form == form, col.in_(keys[i:i + 2000]), s.status != "superseded",
                                    or_(s.period.in_(periods), s.period.is_(None)))))
    frames = [f for f in frames if len(f)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(
        columns=["submission_id", "period", "unit_key", "status", "received_at", "join_key"])


def _cross_level(conn, rule, upper: _Upper, pending_errors: set[int] | frozenset[int]) -> list[tuple[int, Finding]]:
    from schemas.forms import load_forms

    x = rule.extra
    form, lower_form, join_col = x["form"], x["lower_form"], JOIN[x["join"]]
    ups = upper.rows[(upper.rows.form == form) & upper.rows[join_col].notna()]
    if ups.empty:
        return []
    if x["pairs"] == "same":
        pairs = {r.code: r.code for r in load_forms()[form].rows if r.aggregation == "sum"}
    else:
        pairs = dict(x["pairs"])
    lows = _lowers(conn, lower_form, join_col, sorted(set(ups.period)), sorted(set(ups[join_col])))
    if lows.empty:
        return []
    undated = set(lows.loc[lows.period.isna(), "join_key"])
    lows = lows[lows.period.notna()].copy()
    counting = list(pairs.values()) == ["count"]
    if counting:
        sums = lows.assign(unit=lows.unit_key.fillna("#" + lows.submission_id.astype(str))) \
            .groupby(["join_key", "period"]).unit.nunique().rename("count")
        parts = sums
        blocked: set = set()
    else:
        errors = _errors_of_pending(conn, lower_form) | set(pending_errors)
        lows["usable"] = lows.status.isin(ACTIVE) | ((lows.status == "pending") & ~lows.submission_id.isin(errors))
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
    tol, tol_rel = float(x.get("tolerance", 0.0)), float(x.get("tolerance_rel", 0.0))
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
            if abs(left - right) <= tol + tol_rel * max(abs(left), abs(right)) + 1e-9 * (1 + abs(right)):
                continue
            sheet, cell = upper.where(u.submission_id, code, u.sheet)
            params = {"code": code, "lower_code": lower_code, "left": fmt(left), "right": fmt(right),
                      "parts": n_parts if not counting else fmt(right)}
            out.append((int(u.submission_id), Finding(
                rule_id=rule.id, severity=rule.severity, message_vi=rule.message_vi.format(**params),
                message_en=rule.message_en.format(**params), sheet=sheet, cell=cell, indicator_code=code,
                expected=(f"= {fmt(right)} (Σ Biểu {lower_form}"
                          + ("" if counting else f" dòng/row {lower_code}") + ")"))))
    return out


# ───────────────────────────── across periods ─────────────────────────────

def _previous(period: str) -> str:
    year, kind = period.split("-")
    return f"{int(year) - 1}-Y" if kind == "H1" else f"{year}-H1"


def _other_half(period: str) -> str:
    year, kind = period.split("-")
    return f"{year}-Y" if kind == "H1" else f"{year}-H1"


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
        for i in range(0, len(keys), 2000):
            rows = conn.execute(select(s.submission_id, s.unit_key)
                                .where(s.status.in_(ACTIVE), s.form == form, s.period == period,
                                       s.unit_key.in_(keys[i:i + 2000]))
                                .order_by(s.received_at, s.submission_id)).all()
            for r in rows:  # the latest received wins
                out[want[(form, r.unit_key, period)]] = r.submission_id
    return out


def _cross_period(conn, rule, upper: _Upper) -> list[tuple[int, Finding]]:
    x = rule.extra
    rows_of = {f: set(codes) for f, codes in x["rows"].items()}
    ups = upper.rows[upper.rows.form.isin(list(rows_of)) & upper.rows.unit_key.notna()]
    if rule.id == "period.annual_below_h1":
        pairs = _counterparts(conn, ups, _other_half)
    else:
        pairs = _counterparts(conn, ups, _previous)
    if not pairs:
        return []
    other_vals = _values(conn, list(pairs.values()))
    other = dict(zip(zip(other_vals.submission_id.tolist(), other_vals.indicator_code.tolist(), strict=True),
                     other_vals.value.tolist(), strict=True))
    tol = float(x.get("tolerance", 0.0))
    out = []
    for u in ups.itertuples():
        sid = int(u.submission_id)
        if sid not in pairs:
            continue
        for code in sorted(rows_of[u.form], key=lambda c: [float(p) for p in c.split(".")]):
            mine, theirs = upper.value.get((sid, code)), other.get((pairs[sid], code))
            if mine is None or theirs is None or mine != mine or theirs != theirs:
                continue
            if rule.id == "period.annual_below_h1":
                annual, h1 = (mine, theirs) if u.period.endswith("-Y") else (theirs, mine)
                if annual >= h1 - tol:
                    continue
                params = {"code": code, "annual": fmt(annual), "h1": fmt(h1)}
                expected = f">= {fmt(h1)} ({u.period.split('-')[0]}-H1)"
            else:
                if mine >= theirs - tol or _has_remark(conn, sid, *upper.where(sid, code, u.sheet)):
                    continue
                params = {"code": code, "left": fmt(mine), "right": fmt(theirs), "previous": _previous(u.period)}
                expected = f">= {fmt(theirs)} ({_previous(u.period)})"
            sheet, cell = upper.where(sid, code, u.sheet)
            out.append((sid, Finding(rule_id=rule.id, severity=rule.severity,
                                     message_vi=rule.message_vi.format(**params),
                                     message_en=rule.message_en.format(**params),
                                     sheet=sheet, cell=cell, indicator_code=code, expected=expected)))
    return out



def _has_remark(conn, submission_id: int, sheet: str | None, cell: str | None) -> bool:
    """Whether the office wrote a remark for the value at ``cell``: text in the remarks column (*Ghi chú*,
    column (5), the one right of the value) of the archived workbook.  Read only for the few values that fell."""
    import re

    m = re.fullmatch(r"([A-Z]+)(\d+)", cell or "")
    if not m or not sheet:
        return False
    path = conn.execute(select(received_file.c.archive_path).join(
        submission, submission.c.sha256 == received_file.c.sha256)
        .where(submission.c.submission_id == submission_id)).scalar()
    try:
        from python_calamine import CalamineWorkbook

        rows = CalamineWorkbook.from_path(path).get_sheet_by_name(sheet).to_python(skip_empty_area=False)
    except Exception:  # noqa: BLE001 - an archive we cannot read again means no remark was seen
        return False
    col = 0
    for ch in m.group(1):
        col = col * 26 + ord(ch) - 64
    row = int(m.group(2)) - 1
    note = rows[row][col] if row < len(rows) and col < len(rows[row]) else None
    return isinstance(note, str) and bool(note.strip())
