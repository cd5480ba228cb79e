"""Outliers: implausible values of the loaded reports of a period, by the ``outlier`` rules of the catalogue.

The rules catch what is impossible; these find what is implausible, once a report has loaded (accepted, with or
without warnings), over the whole period in the warehouse, because they need the unit's earlier periods and the
period's other reports:

* ``growth`` — each value against the same unit's values of the last ``history`` periods: outside
  [lowest / factor, highest × factor] (the *previous-max with a growth bound* of DHIS2's DQ Workbench, both ways);
* ``history_mad`` — against the median of the unit's previous values, in robust standard deviations of their
  logarithms (1.4826 × the median absolute deviation, floored), once ``min_history`` values exist;
* ``peers`` — against the median of the same row in the period's reports of the same form in the province (or the
  nation, for the provinces' Biểu 04), in the same robust units;
* ``copied`` — a report equal to the unit's previous report in every value (copied forward).

Values are compared on a logarithmic scale (amounts, areas and head counts are skewed: a province's largest
cluster is many times its median, never a negative number of times), and always as ratios: a finding says how
many times the value is its reference, the plausible range in the report's own unit, and why.  Flows (rows of
the period, summed) are compared per month when a 6-month and an annual report meet.  Zeros take no part: in
zero-inflated rows (clusters established in the period, wastewater plants) a zero is a state, not a small number;
and a value under ``small[unit]`` is a small count that is not judged (see rules.toml).  Units whose report is
keyed by an administrative code (communes, provinces) are compared only with periods of the same administrative
generation: a code of 2025 does not name the unit it named before the merger.

Findings carry ``stage = 'outlier'`` and severity ``warning``; they never change a report's status or counts
(those are the rules' verdict when it loaded).  :func:`analyse` re-evaluates a whole period and reconciles what
is stored in one transaction: new findings are added, changed ones re-worded, and those that no longer hold are
deleted unless a steward has waived or followed them up (their decision stays on record).  Running it again
changes nothing.  :func:`analyse_changed` analyses each period whose loaded reports changed since its last
analysis (``submission.loaded_at`` against ``outlier_analysis.analysed_at``), and the periods that have it in
their history.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import case, delete, exists, func, select, text, update
from sqlalchemy.engine import Engine

from schemas.database import bulk_insert, chunks
from schemas.forms import load_forms
from schemas.geography import generation_of
from schemas.periods import VN_TZ, Period
from schemas.status import Status
from schemas.tables import (
    finding_follow_up,
    finding_waiver,
    indicator_value,
    outlier_analysis,
    submission,
    validation_finding,
)
from validations.catalogue import Finding, OutlierRule, fmt, rules

STAGE = "outlier"  # validation_finding.stage of the findings written here
ROBUST = 1.4826  # MAD × this estimates a normal distribution's standard deviation
ADMINISTRATIVE = ("commune", "province")  # sender levels whose unit key is a code of one administrative generation
_LOCK = 7215015  # PostgreSQL advisory lock: one analysis writes at a time


def outlier_rules() -> list[OutlierRule]:
    """The outlier rules of the catalogue, in its order."""
    return [r for r in rules().values() if isinstance(r, OutlierRule)]


def months(period: Period) -> int:
    return 6 if period.kind == "H1" else 12


def previous_periods(period: Period, n: int) -> list[Period]:
    """The ``n`` periods before ``period``, latest first (2026-H1 → 2025-Y, 2025-H1, 2024-Y …)."""
    out, p = [], period
    for _ in range(n):
        p = Period(p.year - 1, "Y") if p.kind == "H1" else Period(p.year, "H1")
        out.append(p)
    return out


@dataclass
class Analysis:
    """One period's outlier analysis: what it looked at, what it found and what it changed in the warehouse."""

    period: str
    submissions: int = 0
    values: int = 0
    findings: int = 0  # outlier findings standing on the period's current reports afterwards
    added: int = 0
    reworded: int = 0
    removed: int = 0
    kept: int = 0  # no longer holding, kept because a steward waived or followed them up
    seconds: float = 0.0
    by_rule: dict[str, int] = field(default_factory=dict)


# ───────────────────────────── reading the warehouse ─────────────────────────────

def _frame(conn, stmt) -> pd.DataFrame:
    result = conn.execute(stmt)
    return pd.DataFrame([tuple(r) for r in result], columns=list(result.keys()))


