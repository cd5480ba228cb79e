"""The BI views (``mart_*``): SQL text derived from the tables, the same on SQLite and PostgreSQL.

The views are the BI contract (docs/warehouse.md gives every column with its type): each column is one of
``INTEGER`` (counts, ids, 1/0 flags), ``NUMERIC`` (amounts, rounded to the decimals of their unit, forms.toml
``[unit_decimals]``), ``TEXT``, or a timestamp written as text in one format, ISO 8601 with the offset of
Asia/Ho_Chi_Minh (``2026-06-19T08:30:00+07:00``, see :func:`view_sql`).  A column that is not a plain column of
a table is ``CAST`` to its type, so that SQLite gives the view's column that type too (tests/test_bi_contract.py
compares the two backends).
"""

from __future__ import annotations

import re
from datetime import datetime

from schemas.forms import load_forms, unit_decimals
from schemas.periods import VN_TZ
from schemas.status import FollowUp, Status


def sql_list(values: tuple[str, ...]) -> str:
    """``('a', 'b')``: constants of this project as an SQL list (never text from outside)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


ACTIVE = sql_list(Status.ACTIVE)
PENDING = f"'{Status.PENDING}'"
NOT_CURRENT = sql_list((Status.REJECTED, Status.SUPERSEDED))  # received and not counting (completeness: rejected_only)
HELD = f"'{Status.HELD}'"  # received for a locked period: shown, counting nowhere (completeness: held)

# --- the column types of the contract ---------------------------------------------------------------------------
# Timestamps: ``ISO_TIME(column)`` in a view's text, written out per backend by :func:`view_sql` (the only part of
# a view that differs: SQLite keeps a timestamp as ISO text with any offset, PostgreSQL as ``timestamptz``).  One
# format on both, to the second, in Vietnam's time: the deadlines are Vietnamese calendar days ("before 20 Jun" is
# late from 20 Jun 00:00 +07:00), so the date a reader sees is the one the law counts; Vietnam keeps one offset
# all year (no summer time), so the text sorts in time order and converts to UTC by its offset.  Truncating to the
# second never moves a time across a deadline, which falls on a whole second.
_ISO_TIME = re.compile(r"ISO_TIME\(([\w.]+)\)")
_OFFSET_MINUTES = int(datetime(2025, 1, 1, tzinfo=VN_TZ).utcoffset().total_seconds()) // 60  # type: ignore[union-attr]
TIME_OFFSET = f"{'+' if _OFFSET_MINUTES >= 0 else '-'}{abs(_OFFSET_MINUTES) // 60:02d}:{abs(_OFFSET_MINUTES) % 60:02d}"
TIME_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}" + re.escape(TIME_OFFSET) + "$")


def _iso_time(column: str, dialect: str) -> str:
    if dialect == "postgresql":
        text = f"""to_char({column} AT TIME ZONE '{VN_TZ.key}', 'YYYY-MM-DD"T"HH24:MI:SS')"""
    else:  # SQLite reads the offset of the stored text, then shifts the UTC instant to Vietnam's time
        text = f"strftime('%Y-%m-%dT%H:%M:%S', {column}, '{_OFFSET_MINUTES:+d} minutes')"
    return f"CAST({text} || '{TIME_OFFSET}' AS TEXT)"


def view_sql(definition: str, dialect: str) -> str:
    """A view's SELECT for one backend (``sqlite`` or ``postgresql``): its ``ISO_TIME(column)`` written out."""
    return _ISO_TIME.sub(lambda m: _iso_time(m[1], dialect), definition)


# Amounts: rounded to the decimals of their unit, a NUMERIC (exact on PostgreSQL: a BI tool's own sums stay exact);
# counts and flags whole, INTEGER values in the NUMERIC column on SQLite.  The unit's decimals come from forms.toml.
_DECIMALS = unit_decimals()
_WHOLE_UNITS = sql_list(tuple(u for u, d in _DECIMALS.items() if d == 0))


def _decimals_of(unit: str) -> str:
    return f"CASE {unit} " + " ".join(f"WHEN '{u}' THEN {d}" for u, d in _DECIMALS.items() if d) + " END"


def rounded(expr: str, unit: str) -> str:
    """``expr`` rounded to the decimals of the unit in the SQL expression ``unit`` (NULL for a unit forms.toml
    does not know, never a wrong number)."""
    return (f"CAST(CASE WHEN {unit} IN {_WHOLE_UNITS} THEN CAST(ROUND({expr}) AS INTEGER) "
            f"ELSE ROUND(CAST({expr} AS NUMERIC), {_decimals_of(unit)}) END AS NUMERIC)")


