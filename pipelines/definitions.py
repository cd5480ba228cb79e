"""The Dagster code location (loaded by workspace.yaml): assets, jobs and resources wired together."""

from dagster import Definitions, load_assets_from_modules

from assets import ingest
from pipelines.jobs import ingest_job
from pipelines.resources import CCNResource

defs = Definitions(
    assets=load_assets_from_modules([ingest]),
    jobs=[ingest_job],
    resources={"ccn": CCNResource()},
)
