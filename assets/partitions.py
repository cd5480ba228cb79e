"""Partitions (wiring only): periods are static codes because the 6-month and annual periods overlap
(both start on 15 Dec), so no time window can describe them; provinces are the 34 of 2025, on which every
series is compared (reports of the 63 old provinces are shown on their successors)."""

from dagster import MultiPartitionsDefinition, StaticPartitionsDefinition

from pipelines.report.completeness import period_codes
from schemas.admin import admin

PERIODS = StaticPartitionsDefinition(period_codes())
PROVINCES = StaticPartitionsDefinition(sorted(admin().provinces))
PERIOD_PROVINCE = MultiPartitionsDefinition({"period": PERIODS, "province": PROVINCES})
