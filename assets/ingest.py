"""Assets of the ingestion path: inbox files → submissions → findings → warehouse → national summary.

Each asset only wires a stage of pipelines/stages.py; the stages keep their data in the warehouse.
"""


from dagster import AssetExecutionContext, MaterializeResult, MetadataValue, asset

from pipelines import stages
from pipelines.resources import CCNResource

OWNERS = ["team:ccn-data"]


def _ctx(context: AssetExecutionContext, ccn: CCNResource) -> stages.Context:
    return ccn.context(context.run_id)


@asset(group_name="ingest", owners=OWNERS, description="Files in the inbox, archived by SHA-256 as received.")
def inbox_files(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx = _ctx(context, ccn)
    stages.prepare(ctx)
    result = stages.archive_stage(ctx)
    return MaterializeResult(metadata={"new_files": result.new, "duplicates": result.duplicates,
                                       "unchanged": result.unchanged, "inbox": str(ctx.inbox)})


@asset(group_name="ingest", owners=OWNERS, deps=[inbox_files],
       description="Reports read from the archived workbooks, identified and stored as pending submissions.")
def submissions(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    files = stages.read_stage(_ctx(context, ccn))
    return MaterializeResult(metadata={"files_read": files})


@asset(group_name="validate", owners=OWNERS, deps=[submissions],
       description="Findings of the rule catalogue over the pending submissions.")
def validation_findings(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    written = stages.validate_stage(_ctx(context, ccn))
    return MaterializeResult(metadata={"findings_written": written})


@asset(group_name="load", owners=OWNERS, deps=[validation_findings],
       description="Submissions settled: accepted, accepted with warnings, rejected or superseded.")
def warehouse(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    r = stages.publish_stage(_ctx(context, ccn))
    return MaterializeResult(metadata={"accepted": r.accepted, "accepted_with_warnings": r.accepted_with_warnings,
                                       "rejected": r.rejected, "superseded": r.superseded, "late": r.late})


@asset(group_name="summaries", owners=OWNERS, deps=[warehouse],
       description="National summary of Biểu 04 per period (mart_national_summary).")
def national_summary(context: AssetExecutionContext, ccn: CCNResource) -> MaterializeResult:
    ctx = _ctx(context, ccn)
    df = stages.national_summary(ctx.engine)
    return MaterializeResult(metadata={"rows": len(df), "periods": MetadataValue.text(", ".join(sorted(df["period"].unique()))),
                                       "preview": MetadataValue.md(df.head(40).to_markdown(index=False))})
