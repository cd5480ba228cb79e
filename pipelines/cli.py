"""``ccn``: the command line of the national industrial cluster database.

Every command works on the home in ``CCN_HOME`` (default ``./.ccn``) and the warehouse in
``CCN_WAREHOUSE_URL`` (default: the embedded SQLite file in the home).  Heavy libraries (Dagster, Great
Expectations) are imported only by the commands that need them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

EPILOG = """environment:
  CCN_HOME            where inbox/, archive/, warehouse.sqlite and the Dagster home live (default ./.ccn)
  CCN_WAREHOUSE_URL   SQLAlchemy URL of the warehouse, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test
  CCN_MAX_FILE_MB, CCN_MAX_UNCOMPRESSED_MB, CCN_MAX_ROWS, CCN_MAX_COLUMNS, CCN_MAX_CELLS
                      limits on one input file (20, 100, 10000, 256, 500000); see docs/reliability.md

examples:
  ccn sample --out .ccn/inbox --provinces 3      write a national sample with truth.json
  ccn run                                        ingest everything new in the inbox
  ccn summary --period 2026-H1                   national summary of Biểu 04
  ccn completeness --period 2026-H1              who should have reported, and who did
  ccn export national --period 2026-H1 --out n.xlsx   the national report workbook
  ccn bi-role powerbi                            a read-only PostgreSQL role for BI tools
  ccn findings --province 01 --severity error    what failed, with finding and submission ids
  ccn feedback 42 --out phan_hoi.xlsx            the workbook to send back, failing cells marked
  ccn template 03 --out bieu03.xlsx              an empty Biểu 03 to fill in (drop-downs, labels locked)
  ccn check bieu03.xlsx bieu02_*.xlsx            check workbooks before sending them; exit 1 on any error
  ccn waive 1234 --reason "..." --by "Name"      accept a finding knowingly; loads on the next run
"""


def _period(text: str):
    from schemas.periods import Period

    try:
        return Period.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_sample(args) -> int:
    from pipelines.progress import TerminalProgress
    from pipelines.sample import generate

    from pipelines.geography import generation_of

    show = TerminalProgress()
    if generation_of(args.period) == "pre2025":  # reported by the 63 old provinces and their districts
        from pipelines.sample import generate_pre2025

        truth = generate_pre2025(Path(args.out), args.period, provinces=args.provinces, seed=args.seed,
                                 progress=lambda d, t: show("sample", d, t))
    else:
        truth = generate(Path(args.out), args.period, provinces=args.provinces, seed=args.seed,
                         progress=lambda d, t: show("sample", d, t))
    c = truth["counts"]
    print(f"wrote {c['files']} files for {truth['period']} to {args.out} "
          f"({c['rejected']} with deliberate errors, {c['late']} late); truth in {Path(args.out) / 'truth.json'}")
    return 0


def _dagster_home() -> Path:
    from pipelines.settings import settings

    s = settings().ensure()
    home = Path(os.environ.get("DAGSTER_HOME") or s.dagster_home)
    home.mkdir(parents=True, exist_ok=True)
    cfg = home / "dagster.yaml"
    if not cfg.exists():
        cfg.write_text("telemetry:\n  enabled: false\n", encoding="utf-8")
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def _first_open_lock(home: Path):
    """An exclusive file lock on the Dagster home while its instance (and its SQLite storage) is opened."""
    import contextlib
    import fcntl

    @contextlib.contextmanager
    def held():
        with open(home / ".ccn-open.lock", "a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    return held()


def cmd_run(args) -> int:
    """Execute the ingest job in process, so the run appears in the Dagster UI's history."""
    from pipelines.progress import TerminalProgress, set_reporter
    from pipelines.settings import settings

    dagster_home = _dagster_home()
    from dagster import DagsterInstance

    from pipelines.definitions import defs
    from pipelines.resources import CCNResource

    s = settings()
    inbox = Path(args.inbox).resolve() if args.inbox else s.inbox
    if not inbox.is_dir():
        print(f"ccn run: inbox {inbox} is not a folder", file=sys.stderr)
        return 2
    set_reporter(TerminalProgress())
    job = defs.resolve_job_def("ingest")
    with _first_open_lock(dagster_home):  # two runs starting on a fresh home must not both create its storage
        instance = DagsterInstance.get()
    try:
        with instance:
            result = job.execute_in_process(
                instance=instance, raise_on_error=False,
                resources={"ccn": CCNResource(home=str(s.home), inbox=str(inbox), warehouse_url=s.warehouse_url)},
                run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
            )
            stats = instance.get_run_step_stats(result.run_id)
    finally:
        set_reporter(None)  # the terminal belongs to this command only, not to whatever runs next in the process
    if not result.success:
        for event in result.all_events:
            if event.is_failure:
                print(f"ccn run: {event.message}", file=sys.stderr)
        return 1
    summary = _print_run(result, stats)
    if args.json:
        import json

        Path(args.json).write_text(json.dumps(summary, indent=1), encoding="utf-8")
    return 0


