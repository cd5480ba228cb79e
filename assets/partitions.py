"""Partitions (wiring only).

Periods are static codes because the 6-month and annual periods overlap (both start on 15 Dec), so no time
window can describe them.  They run from the first report under Circular 14 to the periods begun on the day the
definitions load (Asia/Ho_Chi_Minh): a period that cannot have reports yet has no partition.  A code location
that runs unreloaded past 15 Dec lacks the new periods until it is reloaded (every deployment reloads it); the
deadline schedules say so instead of asking for an unknown partition.

Provinces are the 34 of 2025, on which every series is compared (reports of the 63 old provinces are shown on
their successors); a province's partition key is its code and short name (``01 Hà Nội``), so the grid reads.
"""

from datetime import datetime

from dagster import MultiPartitionsDefinition, StaticPartitionsDefinition

from pipelines.report.completeness import period_codes
from schemas.admin import admin
from schemas.periods import VN_TZ

_KINDS = ("Thành phố ", "Tỉnh ")


def province_key(code: str) -> str:
    """``01 Hà Nội`` for ``01`` (the 2025 province's name without ``Tỉnh`` / ``Thành phố``)."""
    name = admin().provinces[code].name
    return f"{code} {next((name[len(k):] for k in _KINDS if name.startswith(k)), name)}"


PERIODS = StaticPartitionsDefinition(period_codes(until=datetime.now(VN_TZ).date()))
PROVINCES = StaticPartitionsDefinition([province_key(code) for code in sorted(admin().provinces)])
PERIOD_PROVINCE = MultiPartitionsDefinition({"period": PERIODS, "province": PROVINCES})
