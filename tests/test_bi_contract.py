"""The BI contract (docs/warehouse.md, issue 15): the sample loaded through the pipeline into SQLite and into the
real PostgreSQL, every view has the columns the document lists, in its order, with the same type on both
backends; on the data, counts are whole numbers, amounts carry exactly their unit's decimals (never
``6070.150000000001``), timestamps are one ISO 8601 format with +07:00 to the second (a file whose modification
time has microseconds too), both backends hold the same figures, and the national summary equals the truth."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from contextlib import ExitStack, contextmanager
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import make_url, text

from schemas.database import make_engine
from schemas.views import VIEWS
from tests.conftest import pg_database
from tests.helpers import ccn, rows

pytestmark = pytest.mark.slow  # the sample through the pipeline on both backends: about 40 s

PERIOD = "2026-H1"
DOC = Path(__file__).parents[1] / "docs" / "warehouse.md"
BACKENDS = ("sqlite", "postgresql")

# the decimals of each unit as docs/warehouse.md states them (forms.toml [unit_decimals] is what the views read)
DECIMALS = {"billion_vnd": 3, "ha": 2, "percent": 2, "million_vnd_per_person_month": 2, "persons": 0,
            "projects": 0, "clusters": 0, "flag": 0}
CLUSTER_DECIMALS = {"ready_land_ha": 2, "leased_land_ha": 2, "occupancy_pct": 2}
TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+07:00$")

# a type of the contract -> what each backend calls it (PostgreSQL's format_type; the affinity SQLite gives the
# column of a table created from the view, which is what a BI tool reading the file sees)
PG_TYPES = {"integer": {"integer"}, "numeric": {"numeric"}, "text": {"text", "character varying"},
            "timestamp": {"text", "character varying"}}
SQLITE_TYPES = {"integer": {"INT"}, "numeric": {"NUM"}, "text": {"TEXT"}, "timestamp": {"TEXT"}}


def documented() -> dict[str, list[tuple[str, str]]]:
    """View -> its (column, type) rows, as docs/warehouse.md lists them."""
    views: dict[str, list[tuple[str, str]]] = {}
    current = None
    for line in DOC.read_text(encoding="utf-8").splitlines():
        heading = re.match(r"^### `(mart_\w+)`$", line)
        if heading:
            current = views.setdefault(heading[1], [])
        elif line.startswith("#"):
            current = None
        elif current is not None and (cell := re.match(r"^\| `(\w+)` \| (\w+) \| .+ \|$", line)):
            current.append((cell[1], cell[2]))
    return views


@pytest.fixture(scope="module")
def loaded(tmp_path_factory, sample_dir, pg_server):
    """The sample run through ``ccn run`` into a SQLite and a PostgreSQL warehouse, the period's completeness
    refreshed and one finding waived; one file's modification time carries microseconds.  Backend -> (home, URL,
    what the file's received_at must read)."""
    out = {}
    with ExitStack() as stack:
        for backend in BACKENDS:
            home = tmp_path_factory.mktemp(f"bi_{backend}")
            shutil.copytree(sample_dir, home / "inbox")
            some = min((home / "inbox").rglob("bieu04_*.xlsx"))
            seconds = some.stat().st_mtime_ns // 1_000_000_000
            os.utime(some, ns=(seconds * 1_000_000_000 + 654_321_000,) * 2)
            shown = datetime.fromtimestamp(seconds, ZoneInfo("Asia/Ho_Chi_Minh")).isoformat()  # to the second
            url = (f"sqlite:///{home / 'warehouse.sqlite'}" if backend == "sqlite"
                   else stack.enter_context(pg_database("ccn_bi")))
            out[backend] = (home, url, some.name, shown)
            with _env(home, url):
                assert ccn("run") == 0
                assert ccn("completeness", "--period", PERIOD, "--refresh") == 0
                [(finding,)] = rows("SELECT MIN(finding_id) FROM mart_findings WHERE severity = 'warning'")
                assert ccn("waive", str(finding), "--reason", "Sở xác nhận số liệu đúng", "--by", "Lê Thị B") == 0
                [(other,)] = rows("SELECT MAX(finding_id) FROM mart_findings WHERE severity = 'warning'")
                assert ccn("follow-up", str(other), "--status", "follow-up", "--comment", "Hỏi lại Sở",
                           "--by", "Lê Thị B") == 0
        yield out


@contextmanager
def _env(home: Path, url: str):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("CCN_HOME", str(home))
        mp.setenv("CCN_WAREHOUSE_URL", url)
        mp.setenv("DAGSTER_HOME", str(home / "dagster"))
        yield


