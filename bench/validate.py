"""How long the validate stage takes for a national semester (issue #4; workload W1 of issue #6).

The reports of W1 (34 Biểu 04, ~700 Biểu 03, ~1,200 Biểu 02, ~15,000 Biểu 01 for 2026-H1, consistent across
levels: pipelines/sample/generator.py with Profile W1) are generated in memory and inserted directly into a fresh
warehouse as *pending* submissions with their values — no workbook is written or read — and
``validations.engine.validate`` is timed: Great Expectations once per form over the whole batch, then the cross-level
and cross-period rules in the warehouse, then the Data Docs.
A few reports are broken on purpose (1 % of Biểu 02 with more foreign
projects than projects, 3 Biểu 04 disagreeing with their communes) so the finding paths are exercised.

    .venv/bin/python bench/validate.py                 # SQLite, with Data Docs
    .venv/bin/python bench/validate.py --pg            # a fresh database on the local PostgreSQL as well
    .venv/bin/python bench/validate.py --quick         # 4 provinces instead of 34

Prints a table and writes bench/results/validate.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("CCN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# rows handed to one executemany while loading the workload (SQLAlchemy splits them into statements within the
# bind-parameter limit itself; this only bounds the memory of one call)
ROWS_PER_INSERT = 20_000


def national(provinces: int, seed: int = 11):
    """The reports of one semester: list of (form, province, commune, cluster_id, unit_key, values)."""
    from pipelines.sample.generator import W1, province_clusters, report_values
    from schemas.periods import Period

    rng = random.Random(seed)
    period = Period.parse("2026-H1")
    reports = report_values(province_clusters(rng, provinces, period, W1))
    # deliberate errors
    b02 = [r for r in reports if r[0] == "02"]
    for r in rng.sample(b02, max(1, len(b02) // 100)):
        r[5]["7"] = r[5]["6"] + 1
    for r in [r for r in reports if r[0] == "04"][:3]:
        r[5]["20"] += 7
    return period, reports


def load_pending(url: str, period, reports) -> int:
    """The reports of ``period`` as pending submissions of one run, as the read stage leaves them; values loaded."""
    from schemas.status import Status

    return load_reports(url, [(period, reports)], Status.PENDING, run_id=uuid.uuid4().hex)


def load_reports(url: str, periods, status: str, **columns) -> int:
    """Each (period, reports) of ``periods`` into the warehouse at ``url`` (migrated first) as submissions of
    ``status`` with ``columns`` set, received three days before their deadline, with their values; how many values.
    bench/outliers.py loads its two periods with it too."""
    from sqlalchemy import insert

    from schemas.database import chunks, make_engine
    from schemas.forms import load_forms
    from schemas.migrate import upgrade
    from schemas.periods import VN_TZ
    from schemas.tables import indicator_value, received_file, submission

    engine = make_engine(url)
    upgrade(engine)
    forms = load_forms()
    now = datetime.now(tz=VN_TZ)
    files, subs, values = [], [], []
    i = 0
    for period, reports in periods:
        for form, pcode, ccode, cid, key, vals in reports:
            i += 1
            sha = hashlib.sha256(f"{i}-{period}-{key}".encode()).hexdigest()
            received = period.deadline(forms[form].deadline[period.kind]) - timedelta(days=3)
            files.append({"sha256": sha, "file_name": f"bench_{i}.xlsx", "source_path": f"bench/{i}.xlsx",
                          "size": 1, "received_at": received, "archived_at": now, "archive_path": f"/dev/null/{i}",
                          "state": "read"})
            subs.append({"submission_id": i, "sha256": sha, "sheet": f"Biểu {form}", "form": form,
                         "wording": "commune", "period": period.code, "province_code": pcode, "commune_code": ccode,
                         "cluster_id": cid, "project_key": key if form == "01" else None, "unit_key": key,
                         "unit_name": key, "received_at": received, "is_late": False, "status": status,
                         "errors": 0, "warnings": 0, **columns})
            for n, row in enumerate(forms[form].rows):
                v = vals.get(row.code)
                values.append({"submission_id": i, "indicator_code": row.code, "value": v, "raw": str(v),
                               "sheet": f"Biểu {form}", "cell": f"D{10 + n}", "unit": row.unit})
    with engine.begin() as conn:
        for table, rows in ((received_file, files), (submission, subs), (indicator_value, values)):
            for part in chunks(rows, ROWS_PER_INSERT):
                conn.execute(insert(table), part)
    engine.dispose()
    return len(values)


def measure(url: str, label: str, period, reports, docs: Path | None) -> dict:
    from schemas.database import make_engine
    from validations.engine import validate

    t0 = time.perf_counter()
    n_values = load_pending(url, period, reports)
    load_s = time.perf_counter() - t0
    engine = make_engine(url)
    t0 = time.perf_counter()
    report = validate(engine, docs=docs)
    wall = time.perf_counter() - t0
    engine.dispose()
    return {"backend": label, "submissions": report.submissions, "values": n_values, "insert_s": round(load_s, 2),
            "validate_s": round(wall, 2), "findings": report.findings, "by_form": report.by_form,
            "cross_s": report.cross_seconds, "data_docs": str(report.data_docs) if report.data_docs else None}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 provinces instead of 34")
    ap.add_argument("--pg", action="store_true", help="also measure on a fresh PostgreSQL database")
    ap.add_argument("--no-docs", action="store_true", help="skip the Data Docs")
    args = ap.parse_args()
    from schemas.forms import form_codes

    t0 = time.perf_counter()
    import great_expectations  # noqa: F401  - the import (~5 s) is not the stage's work, report it apart

    import_s = time.perf_counter() - t0
    period, reports = national(4 if args.quick else 34)
    counts = {f: sum(r[0] == f for r in reports) for f in form_codes()}
    print(f"workload: {len(reports)} pending submissions "
          + ", ".join(f"Biểu {f}: {n}" for f, n in counts.items()) + f"  (GX import {import_s:.1f} s, not counted)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        docs = None if args.no_docs else Path(tmp) / "datadocs"
        results.append(measure(f"sqlite:///{tmp}/warehouse.sqlite", "sqlite", period, reports, docs))
        if args.pg:
            from sqlalchemy import create_engine, text

            name = f"ccn_bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            try:
                results.append(measure(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", "postgresql", period, reports, docs))
            finally:
                with admin.connect() as conn:
                    conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        for r in results:
            print(f"\n{r['backend']}: validate {r['submissions']} submissions ({r['values']} values) "
                  f"in {r['validate_s']:.1f} s, {r['findings']} findings")
            for form, f in sorted(r["by_form"].items()):
                print(f"  GX Biểu {form}: {f['rows']:>6} rows, {f['checks']:>6} checks, "
                      f"{f['expectations']} expectations {f['seconds']:>7.2f} s  {f['findings']:>4} findings")
            print(f"  cross-level and cross-period rules  {r['cross_s']:>7.2f} s")
            rest = r["validate_s"] - sum(f["seconds"] for f in r["by_form"].values()) - r["cross_s"]
            print(f"  reading values, writing findings, Data Docs  {rest:>6.2f} s")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "validate.json").write_text(json.dumps({"workload": counts, "gx_import_s": round(import_s, 2),
                                                   "results": results}, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