def _current(conn, period: Period) -> pd.DataFrame:
    """The values of the period's current reports (accepted, with or without warnings), one row per value."""
    s, v = submission.c, indicator_value.c
    df = _frame(conn, select(s.submission_id.label("sid"), s.form, s.province_code.label("province"),
                             s.unit_key.label("unit"), s.sheet.label("report_sheet"), s.received_at,
                             v.indicator_code.label("code"), v.value, v.sheet, v.cell)
                .join(indicator_value, v.submission_id == s.submission_id)
                .where(s.period == period.code, s.status.in_(Status.ACTIVE), s.unit_key.is_not(None)))
    return _latest(df)


def _history(conn, period: Period, depth: int) -> pd.DataFrame:
    """The values of the current reports of the ``depth`` periods before ``period`` (those of units keyed by an
    administrative code only from periods of the same generation)."""
    s, v = submission.c, indicator_value.c
    periods = previous_periods(period, depth)
    if not periods:
        return pd.DataFrame(columns=["sid", "form", "period", "unit", "received_at", "code", "value"])
    df = _frame(conn, select(s.submission_id.label("sid"), s.form, s.period, s.unit_key.label("unit"), s.received_at,
                             v.indicator_code.label("code"), v.value)
                .join(indicator_value, v.submission_id == s.submission_id)
                .where(s.period.in_([p.code for p in periods]), s.status.in_(Status.ACTIVE),
                       s.unit_key.is_not(None)))
    forms = load_forms()
    administrative = [f for f, spec in forms.items() if spec.sender_level in ADMINISTRATIVE]
    other_generation = {p.code for p in periods if generation_of(p) != generation_of(period)}
    df = df[~(df.form.isin(administrative) & df.period.isin(other_generation))]
    return _latest(df, by=("form", "period", "unit"))


def _latest(df: pd.DataFrame, by=("form", "unit")) -> pd.DataFrame:
    """Only the latest received report of each unit (one is current per form, period and unit after publishing;
    this guards a warehouse caught between two runs)."""
    if df.empty:
        return df
    last = df.sort_values(["received_at", "sid"]).groupby(list(by)).sid.transform("last").reindex(df.index)
    return df[df.sid == last].reset_index(drop=True)


def _rows() -> pd.DataFrame:
    """Per (form, code): the row's unit, whether it is a flow compared per month, its label and its order."""
    out = []
    for form, spec in load_forms().items():
        for i, r in enumerate(spec.rows):
            out.append((form, r.code, r.unit, r.period_kind == "in_period" and r.aggregation == "sum",
                        r.period_kind == "in_period", r.label_vi, i))
    return pd.DataFrame(out, columns=["form", "code", "row_unit", "flow", "in_period", "label", "order"])


def _scaled(df: pd.DataFrame, rows: pd.DataFrame, period_months) -> pd.DataFrame:
    """``df`` with its row's facts and ``norm``: the value per 6 months for a flow, else the value."""
    df = df.merge(rows, on=["form", "code"], how="inner")
    factor = np.where(df.flow, 6.0 / period_months, 1.0)
    return df.assign(norm=df.value.astype("float64") * factor)


# ───────────────────────────── the methods ─────────────────────────────

@dataclass(frozen=True)
class _Hit:
    """One outlier before it is worded: the value's row in the current frame and the numbers that explain it."""

    index: int
    high: bool
    ratio: float
    low: float  # plausible range, in the current report's own unit
    high_bound: float
    ref: float | None = None  # growth: the previous value compared with, as reported
    ref_period: str = ""
    median: float | None = None  # history_mad, peers: the median compared with, in the report's own unit
    n: int = 0
    mixed: bool = False  # a flow compared across a 6-month and an annual period (per month)


def _about(x: float) -> str:
    """A computed figure (a median, a bound) to the precision that means something: 3 significant digits, whole
    numbers from 100 on (a reported value is shown exactly, with ``fmt``)."""
    if x == 0 or not math.isfinite(x):
        return fmt(x)
    if abs(x) >= 100:
        return fmt(round(x))
    return fmt(round(x, 2 - math.floor(math.log10(abs(x)))))


def _times(ratio: float) -> str:
    return fmt(round(ratio)) if ratio >= 10 else fmt(round(ratio, 1))


def _change(hit: _Hit, grew: tuple[str, str], shrank: tuple[str, str]) -> tuple[str, str]:
    r = _times(hit.ratio)
    return (grew[0].format(r), grew[1].format(r)) if hit.high else (shrank[0].format(r), shrank[1].format(r))


