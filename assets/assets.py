"""The assets (wiring only).

Ingestion, not partitioned (a file's period is only known once it is read): inbox files → submissions and
indicator values → validation findings → warehouse → national summary and who should report.  Each asset only
wires a stage of ``pipelines/stages.py`` (or a domain function) and describes what it did: counts, accepted and
rejected, and a preview.  The stages keep their data in the warehouse, so any asset can be re-materialised alone.

Per period (partitioned by period code): completeness, province / region / cluster summaries and the national
report workbook.  Materialising ``completeness`` for a period also records a materialisation of
``province_reports`` for every (period, province) whose Biểu 04 was accepted, so the partition grid of
``province_reports`` shows at a glance who has reported.
"""

from collections.abc import Callable
from dataclasses import asdict
from typing import Any

import pandas as pd
from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetMaterialization,
    AssetSpec,
    MaterializeResult,
    MetadataValue,
    MultiPartitionKey,
    asset,
    multi_asset,
)

from assets.partitions import PERIOD_PROVINCE, PERIODS, province_key
from assets.resources import CCNResource
from pipelines import stages
from pipelines.report import completeness, observe
from pipelines.report.export import export_national
from schemas.periods import Period
from schemas.status import FollowUp, Status

OWNERS = ["team:ccn-data"]


def _ctx(context, ccn: CCNResource) -> stages.Context:
    return ccn.context(context.run_id)


def _staged(context, ccn: CCNResource, stage: Callable, held: Callable) -> tuple[stages.Context, Any, pd.DataFrame]:
    """Run ``stage`` in this run's context: the context, what the stage returned and what the run holds
    afterwards (``held``: one of observe's ``run_*`` queries)."""
    ctx = _ctx(context, ccn)
    result = stage(ctx)
    return ctx, result, held(ctx.engine, ctx.run_id)


def _shown(df, *, preview_rows: int = observe.PREVIEW_ROWS, **metadata) -> MaterializeResult:
    """A materialisation with its figures and a preview of the first rows of what it holds."""
    return MaterializeResult(metadata={**metadata, "preview": MetadataValue.md(observe.preview(df, preview_rows))})


@asset(group_name="ingest", owners=OWNERS, kinds={"python", "excel"},
       description="Files in the inbox, archived by SHA-256 as received (the same bytes twice are kept once); "
                   "received_at is the file's modification time, Asia/Ho_Chi_Minh.")