def rounded_as(expr: str, decimals: int) -> str:
    """``expr`` rounded to ``decimals`` known when the view is written: an INTEGER when 0, else a NUMERIC."""
    if decimals == 0:
        return f"CAST(ROUND({expr}) AS INTEGER)"
    return f"CAST(ROUND(CAST({expr} AS NUMERIC), {decimals}) AS NUMERIC)"


def count(expr: str) -> str:
    """A count as INTEGER (PostgreSQL's COUNT and SUM give BIGINT)."""
    return f"CAST({expr} AS INTEGER)"


# name -> SELECT; created in this order, dropped in reverse.
VIEWS: dict[str, str] = {
    "mart_submissions": f"""
        SELECT s.submission_id, f.file_name, s.sha256, s.form, s.period, s.province_code, s.unit_key, s.unit_name,
               ISO_TIME(s.received_at) AS received_at, ISO_TIME(s.deadline) AS deadline,
               CAST(s.is_late AS INTEGER) AS is_late, s.status, s.errors, s.warnings
        FROM submission s JOIN received_file f ON f.sha256 = s.sha256
        WHERE s.status <> {PENDING}
    """,
    "mart_validation_issues": f"""
        SELECT v.submission_id, v.rule_id, v.severity, v.sheet, v.cell, v.indicator_code, v.message
        FROM validation_finding v JOIN submission s ON s.submission_id = v.submission_id
        WHERE s.status <> {PENDING}
    """,
    # the unit stored with each value (the row's, as it was read) rounds it; the indicator table names them
    "mart_indicator_values": f"""
        SELECT s.submission_id, s.form, s.period, s.province_code, s.unit_key, v.indicator_code,
               i.label_vi AS indicator_name, v.unit AS value_unit_code, i.unit_vi AS value_unit_name,
               {rounded("v.value", "v.unit")} AS value, v.note
        FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
        LEFT JOIN indicator i ON i.form = s.form AND i.code = v.indicator_code
        WHERE s.status IN {ACTIVE}
    """,
    "mart_national_summary": f"""
        WITH sums AS (
            SELECT s.period, v.indicator_code, SUM(v.value) AS value, COUNT(DISTINCT s.province_code) AS provinces
            FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
            WHERE s.form = '04' AND s.status IN {ACTIVE} AND v.value IS NOT NULL
            GROUP BY s.period, v.indicator_code
        )
        SELECT s.period, i.code AS indicator_code, i.label_vi AS indicator_name, i.unit AS value_unit_code,
               i.unit_vi AS value_unit_name,
               {rounded("CASE WHEN i.aggregation = 'ratio' THEN i.scale * num.value / NULLIF(den.value, 0) "
                        "ELSE s.value END", "i.unit")} AS value,
               {count("s.provinces")} AS provinces_reporting
        FROM sums s
        JOIN indicator i ON i.form = '04' AND i.code = s.indicator_code
        LEFT JOIN sums num ON num.period = s.period AND num.indicator_code = i.numerator
        LEFT JOIN sums den ON den.period = s.period AND den.indicator_code = i.denominator
    """,
}


# --- orchestration views (issue #5): completeness, province / region / cluster summaries ----------------------
# Row of Biểu 04 -> (form, row) of the cluster (02) and project (01) reports that add up to it: the roll-up
# columns of indicators.csv, which the cross-level rules of validations/rules.toml read too.
CLUSTER_ROLLUP: dict[str, tuple[str, str]] = {
    r.code: (r.rollup_form, r.rollup_code) for r in load_forms()["04"].rows if r.rollup_form}
_ROLLUP_VALUES = ", ".join(f"('{f}', '{c}', '{t}')" for t, (f, c) in CLUSTER_ROLLUP.items())


def _ratio(alias: str, column: str = "value") -> str:
    """A row's value from per-row sums: ratios (row 19) recomputed from their parts, never summed."""
    return (f"CASE WHEN i.aggregation = 'ratio' THEN i.scale * {alias}n.{column} / NULLIF({alias}d.{column}, 0) "
            f"ELSE {alias}.{column} END")


def _sums(form: str) -> str:
    return f"""
        SELECT s.period, s.province_code, v.indicator_code, SUM(v.value) AS value,
               COUNT(DISTINCT s.unit_key) AS units
        FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
        WHERE s.form = '{form}' AND s.status IN {ACTIVE} AND v.value IS NOT NULL AND s.period IS NOT NULL
              AND s.province_code IS NOT NULL
        GROUP BY s.period, s.province_code, v.indicator_code"""


