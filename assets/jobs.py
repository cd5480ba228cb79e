"""Jobs (wiring only).

``ingest`` (what ``ccn run`` and the inbox sensor start): inbox → submissions and values → findings →
warehouse → outliers, national summary and who should report, with the validation checks; not partitioned, because a
file's period is only known once it is read.  ``period_refresh`` (what the deadline schedules start, one
period partition at a time): completeness, province / region / cluster summaries and the national workbook.
Both run in one process: stages share the warehouse, not pickled outputs.
"""

from dagster import AssetSelection, define_asset_job, in_process_executor

INGEST_ASSETS = ["inbox_files", "submissions", "indicator_values", "findings", "warehouse", "outliers",
                 "national_summary", "expected_reports"]

ingest_job = define_asset_job(
    "ingest", selection=AssetSelection.assets(*INGEST_ASSETS), executor_def=in_process_executor,
    description="Archive new inbox files, read, validate, load and summarise them.")

period_refresh_job = define_asset_job(
    "period_refresh",
    selection=AssetSelection.groups("reporting", "exports") - AssetSelection.assets("province_reports"),
    executor_def=in_process_executor, partitions_def=None,
    description="For one period: who should report and who did, the province, region and cluster summaries and "
                "the national report workbook.")