def _print_run(result, stats) -> dict:
    """Print the run's table (files, accepted, rejected, late and the time of each stage); return it as data."""
    meta = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta.update({k: v.value for k, v in mat.metadata.items()})
    rows = {"files": "new_files", "duplicates": "duplicates", "accepted": "accepted",
            "  with warnings": "accepted_with_warnings", "rejected": "rejected", "superseded": "superseded",
            "late": "late"}
    counts = {key: meta.get(key, 0) for key in rows.values()}
    stages = {st.step_key: round((st.end_time or 0) - (st.start_time or 0), 3) for st in stats}
    print(f"\nrun {result.run_id}")
    for label, key in rows.items():
        print(f"  {label:<16}{counts[key]:>8}")
    print("  stage times: " + ", ".join(f"{k} {v:.1f}s" for k, v in stages.items()))
    return {"run_id": result.run_id, "counts": counts, "stage_seconds": stages}


def cmd_summary(args) -> int:
    from pipelines.settings import settings
    from pipelines.stages import national_summary
    from schemas.warehouse import make_engine, upgrade

    engine = make_engine(settings().warehouse_url)
    upgrade(engine)
    df = national_summary(engine, args.period.code if args.period else None)
    if args.truth:
        return _compare_truth(df, Path(args.truth))
    if df.empty:
        print("no accepted Biểu 04 yet" + (f" for {args.period}" if args.period else ""))
        return 0
    for period, part in df.groupby("period", sort=True):
        print(f"\nNational summary {period} (Biểu 04, {int(part['provinces_reporting'].max())} provinces)")
        for r in part.itertuples():
            value = "" if r.value is None else f"{r.value:,.2f}"
            print(f"  {r.indicator_code:>5}  {r.indicator_name[:70]:<70} {value:>16} {r.unit}")
    return 0


def _compare_truth(df, path: Path) -> int:
    """Compare the national summary with a sample's truth.json; exit 1 on any difference."""
    import json
    import math

    truth = json.loads(path.read_text(encoding="utf-8"))
    got = {r.indicator_code: r for r in df[df["period"] == truth["period"]].itertuples()}
    bad = []
    for code, t in truth["national_summary"].items():
        r = got.get(code)
        if r is None or not math.isclose(r.value, t["value"], rel_tol=1e-9, abs_tol=1e-9) \
                or r.provinces_reporting != t["provinces_reporting"]:
            bad.append(f"  row {code}: warehouse {getattr(r, 'value', None)} vs truth {t['value']}")
    if bad:
        print(f"national summary {truth['period']} differs from {path}:", *bad, sep="\n")
        return 1
    print(f"national summary {truth['period']}: all {len(truth['national_summary'])} rows equal {path}")
    return 0