def _joined(alias: str, cte: str) -> str:
    on = "{a}.period = k.period AND {a}.province_code = k.province_code AND {a}.indicator_code = {code}"
    return "\n".join(f"        LEFT JOIN {cte} {alias}{sfx} ON " + on.format(a=alias + sfx, code=code)
                     for sfx, code in (("", "i.code"), ("n", "i.numerator"), ("d", "i.denominator")))


VIEWS["mart_reporting_completeness"] = f"""
    WITH current_report AS (
        SELECT s.form, s.period, s.unit_key, MIN(CASE WHEN s.is_late THEN 1 ELSE 0 END) AS late
        FROM submission s WHERE s.status IN {ACTIVE} AND s.unit_key IS NOT NULL
        GROUP BY s.form, s.period, s.unit_key
    ), refused AS (
        SELECT DISTINCT s.form, s.period, s.unit_key FROM submission s
        WHERE s.status IN {NOT_CURRENT} AND s.unit_key IS NOT NULL
    ), held AS (
        SELECT DISTINCT s.form, s.period, s.unit_key FROM submission s
        WHERE s.status = {HELD} AND s.unit_key IS NOT NULL
    )
    SELECT e.period, e.form, e.province_code, {count("COUNT(*)")} AS expected,
           {count("COUNT(c.unit_key)")} AS received,
           {count("SUM(CASE WHEN c.unit_key IS NOT NULL AND c.late = 0 THEN 1 ELSE 0 END)")} AS on_time,
           {count("SUM(CASE WHEN c.late = 1 THEN 1 ELSE 0 END)")} AS late,
           {count("COUNT(*) - COUNT(c.unit_key)")} AS missing,
           {count("SUM(CASE WHEN c.unit_key IS NULL AND r.unit_key IS NOT NULL THEN 1 ELSE 0 END)")} AS rejected_only,
           {count("SUM(CASE WHEN c.unit_key IS NULL AND h.unit_key IS NOT NULL THEN 1 ELSE 0 END)")} AS held
    FROM expected_report e
    LEFT JOIN current_report c ON c.form = e.form AND c.period = e.period AND c.unit_key = e.unit_key
    LEFT JOIN refused r ON r.form = e.form AND r.period = e.period AND r.unit_key = e.unit_key
    LEFT JOIN held h ON h.form = e.form AND h.period = e.period AND h.unit_key = e.unit_key
    GROUP BY e.period, e.form, e.province_code
"""

# The names an official reads beside each key: the 2025 province, and for a project (01) or a cluster (02) the
# cluster and the commune it lies in (a commune's own Biểu 03 names it in unit_name), a project's tax code.
VIEWS["mart_missing_reports"] = f"""
    SELECT e.period, e.form, e.province_code, e.unit_key, e.unit_name, e.basis, p.name AS province_name,
           cm.name AS commune_name, c.name AS cluster_name, pr.tax_code
    FROM expected_report e
    LEFT JOIN province p ON p.code = e.province_code AND p.generation = '2025'
    LEFT JOIN project pr ON e.form = '01' AND pr.project_key = e.unit_key
    LEFT JOIN cluster c ON c.cluster_id = CASE WHEN e.form = '02' THEN e.unit_key ELSE pr.cluster_id END
    LEFT JOIN commune cm ON cm.code = c.commune_code AND cm.generation = '2025'
    WHERE NOT EXISTS (SELECT 1 FROM submission s WHERE s.form = e.form AND s.period = e.period
                      AND s.unit_key = e.unit_key AND s.status IN {ACTIVE})
"""

# Per province and row of Biểu 04, unrounded: what the province reported, what its communes and its clusters add
# up to.  The province view rounds it; the region view sums it first, so that no rounded figure is summed again.
_PROVINCE_SUMS = f"""
    reported AS ({_sums("04")}
    ), communes AS ({_sums("03")}
    ), rollup(form, code, target) AS (VALUES {_ROLLUP_VALUES}
    ), clusters AS (
        SELECT s.period, s.province_code, r.target AS indicator_code, SUM(v.value) AS value
        FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
        JOIN rollup r ON r.form = s.form AND r.code = v.indicator_code
        WHERE s.status IN {ACTIVE} AND v.value IS NOT NULL AND s.period IS NOT NULL AND s.province_code IS NOT NULL
        GROUP BY s.period, s.province_code, r.target
    ), k AS (
        SELECT period, province_code FROM reported UNION SELECT period, province_code FROM communes
        UNION SELECT period, province_code FROM clusters
    ), unit_counts AS (
        SELECT period, province_code, MAX(units) AS units FROM communes GROUP BY period, province_code
    ), ps AS (
        SELECT k.period, k.province_code, p.name AS province_name, i.code AS indicator_code,
               {_ratio("rp")} AS reported_value,
               {_ratio("cm")} AS computed_value,
               CASE WHEN i.aggregation = 'ratio' THEN NULL ELSE cl.value END AS computed_from_clusters,
               COALESCE(uc.units, 0) AS communes_reporting, p.region
        FROM k
        JOIN province p ON p.code = k.province_code AND p.generation = '2025'
        JOIN indicator i ON i.form = '04'
{_joined("rp", "reported")}
{_joined("cm", "communes")}
        LEFT JOIN clusters cl ON cl.period = k.period AND cl.province_code = k.province_code
                             AND cl.indicator_code = i.code
        LEFT JOIN unit_counts uc ON uc.period = k.period AND uc.province_code = k.province_code
    )"""