_PER_MONTH = (" (so theo tháng: kỳ 6 tháng với kỳ năm)", " (per month: a 6-month against an annual period)")


def _word(rule: OutlierRule, cur: pd.DataFrame, hit: _Hit) -> tuple[int, Finding]:
    row = cur.loc[hit.index]
    if rule.method == "growth":
        change = _change(hit, ("tăng {} lần", "{} ×"), ("giảm còn 1/{}", "1/{} of"))
    else:
        change = _change(hit, ("gấp {} lần", "{} ×"), ("chỉ bằng 1/{}", "1/{} of"))
    basis = _PER_MONTH if hit.mixed else ("", "")
    low, high = _about(hit.low), _about(hit.high_bound)
    group = ("trong tỉnh", "in the province") if rule.group == "province" else ("trên cả nước", "nationwide")
    finding = rule.finding(
        sheet=row.sheet if isinstance(row.sheet, str) else row.report_sheet, cell=row.cell, indicator_code=row.code,
        expected=f"{low} – {high}", code=row.code, label=row.label, form=row.form, value=fmt(row.value),
        change_vi=change[0], change_en=change[1], ref=fmt(hit.ref) if hit.ref is not None else "",
        ref_period=hit.ref_period, low=low, high=high, factor=fmt(rule.factor), n=hit.n,
        median=_about(hit.median) if hit.median is not None else "", basis_vi=basis[0], basis_en=basis[1],
        group_vi=group[0], group_en=group[1])
    return int(row.sid), finding


def _judged(rule: OutlierRule, df: pd.DataFrame) -> pd.DataFrame:
    """The values a value rule judges: its forms and units, non-blank and not zero."""
    keep = df.form.isin(rule.forms) & df.row_unit.isin(rule.units) & df.value.notna() & (df.value != 0)
    return df[keep]


def _small(rule: OutlierRule, units: pd.Series) -> pd.Series:
    return units.map(rule.small_of).astype("float64")


def _growth(rule: OutlierRule, cur: pd.DataFrame, hist: pd.DataFrame, period: Period) -> list[_Hit]:
    window = {p.code for p in previous_periods(period, rule.history)}
    h = _judged(rule, hist[hist.period.isin(window)])
    c = _judged(rule, cur)
    if h.empty or c.empty:
        return []
    g = h.groupby(["form", "unit", "code"])
    hi = h.loc[g.norm.idxmax(), ["form", "unit", "code", "norm", "value", "period"]] \
        .rename(columns={"norm": "hi", "value": "hi_value", "period": "hi_period"})
    lo = h.loc[g.norm.idxmin(), ["form", "unit", "code", "norm", "value", "period"]] \
        .rename(columns={"norm": "lo", "value": "lo_value", "period": "lo_period"})
    other = _other_kind(h, period).groupby([h.form, h.unit, h.code]).max().rename("other_kind")
    counts = g.size().rename("n")
    stats = hi.merge(lo, on=["form", "unit", "code"]).merge(counts.reset_index(), on=["form", "unit", "code"]) \
        .merge(other.reset_index(), on=["form", "unit", "code"])
    m = c.reset_index().merge(stats, on=["form", "unit", "code"])
    m = m[m.n >= rule.min_history]
    small = _small(rule, m.row_unit)
    high = (m.norm > rule.factor * m.hi) & (m.hi >= small) & ("high" in rule.sides)
    low = (m.norm < m.lo / rule.factor) & (m.lo >= small) & ("low" in rule.sides)
    scale = months(period) / 6.0
    out = []
    for r in m[high | low].itertuples():
        is_high = bool(r.norm > rule.factor * r.hi)
        out.append(_Hit(
            index=r.index, high=is_high, ratio=r.norm / r.hi if is_high else r.lo / r.norm,
            low=_scale_back(r.lo / rule.factor, r.flow, scale),
            high_bound=_scale_back(r.hi * rule.factor, r.flow, scale),
            ref=r.hi_value if is_high else r.lo_value, ref_period=r.hi_period if is_high else r.lo_period, n=int(r.n),
            mixed=bool(r.flow and r.other_kind)))
    return out


def _other_kind(h: pd.DataFrame, period: Period) -> pd.Series:
    """Per history value, whether its period is of the other kind (a year against a half-year)."""
    return ~h.period.str.endswith(f"-{period.kind}")


def _scale_back(norm: float, flow: bool, scale: float) -> float:
    """A per-6-months figure in the current report's own terms."""
    return norm * scale if flow else norm


