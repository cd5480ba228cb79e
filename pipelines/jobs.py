"""Jobs (wiring only)."""

from dagster import AssetSelection, define_asset_job, in_process_executor

# The whole path from inbox to summaries, in one process: stages share the warehouse, not pickled outputs.
ingest_job = define_asset_job("ingest", selection=AssetSelection.groups("ingest", "validate", "load", "summaries"),
                              executor_def=in_process_executor,
                              description="Archive new inbox files, read, validate, load and summarise them.")