def cmd_template(args) -> int:
    """Write an empty form (or a province's cluster register) to fill in."""
    from pipelines.templates import write_register_template, write_template

    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        print("ccn template: --out must end in .xlsx (drop-down lists and protection need the .xlsx format)",
              file=sys.stderr)
        return 2
    if args.province:
        from schemas.admin import admin

        a = admin()
        table = a.old_provinces if args.generation == "district" else a.provinces
        if args.province not in table:
            print(f"ccn template: {args.province} is not a province code of the "
                  f"{'pre-2025' if args.generation == 'district' else '2025'} list", file=sys.stderr)
            return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.form == "register":
        write_register_template(out, province_code=args.province)
        print(f"wrote {out}: the cluster register of a province (one row per cluster; layout in docs/forms.md)")
    else:
        form = args.form.zfill(2)
        write_template(out, form, generation=args.generation, province_code=args.province)
        print(f"wrote {out}: Biểu số {form} ({'district wording, before 2025-07-01' if args.generation == 'district' else 'commune wording'}); "
              "type only in column (4) and the identification lines")
    return 0


def cmd_check(args) -> int:
    """Check workbooks offline, as the pipeline will read them; exit 1 on any error."""
    import json

    from pipelines.check import as_dict, check_file, format_check

    results = [check_file(Path(f)) for f in args.files]
    if args.json:
        print(json.dumps([as_dict(r) for r in results], ensure_ascii=False, indent=1))
    else:
        for r in results:
            print(format_check(r))
        errors, warnings = sum(r.errors for r in results), sum(r.warnings for r in results)
        verdict = "sửa các lỗi trước khi gửi / fix the errors before sending" if errors else \
            "có thể gửi / ready to send"
        print(f"\n{len(results)} tệp/files: {errors} lỗi/errors, {warnings} cảnh báo/warnings — {verdict}")
    return 1 if any(r.errors for r in results) else 0


def cmd_ui(args) -> int:
    import subprocess

    _dagster_home()
    root = Path(__file__).resolve().parent.parent
    return subprocess.call([sys.executable, "-m", "dagster", "dev", "-w", str(root / "workspace.yaml"),
                            "-p", str(args.port)], cwd=root)


def _warehouse():
    from pipelines.settings import settings
    from schemas.warehouse import make_engine, upgrade

    engine = make_engine(settings().warehouse_url)
    upgrade(engine)
    return engine


def cmd_findings(args) -> int:
    """The findings of settled submissions as a table, with where the Data Docs of the validation are."""
    from pipelines.findings import format_table, latest_data_docs, list_findings

    engine = _warehouse()
    df = list_findings(engine, period=args.period.code if args.period else None, province=args.province,
                       form=args.form, severity=args.severity, submission_id=args.submission)
    print(format_table(df))
    if not df.empty:
        waived = int(df["waived_by"].notna().sum())
        print(f"\n{len(df)} findings: {int((df.severity == 'error').sum())} errors, "
              f"{int((df.severity == 'warning').sum())} warnings, {waived} waived, "
              f"in {df.submission_id.nunique()} submissions")
    for path in latest_data_docs(engine):
        print(f"Data Docs (Great Expectations) of the latest validation: {path}")
    return 0


def cmd_feedback(args) -> int:
    from pipelines.feedback import FeedbackError, write_feedback

    try:
        fb = write_feedback(_warehouse(), args.submission_id, Path(args.out))
    except FeedbackError as exc:
        print(f"ccn feedback: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {fb.path}: {fb.findings} findings listed on the first sheet, {fb.cells_marked} cells marked")
    return 0


def cmd_waive(args) -> int:
    from pipelines.findings import WaiverError, waive

    try:
        w = waive(_warehouse(), args.finding_id, args.reason, args.by)
    except WaiverError as exc:
        print(f"ccn waive: {exc}", file=sys.stderr)
        return 2
    print(f"finding {w.finding_id} ({w.severity} {w.rule_id}) of submission {w.submission_id} waived by {args.by}")
    if w.status == "rejected" and w.errors_left == 0:
        print(f"submission {w.submission_id} has no standing error left: the next `ccn run` loads it")
    elif w.status == "rejected":
        print(f"submission {w.submission_id} still has {w.errors_left} standing error(s)")
    return 0