def _robust(logs: pd.Series, keys: list[str], frame: pd.DataFrame, floor: float) -> pd.DataFrame:
    """Per group of ``keys``: the median of ``logs``, the robust standard deviation (floored) and the count."""
    tmp = frame[keys].assign(log=logs)
    med = tmp.groupby(keys).log.median().rename("med")
    tmp = tmp.merge(med.reset_index(), on=keys)
    mad = (tmp.log - tmp.med).abs().groupby([tmp[k] for k in keys]).median().rename("mad")
    n = tmp.groupby(keys).size().rename("n")
    out = pd.concat([med, mad, n], axis=1).reset_index()
    out["sigma"] = np.maximum(ROBUST * out.mad, floor)
    return out


def _far(rule: OutlierRule, m: pd.DataFrame, judged: pd.Series) -> pd.Series:
    """Rows of ``m`` (``log``, ``med``, ``sigma``) beyond the threshold and the ratio on the rule's sides, among
    those ``judged`` (the small-count rule of the method)."""
    dist = m.log - m.med
    far = (dist.abs() > rule.threshold * m.sigma) & (dist.abs() >= math.log(rule.min_ratio)) & judged
    return far & (((dist > 0) & ("high" in rule.sides)) | ((dist < 0) & ("low" in rule.sides)))


def _bounds(rule: OutlierRule, med: float, sigma: float) -> tuple[float, float]:
    reach = max(rule.threshold * sigma, math.log(rule.min_ratio))
    return math.exp(med - reach), math.exp(med + reach)


def _history_mad(rule: OutlierRule, cur: pd.DataFrame, hist: pd.DataFrame, period: Period) -> list[_Hit]:
    window = {p.code for p in previous_periods(period, rule.history)}
    h = _judged(rule, hist[hist.period.isin(window)])
    h = h[h.norm > 0]
    c = _judged(rule, cur)
    c = c[c.norm > 0]
    if h.empty or c.empty:
        return []
    keys = ["form", "unit", "code"]
    enough = h.groupby(keys).norm.transform("size") >= rule.min_history
    h = h[enough]
    if h.empty:
        return []
    stats = _robust(np.log(h.norm), keys, h, rule.min_spread)
    other = _other_kind(h, period).groupby([h.form, h.unit, h.code]).max().rename("other_kind").reset_index()
    m = c.reset_index().merge(stats, on=keys).merge(other, on=keys)
    m = m.assign(log=np.log(m.norm))
    scale = months(period) / 6.0
    out = []
    for r in m[_far(rule, m, np.exp(m.med) >= _small(rule, m.row_unit))].itertuples():
        lo, hi = _bounds(rule, r.med, r.sigma)
        high = bool(r.log > r.med)
        out.append(_Hit(index=r.index, high=high, ratio=math.exp(abs(r.log - r.med)),
                        low=_scale_back(lo, r.flow, scale), high_bound=_scale_back(hi, r.flow, scale),
                        median=_scale_back(math.exp(r.med), r.flow, scale), n=int(r.n),
                        mixed=bool(r.flow and r.other_kind)))
    return out


def _peers(rule: OutlierRule, cur: pd.DataFrame, hist: pd.DataFrame, period: Period) -> list[_Hit]:
    keys = ["form", "province", "code"] if rule.group == "province" else ["form", "code"]
    base = cur[cur.form.isin(rule.forms) & cur.row_unit.isin(rule.units) & cur.value.notna()]
    if rule.group == "province":
        base = base[base.province.notna()]
    if base.empty:
        return []
    zero_share = (base.value == 0).groupby([base[k] for k in keys]).mean().rename("zeros").reset_index()
    c = base[base.value > 0]
    if c.empty:
        return []
    stats = _robust(np.log(c.value.astype("float64")), keys, c, rule.min_spread).merge(zero_share, on=keys)
    stats = stats[(stats.n >= rule.min_peers) & (stats.zeros <= rule.max_zero_share)]
    m = c.reset_index().merge(stats, on=keys)
    m = m.assign(log=np.log(m.value.astype("float64")))
    out = []
    for r in m[_far(rule, m, m.value >= _small(rule, m.row_unit))].itertuples():
        lo, hi = _bounds(rule, r.med, r.sigma)
        out.append(_Hit(index=r.index, high=bool(r.log > r.med), ratio=math.exp(abs(r.log - r.med)), low=lo,
                        high_bound=hi, median=math.exp(r.med), n=int(r.n)))
    return out