def _select(url: str, sql: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


def _types(backend: str, url: str, view: str) -> list[tuple[str, str]]:
    """The view's (column, type) as the backend declares them."""
    if backend == "postgresql":
        return [(name, re.sub(r"\(.*\)$", "", kind)) for name, kind in _select(url, (
            "SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
            f"WHERE a.attrelid = '{view}'::regclass AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"))]
    con = sqlite3.connect(make_url(url).database)
    try:
        con.execute(f"CREATE TEMP TABLE probe AS SELECT * FROM {view} WHERE 0")
        return [(r[1], r[2]) for r in con.execute("PRAGMA temp.table_info(probe)")]
    finally:
        con.close()


def test_every_view_documented_with_the_same_columns_and_types_on_both_backends(loaded):
    doc = documented()
    assert sorted(doc) == sorted(VIEWS)
    for view, columns in doc.items():
        assert columns, view
        for backend, kinds in (("postgresql", PG_TYPES), ("sqlite", SQLITE_TYPES)):
            got = _types(backend, loaded[backend][1], view)
            assert [name for name, _ in got] == [name for name, _ in columns], (backend, view)
            for (name, kind), (_, declared) in zip(columns, got, strict=True):
                assert declared in kinds[kind], (backend, view, name, kind, declared)


def _decimals(view: str, row, column: str) -> int | None:
    """The decimals a numeric cell must carry: its row's unit's, or its column's in mart_cluster_status."""
    if view == "mart_cluster_status":
        return CLUSTER_DECIMALS[column]
    if view == "mart_quality_trend":  # errors_per_report
        return 2
    return DECIMALS[row.value_unit_code]


@pytest.mark.parametrize("backend", BACKENDS)
def test_values_on_real_data_whole_counts_exact_decimals_one_timestamp_format(loaded, backend):
    url = loaded[backend][1]
    filled: set[tuple[str, str]] = set()
    for view, columns in documented().items():
        for row in _select(url, f"SELECT * FROM {view}"):
            for name, kind in columns:
                value = getattr(row, name)
                if value is None:
                    continue
                filled.add((view, name))
                if kind == "integer":
                    assert type(value) is int, (view, name, value)
                elif kind == "timestamp":
                    assert TIMESTAMP.match(value), (view, name, value)
                elif kind == "numeric":
                    decimals = _decimals(view, row, name)
                    if backend == "postgresql":  # exact: its scale is the unit's decimals
                        assert isinstance(value, Decimal) and value.as_tuple().exponent == -decimals, \
                            (view, name, value)
                    elif decimals == 0:  # a count among values: a whole number, stored as an integer
                        assert type(value) is int, (view, name, value)
                    else:  # the binary float nearest the decimal: printed back with at most its decimals
                        assert isinstance(value, (int, float)), (view, name, value)
                        assert Decimal(repr(value)).as_tuple().exponent >= -decimals, (view, name, value)
    # every integer, numeric and timestamp column was seen with a value, so the checks above checked it
    typed = {(view, name) for view, columns in documented().items() for name, kind in columns if kind != "text"}
    assert typed - filled == set()


@pytest.mark.parametrize("backend", BACKENDS)
def test_timestamps_to_the_second_in_vietnam_time(loaded, backend):
    _, url, name, shown = loaded[backend]
    [(received,)] = _select(url, f"SELECT DISTINCT received_at FROM mart_submissions WHERE file_name = '{name}'")
    # the modification time had 654321 µs: the view shows the same instant truncated to the second, at +07:00
    assert received == shown and shown.endswith("+07:00")
    [(deadline,)] = _select(url, f"SELECT DISTINCT deadline FROM mart_submissions WHERE file_name = '{name}'")
    assert deadline == "2026-06-30T00:00:00+07:00"  # Biểu 04 "before 30 Jun": late from 30 Jun, 00:00 in Vietnam
    [(waived,)] = _select(url, "SELECT waived_at FROM mart_findings WHERE waived_at IS NOT NULL")
    assert TIMESTAMP.match(waived)


def _normal(value):
    return float(value) if isinstance(value, Decimal) else value


@pytest.mark.parametrize("view", ["mart_national_summary", "mart_province_summary", "mart_region_summary",
                                  "mart_cluster_status", "mart_reporting_completeness", "mart_missing_reports",
                                  "mart_indicator_values", "mart_submissions", "mart_findings"])
def test_both_backends_hold_the_same_rows(loaded, view):
    """The same sample gives the same rows on both backends (ids aside: they follow the order files are read; and
    when the finding was waived)."""
    ids = {"submission_id", "finding_id", "waived_at"}
    got = {}
    for backend in BACKENDS:
        result = _select(loaded[backend][1], f"SELECT * FROM {view}")
        keep = [i for i, c in enumerate(result[0]._fields) if c not in ids] if result else []
        got[backend] = sorted((tuple(_normal(r[i]) for i in keep) for r in result), key=repr)
    assert got["sqlite"], view
    assert got["sqlite"] == got["postgresql"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_national_summary_still_equals_the_truth(loaded, backend, sample_dir):
    home, url, _, _ = loaded[backend]
    with _env(home, url):
        assert ccn("summary", "--truth", str(sample_dir / "truth.json")) == 0