def cmd_register(args) -> int:
    """Load provinces' cluster register workbooks into the warehouse's register."""
    from sqlalchemy import select

    from pipelines.check import format_check, register_check
    from pipelines.completeness import refresh_expected
    from pipelines.reader import read_register
    from pipelines.register import load_register
    from schemas.periods import Period
    from schemas.warehouse import expected_report

    engine = _warehouse()
    refused = 0
    for f in args.files:
        path = Path(f)
        if not path.is_file():
            print(f"ccn register: {path}: no such file", file=sys.stderr)
            refused += 1
            continue
        reading = read_register(path)
        loaded = load_register(engine, reading)
        if loaded.refused:
            refused += 1
            print(f"{path}: nothing loaded — {loaded.refused}")
            print(format_check(register_check(path, reading)))
            continue
        print(f"{path}: register of province {loaded.province_code} loaded — {len(loaded.added)} clusters added, "
              f"{len(loaded.verified)} learnt from reports now verified")
    with engine.connect() as conn:
        periods = [Period.parse(p) for p in conn.execute(select(expected_report.c.period).distinct()).scalars()]
    for period in periods:  # who should report follows the register at once
        refresh_expected(engine, period)
    return 1 if refused else 0


def cmd_completeness(args) -> int:
    """Who should have reported for a period and who did, per form and province (recomputed first)."""
    from pipelines.completeness import completeness, refresh_expected

    engine = _warehouse()
    refresh_expected(engine, args.period)
    df = completeness(engine, args.period)
    if args.province:
        df = df[df["province_code"] == args.province]
    if df.empty:
        print(f"nothing expected for {args.period}" + (f" in province {args.province}" if args.province else ""))
        return 0
    cols = ["form", "province_code", "expected", "received", "on_time", "late", "missing"]
    print(df[cols].to_string(index=False))
    totals = df.groupby("form")[cols[2:]].sum()
    print(f"\n{args.period}, all provinces:")
    print(totals.to_string())
    return 0


def cmd_export(args) -> int:
    """Write the national report of a period (Biểu 04 layout, a sheet per province, completeness)."""
    from pipelines.export import export_national

    result = export_national(_warehouse(), args.period, Path(args.out))
    print(f"wrote {result.path}: national Biểu 04 for {args.period} ({result.national_rows} rows), "
          f"{result.provinces} provinces, {result.missing_reports} expected reports missing")
    return 0