def _copied(rule: OutlierRule, cur: pd.DataFrame, hist: pd.DataFrame, period: Period
            ) -> list[tuple[int, Finding]]:
    """Reports equal in every value to the unit's latest report of the ``history`` periods before."""
    window = [p.code for p in previous_periods(period, rule.history)]
    h = hist[hist.period.isin(window) & hist.form.isin(rule.forms)]
    c = cur[cur.form.isin(rule.forms)]
    if h.empty or c.empty:
        return []
    rank = {code: i for i, code in enumerate(window)}  # 0: the latest period
    h = h.assign(rank=h.period.map(rank))
    latest = h.groupby(["form", "unit"])["rank"].transform("min")
    h = h[h["rank"] == latest]
    out = []
    for form, part in c.groupby("form"):
        prev = h[h.form == form]
        if prev.empty:
            continue
        now_wide = part.pivot_table(index="unit", columns="code", values="value", aggfunc="first", dropna=False)
        prev_wide = prev.pivot_table(index="unit", columns="code", values="value", aggfunc="first", dropna=False)
        units = now_wide.index.intersection(prev_wide.index)
        cols = now_wide.columns.union(prev_wide.columns)
        a = now_wide.reindex(index=units, columns=cols)
        b = prev_wide.reindex(index=units, columns=cols)
        same = (np.isclose(a.to_numpy(dtype="float64"), b.to_numpy(dtype="float64"), rtol=1e-12, atol=1e-9)
                | (a.isna().to_numpy() & b.isna().to_numpy())).all(axis=1)
        flows = [code for code in cols if load_forms()[form].rows_by_code.get(code) is not None
                 and load_forms()[form].rows_by_code[code].period_kind == "in_period"]
        nonzero = (a.fillna(0) != 0)
        enough = nonzero.sum(axis=1).to_numpy() >= rule.min_nonzero
        flowing = nonzero[flows].any(axis=1).to_numpy() if flows else np.zeros(len(a), dtype=bool)
        hit = same & enough & (flowing if rule.require_flow else True)
        for unit in units[hit]:
            rows = part[(part.unit == unit) & part.value.notna()].merge(
                pd.DataFrame({"code": list(load_forms()[form].rows_by_code)}).reset_index(names="order_"), on="code")
            first = rows.sort_values("order_").iloc[0]
            ref = prev[prev.unit == unit].iloc[0]
            n = int(a.loc[unit].notna().sum())
            sheet = first.sheet if isinstance(first.sheet, str) else first.report_sheet
            out.append((int(first.sid), rule.finding(
                sheet=sheet, cell=first.cell, expected=f"≠ {ref.period}", ref_period=ref.period,
                ref_submission=int(ref.sid), n=n, form=form)))
    return out


_VALUE_METHODS: dict[str, Callable[..., list[_Hit]]] = {
    "growth": _growth, "history_mad": _history_mad, "peers": _peers}


def evaluate(engine: Engine, period: Period) -> tuple[list[tuple[int, Finding]], pd.DataFrame]:
    """Every outlier of ``period`` as (submission, finding), and the values analysed (one row per value)."""
    applying = [r for r in outlier_rules() if r.applies_to(period.code)]
    depth = max((r.history for r in applying), default=0)
    with engine.connect() as conn:
        cur = _current(conn, period)
        hist = _history(conn, period, depth) if depth else pd.DataFrame(
            columns=["sid", "form", "period", "unit", "received_at", "code", "value"])
    if cur.empty:
        return [], cur
    rows = _rows()
    cur = _scaled(cur, rows, months(period))
    if not hist.empty:
        hist = _scaled(hist, rows, hist.period.map(lambda p: months(Period.parse(p))).astype("float64"))
    else:
        hist = hist.assign(row_unit=[], flow=[], in_period=[], label=[], order=[], norm=[])
    out: list[tuple[int, Finding]] = []
    for rule in applying:
        if rule.method == "copied":
            out += _copied(rule, cur, hist, period)
        else:
            out += [_word(rule, cur, hit) for hit in _VALUE_METHODS[rule.method](rule, cur, hist, period)]
    return out, cur


# ───────────────────────────── writing ─────────────────────────────

