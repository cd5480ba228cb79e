"""The BI views (``mart_*``): SQL text derived from the tables, the same on SQLite and PostgreSQL."""

from __future__ import annotations

from schemas.forms import load_forms
from schemas.status import Status


def sql_list(values: tuple[str, ...]) -> str:
    """``('a', 'b')``: constants of this project as an SQL list (never text from outside)."""
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


ACTIVE = sql_list(Status.ACTIVE)
PENDING = f"'{Status.PENDING}'"
NOT_CURRENT = sql_list((Status.REJECTED, Status.SUPERSEDED))  # received and not counting (completeness: rejected_only)
HELD = f"'{Status.HELD}'"  # received for a locked period: shown, counting nowhere (completeness: held)

# name -> SELECT; created in this order, dropped in reverse.
VIEWS: dict[str, str] = {
    "mart_submissions": f"""
        SELECT s.submission_id, f.file_name, s.sha256, s.form, s.period, s.province_code, s.unit_key, s.unit_name,
               s.received_at, s.deadline, s.is_late, s.status, s.errors, s.warnings
        FROM submission s JOIN received_file f ON f.sha256 = s.sha256
        WHERE s.status <> {PENDING}
    """,
    "mart_validation_issues": f"""
        SELECT v.submission_id, v.rule_id, v.severity, v.sheet, v.cell, v.indicator_code, v.message
        FROM validation_finding v JOIN submission s ON s.submission_id = v.submission_id
        WHERE s.status <> {PENDING}
    """,
    "mart_indicator_values": f"""
        SELECT s.submission_id, s.form, s.period, s.province_code, s.unit_key, v.indicator_code, v.value, v.unit,
               v.note
        FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
        WHERE s.status IN {ACTIVE}
    """,
    "mart_national_summary": f"""
        WITH sums AS (
            SELECT s.period, v.indicator_code, SUM(v.value) AS value, COUNT(DISTINCT s.province_code) AS provinces
            FROM indicator_value v JOIN submission s ON s.submission_id = v.submission_id
            WHERE s.form = '04' AND s.status IN {ACTIVE} AND v.value IS NOT NULL
            GROUP BY s.period, v.indicator_code
        )
        SELECT s.period, i.code AS indicator_code, i.label_vi AS indicator_name, i.unit_vi AS unit,
               CASE WHEN i.aggregation = 'ratio' THEN i.scale * num.value / NULLIF(den.value, 0)
                    ELSE s.value END AS value,
               s.provinces AS provinces_reporting
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
    SELECT e.period, e.form, e.province_code, COUNT(*) AS expected, COUNT(c.unit_key) AS received,
           SUM(CASE WHEN c.unit_key IS NOT NULL AND c.late = 0 THEN 1 ELSE 0 END) AS on_time,
           SUM(CASE WHEN c.late = 1 THEN 1 ELSE 0 END) AS late,
           COUNT(*) - COUNT(c.unit_key) AS missing,
           SUM(CASE WHEN c.unit_key IS NULL AND r.unit_key IS NOT NULL THEN 1 ELSE 0 END) AS rejected_only,
           SUM(CASE WHEN c.unit_key IS NULL AND h.unit_key IS NOT NULL THEN 1 ELSE 0 END) AS held
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

VIEWS["mart_province_summary"] = f"""
    WITH reported AS ({_sums("04")}
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
    )
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
"""

VIEWS["mart_region_summary"] = """
    WITH s AS (
        SELECT ps.period, ps.region, ps.indicator_code, SUM(ps.reported_value) AS reported,
               SUM(ps.computed_value) AS computed, COUNT(ps.reported_value) AS provinces_reporting
        FROM mart_province_summary ps GROUP BY ps.period, ps.region, ps.indicator_code
    )
    SELECT s.period, s.region, i.code AS indicator_code, i.label_vi AS indicator_name, i.unit_vi AS unit,
           CASE WHEN i.aggregation = 'ratio' THEN i.scale * sn.reported / NULLIF(sd.reported, 0)
                ELSE s.reported END AS reported_value,
           CASE WHEN i.aggregation = 'ratio' THEN i.scale * sn.computed / NULLIF(sd.computed, 0)
                ELSE s.computed END AS computed_value,
           s.provinces_reporting
    FROM s JOIN indicator i ON i.form = '04' AND i.code = s.indicator_code
    LEFT JOIN s sn ON sn.period = s.period AND sn.region = s.region AND sn.indicator_code = i.numerator
    LEFT JOIN s sd ON sd.period = s.period AND sd.region = s.region AND sd.indicator_code = i.denominator
"""

VIEWS["mart_cluster_status"] = f"""
    SELECT s.period, s.cluster_id, c.name AS cluster_name, s.province_code,
           COALESCE(s.commune_code, c.commune_code) AS commune_code,
           MAX(CASE WHEN v.indicator_code = '3' THEN v.value END) AS ready_land_ha,
           MAX(CASE WHEN v.indicator_code = '4' THEN v.value END) AS leased_land_ha,
           MAX(CASE WHEN v.indicator_code = '5' THEN v.value END) AS occupancy_pct,
           MAX(CASE WHEN v.indicator_code = '6' THEN v.value END) AS projects,
           MAX(CASE WHEN v.indicator_code = '7' THEN v.value END) AS fdi_projects,
           MAX(CASE WHEN v.indicator_code = '8' THEN v.value END) AS operating_projects,
           MAX(CASE WHEN v.indicator_code = '13' THEN v.value END) AS wwtp_built,
           MAX(CASE WHEN v.indicator_code = '14' THEN v.value END) AS wwtp_compliant,
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
           CASE WHEN m.merge_type = 'partial' THEN NULL ELSE m.new_code END AS new_commune_code,
           m.new_code AS candidate_commune_code, n.name AS candidate_commune_name,
           CASE WHEN m.merge_type = 'partial' THEN 1 ELSE 0 END AS is_split, m.targets
    FROM commune_successor m
    LEFT JOIN commune o ON o.code = m.old_code AND o.generation = 'pre2025'
    LEFT JOIN commune n ON n.code = m.new_code AND n.generation = '2025'
"""


# --- validation views (issue #4): every finding with its report and its waiver, for stewards -------------------
VIEWS["mart_findings"] = f"""
    SELECT v.finding_id, v.submission_id, f.file_name, s.form, s.period, s.province_code, s.unit_key, s.unit_name,
           s.status, v.rule_id, v.severity, v.sheet, v.cell, v.indicator_code, v.message, v.expected,
           w.waived_by, w.waived_at, w.reason AS waiver_reason
    FROM validation_finding v
    JOIN submission s ON s.submission_id = v.submission_id
    JOIN received_file f ON f.sha256 = s.sha256
    LEFT JOIN finding_waiver w ON w.finding_id = v.finding_id
    WHERE s.status <> {PENDING}
"""


# --- follow-up (issue 15): each followed-up finding with its latest mark (pipelines/steward/follow_up.py) ---------
VIEWS["mart_follow_ups"] = """
    SELECT u.finding_id, v.submission_id, s.form, s.period, s.province_code, s.unit_key, s.unit_name, v.rule_id,
           v.severity, v.sheet, v.cell, v.indicator_code, u.status, u.comment, u.marked_by, u.marked_at,
           (SELECT COUNT(*) FROM finding_follow_up c WHERE c.finding_id = u.finding_id) AS marks
    FROM finding_follow_up u
    JOIN validation_finding v ON v.finding_id = u.finding_id
    JOIN submission s ON s.submission_id = v.submission_id
    WHERE u.follow_up_id = (SELECT MAX(x.follow_up_id) FROM finding_follow_up x WHERE x.finding_id = u.finding_id)
"""
