"""Assets of the ingestion path: inbox files → submissions and indicator values → validation findings →
warehouse → national summary and who should report.

Each asset only wires a stage of ``pipelines/stages.py`` (or a domain function) and describes what it did:
counts, accepted and rejected, and a preview.  The stages keep their data in the warehouse, so any asset can be
re-materialised alone.  These assets are not partitioned: a file's period is only known once it is read.
"""


from dagster import (
    AssetExecutionContext, AssetSpec, MaterializeResult, MetadataValue, asset, multi_asset,
)

from pipelines import completeness, observe, stages
from pipelines.resources import CCNResource

OWNERS = ["team:ccn-data"]


def _ctx(context, ccn: CCNResource) -> stages.Context:
    return ccn.context(context.run_id)


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
    ctx = _ctx(context, ccn)
    files = stages.read_stage(ctx)
    subs = observe.run_submissions(ctx.engine, ctx.run_id)
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
def validation_findings(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx = _ctx(context, ccn)
    report = stages.validate_stage(ctx)
    findings = observe.run_findings(ctx.engine, ctx.run_id)
    docs = {"data_docs": MetadataValue.path(str(report.data_docs))} if report.data_docs else {}
    return MaterializeResult(metadata={
        **docs, "findings_written": report.findings, "findings_on_run": len(findings),
        "errors_on_run": int((findings["severity"] == "error").sum()) if not findings.empty else 0,
        "preview": MetadataValue.md(observe.preview(findings))})


@asset(group_name="load", owners=OWNERS, deps=[validation_findings], kinds={"python"},
       description="Submissions settled: accepted, accepted with warnings, rejected or superseded; only accepted, "
                   "current ones reach the views.")
def warehouse(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx = _ctx(context, ccn)
    r = stages.publish_stage(ctx)
    subs = observe.run_submissions(ctx.engine, ctx.run_id)
    return MaterializeResult(metadata={
        "accepted": r.accepted, "accepted_with_warnings": r.accepted_with_warnings, "rejected": r.rejected,
        "superseded": r.superseded, "late": r.late,
        "preview": MetadataValue.md(observe.preview(subs))})


@asset(group_name="summaries", owners=OWNERS, deps=[warehouse], kinds={"sql"},
       description="National summary of Biểu 04 per period (view mart_national_summary): counts, areas and "
                   "amounts summed over the provinces with an accepted report, ratios recomputed.")
def national_summary(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx = _ctx(context, ccn)
    df = stages.national_summary(ctx.engine)
    return MaterializeResult(metadata={"rows": len(df),
                                       "periods": MetadataValue.text(", ".join(sorted(df["period"].unique()))),
                                       "preview": MetadataValue.md(observe.preview(df, 40))})


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