def analyse(engine: Engine, period: Period | str) -> Analysis:
    """Analyse ``period`` and reconcile its stored outlier findings (see the module's docstring); idempotent."""
    period = Period.parse(period) if isinstance(period, str) else period
    started, now = time.perf_counter(), datetime.now(tz=VN_TZ)
    found, cur = evaluate(engine, period)
    result = Analysis(period.code, submissions=int(cur.sid.nunique()) if len(cur) else 0, values=len(cur))
    active = sorted({int(i) for i in cur.sid}) if len(cur) else []
    want = {(sid, f.rule_id, f.indicator_code): f for sid, f in found}
    f, w, u = validation_finding.c, finding_waiver.c, finding_follow_up.c
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text(f"SELECT pg_advisory_xact_lock({_LOCK})"))
        # the first statement writes: on SQLite it takes the write lock before anything is read
        conn.execute(delete(outlier_analysis).where(outlier_analysis.c.period == period.code))
        stored = {}
        for part in chunks(active):
            for r in conn.execute(select(f.finding_id, f.submission_id, f.rule_id, f.indicator_code, f.message,
                                         f.expected, f.sheet, f.cell,
                                         exists().where(w.finding_id == f.finding_id).label("waived"),
                                         exists().where(u.finding_id == f.finding_id).label("followed"))
                                  .where(f.stage == STAGE, f.submission_id.in_(part))):
                stored[(r.submission_id, r.rule_id, r.indicator_code)] = r
        new = [{"submission_id": sid, "rule_id": x.rule_id, "severity": x.severity, "sheet": x.sheet, "cell": x.cell,
                "indicator_code": x.indicator_code, "message": x.message, "expected": x.expected, "created_at": now,
                "stage": STAGE} for (sid, _, _), x in want.items() if (sid, x.rule_id, x.indicator_code) not in stored]
        bulk_insert(conn, validation_finding, new)
        result.added = len(new)
        for key, r in stored.items():
            x = want.get(key)
            if x is None:
                if r.waived or r.followed:
                    result.kept += 1
                    continue
                conn.execute(delete(validation_finding).where(f.finding_id == r.finding_id))
                result.removed += 1
            elif (r.message, r.expected, r.sheet, r.cell) != (x.message, x.expected, x.sheet, x.cell):
                conn.execute(update(validation_finding).where(f.finding_id == r.finding_id).values(
                    message=x.message, expected=x.expected, sheet=x.sheet, cell=x.cell))
                result.reworded += 1
        result.findings = len(want) + result.kept
        result.by_rule = {rule: sum(1 for k in want if k[1] == rule) for rule in sorted({k[1] for k in want})}
        result.seconds = round(time.perf_counter() - started, 3)
        conn.execute(outlier_analysis.insert().values(
            period=period.code, analysed_at=now, submissions=result.submissions, value_count=result.values,
            findings=result.findings, seconds=result.seconds))
    return result


def changed_periods(engine: Engine) -> list[Period]:
    """The periods to analyse: those whose current reports were loaded after their last analysis (or never
    analysed), and those analysed before a report of a period in their history window was loaded."""
    a = outlier_analysis.c
    with engine.connect() as conn:
        loaded = _last_loads(conn)
        analysed = {r.period: r.analysed_at for r in conn.execute(select(a.period, a.analysed_at))}

    def since(period: str, when: datetime) -> bool:
        last = loaded.get(period, when)
        return last is None or last > when

    depth = max((r.history for r in outlier_rules()), default=0)
    todo = {p for p in loaded if p not in analysed or since(p, analysed[p])}
    todo |= {q for q in loaded if q in analysed
             and any(since(p.code, analysed[q]) for p in previous_periods(Period.parse(q), depth))}
    return sorted(Period.parse(p) for p in todo)


def _last_loads(conn) -> dict[str, datetime | None]:
    """Per period with current reports: when the latest of them was loaded (None when one never was)."""
    s = submission.c
    never = func.sum(case((s.loaded_at.is_(None), 1), else_=0))
    return {r.period: None if r.never else r.last for r in conn.execute(
        select(s.period, func.max(s.loaded_at).label("last"), never.label("never"))
        .where(s.status.in_(Status.ACTIVE), s.period.is_not(None)).group_by(s.period))}


def analyse_changed(engine: Engine, progress: Callable[..., None] | None = None) -> list[Analysis]:
    """Analyse every period :func:`changed_periods` names, oldest first (a period's history is settled before it)."""
    todo = changed_periods(engine)
    out = []
    for i, period in enumerate(todo):
        if progress:
            progress(i, len(todo), period.code)
        out.append(analyse(engine, period))
    if progress:
        progress(len(todo), len(todo))
    return out
