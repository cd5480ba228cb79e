"""Read throughput of the workbook reader (issue #3): workbooks per second for Biểu 01–04, in one process.

Workbooks are written once per run into a temporary folder: for each form, ``--n`` files filled with realistic
values, half in the national template and half with random office typing (pipelines/templates.Typing: offsets,
NFD labels, text numbers, merged header, no codes …), plus the same set saved as legacy ``.xls``.  Each file is
then read with ``read_workbook`` and identified with ``resolve_units`` as ``ccn run`` does; the first pass warms
caches and is not timed.  Prints a table (files/s, median and 95th percentile per file, with and without the
identification) and the share of time spent in the file inspection, calamine and the reader's own work.

    .venv/bin/python bench/read.py              # 200 files per form and format
    .venv/bin/python bench/read.py --n 50       # quicker
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _write(folder: Path, n: int, seed: int) -> dict[tuple[str, str], list[Path]]:
    from openpyxl import Workbook

    from pipelines.steward.templates import FormContent, Identification, Typing, write_form
    from schemas.admin import admin
    from schemas.forms import load_forms
    from schemas.periods import Period
    from tests.test_reader_roundtrip import _save_xls  # the test's own .xls writer (xlwt)

    rng = random.Random(seed)
    a = admin()
    forms = load_forms()
    communes = list(a.communes.values())
    out: dict[tuple[str, str], list[Path]] = {}
    for form, spec in forms.items():
        for i in range(n):
            com = rng.choice(communes)
            prov = a.provinces[com.province_code]
            ident = Identification(province=prov.label, commune=com.label, cluster="Cụm công nghiệp Phú Thịnh",
                                   tax_code="0101234567", project="Nhà máy gỗ An Khang", sector="Chế biến gỗ",
                                   sender=(f"Sở Công Thương {prov.name}" if form == "04"
                                           else f"Ủy ban nhân dân {com.name}"),
                                   period=Period(2026, "H1"))
            values = {r.code: float(rng.randint(0, 1)) if r.unit == "flag" else float(rng.randint(0, 900))
                      if r.is_integer else rng.randint(100, 99_999) / 100 for r in spec.rows}
            typing = Typing() if i % 2 == 0 else Typing(
                row_offset=rng.choice([0, 3]), col_offset=rng.choice([0, 2]), numbered_row=rng.random() < 0.5,
                code_style=rng.choice(["text", "number", "comma"]), label_style=rng.choice(["nfc", "nfd", "upper"]),
                number_style=rng.choice(["number", "vn_text", "en_text"]), merged_header=rng.random() < 0.5)
            wb = Workbook()
            ws = wb.active
            ws.title = f"Biểu {form}"
            write_form(ws, FormContent(form, ident, values), typing)
            path = folder / f"b{form}_{i:04d}.xlsx"
            wb.save(path)
            out.setdefault((form, "xlsx"), []).append(path)
            xls = folder / f"b{form}_{i:04d}.xls"
            _save_xls(wb, xls)
            out.setdefault((form, "xls"), []).append(xls)
    return out


def _time(paths: list[Path], identify: bool, repeat: int = 1) -> list[float]:
    """Seconds per file (the best of ``repeat`` reads of the same file: on a shared machine the minimum is the
    reader's cost, the rest is other processes)."""
    from pipelines.read.identify import resolve_units
    from pipelines.read.workbook import read_workbook

    times = []
    for p in paths:
        best = float("inf")
        for _ in range(repeat):
            t0 = time.perf_counter()
            reading = read_workbook(p)
            if identify:
                for report in reading.reports:
                    resolve_units(report, p.name)
            best = min(best, time.perf_counter() - t0)
        times.append(best)
        assert reading.reports and not any(f.is_error for r in reading.reports for f in r.findings), p
    return times


def _split(paths: list[Path]) -> tuple[float, float, float]:
    """Seconds per file in safety.inspect, in calamine (open + cells) and in the reader's own work."""
    from python_calamine import CalamineWorkbook

    from pipelines.intake import safety
    from pipelines.read.workbook import read_sheet
    from pipelines.settings import Limits

    limits = Limits()
    t_inspect = t_cal = t_read = 0.0
    for p in paths:
        t0 = time.perf_counter()
        safety.inspect(p, limits)
        t1 = time.perf_counter()
        with open(p, "rb") as fh:
            wb = CalamineWorkbook.from_filelike(fh)
        grids = [(n, wb.get_sheet_by_name(n).to_python(skip_empty_area=False)) for n in wb.sheet_names]
        wb.close()
        t2 = time.perf_counter()
        for name, grid in grids:
            read_sheet(name, grid)
        t3 = time.perf_counter()
        t_inspect, t_cal, t_read = t_inspect + t1 - t0, t_cal + t2 - t1, t_read + t3 - t2
    n = len(paths)
    return t_inspect / n, t_cal / n, t_read / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=200, help="files per form and format (default 200)")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        sets = _write(Path(tmp), args.n, args.seed)
        print(f"wrote {sum(len(v) for v in sets.values())} workbooks in {time.perf_counter() - t0:.1f} s\n")
        for paths in sets.values():  # warm: imports, label index, administrative units
            _time(paths[:3], identify=True)
        print(f"{'form':<6}{'format':<7}{'files/s':>9}{'median ms':>11}{'p95 ms':>9}{'best-of-3 ms':>14}"
              f"{'read only ms':>14}{'inspect':>9}{'calamine':>10}{'reader':>8}")
        for (form, fmt), paths in sorted(sets.items()):
            full = _time(paths, identify=True)
            best = _time(paths, identify=True, repeat=3)
            read_only = _time(paths, identify=False)
            ins, cal, rd = _split(paths)
            p95 = sorted(full)[int(0.95 * (len(full) - 1))]
            print(f"{form:<6}{fmt:<7}{len(full) / sum(full):>9.0f}{statistics.median(full) * 1000:>11.2f}"
                  f"{p95 * 1000:>9.2f}{statistics.median(best) * 1000:>14.2f}"
                  f"{statistics.median(read_only) * 1000:>14.2f}"
                  f"{ins * 1000:>9.2f}{cal * 1000:>10.2f}{rd * 1000:>8.2f}")
    print("\nms per file (median over the files); files/s from one pass in one process, read + identify; "
          "'best-of-3' the median of each file's fastest of three reads (what the code costs on an idle core); "
          "'read only' without resolve_units; the last three split read_workbook into pipelines/safety.inspect, "
          "calamine and the reader's own work (read_sheet), means.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