def inbox_files(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx = _ctx(context, ccn)
    stages.prepare(ctx)
    result = stages.archive_stage(ctx)
    return MaterializeResult(metadata={"new_files": result.new, "duplicates": result.duplicates,
                                       "unchanged": result.unchanged, "inbox": MetadataValue.path(str(ctx.inbox))})


@multi_asset(
    specs=[AssetSpec("submissions", group_name="ingest", owners=OWNERS, deps=["inbox_files"], kinds={"python"},
                     description="One report of one unit for one period per sheet, identified (period, province, "
                                 "commune, cluster, project) and stored as pending with its structure findings."),
           AssetSpec("indicator_values", group_name="ingest", owners=OWNERS, deps=["inbox_files"], kinds={"python"},
                     description="The values read from column (4) of every report, with lineage to file, sheet "
                                 "and cell and the text as typed.")])
def read_reports(context: AssetExecutionContext, ccn: CCNResource):
    ctx, files, subs = _staged(context, ccn, stages.read_stage, observe.run_submissions)
    by_form = subs["form"].fillna("unread").value_counts().to_dict() if not subs.empty else {}
    yield MaterializeResult(asset_key="submissions", metadata={
        "files_read": files, "submissions_read": len(subs),
        "by_form": MetadataValue.json({str(k): int(v) for k, v in by_form.items()}),
        "preview": MetadataValue.md(observe.preview(subs.drop(columns=["status"], errors="ignore")))})
    yield MaterializeResult(asset_key="indicator_values", metadata={
        "values_read": observe.run_value_count(ctx.engine, ctx.run_id)})


@asset(group_name="validate", owners=OWNERS, deps=["submissions", "indicator_values"], kinds={"python"},
       description="Findings of the rule catalogue (validations/rules.toml) over the pending submissions; the "
                   "asset checks on `warehouse` summarise them per family of rules.")
def findings(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx, report, findings = _staged(context, ccn, stages.validate_stage, observe.run_findings)
    docs: dict[str, Any] = {"data_docs": MetadataValue.path(str(report.data_docs))} if report.data_docs else {}
    standing = observe.open_findings(ctx.engine)
    return _shown(findings, **docs, findings_written=report.findings, findings_on_run=len(findings),
                  errors_on_run=int((findings["severity"] == "error").sum()) if not findings.empty else 0,
                  standing_errors=int((standing["severity"] == "error").sum()),
                  standing_warnings=int((standing["severity"] == "warning").sum()),
                  standing_by_period=MetadataValue.json(observe.by_period(standing)))


@asset(group_name="load", owners=OWNERS, deps=[findings], kinds={"python"},
       description="Submissions settled: accepted, accepted with warnings, rejected or superseded; only accepted, "
                   "current ones reach the views.")
def warehouse(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx, result, subs = _staged(context, ccn, stages.publish_stage, observe.run_submissions)
    # what this run settled, and beside it what the warehouse holds: an empty run must not read as "0 rejected"
    return _shown(subs, **asdict(result), in_warehouse=MetadataValue.json(observe.status_counts(ctx.engine)))


OUTLIERS_REVIEWED = AssetCheckSpec(
    "outliers_reviewed", asset="outliers",
    description="No outlier stands on a current report: each was waived, confirmed or marked corrected by a "
                "steward (one marked to follow up still stands). WARN counts them per rule, period and province, "
                "with the open follow-ups, and the data-quality trend per period (view mart_quality_trend: "
                "errors, warnings, outliers, waivers, follow-ups); outliers never block loading.")


@asset(group_name="validate", owners=OWNERS, deps=[warehouse], kinds={"python", "sql"},
       check_specs=[OUTLIERS_REVIEWED],
       description="Implausible values of the loaded reports (the outlier rules of validations/rules.toml): against "
                   "each unit's earlier periods and against the period's reports of the same form, and reports "
                   "copied forward; warnings in mart_validation_issues, re-analysed for every period whose loaded "
                   "reports changed.")
def outliers(context: AssetExecutionContext, ccn: CCNResource):
    ctx = _ctx(context, ccn)
    analyses = stages.outlier_stage(ctx)
    standing = observe.open_outliers(ctx.engine)
    yield MaterializeResult(metadata={
        "periods_analysed": MetadataValue.text(", ".join(a.period for a in analyses) or "(none)"),
        "outliers_added": sum(a.added for a in analyses), "outliers_removed": sum(a.removed for a in analyses),
        "values_analysed": sum(a.values for a in analyses),
        "seconds_by_period": MetadataValue.json({a.period: a.seconds for a in analyses}),
        "found_by_period": MetadataValue.json({a.period: a.by_rule for a in analyses})})
    open_follow_ups = int((standing["follow_up"] == FollowUp.OPEN).sum()) if not standing.empty else 0
    by_rule = {str(k): int(v) for k, v in standing["rule_id"].value_counts().items()}
    by_province = standing.groupby([standing["period"].fillna("?"), standing["province_code"].fillna("?")]).size()
    yield AssetCheckResult(
        check_name="outliers_reviewed", passed=standing.empty, severity=AssetCheckSeverity.WARN,
        metadata={"findings": len(standing), "open_follow_ups": open_follow_ups,
                  "written_by_this_run": sum(a.added for a in analyses),
                  "by_rule": MetadataValue.json(by_rule),
                  "by_period": MetadataValue.json(observe.by_period(standing)),
                  "by_period_province": MetadataValue.json({f"{p}/{c}": int(n) for (p, c), n in by_province.items()}),
                  "quality_by_period": MetadataValue.json(observe.quality_by_period(ctx.engine)),
                  "preview": MetadataValue.md(observe.preview(standing.drop(columns=["message"])))})


@asset(group_name="summaries", owners=OWNERS, deps=[warehouse], kinds={"sql"},
       description="National summary of Biểu 04 per period (view mart_national_summary): counts, areas and "
                   "amounts summed over the provinces with an accepted report, ratios recomputed.")
def national_summary(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx = _ctx(context, ccn)
    df = stages.national_summary(ctx.engine)
    periods = MetadataValue.text(", ".join(sorted(df["period"].unique())))
    return _shown(df, preview_rows=40, rows=len(df), periods=periods)


@asset(group_name="summaries", owners=OWNERS, deps=[warehouse], kinds={"sql"},
       description="Who should report, for every period some report was identified for (table expected_report: "
                   "Biểu 04 per province, 03 per commune with clusters, 02 per registered cluster, 01 per known "
                   "project); the view mart_reporting_completeness compares it with what arrived.")
def expected_reports(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx = _ctx(context, ccn)
    counts = completeness.refresh_all(ctx.engine)
    return MaterializeResult(metadata={
        "periods_refreshed": MetadataValue.text(", ".join(c.period for c in counts) or "(none)"),
        "expected_reports": sum(c.total for c in counts),
        "expected_by_period": MetadataValue.json({c.period: c.by_form for c in counts})})


# --- per period ---------------------------------------------------------------------------------------------
ANALYSTS = ["team:moit-analysts"]

province_reports = AssetSpec(
    "province_reports", group_name="reporting", owners=OWNERS, partitions_def=PERIOD_PROVINCE,
    deps=["completeness"],
    description="One partition per (period, 2025 province): materialised when the province's Biểu 04 for the "
                "period is accepted (reports of the 63 old provinces count for their 2025 successor). The "
                "partition grid is the map of who has reported.")


# the checks the per-period assets evaluate as they materialise
ALL_REPORTED = AssetCheckSpec(
    "all_expected_reports_received", asset="completeness",
    description="Every expected report of the period has arrived and was accepted (WARN: a steward follows up the "
                "missing senders).")
PROVINCE_MATCHES_COMMUNES = AssetCheckSpec(
    "province_matches_communes", asset="province_summary",
    description="Each province's Biểu 04 equals what its communes' Biểu 03 add up to (within 0.01); WARN lists the "
                "differences.")


def _period_view(context: AssetExecutionContext, ccn: CCNResource, view: str) -> pd.DataFrame:
    """The rows of a ``mart_*`` view for the period being materialised."""
    return observe.view(_ctx(context, ccn).engine, view, context.partition_key)


def _period(context: AssetExecutionContext) -> Period:
    return Period.parse(context.partition_key)


@asset(name="completeness", group_name="reporting", owners=OWNERS + ANALYSTS, partitions_def=PERIODS,
       deps=["expected_reports"], kinds={"sql"},
       check_specs=[ALL_REPORTED],
       description="Who should report and who did, per form and province (view mart_reporting_completeness: "
                   "expected, received, on_time, late, missing). Recomputes the period's expected reports first.")
def completeness_of_period(context: AssetExecutionContext, ccn: CCNResource):
    ctx = _ctx(context, ccn)
    period = _period(context)
    counts = completeness.refresh_expected(ctx.engine, period)
    df = completeness.completeness(ctx.engine, period)
    totals = df.groupby("form")[["expected", "received", "on_time", "late", "missing"]].sum() if not df.empty else df
    provinces = observe.view(ctx.engine, "mart_submissions", period.code)
    b04 = provinces[(provinces["form"] == "04") & provinces["status"].isin(Status.ACTIVE)]
    for row in b04.drop_duplicates("province_code").itertuples():
        context.log_event(AssetMaterialization(
            asset_key="province_reports", partition=MultiPartitionKey({"period": period.code,
                                                                       "province": province_key(row.province_code)}),
            metadata={"unit": str(row.unit_name), "late": bool(row.is_late), "file": str(row.file_name)}))
    missing = int(df["missing"].sum()) if not df.empty else 0
    yield _shown(df, preview_rows=40, expected_by_form=MetadataValue.json(counts.by_form),
                 totals=MetadataValue.md(totals.reset_index().to_markdown(index=False) if not df.empty else "_(none)_"),
                 missing_reports=missing, provinces_with_form_04=int(b04["province_code"].nunique()))
    yield AssetCheckResult(check_name="all_expected_reports_received", passed=missing == 0,
                           severity=AssetCheckSeverity.WARN,
                           metadata={"missing_reports": missing,
                                     "missing_preview": MetadataValue.md(observe.preview(
                                         observe.view(ctx.engine, "mart_missing_reports", period.code)))})


@asset(group_name="reporting", owners=ANALYSTS, partitions_def=PERIODS, deps=["warehouse"], kinds={"sql"},
       check_specs=[PROVINCE_MATCHES_COMMUNES],
       description="Biểu 04 as each 2025 province reported it beside what its communes' Biểu 03 and its clusters' "
                   "Biểu 02/01 add up to (view mart_province_summary); pre-2025 provinces on their successors.")
def province_summary(context: AssetExecutionContext, ccn: CCNResource):
    df = _period_view(context, ccn, "mart_province_summary")
    both = df.dropna(subset=["reported_value", "computed_value"])
    diff = both[(both["reported_value"] - both["computed_value"]).abs() > 0.01]
    yield _shown(df, preview_rows=40, rows=len(df), provinces=int(df["province_code"].nunique()))
    yield AssetCheckResult(check_name="province_matches_communes", passed=diff.empty,
                           severity=AssetCheckSeverity.WARN,
                           metadata={"differences": len(diff), "preview": MetadataValue.md(observe.preview(diff))})


@asset(group_name="reporting", owners=ANALYSTS, partitions_def=PERIODS, deps=["province_summary"], kinds={"sql"},
       description="Biểu 04 per socio-economic region (view mart_region_summary), reported and recomputed from "
                   "Biểu 03, ratios from their parts.")
def region_summary(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    df = _period_view(context, ccn, "mart_region_summary")
    return _shown(df, preview_rows=40, rows=len(df), regions=int(df["region"].nunique()))


@asset(group_name="reporting", owners=ANALYSTS, partitions_def=PERIODS, deps=["warehouse"], kinds={"sql"},
       description="Each cluster's state from its Biểu 02 (view mart_cluster_status): ready and leased land, "
                   "occupancy, projects, foreign and operating projects, wastewater plant built and compliant.")
def cluster_status(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    df = _period_view(context, ccn, "mart_cluster_status")
    return _shown(df, clusters=len(df), leased_land_ha=float(df["leased_land_ha"].sum()) if len(df) else 0.0)


@asset(group_name="exports", owners=ANALYSTS, partitions_def=PERIODS, kinds={"excel"},
       deps=["national_summary", "province_summary", "region_summary", "completeness"],
       description="The national report workbook of the period (`$CCN_HOME/exports/national_PERIOD.xlsx`): Biểu 04 "
                   "for the nation, per region and per province, and the completeness sheets.")
def national_report(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx = _ctx(context, ccn)
    out = ctx.settings.home / "exports" / f"national_{context.partition_key}.xlsx"
    result = export_national(ctx.engine, _period(context), out, refresh=False)
    return MaterializeResult(metadata={"path": MetadataValue.path(str(result.path)), "provinces": result.provinces,
                                       "missing_reports": result.missing_reports})