VIEWS["mart_province_summary"] = f"""
    WITH {_PROVINCE_SUMS}
    SELECT ps.period, ps.province_code, ps.province_name, ps.indicator_code, i.label_vi AS indicator_name,
           i.unit AS value_unit_code, i.unit_vi AS value_unit_name,
           {rounded("ps.reported_value", "i.unit")} AS reported_value,
           {rounded("ps.computed_value", "i.unit")} AS computed_value,
           {rounded("ps.computed_from_clusters", "i.unit")} AS computed_from_clusters,
           {count("ps.communes_reporting")} AS communes_reporting, ps.region
    FROM ps JOIN indicator i ON i.form = '04' AND i.code = ps.indicator_code
"""

VIEWS["mart_region_summary"] = f"""
    WITH {_PROVINCE_SUMS}, s AS (
        SELECT ps.period, ps.region, ps.indicator_code, SUM(ps.reported_value) AS reported,
               SUM(ps.computed_value) AS computed, COUNT(ps.reported_value) AS provinces_reporting
        FROM ps GROUP BY ps.period, ps.region, ps.indicator_code
    )
    SELECT s.period, s.region, i.code AS indicator_code, i.label_vi AS indicator_name, i.unit AS value_unit_code,
           i.unit_vi AS value_unit_name,
           {rounded("CASE WHEN i.aggregation = 'ratio' THEN i.scale * sn.reported / NULLIF(sd.reported, 0) "
                    "ELSE s.reported END", "i.unit")} AS reported_value,
           {rounded("CASE WHEN i.aggregation = 'ratio' THEN i.scale * sn.computed / NULLIF(sd.computed, 0) "
                    "ELSE s.computed END", "i.unit")} AS computed_value,
           {count("s.provinces_reporting")} AS provinces_reporting
    FROM s JOIN indicator i ON i.form = '04' AND i.code = s.indicator_code
    LEFT JOIN s sn ON sn.period = s.period AND sn.region = s.region AND sn.indicator_code = i.numerator
    LEFT JOIN s sd ON sd.period = s.period AND sd.region = s.region AND sd.indicator_code = i.denominator
"""

# column of mart_cluster_status -> the row of Biểu 02 it shows (rounded to that row's unit)
CLUSTER_COLUMNS = {"ready_land_ha": "3", "leased_land_ha": "4", "occupancy_pct": "5", "projects": "6",
                   "fdi_projects": "7", "operating_projects": "8", "wwtp_built": "13", "wwtp_compliant": "14"}
_CLUSTER_VALUES = ",\n           ".join(
    rounded_as(f"MAX(CASE WHEN v.indicator_code = '{code}' THEN v.value END)", load_forms()["02"].row(code).decimals)
    + f" AS {name}" for name, code in CLUSTER_COLUMNS.items())

VIEWS["mart_cluster_status"] = f"""
    SELECT s.period, s.cluster_id, c.name AS cluster_name, s.province_code,
           CAST(COALESCE(s.commune_code, c.commune_code) AS TEXT) AS commune_code,
           {_CLUSTER_VALUES},
           p.region
    FROM submission s
    JOIN indicator_value v ON v.submission_id = s.submission_id
    JOIN cluster c ON c.cluster_id = s.cluster_id
    LEFT JOIN province p ON p.code = s.province_code AND p.generation = '2025'
    WHERE s.form = '02' AND s.status IN {ACTIVE}
    GROUP BY s.period, s.cluster_id, c.name, s.province_code, s.commune_code, c.commune_code, p.region
"""