def cmd_bi_role(args) -> int:
    """Create (or re-tighten) a read-only PostgreSQL role for BI tools."""
    from pipelines.bi import BIRoleError, create_bi_role

    try:
        views = create_bi_role(_warehouse(), args.name, os.environ.get(args.password_env) if args.password_env
                               else None)
    except BIRoleError as exc:
        print(f"ccn bi-role: {exc}", file=sys.stderr)
        return 2
    print(f"role {args.name}: SELECT on {len(views)} views ({', '.join(views)}); no table, no write, "
          "transactions read-only")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ccn", description=__doc__.split("\n\n")[0].replace("``", ""),
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = sub.add_parser("sample", help="write a realistic national sample (four forms) and its truth.json",
                       description="Write a consistent national set of Biểu 01–04 workbooks for one period, with a "
                                   "few deliberate errors and late files, and truth.json with what each file holds.")
    s.add_argument("--out", required=True, help="folder to write into (e.g. .ccn/inbox)")
    s.add_argument("--period", type=_period, default=_period("2026-H1"), help="2026-H1 (default) or 2025-Y …")
    s.add_argument("--provinces", type=int, default=3,
                   help="number of provinces (1–34, default 3; 1–63 old provinces for periods up to 2025-H1, which "
                        "are written as the old provinces and their districts reported them)")
    s.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    s.set_defaults(func=cmd_sample)

    r = sub.add_parser("run", help="ingest every new file in the inbox (archive, read, validate, load, summarise)",
                       description="Run the Dagster ingest job in process: every new file in the inbox is archived "
                                   "by SHA-256, read, validated and loaded; the run shows in the Dagster UI.")
    r.add_argument("--inbox", help="folder to ingest (default $CCN_HOME/inbox)")
    r.add_argument("--json", metavar="FILE", help="also write the run's counts and stage times to FILE as JSON")
    r.set_defaults(func=cmd_run)

    m = sub.add_parser("summary", help="print the national summary (Biểu 04 over all provinces)")
    m.add_argument("--period", type=_period, help="only this period")
    m.add_argument("--truth", metavar="TRUTH_JSON", help="compare with a sample's truth.json; exit 1 on a difference")
    m.set_defaults(func=cmd_summary)

    fi = sub.add_parser("findings", help="list validation findings (filter by period, province, form, severity)",
                        description="Every finding of the settled submissions, one line each: the finding id (for "
                                    "`ccn waive`), the submission (for `ccn feedback`), where it is (sheet!cell) and "
                                    "the message in Vietnamese and English.  Ends with the path of the Great "
                                    "Expectations Data Docs of the latest validation.",
                        epilog="examples:\n  ccn findings --period 2026-H1 --province 01 --severity error\n"
                               "  ccn findings --form 04",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    fi.add_argument("--period", type=_period, help="e.g. 2026-H1 or 2025-Y")
    fi.add_argument("--province", metavar="CODE", help="2025 GSO province code, e.g. 01")
    fi.add_argument("--form", choices=["01", "02", "03", "04"], help="Biểu number")
    fi.add_argument("--severity", choices=["error", "warning"])
    fi.add_argument("--submission", type=int, metavar="ID", help="only this submission")
    fi.set_defaults(func=cmd_findings)

    fb = sub.add_parser("feedback", help="write the workbook to send back: failing cells marked and commented",
                        description="Write the submission's workbook as it was received, every cell a finding "
                                    "points at filled (red error, yellow warning, grey waived) and commented with "
                                    "the rule, message and expected value, and a first sheet listing the findings.",
                        epilog="example:\n  ccn feedback 42 --out phan_hoi_42.xlsx",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    fb.add_argument("submission_id", type=int, metavar="SUBMISSION_ID", help="as shown by `ccn findings`")
    fb.add_argument("--out", required=True, metavar="FILE.xlsx", help="where to write the feedback workbook")
    fb.set_defaults(func=cmd_feedback)

    wv = sub.add_parser("waive", help="accept a finding knowingly (who, why; kept for audit)",
                        description="Waive one finding: it no longer blocks its submission.  A rejected submission "
                                    "whose errors are all waived loads on the next `ccn run`.  The waiver (who, "
                                    "when, why) is kept and shown by `ccn findings`.",
                        epilog='example:\n  ccn waive 1234 --reason "Tỉnh xác nhận số liệu đúng (công văn 12/SCT)" '
                               '--by "Nguyễn Văn A"',
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    wv.add_argument("finding_id", type=int, metavar="FINDING_ID", help="as shown by `ccn findings`")
    wv.add_argument("--reason", required=True, help="why the finding is accepted")
    wv.add_argument("--by", required=True, metavar="NAME", help="who decides")
    wv.set_defaults(func=cmd_waive)

    co = sub.add_parser("completeness", help="who should have reported for a period, and who did",
                        description="Recompute the expected reports of a period (Biểu 04 per province, 03 per "
                                    "commune with clusters, 02 per registered cluster, 01 per known project) and "
                                    "print expected, received, on time, late and missing per form and province.")
    co.add_argument("--period", type=_period, required=True, help="e.g. 2026-H1 or 2025-Y")
    co.add_argument("--province", help="only this 2025 province code, e.g. 37")
    co.set_defaults(func=cmd_completeness)

    ex = sub.add_parser("export", help="write the national report workbook of a period",
                        description="ccn export national --period P --out F.xlsx: Biểu 04 for the nation in the "
                                    "official layout, a sheet per region and per 2025 province (with what its "
                                    "communes' Biểu 03 add up to where it differs) and the completeness sheets.")
    ex.add_argument("what", choices=["national"], help="the report to write (national)")
    ex.add_argument("--period", type=_period, required=True, help="e.g. 2026-H1 or 2025-Y")
    ex.add_argument("--out", required=True, help="the .xlsx file to write")
    ex.set_defaults(func=cmd_export)

    bi = sub.add_parser("bi-role", help="create a read-only PostgreSQL role for BI tools (reads the views only)",
                        description="Create (or re-tighten) a PostgreSQL login role that can SELECT the mart_* "
                                    "views and nothing else: no table, no INSERT/UPDATE/DELETE, no CREATE, "
                                    "read-only transactions. Grants are renewed whenever the views are re-created. "
                                    "On the embedded SQLite warehouse there are no roles: the command says so.")
    bi.add_argument("name", help="role name: lower-case letters, digits and _")
    bi.add_argument("--password-env", metavar="VAR",
                    help="environment variable holding the role's password (never on the command line)")
    bi.set_defaults(func=cmd_bi_role)

    rg = sub.add_parser("register", help="load provinces' cluster register workbooks (the official cluster lists)",
                        description="Load the cluster register of a province (the workbook `ccn template register` "
                                    "writes, filled in) into the warehouse: its clusters become verified, are "
                                    "expected to send Biểu 02 every period unless planned or withdrawn, and keep "
                                    "the ID they had if they already reported under another spelling. A register "
                                    "with any error loads nothing and its findings are printed with their cells; "
                                    "loading the same register again changes nothing. Exit 1 when a file was "
                                    "not loaded.",
                        epilog="example: ccn register danh_sach_ccn_lao_cai.xlsx")
    rg.add_argument("files", nargs="+", metavar="FILE", help="register workbooks (.xlsx or .xls)")
    rg.set_defaults(func=cmd_register)

    t = sub.add_parser("template", help="write an empty Biểu 01–04 (or a cluster register) to fill in",
                       description="Write an empty form in the official layout of Circular 14 with the national "
                                   "identification lines: drop-down lists for province, commune (district before "
                                   "2025-07-01) and period, labels locked (sheet protection, no password), only "
                                   "column (4) and the identification values open, number formats per unit. "
                                   "'register' writes a province's cluster list (name, commune, type, status, "
                                   "areas, decisions, investor).",
                       epilog="examples:\n  ccn template 02 --out bieu02.xlsx\n"
                              "  ccn template 03 --province 15 --out bieu03_lao_cai.xlsx   (communes of one province only)\n"
                              "  ccn template 03 --generation district --out bieu03_2025H1.xlsx\n"
                              "  ccn template register --province 15 --out ccn_lao_cai.xlsx",
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("form", choices=["01", "02", "03", "04", "1", "2", "3", "4", "register"],
                   help="01 project, 02 cluster investor, 03 commune, 04 province, or register")
    t.add_argument("--out", required=True, help="the .xlsx file to write")
    t.add_argument("--generation", choices=["commune", "district"], default="commune",
                   help="commune wording (from 2025-07-01, default) or district wording (reports up to 2025-H1)")
    t.add_argument("--province", help="GSO province code: list only this province and its communes (shorter lists)")
    t.set_defaults(func=cmd_template)

    ck = sub.add_parser("check", help="check workbooks before sending: every finding with sheet and cell; exit 1 on error",
                        description="Read each workbook as the pipeline will (forms, identification, values, "
                                    "within-form rules; a cluster register as a register) without writing anything. "
                                    "Prints every finding with its sheet and cell, in Vietnamese and English. "
                                    "Exit status: 0 when no file has an error (warnings allowed), 1 otherwise.",
                        epilog="example:\n  ccn check bieu03_xa_phu_thinh.xlsx bieu02_*.xlsx",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    ck.add_argument("files", nargs="+", metavar="FILE", help=".xlsx or .xls workbooks")
    ck.add_argument("--json", action="store_true", help="print the findings as JSON instead of text")
    ck.set_defaults(func=cmd_check)

    u = sub.add_parser("ui", help="open the Dagster UI on this home (dagster dev -w workspace.yaml)")
    u.add_argument("--port", type=int, default=3000)
    u.set_defaults(func=cmd_ui)
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    raise SystemExit(main())
