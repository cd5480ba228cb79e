"""A national semester in seconds (issue #6): W1 through the whole pipeline, beside the calamine floor.

    .venv/bin/python bench/national.py                 # W1 on SQLite and PostgreSQL, incremental, scaling
    .venv/bin/python bench/national.py --quick         # ¼ W1, SQLite only: a smoke run of the benchmark itself

Workloads are generated once (``pipelines.sample.generator`` with the W1 profile: 34 Biểu 04, ~700 Biểu 03, ~1,200 Biểu
02, ~15,000 Biểu 01) and cached in ``bench/.cache``.  Every measurement runs ``ccn run`` as a separate process
from a fresh home, exactly as an operator would; stage times come from the run's own JSON report.  Results are
printed as a table and written to ``bench/results/national-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
CCN = str(Path(sys.executable).parent / "ccn")
PG_ADMIN = os.environ.get("CCN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def workload(period: str, seed: int) -> Path:
    """W1 for one period, generated once and cached."""
    from pipelines.sample.generator import W1, generate
    from schemas.periods import Period

    out = CACHE / f"W1-{period}-s{seed}"
    if (out / "truth.json").exists():
        return out
    tmp = out.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    t = time.perf_counter()
    print(f"generating W1 {period} (seed {seed}) into {out} …", flush=True)
    generate(tmp, Period.parse(period), provinces=34, seed=seed, profile=W1)
    tmp.rename(out)
    print(f"  generated in {time.perf_counter() - t:.0f}s", flush=True)
    return out


def files_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and p.name != "truth.json")


def subset(folder: Path, fraction: float, dest: Path) -> Path:
    """The first ``fraction`` of the provinces of a workload, copied with their modification times."""
    provinces = sorted(p for p in folder.iterdir() if p.is_dir())
    keep = provinces[: max(1, round(len(provinces) * fraction))]
    for p in keep:
        shutil.copytree(p, dest / p.name, dirs_exist_ok=True)
    return dest


def _read_all_cells(path: str) -> int:
    from python_calamine import CalamineWorkbook

    n = 0
    try:
        wb = CalamineWorkbook.from_path(path)
        for name in wb.sheet_names:
            for row in wb.get_sheet_by_name(name).to_python(skip_empty_area=False):
                n += len(row)
        wb.close()
    except Exception:  # noqa: BLE001, S110 - the corrupt sample file is part of the workload
        pass
    return n


def warm(folder: Path) -> None:
    """Read every file's bytes once, untimed, so the floor and the runs all start from a warm page cache."""
    for p in files_of(folder):
        p.read_bytes()


def floor(folder: Path, workers: int) -> dict:
    """Reading every cell of every file with python-calamine and nothing else."""
    paths = [str(p) for p in files_of(folder)]
    t = time.perf_counter()
    if workers == 1:
        cells = sum(_read_all_cells(p) for p in paths)
    else:
        with ProcessPoolExecutor(workers) as pool:
            cells = sum(pool.map(_read_all_cells, paths, chunksize=64))
    return {"files": len(paths), "cells": cells, "seconds": round(time.perf_counter() - t, 2), "workers": workers}


def new_pg_database() -> str:
    from sqlalchemy import create_engine, text

    name = f"ccn_bench_{uuid.uuid4().hex[:8]}"
    eng = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"