VIEWS["mart_commune_mapping"] = """
    SELECT m.old_code AS old_commune_code, o.name AS old_commune_name, m.old_district_code,
           m.old_province_code, m.new_province_code,
           CAST(CASE WHEN m.merge_type = 'partial' THEN NULL ELSE m.new_code END AS TEXT) AS new_commune_code,
           m.new_code AS candidate_commune_code, n.name AS candidate_commune_name,
           CAST(CASE WHEN m.merge_type = 'partial' THEN 1 ELSE 0 END AS INTEGER) AS is_split, m.targets
    FROM commune_successor m
    LEFT JOIN commune o ON o.code = m.old_code AND o.generation = 'pre2025'
    LEFT JOIN commune n ON n.code = m.new_code AND n.generation = '2025'
"""


# --- validation views (issue #4): every finding with its report and its waiver, for stewards -------------------
VIEWS["mart_findings"] = f"""
    SELECT v.finding_id, v.submission_id, f.file_name, s.form, s.period, s.province_code, s.unit_key, s.unit_name,
           s.status, v.rule_id, v.severity, v.sheet, v.cell, v.indicator_code, v.message, v.expected,
           w.waived_by, ISO_TIME(w.waived_at) AS waived_at, w.reason AS waiver_reason
    FROM validation_finding v
    JOIN submission s ON s.submission_id = v.submission_id
    JOIN received_file f ON f.sha256 = s.sha256
    LEFT JOIN finding_waiver w ON w.finding_id = v.finding_id
    WHERE s.status <> {PENDING}
"""


# --- follow-up (issue 15): each followed-up finding with its latest mark (pipelines/steward/follow_up.py) ---------
VIEWS["mart_follow_ups"] = """
    SELECT u.finding_id, v.submission_id, s.form, s.period, s.province_code, s.unit_key, s.unit_name, v.rule_id,
           v.severity, v.sheet, v.cell, v.indicator_code, u.status, u.comment, u.marked_by,
           ISO_TIME(u.marked_at) AS marked_at,
           CAST((SELECT COUNT(*) FROM finding_follow_up c WHERE c.finding_id = u.finding_id) AS INTEGER) AS marks
    FROM finding_follow_up u
    JOIN validation_finding v ON v.finding_id = u.finding_id
    JOIN submission s ON s.submission_id = v.submission_id
    WHERE u.follow_up_id = (SELECT MAX(x.follow_up_id) FROM finding_follow_up x WHERE x.finding_id = u.finding_id)
"""


# --- data-quality trend (issue 15): per period, province and form, what the checks found and what stewards did ---
VIEWS["mart_quality_trend"] = f"""
    SELECT s.period, s.province_code, s.form,
           CAST(COUNT(DISTINCT s.submission_id) AS INTEGER) AS reports,
           CAST(COUNT(DISTINCT CASE WHEN s.status = '{Status.REJECTED}' THEN s.submission_id END) AS INTEGER)
                AS rejected,
           CAST(SUM(CASE WHEN v.severity = 'error' THEN 1 ELSE 0 END) AS INTEGER) AS errors,
           CAST(SUM(CASE WHEN v.severity = 'warning' AND COALESCE(v.stage, '') <> 'outlier' THEN 1 ELSE 0 END)
                AS INTEGER) AS warnings,
           CAST(SUM(CASE WHEN v.stage = 'outlier' THEN 1 ELSE 0 END) AS INTEGER) AS outliers,
           CAST(SUM(CASE WHEN w.finding_id IS NOT NULL THEN 1 ELSE 0 END) AS INTEGER) AS waived,
           CAST(SUM(CASE WHEN u.status = '{FollowUp.CONFIRMED}' THEN 1 ELSE 0 END) AS INTEGER) AS confirmed,
           CAST(SUM(CASE WHEN u.status = '{FollowUp.CORRECTED}' THEN 1 ELSE 0 END) AS INTEGER) AS corrected,
           CAST(SUM(CASE WHEN u.status = '{FollowUp.OPEN}' THEN 1 ELSE 0 END) AS INTEGER) AS open_follow_ups,
           {rounded_as("SUM(CASE WHEN v.severity = 'error' THEN 1 ELSE 0 END) * 1.0 "
                       "/ COUNT(DISTINCT s.submission_id)", 2)} AS errors_per_report
    FROM submission s
    LEFT JOIN validation_finding v ON v.submission_id = s.submission_id
    LEFT JOIN finding_waiver w ON w.finding_id = v.finding_id
    LEFT JOIN mart_follow_ups u ON u.finding_id = v.finding_id
    WHERE s.status NOT IN ({PENDING}, {HELD}) AND s.form IS NOT NULL AND s.period IS NOT NULL
    GROUP BY s.period, s.province_code, s.form
"""
