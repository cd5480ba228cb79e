"""The Dagster code location (loaded by workspace.yaml): assets, checks, jobs, the inbox sensor, the deadline
and reminder schedules and the resource, wired together.  Nothing here computes anything: see pipelines/stages.py
and the domain modules."""

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules

from assets import assets, checks
from assets.jobs import ingest_job, period_refresh_job, remind_job
from assets.resources import CCNResource
from assets.schedules import deadline_schedules, reminder_schedules
from assets.sensors import inbox_sensor

defs = Definitions(
    assets=[*load_assets_from_modules([assets]), assets.province_reports],
    asset_checks=load_asset_checks_from_modules([checks]),
    jobs=[ingest_job, period_refresh_job, remind_job],
    sensors=[inbox_sensor],
    schedules=[*deadline_schedules, *reminder_schedules],
    resources={"ccn": CCNResource()},
)