def drop_pg_database(url: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    eng.dispose()


def ccn_run(home: Path, inbox: Path, url: str | None) -> dict:
    """``ccn run`` in its own process; wall time, stage times and the peak memory of the process tree."""
    env = dict(os.environ, CCN_HOME=str(home), DAGSTER_HOME=str(home / "dagster"))
    env.pop("CCN_WAREHOUSE_URL", None)
    if url:
        env["CCN_WAREHOUSE_URL"] = url
    report = home / f"run-{uuid.uuid4().hex[:6]}.json"
    # Files in a real inbox arrived over days and the kernel wrote them back long ago; the copy this benchmark
    # just made must not be charged to the archive's sync, so write it back first (untimed), and every run starts
    # with the inbox in the page cache (a workload generated minutes before may have been evicted meanwhile).
    warm(inbox)
    os.sync()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    proc = subprocess.run([CCN, "run", "--inbox", str(inbox), "--json", str(report)], env=env,
                          capture_output=True, text=True, check=False)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"ccn run failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    data = json.loads(report.read_text())
    return {"seconds": round(wall, 2), "stage_seconds": data["stage_seconds"], "counts": data["counts"],
            "peak_rss_mib": round(max(peak_kib, before) / 1024, 1)}


def end_to_end(folder: Path, backend: str) -> dict:
    home = Path(tempfile.mkdtemp(prefix=f"ccn-bench-{backend}-"))
    url = new_pg_database() if backend == "postgresql" else None
    try:
        inbox = home / "inbox"
        shutil.copytree(folder, inbox)
        first = ccn_run(home, inbox, url)
        extra = _one_more_file(folder, inbox)
        incremental = ccn_run(home, inbox, url)
        return {"backend": backend, "files": len(files_of(folder)), **first,
                "incremental": {"file": extra.name, **incremental}}
    finally:
        shutil.rmtree(home, ignore_errors=True)
        if url:
            drop_pg_database(url)


def _one_more_file(folder: Path, inbox: Path) -> Path:
    """A corrected Biểu 02 for a cluster that has already reported: new bytes, same form, unit and period."""
    from openpyxl import load_workbook

    src = next(p for p in sorted(folder.rglob("bieu02_*.xlsx")) if "nhieu_cum" not in p.name)
    wb = load_workbook(src)
    ws = wb.worksheets[0]
    for row in ws.iter_rows():
        for cell in row:
            if cell.value == "Người":  # the workers row: one more worker
                target = ws.cell(row=cell.row, column=cell.column + 1)
                target.value = (target.value if isinstance(target.value, (int, float)) else 0) + 1
    dest = inbox / "late" / f"{src.stem}_bo_sung.xlsx"
    dest.parent.mkdir(exist_ok=True)
    wb.save(dest)
    return dest


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--period", default="2026-H1")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--quick", action="store_true", help="¼ W1 on SQLite only")
    ap.add_argument("--no-scaling", action="store_true", help="skip the ¼, ½, 1, 2 × W1 series")
    ap.add_argument("--backends", default="sqlite,postgresql")
    ap.add_argument("--no-double", action="store_true",
                    help="scaling without 2 × W1 (which first generates a second period, ~6 min)")
    args = ap.parse_args()

    w1 = workload(args.period, args.seed)
    work = Path(tempfile.mkdtemp(prefix="ccn-bench-work-"))
    results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
                     "started": datetime.now().astimezone().isoformat(timespec="seconds")}
    try:
        target = subset(w1, 0.25, work / "quarter") if args.quick else w1
        warm(target)
        results["floor_1_process"] = floor(target, 1)
        results["floor_2_processes"] = floor(target, 2)
        backends = ["sqlite"] if args.quick else args.backends.split(",")
        results["end_to_end"] = [end_to_end(target, b) for b in backends]
        if not args.quick and not args.no_scaling:
            series = []
            for label, fraction in (("1/4", 0.25), ("1/2", 0.5)):
                folder = subset(w1, fraction, work / label.replace("/", "of"))
                series.append({"scale": label, **_scaling_point(folder)})
            series.append({"scale": "1", **_scaling_point(w1)})
            if not args.no_double:
                both = work / "two"
                shutil.copytree(w1, both / "a")
                shutil.copytree(workload("2025-Y", args.seed + 1), both / "b")
                series.append({"scale": "2", **_scaling_point(both)})
            results["scaling_sqlite"] = series
    finally:
        shutil.rmtree(work, ignore_errors=True)

    fl = results["floor_1_process"]
    f2 = results["floor_2_processes"]
    rows = [("measure", "files", "seconds", "stages (s)", "peak MiB", "× floor (1 proc / 2 procs)")]
    rows.append(("floor: calamine, 1 process", str(fl["files"]), f"{fl['seconds']:.1f}", "", "", "1.0"))
    rows.append(("floor: calamine, 2 processes", str(f2["files"]), f"{f2['seconds']:.1f}", "", "", ""))

    def stages(st: dict) -> str:
        return ", ".join(f"{k} {v:.1f}" for k, v in st.items())

    for e in results["end_to_end"]:
        rows.append((f"end to end, {e['backend']}", str(e["files"]), f"{e['seconds']:.1f}", stages(e["stage_seconds"]),
                     f"{e['peak_rss_mib']:.0f}",
                     f"{e['seconds'] / fl['seconds']:.2f} / {e['seconds'] / f2['seconds']:.2f}"))
        inc = e["incremental"]
        rows.append((f"incremental, {e['backend']}", "1", f"{inc['seconds']:.1f}", stages(inc["stage_seconds"]),
                     "", ""))
    for s in results.get("scaling_sqlite", []):
        rows.append((f"scaling {s['scale']} × W1, sqlite", str(s["files"]), f"{s['seconds']:.1f}", "", "",
                     f"{s['seconds'] / s['files'] * 1000:.2f} ms/file"))
    print()
    print(table(rows))
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"national-{datetime.now().astimezone():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=1))
    print(f"\nfigures written to {out}")
    return 0


def _scaling_point(folder: Path) -> dict:
    home = Path(tempfile.mkdtemp(prefix="ccn-bench-scale-"))
    try:
        r = ccn_run(home, folder, None)
        return {"files": len(files_of(folder)), "seconds": r["seconds"], "stage_seconds": r["stage_seconds"]}
    finally:
        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
