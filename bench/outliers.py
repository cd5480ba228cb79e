"""The outlier analysis of a national period (issue 15): its time, and what it finds among planted values.

Workload: W1 (34 Biểu 04, ~700 Biểu 03, ~1,200 Biểu 02, ~15,000 Biểu 01; pipelines/sample/generator.py with profile
W1, as bench/national.py and bench/validate.py) for 2026-H1, and the period before (2025-Y) for the *same* units
(``previous_clusters``: what bench/national.py's second period, drawn with another seed, does not give: only its
provinces are the same units).  ``--rounds`` × the generator's PLANTS implausible values are planted in 2026-H1
(``plant``: unit slips × 1000, two zeros too many, an 85-fold jump, a decimal slip ÷ 1000, reports copied forward)
and carried up into the communes' and provinces' reports as an office adding up would.  Both periods are
inserted straight into a fresh warehouse as accepted reports — no workbook written or read — and
``validations.outliers.analyse`` is timed on each period.

Scored against the truth: recall (planted values found), precision (planted among the cells flagged, leaving out
the sums of Biểu 03/04 that carry a planted value), false positives per 1,000 values analysed.

    .venv/bin/python bench/outliers.py              # W1 on SQLite
    .venv/bin/python bench/outliers.py --pg         # and on a fresh database of the local PostgreSQL
    .venv/bin/python bench/outliers.py --quick      # 4 provinces

Prints a table and writes bench/results/outliers.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PG_ADMIN = os.environ.get("CCN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def workload(provinces: int, rounds: int, seed: int = 15):
    """(period, reports) for the period before and the period, the planted values; a report is (form,
    province, commune, cluster id, unit key, values)."""
    from pipelines.sample.generator import W1, plant, previous_clusters, province_clusters, report_values
    from schemas.periods import Period

    rng = random.Random(seed)
    period = Period.parse("2026-H1")
    before_period = Period.parse("2025-Y")
    now = province_clusters(rng, provinces, period, W1)
    history_rng = random.Random(f"{seed}-history")
    before = {p: previous_clusters(cs, history_rng, period) for p, cs in now.items()}
    planted, replaced = plant(random.Random(f"{seed}-planted"), now, before, period, rounds=rounds)

    current = [(f, p, c, k, u, replaced.get((f, u), v)) for f, p, c, k, u, v in report_values(now)]
    return [(before_period, report_values(before)), (period, current)], planted


def load(url: str, periods) -> int:
    """Both periods' reports as accepted, loaded submissions (bench/validate.py's loader); how many values."""
    from bench.validate import load_reports
    from schemas.periods import VN_TZ
    from schemas.status import Status

    now = datetime.now(tz=VN_TZ)
    return load_reports(url, periods, Status.ACCEPTED, validated_at=now, loaded_at=now)


def score(url: str, planted, period: str) -> dict:
    from sqlalchemy import text

    from schemas.database import make_engine

    engine = make_engine(url)
    with engine.connect() as conn:
        found = conn.execute(text(
            "SELECT s.form, s.unit_key, v.indicator_code, v.rule_id FROM validation_finding v "
            "JOIN submission s ON s.submission_id = v.submission_id WHERE v.stage = 'outlier' AND s.period = :p"),
            {"p": period}).all()
    engine.dispose()
    want = {(p.form, p.unit_key, p.indicator) for p in planted}
    sums = {a for p in planted for a in p.affects}
    cells = {(r.form, r.unit_key, r.indicator_code) for r in found}
    judged = cells - sums
    by_kind: dict[str, list[int]] = {}
    for p in planted:
        by_kind.setdefault(p.kind, [0, 0])
        by_kind[p.kind][0] += 1
        by_kind[p.kind][1] += (p.form, p.unit_key, p.indicator) in cells
    return {"planted": len(want), "found": len(want & cells), "findings": len(found), "flagged_cells": len(cells),
            "sums_flagged": len(cells & sums), "false_positives": sorted((list(c) for c in judged - want), key=str),
            "recall": round(len(want & cells) / len(want), 4) if want else None,
            "precision": round(len(judged & want) / len(judged), 4) if judged else None,
            "by_rule": {rule: sum(r.rule_id == rule for r in found) for rule in sorted({r.rule_id for r in found})},
            "by_kind": {k: f"{v[1]}/{v[0]}" for k, v in sorted(by_kind.items())}}


def measure(url: str, label: str, periods, planted) -> dict:
    from schemas.database import make_engine
    from validations.outliers import analyse

    t0 = time.perf_counter()
    n_values = load(url, periods)
    insert_s = time.perf_counter() - t0
    engine = make_engine(url)
    times = {}
    analyses = {}
    for period, _ in periods:  # the period before first, as a run would (its history is empty)
        t0 = time.perf_counter()
        analyses[period.code] = analyse(engine, period)
        times[period.code] = round(time.perf_counter() - t0, 2)
    t0 = time.perf_counter()
    again = analyse(engine, periods[-1][0])  # nothing changed: the same findings, none written
    again_s = round(time.perf_counter() - t0, 2)
    engine.dispose()
    current = periods[-1][0].code
    result = score(url, planted, current)
    values = analyses[current].values
    return {"backend": label, "values_inserted": n_values, "insert_s": round(insert_s, 2), "analysis_s": times,
            "reanalysis_s": again_s, "reanalysis_changes": again.added + again.removed + again.reworded,
            "values_analysed": values, "submissions_analysed": analyses[current].submissions, **result,
            "fp_per_1000": round(1000 * len(result["false_positives"]) / values, 3)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="4 provinces instead of 34")
    ap.add_argument("--pg", action="store_true", help="also on a fresh PostgreSQL database")
    ap.add_argument("--rounds", type=int, default=10, help="plants of each kind (default 10: 90 values)")
    args = ap.parse_args()
    t0 = time.perf_counter()
    periods, planted = workload(4 if args.quick else 34, args.rounds)
    print(f"workload: {sum(len(r) for _, r in periods)} reports in {len(periods)} periods, {len(planted)} planted "
          f"({time.perf_counter() - t0:.0f} s to generate, not counted)")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        results.append(measure(f"sqlite:///{tmp}/warehouse.sqlite", "sqlite", periods, planted))
    if args.pg:
        from sqlalchemy import create_engine, text

        name = f"ccn_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            results.append(measure(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", "postgresql", periods, planted))
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    for r in results:
        times = ", ".join(f"{p} {s:.2f} s" for p, s in r["analysis_s"].items())
        print(f"\n{r['backend']}: analysis {times}; again with nothing changed {r['reanalysis_s']:.2f} s "
              f"({r['reanalysis_changes']} changes)")
        print(f"  {r['values_analysed']} values of {r['submissions_analysed']} reports analysed in 2026-H1, "
              f"{r['findings']} findings on {r['flagged_cells']} cells ({r['sums_flagged']} of them sums carrying "
              "a planted value)")
        print(f"  recall {r['recall']:.3f} ({r['found']}/{r['planted']}), precision {r['precision']:.3f}, "
              f"{len(r['false_positives'])} false positives = {r['fp_per_1000']:.3f} per 1,000 values")
        print(f"  found by kind: {r['by_kind']}; findings by rule: {r['by_rule']}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "outliers.json").write_text(json.dumps(results, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
