"""``ccn``: the command line of the national industrial cluster database.

Every command works on the home in ``CCN_HOME`` (default ``./.ccn``) and the warehouse in
``CCN_WAREHOUSE_URL`` (default: the embedded SQLite file in the home).  Unlike the rest of the code, this file
imports inside each command what the command needs: ``ccn --help`` or a typo answers in 0.1 s, where importing
the Dagster definitions costs 2.0 s, the stages (pandas, SQLAlchemy) 0.9 s and Great Expectations seconds more.

Every message is written as the project writes a finding's message: the whole sentence in Vietnamese, then
`` — `` and the whole sentence in English (:func:`schemas.text.bilingual`).  Commands that only read
(``summary``, ``findings``, ``completeness``, ``feedback``, ``export``, ``waive``, ``outliers``, ``follow-up``) open
an existing warehouse and never create one; a database that cannot be reached is one line on stderr; a closed
pipe ends the command quietly.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from schemas.forms import form_codes
from schemas.status import Status
from schemas.text import bilingual as say  # every message: Vietnamese, then English

EPILOG = """environment:
  CCN_HOME            where inbox/, archive/, warehouse.sqlite and the Dagster home live (default ./.ccn)
  CCN_WAREHOUSE_URL   SQLAlchemy URL of the warehouse, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test
  CCN_MAX_FILE_MB, CCN_MAX_UNCOMPRESSED_MB, CCN_MAX_ROWS, CCN_MAX_COLUMNS, CCN_MAX_CELLS
                      limits on one input file (20, 100, 10000, 256, 500000); see docs/reliability.md
  CCN_SMTP_URL, CCN_MAIL_FROM, CCN_CONTACTS
                      the mail server, sender address and contacts file of `ccn remind` (docs/reminders.md)

exit status:
  0 done; 1 a file has an error (check, register) or the summary differs from truth.json;
  2 nothing to work on or wrong input (no warehouse in CCN_HOME, no workbook, unknown submission …);
  3 the database cannot be reached or refused the command; 141 the reader of the output went away (| head)

examples:
  ccn sample --out .ccn/inbox --provinces 3      write a national sample with truth.json
  ccn run                                        ingest everything new in the inbox
  ccn summary --period 2026-H1                   national summary of Biểu 04
  ccn completeness --period 2026-H1              who should have reported, and who did
  ccn export national --period 2026-H1 --out n.xlsx   the national report workbook
  ccn bi-role powerbi --password-env CCN_BI_PASSWORD   a read-only PostgreSQL role for BI tools
  ccn user add hoa --role province --province 37 --password-env PW   an account of the stewards' portal
  ccn findings --province 01 --severity error    what failed, with finding and submission ids
  ccn feedback 42 --out phan_hoi.xlsx            the workbook to send back, failing cells marked
  ccn template 03 --out bieu03.xlsx              an empty Biểu 03 to fill in (drop-downs, labels locked)
  ccn check bieu03.xlsx bieu02_*.xlsx            check workbooks before sending them; exit 1 on any error
  ccn check bao_cao/                             check every workbook in a folder and its subfolders
  ccn waive 1234 --reason "..." --by "Name"      accept a finding knowingly; loads on the next run
  ccn outliers --period 2026-H1 --province 37    implausible values: cell, value, plausible range, why
  ccn follow-up 1234 --status confirmed --comment "..." --by "Name"   a steward's decision on a warning
  ccn period accept --province 37 --period 2026-H1 --by "Name"   the Ministry accepts and locks a period
  ccn remind --period 2026-H1 --dry-run          who has not reported and would be reminded (e-mail or drafts)
"""


TABLE_WIDTH = ("  Tables: on a terminal they fit its width (COLUMNS overrides it), long cells wrapped at spaces, "
               "never inside a word; piped to a file or a program every row stays on one line.")


def _para(text: str) -> str:
    """A description filled to 79 columns, for commands whose help keeps its epilog's line breaks as written."""
    import textwrap

    return textwrap.fill(" ".join(text.split()), 79)


def _fail(command: str, vi: str, en: str) -> None:
    print(f"ccn {command}: {say(vi, en)}", file=sys.stderr)


def _period(text: str):
    from schemas.periods import Period

    try:
        return Period.parse(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def cmd_sample(args) -> int:
    from pipelines.progress import TerminalProgress
    from pipelines.sample.generator import generate, previous_period
    from schemas.geography import generation_of

    show = TerminalProgress()
    if args.planted and generation_of(previous_period(args.period)) == "pre2025":
        _fail("sample", f"--planted cần kỳ từ 2026-H1 trở đi (kỳ trước {previous_period(args.period)} do các tỉnh, "
                        "huyện cũ báo cáo).",
              f"--planted needs a period from 2026-H1 on (the period before, {previous_period(args.period)}, was "
              "reported by the old provinces and districts).")
        return 2
    if generation_of(args.period) == "pre2025":  # reported by the 63 old provinces and their districts
        from pipelines.sample.generator import generate_pre2025

        truth = generate_pre2025(Path(args.out), args.period, provinces=args.provinces, seed=args.seed,
                                 progress=lambda d, t: show("sample", d, t))
    else:
        truth = generate(Path(args.out), args.period, provinces=args.provinces, seed=args.seed,
                         progress=lambda d, t: show("sample", d, t), planted=args.planted)
    c = truth["counts"]
    rejected = c[Status.REJECTED]
    truth_path = Path(args.out) / "truth.json"
    print(say(f"Đã ghi {c['files']} tệp kỳ {truth['period']} vào {args.out} ({rejected} tệp cố ý có lỗi, "
              f"{c['late']} tệp nộp muộn); đáp án trong {truth_path}.",
              f"Wrote {c['files']} files for {truth['period']} to {args.out} ({rejected} with deliberate errors, "
              f"{c['late']} late); truth in {truth_path}."))
    if args.planted:
        h, n = truth["history"], len(truth["planted_outliers"])
        print(say(f"Kỳ trước {h['period']}: {h['files']} tệp của cùng các đơn vị trong {Path(args.out) / h['folder']}; "
                  f"{n} giá trị bất thường được gài vào kỳ {truth['period']} (truth.json, planted_outliers).",
                  f"The period before, {h['period']}: {h['files']} files of the same units in "
                  f"{Path(args.out) / h['folder']}; {n} implausible values planted in {truth['period']} "
                  "(truth.json, planted_outliers)."))
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


def _dagster_instance():
    """The Dagster instance of this home, where the UI finds the runs of ``ccn run`` and ``ccn refresh``."""
    from dagster import DagsterInstance

    home = _dagster_home()
    with _first_open_lock(home):  # two runs starting on a fresh home must not both create its storage
        return DagsterInstance.get()


def cmd_refresh(args) -> int:
    """Execute the period_refresh job for one period in process, as the deadline schedules do."""
    from assets.definitions import defs
    from assets.partitions import PERIODS
    from assets.resources import CCNResource
    from pipelines.settings import settings

    period = args.period.code
    _warehouse()  # a home without a warehouse: where it looked (main), no run
    if period not in PERIODS.get_partition_keys():
        _fail("refresh", f"kỳ {period} nằm ngoài các kỳ báo cáo đã biết.", f"{period} is not a known report period.")
        return 2
    s = settings()
    with _dagster_instance() as instance:
        result = defs.resolve_job_def("period_refresh").execute_in_process(
            instance=instance, partition_key=period, raise_on_error=False,
            resources={"ccn": CCNResource(home=str(s.home), inbox=str(s.inbox), warehouse_url=s.warehouse_url)},
            run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}})
    if not result.success:
        for event in result.all_events:
            if event.is_failure:
                print(f"ccn refresh: {event.message}", file=sys.stderr)
        return 1
    done = sorted({e.asset_key.to_user_string() for e in result.get_asset_materialization_events() if e.asset_key})
    print(say(f"Đã làm mới kỳ {period}: {', '.join(done)}.", f"Refreshed {period}: {', '.join(done)}."))
    return 0


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
    from schemas.database import make_engine

    probe = make_engine(settings().warehouse_url)  # a database that cannot be reached: one line (main), no run
    try:
        with probe.connect():
            pass
    finally:
        probe.dispose()
    from assets.definitions import defs
    from assets.resources import CCNResource

    s = settings()
    inbox = Path(args.inbox).resolve() if args.inbox else s.inbox
    if not inbox.is_dir():
        _fail("run", f"hộp thư đến {inbox} không phải là thư mục.", f"the inbox {inbox} is not a folder.")
        return 2
    set_reporter(TerminalProgress())
    job = defs.resolve_job_def("ingest")
    instance = _dagster_instance()
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
    """Print the run's closing tables: what the run did beside what the warehouse holds now (files, accepted,
    accepted with warnings, rejected, pending, superseded, held for a locked period, late, outliers found and
    standing), then each stage by name with its time; return them as data (``--json``)."""
    from pipelines.progress import stage_name
    from pipelines.report.observe import open_outliers, run_submissions, status_counts
    from pipelines.settings import settings
    from pipelines.table import Col, print_table
    from schemas.database import make_engine
    from schemas.status import status_label

    meta = {}
    for event in result.get_asset_materialization_events():
        mat = event.event_specific_data.materialization
        meta.update({k: v.value for k, v in mat.metadata.items()})
    engine = make_engine(settings().warehouse_url)
    try:
        held: dict[str, int | None] = dict(status_counts(engine))
        held["outliers_added"] = len(open_outliers(engine))
        subs = run_submissions(engine, result.run_id)
    finally:
        engine.dispose()
    rows = [("Tệp mới / New files", "new_files"), ("Trùng / Duplicates", "duplicates"),
            *((status_label(status, capital=True), status) for status in (
                Status.ACCEPTED, Status.ACCEPTED_WITH_WARNINGS, Status.REJECTED, Status.PENDING, Status.SUPERSEDED,
                Status.HELD)),
            ("Nộp muộn / Late", "late"), ("Giá trị bất thường / Outliers", "outliers_added")]
    counts = {key: int(meta.get(key, 0) or 0) for _, key in rows if key != Status.PENDING}
    counts[Status.PENDING] = int((subs["status"] == Status.PENDING).sum()) if not subs.empty else 0
    stages = {st.step_key: round((st.end_time or 0) - (st.start_time or 0), 3) for st in stats}
    print(f"\n{say(f'Lần chạy {result.run_id}', f'run {result.run_id}')}")
    print_table([Col("Mục / Item"), Col("Lần chạy này / This run", right=True),
                 Col("Trong kho / In the warehouse", right=True)],
                [(label, counts[key], held.get(key)) for label, key in rows], indent=2)
    print()
    print_table([Col("Bước / Stage"), Col("Giây / Seconds", right=True)],
                [(stage_name(k), f"{v:.1f}") for k, v in stages.items()], indent=2)
    if counts[Status.REJECTED]:
        print()
        _print_rejections(result.run_id)
    return {"run_id": result.run_id, "counts": counts, "in_warehouse": held, "stage_seconds": stages}


def _print_rejections(run_id: str, shown: int = 20) -> None:
    """The files the run rejected, each with its first error, and the commands that show the rest."""
    from pipelines.report.observe import run_rejections
    from pipelines.settings import settings
    from schemas.database import make_engine

    engine = make_engine(settings().warehouse_url)
    try:
        rejected = run_rejections(engine, run_id)
    finally:
        engine.dispose()
    print(say("Bị từ chối, với lỗi đầu tiên của mỗi báo cáo", "Rejected, with the first error of each report"))
    for r in rejected.head(shown).itertuples():
        where = f"{r.file_name}" + (f" › {r.sheet}" if isinstance(r.sheet, str) else "")
        print(f"  #{r.submission_id}  {where}: {r.message}")
    if len(rejected) > shown:
        print(say(f"  … và {len(rejected) - shown} báo cáo khác", f"… and {len(rejected) - shown} more"))
    print(say("Mọi phát hiện của một báo cáo: ccn findings --submission ID; bảng tính phản hồi: ccn feedback ID --out "
              "phan_hoi.xlsx",
              "every finding of a report: ccn findings --submission ID; the feedback workbook: ccn feedback ID "
              "--out phan_hoi.xlsx"))


def cmd_summary(args) -> int:
    from pipelines.stages import national_summary
    from pipelines.table import Col, paragraph, print_table, terminal_width
    from schemas.forms import load_forms

    df = national_summary(_warehouse(), args.period.code if args.period else None)
    if args.truth:
        return _compare_truth(df, Path(args.truth))
    if df.empty:
        vi, en = (f" kỳ {args.period}", f" for {args.period}") if args.period else ("", "")
        print(say(f"Chưa có Biểu 04 nào được nhận{vi}.", f"No accepted Biểu 04 yet{en}."))
        return 0
    rows_04 = load_forms()["04"].rows_by_code
    width = terminal_width()
    for i, (period, part) in enumerate(df.groupby("period", sort=True)):
        n = int(part['provinces_reporting'].max())
        print(("\n" if i else "") + paragraph(say(f"Tổng hợp toàn quốc kỳ {period} (Biểu 04, {n} tỉnh)",
                                                   f"National summary {period} (Biểu 04, {n} provinces)"), width))
        rows = []
        for r in part.itertuples():
            spec = rows_04.get(r.indicator_code)
            blank = r.value is None or r.value != r.value
            value = "" if blank else spec.shown(r.value) if spec else f"{float(r.value):,}"
            rows.append((r.indicator_code, r.indicator_name, value, r.value_unit_name))
        print_table([Col("Mã / Code", right=True), Col("Chỉ tiêu / Indicator"), Col("Giá trị / Value", right=True),
                     Col("Đơn vị tính / Unit")], rows, width=width)
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
            got_value, want = getattr(r, "value", None), t["value"]
            bad.append("  " + say(f"dòng {code}: kho dữ liệu {got_value}, đáp án {want}",
                                  f"row {code}: warehouse {got_value}, truth {want}"))
    p, n = truth["period"], len(truth["national_summary"])
    if bad:
        print(say(f"Tổng hợp toàn quốc kỳ {p} khác {path}:", f"national summary {p} differs from {path}:"), *bad,
              sep="\n")
        return 1
    print(say(f"Tổng hợp toàn quốc kỳ {p}: cả {n} dòng đúng bằng {path}.",
              f"national summary {p}: all {n} rows equal {path}."))
    return 0


def cmd_template(args) -> int:
    """Write an empty form (or a province's cluster register) to fill in."""
    from pipelines.steward.templates import write_register_template, write_template

    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":
        _fail("template", "--out phải có đuôi .xlsx (danh sách chọn và khoá ô cần định dạng .xlsx).",
              "--out must end in .xlsx (drop-down lists and protection need the .xlsx format).")
        return 2
    if args.province:
        from schemas.admin import admin

        a = admin()
        table = a.old_provinces if args.generation == "district" else a.provinces
        if args.province not in table:
            old = args.generation == "district"
            _fail("template", f"{args.province} không phải mã tỉnh trong danh sách "
                              f"{'trước 2025' if old else 'năm 2025'}.",
                  f"{args.province} is not a province code of the {'pre-2025' if old else '2025'} list.")
            return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    if args.form == "register":
        write_register_template(out, province_code=args.province)
        print(say(f"Đã ghi {out}: danh sách cụm công nghiệp của một tỉnh (mỗi cụm một dòng; cách trình bày trong "
                  "docs/forms.md).",
                  f"Wrote {out}: the cluster register of a province (one row per cluster; layout in docs/forms.md)."))
    else:
        form = args.form.zfill(2)
        write_template(out, form, generation=args.generation, province_code=args.province)
        old = args.generation == "district"
        print(say(f"Đã ghi {out}: Biểu số {form} ({'cấp huyện, trước 01/7/2025' if old else 'cấp xã'}); "
                  "chỉ nhập vào cột (4) và các dòng thông tin nhận dạng.",
                  f"Wrote {out}: Biểu {form} ({'district wording, before 2025-07-01' if old else 'commune wording'}); "
                  "type only in column (4) and the identification lines."))
    return 0


def cmd_check(args) -> int:
    """Check workbooks (and every workbook in the folders given) offline, as the pipeline will read them; each
    file's result as it is checked, then the count; exit 1 on any error, 2 when a folder holds no workbook."""
    import json

    from pipelines.read.sheets import EXTENSIONS
    from pipelines.steward.check import as_dict, check_file, collect, format_check, format_total

    given = collect([Path(f) for f in args.files])
    kinds = " ".join(EXTENSIONS)
    for folder in given.empty_folders:
        _fail("check", f"không có bảng tính nào ({kinds}) trong thư mục {folder}.",
              f"no workbook ({kinds}) in the folder {folder}.")
    if given.empty_folders:
        return 2
    results = []
    for f in given.files:
        results.append(check_file(f))
        if not args.json:
            print(format_check(results[-1]), flush=True)  # a long folder shows each file as soon as it is read
    if args.json:
        print(json.dumps([as_dict(r) for r in results], ensure_ascii=False, indent=1))
    else:
        if given.skipped:
            print("\n" + say(f"Bỏ qua {given.skipped} tệp không phải bảng tính trong các thư mục.",
                             f"Left aside {given.skipped} file(s) in the folders that are not workbooks."))
        print("\n" + format_total(results))
    return 1 if any(r.errors for r in results) else 0


def cmd_ui(args) -> int:
    import subprocess

    _dagster_home()
    root = Path(__file__).resolve().parent.parent
    cmd = [sys.executable, "-m", "dagster", "dev", "-w", str(root / "workspace.yaml"), "-p", str(args.port)]
    return subprocess.call(cmd, cwd=root)  # noqa: S603 - this interpreter running dagster, no shell


def _warehouse(create: bool = False):
    """The warehouse of the settings.  Only commands that load data create it (``create``); the others open an
    existing one or raise ``WarehouseMissing``, which :func:`main` turns into where it looked."""
    from pipelines.settings import settings
    from schemas.database import make_engine
    from schemas.migrate import open_warehouse, upgrade

    url = settings().warehouse_url
    if not create:
        return open_warehouse(url)
    engine = make_engine(url)
    upgrade(engine)
    return engine


def cmd_findings(args) -> int:
    """The findings of settled submissions as a table, with where the Data Docs of the validation are."""
    from pipelines.steward.findings import form_legend, format_table, latest_data_docs, list_findings
    from pipelines.table import paragraph, terminal_width

    engine = _warehouse()
    df = list_findings(engine, period=args.period.code if args.period else None, province=args.province,
                       form=args.form, severity=args.severity, submission_id=args.submission)
    width = terminal_width()
    if df.empty:
        print(say("Không có phát hiện nào.", "No findings."))
    else:
        print(paragraph(say("Mỗi phát hiện một dòng; bên dưới: quy tắc, tệp, trạng thái hồ sơ và nội dung.",
                            "One line per finding; under it: the rule, the file, the report's status and the "
                            "message."), width))
        print(format_table(df, width=width))
        n, waived, subs = len(df), int(df["waived_by"].notna().sum()), df.submission_id.nunique()
        errors, warnings = int((df.severity == "error").sum()), int((df.severity == "warning").sum())
        print()
        for line in form_legend(df["form"]):
            print(paragraph(line, width))
        print("\n" + paragraph(say(f"{n} phát hiện: {errors} lỗi, {warnings} cảnh báo, {waived} được miễn trừ, "
                                   f"trong {subs} hồ sơ.",
                                   f"{n} findings: {errors} errors, {warnings} warnings, {waived} waived, "
                                   f"in {subs} submissions."), width))
    for path in latest_data_docs(engine):
        print(paragraph(say(f"Data Docs (Great Expectations) của lần kiểm tra gần nhất: {path}",
                            f"Data Docs (Great Expectations) of the latest validation: {path}"), width))
    return 0


def cmd_feedback(args) -> int:
    from pipelines.steward.feedback import FeedbackError, write_feedback

    out = Path(args.out)
    if out.suffix.lower() != ".xlsx":  # openpyxl writes .xlsx bytes whatever the name: a .xls would not open
        _fail("feedback", f"--out phải có đuôi .xlsx (tệp phản hồi được ghi ở định dạng .xlsx), không phải "
                          f"\"{out.name}\".",
              f"--out must end in .xlsx (the feedback workbook is written as .xlsx), not \"{out.name}\".")
        return 2
    try:
        fb = write_feedback(_warehouse(), args.submission_id, out)
    except FeedbackError as exc:
        print(f"ccn feedback: {exc}", file=sys.stderr)
        return 2
    print(say(f"Đã ghi {fb.path}: {fb.findings} phát hiện liệt kê ở trang đầu, {fb.cells_marked} ô được đánh dấu.",
              f"Wrote {fb.path}: {fb.findings} findings listed on the first sheet, {fb.cells_marked} cells marked."))
    return 0


def cmd_waive(args) -> int:
    from pipelines.steward.findings import WaiverError, waive

    try:
        w = waive(_warehouse(), args.finding_id, args.reason, args.by)
    except WaiverError as exc:
        print(f"ccn waive: {exc}", file=sys.stderr)
        return 2
    sev_vi = "lỗi" if w.severity == "error" else "cảnh báo"
    print(say(f"Phát hiện {w.finding_id} ({sev_vi} {w.rule_id}) của hồ sơ {w.submission_id} đã được {args.by} "
              "miễn trừ.",
              f"finding {w.finding_id} ({w.severity} {w.rule_id}) of submission {w.submission_id} waived by "
              f"{args.by}."))
    if w.status == Status.REJECTED and w.errors_left == 0:
        print(say(f"Hồ sơ {w.submission_id} không còn lỗi nào: lần `ccn run` tới sẽ nạp hồ sơ này.",
                  f"submission {w.submission_id} has no standing error left: the next `ccn run` loads it."))
    elif w.status == Status.REJECTED:
        print(say(f"Hồ sơ {w.submission_id} vẫn còn {w.errors_left} lỗi.",
                  f"submission {w.submission_id} still has {w.errors_left} standing error(s)."))
    elif w.status == Status.HELD:
        print(say(f"Hồ sơ {w.submission_id} đang tạm giữ vì kỳ đã khoá: được xử lý ở lần `ccn run` sau khi Bộ mở khoá.",
                  f"submission {w.submission_id} is held, its period locked: the first `ccn run` after the Ministry "
                  "unlocks it settles it."))
    return 0


def cmd_outliers(args) -> int:
    """The outliers of a period as a table, each with its cell, value, plausible range, why and its review."""
    from pipelines.steward.outliers import format_outliers, last_analysis, list_outliers, review_words
    from pipelines.table import paragraph, terminal_width

    engine = _warehouse()
    period = args.period.code
    width = terminal_width()
    if args.refresh:
        from validations.outliers import analyse

        a = analyse(engine, args.period)
        print(paragraph(say(f"Đã phân tích kỳ {period}: {a.values} giá trị của {a.submissions} báo cáo trong "
                            f"{a.seconds:.1f} giây; {a.added} phát hiện mới, {a.removed} phát hiện không còn đúng "
                            "đã bỏ.",
                            f"Analysed {period}: {a.values} values of {a.submissions} reports in {a.seconds:.1f} s; "
                            f"{a.added} new findings, {a.removed} that no longer hold removed."), width))
    df = list_outliers(engine, period, province=args.province, form=args.form)
    if df.empty:
        print(say(f"Không có giá trị bất thường nào trong kỳ {period}.", f"No outliers in {period}."))
    else:
        print(paragraph(say("Mỗi giá trị bất thường một dòng: ô, giá trị, khoảng hợp lý và việc xem xét; bên dưới: "
                            "quy tắc, chỉ tiêu và lý do.",
                            "One line per outlier: cell, value, plausible range and review; under it: the rule, "
                            "the indicator and why."), width))
        print(format_outliers(df, width=width))
        reviews = [review_words(r)[1] for r in df.itertuples()]
        n, todo = len(df), reviews.count("not reviewed")
        follow = reviews.count("to follow up")
        print("\n" + paragraph(say(f"{n} giá trị bất thường trong {df.submission_id.nunique()} báo cáo: {todo} chưa "
                                   f"xem xét, {follow} cần theo dõi, {n - todo - follow} đã xác nhận, sửa hoặc miễn "
                                   "trừ. Đánh dấu: ccn follow-up PHÁT_HIỆN --status confirmed|corrected|follow-up.",
                                   f"{n} outliers in {df.submission_id.nunique()} reports: {todo} not reviewed, "
                                   f"{follow} to follow up, {n - todo - follow} confirmed, corrected or waived. "
                                   "Mark one: ccn follow-up FINDING --status confirmed|corrected|follow-up."), width))
    last = last_analysis(engine, period)
    if last is None:
        print(paragraph(say(f"Kỳ {period} chưa được phân tích: `ccn run` phân tích sau khi nạp, hoặc chạy "
                            "`ccn outliers --refresh`.",
                            f"{period} has not been analysed: `ccn run` analyses after loading, or run "
                            "`ccn outliers --refresh`."), width))
    else:
        when = f"{last.analysed_at:%Y-%m-%d %H:%M}"
        print(paragraph(say(f"Phân tích lúc {when}: {last.value_count} giá trị của {last.submissions} báo cáo, "
                            f"{last.seconds:.1f} giây.",
                            f"Analysed on {when}: {last.value_count} values of {last.submissions} reports, "
                            f"{last.seconds:.1f} s."), width))
    return 0


def cmd_follow_up(args) -> int:
    """Mark a warning confirmed, corrected or to follow up; or list the follow-ups."""
    from pipelines.steward.follow_up import FollowUpError, follow_ups, format_follow_ups, mark, status_words
    from pipelines.table import paragraph, terminal_width
    from schemas.status import FollowUp

    if args.list:
        if args.finding_id is not None or args.status or args.comment:
            _fail("follow-up", "--list chỉ đi cùng --period, --province và --all.",
                  "--list goes with --period, --province and --all only.")
            return 2
        df = follow_ups(_warehouse(), period=args.period.code if args.period else None, province=args.province,
                        status=None if args.all else FollowUp.OPEN)
        width = terminal_width()
        print(format_follow_ups(df, width=width))
        if not df.empty:
            what = ("việc", "follow-ups") if args.all else ("việc còn cần theo dõi", "open follow-ups")
            print("\n" + paragraph(say(f"{len(df)} {what[0]}.", f"{len(df)} {what[1]}."), width))
        return 0
    missing = [flag for flag, value in (("FINDING", args.finding_id), ("--status", args.status),
                                         ("--comment", args.comment), ("--by", args.by)) if value is None]
    if missing:
        _fail("follow-up", f"cần {', '.join(missing)} (hoặc --list).", f"{', '.join(missing)} required (or --list).")
        return 2
    try:
        m = mark(_warehouse(), args.finding_id, args.status, args.comment, f"cli:{args.by}")
    except FollowUpError as exc:
        print(f"ccn follow-up: {exc}", file=sys.stderr)
        return 2
    vi, en = status_words(m.status)
    before_vi, before_en = status_words(m.previous)
    print(say(f"Phát hiện {m.finding_id} ({m.rule_id}) của hồ sơ {m.submission_id}: {before_vi} → {vi}, do "
              f"{args.by} đánh dấu.",
              f"finding {m.finding_id} ({m.rule_id}) of submission {m.submission_id}: {before_en} → {en}, marked by "
              f"{args.by}."))
    return 0


def cmd_period(args) -> int:
    """A province's period on its way to the Ministry: show the states, or submit, accept, return, unlock."""
    from pipelines.steward.approval import (
        STATE_WORDS,
        ApprovalError,
        accept_period,
        period_state,
        return_period,
        submit_period,
        unlock_period,
    )
    from pipelines.steward.findings import province_label

    if args.action == "show":
        return _show_periods(args)
    engine = _warehouse()
    actor = f"cli:{args.by}"
    province, period = args.province, args.period.code
    try:
        before = period_state(engine, province, period)
        if args.action == "submit":
            after = submit_period(engine, province, period, actor)
        elif args.action == "accept":
            after = accept_period(engine, province, period, actor, comment=args.comment)
        elif args.action == "return":
            after = return_period(engine, province, period, actor, args.comment)
        else:
            after = unlock_period(engine, province, period, actor, args.reason)
    except ApprovalError as exc:
        print(f"ccn period: {exc}", file=sys.stderr)
        return 2
    (vi0, en0), (vi1, en1) = STATE_WORDS[before.state], STATE_WORDS[after.state]
    where = f"{province_label(province)}, {period}"
    print(say(f"Kỳ {where}: {vi0} → {vi1} (bởi {args.by}).", f"{where}: {en0} → {en1} (by {args.by})."))
    if args.action == "unlock":
        print(say("Báo cáo đang tạm giữ của kỳ này được xử lý ở lần `ccn run` tới.",
                  "the reports held for this period are settled by the next `ccn run`."))
    return 0


def _show_periods(args) -> int:
    """``ccn period show``: with --period every 2025 province (or the one of --province) with its state, open
    included; without it, every province and period whose state ever changed."""
    from pipelines.steward.approval import ApprovalError, PeriodState, period_states
    from pipelines.steward.findings import province_label
    from pipelines.table import Col, print_table
    from schemas.admin import admin
    from schemas.status import Approval

    engine = _warehouse()
    try:
        states = period_states(engine, args.period.code if args.period else None, province_code=args.province)
    except ApprovalError as exc:
        print(f"ccn period: {exc}", file=sys.stderr)
        return 2
    if args.period:  # every province asked for, open ones included
        found = {s.province_code: s for s in states}
        states = [found.get(code) or PeriodState(code, args.period.code, Approval.OPEN, None, None, None)
                  for code in ([args.province] if args.province else sorted(admin().provinces))]
    if not states:
        print(say("Chưa kỳ nào được gửi, duyệt hay trả lại: mọi kỳ đang nhận báo cáo.",
                  "No period was submitted, accepted or returned yet: every period is open."))
        return 0
    print_table([Col("Tỉnh / Province"), Col("Kỳ / Period"), Col("Trạng thái / State"), Col("Lúc / When"),
                 Col("Bởi / By"), Col("Nhận xét / Comment")],
                [(province_label(s.province_code), s.period, s.label,
                  f"{s.changed_at:%Y-%m-%d %H:%M}" if s.changed_at else "", s.changed_by or "", s.comment or "")
                 for s in states])
    return 0


def cmd_register(args) -> int:
    """Load provinces' cluster register workbooks into the warehouse's register."""
    from sqlalchemy import select

    from pipelines.load.register import load_register
    from pipelines.read.register import read_register
    from pipelines.report.completeness import refresh_expected
    from pipelines.steward.check import format_check, register_check
    from schemas.periods import Period
    from schemas.tables import expected_report

    engine = _warehouse(create=True)  # a register may be the first thing a new warehouse receives
    refused = 0
    for f in args.files:
        path = Path(f)
        if not path.is_file():
            _fail("register", f"{path}: không có tệp này.", f"{path}: no such file.")
            refused += 1
            continue
        reading = read_register(path)
        loaded = load_register(engine, reading)
        if loaded.refused:
            refused += 1
            vi, en = loaded.refused
            print(say(f"{path}: không nạp gì ({vi}).", f"{path}: nothing loaded ({en})."))
            print(format_check(register_check(path, reading)))
            continue
        added, verified = len(loaded.added), len(loaded.verified)
        print(say(f"{path}: đã nạp danh sách cụm của tỉnh {loaded.province_code}: thêm {added} cụm, {verified} cụm "
                  "biết qua báo cáo nay được xác nhận.",
                  f"{path}: register of province {loaded.province_code} loaded: {added} clusters added, "
                  f"{verified} learnt from reports now verified."))
    with engine.connect() as conn:
        periods = [Period.parse(p) for p in conn.execute(select(expected_report.c.period).distinct()).scalars()]
    for period in periods:  # who should report follows the register at once
        refresh_expected(engine, period)
    return 1 if refused else 0


def cmd_completeness(args) -> int:
    """Who should have reported for a period and who did, per form and province.  Reads only; ``--refresh``
    first recomputes who should report (as `ccn run` and `ccn register` do after every load)."""
    from pipelines.report.completeness import completeness, last_refresh, refresh_expected
    from pipelines.steward.findings import province_label
    from pipelines.table import Col, paragraph, print_table, terminal_width
    from schemas.forms import load_forms

    engine = _warehouse()
    if args.refresh:
        counts = refresh_expected(engine, args.period)
        print(say(f"Đã tính lại danh sách phải báo cáo kỳ {args.period}: {counts.total} báo cáo.",
                  f"Recomputed who should report for {args.period}: {counts.total} reports."))
    when = last_refresh(engine, args.period)
    if when is None:
        print(say(f"Chưa tính danh sách phải báo cáo kỳ {args.period}; `ccn completeness --period {args.period} "
                  "--refresh` tính danh sách này.",
                  f"Who should report for {args.period} was never computed; `ccn completeness --period "
                  f"{args.period} --refresh` computes it."))
        return 0
    df = completeness(engine, args.period)
    if args.province:
        df = df[df["province_code"] == args.province]
    if df.empty:
        vi, en = (f" ở tỉnh {args.province}", f" in province {args.province}") if args.province else ("", "")
        print(say(f"Không có báo cáo nào phải nộp kỳ {args.period}{vi}.", f"Nothing expected for {args.period}{en}."))
        return 0
    numbers = [("Phải nộp / Expected", "expected"), ("Đã nhận / Received", "received"),
               ("Đúng hạn / On time", "on_time"), ("Muộn / Late", "late"), ("Còn thiếu / Missing", "missing")]
    if df["held"].sum():  # missing units whose report arrived after the Ministry locked the period
        numbers.append(("Tạm giữ / Held", "held"))
    count_cols = [Col(h, right=True) for h, _ in numbers]
    keys = [k for _, k in numbers]
    forms = load_forms()
    width = terminal_width()
    for form, part in df.groupby("form", sort=True):
        title = forms[form]
        print(paragraph(say(f"Biểu {form}: {title.title}", f"Biểu {form}: {title.title_en}"), width))
        print_table([Col("Tỉnh / Province"), *count_cols],
                    [(province_label(r.province_code), *(getattr(r, k) for k in keys)) for r in part.itertuples()],
                    width=width)
        print()
    totals = df.groupby("form")[keys].sum()
    scope_vi, scope_en = (f"tỉnh {province_label(args.province)}", f"province {province_label(args.province)}") \
        if args.province else ("tất cả các tỉnh", "all provinces")
    print(paragraph(say(f"Kỳ {args.period}, {scope_vi}:", f"{args.period}, {scope_en}:"), width))
    print_table([Col("Biểu / Form"), *count_cols],
                [(f"{form} {forms[form].title}", *(int(r[k]) for k in keys)) for form, r in totals.iterrows()],
                width=width)
    stamp = when.isoformat(sep=" ", timespec="minutes")
    print("\n" + paragraph(say(f"Danh sách phải báo cáo tính lúc {stamp}; --refresh để tính lại.",
                               f"Who should report as computed on {stamp}; --refresh recomputes it."), width))
    return 0


def cmd_remind(args) -> int:
    """Remind the expected senders of a period that have not reported (by e-mail, or as .eml drafts)."""
    from pipelines.report.reminders import (
        KIND_WORDS,
        ReminderError,
        outbox_for,
        read_contacts,
        remind,
    )
    from pipelines.settings import settings
    from pipelines.steward.findings import province_label
    from pipelines.table import Col, paragraph, print_table, terminal_width

    s = settings()
    try:
        outbox = outbox_for(s, Path(args.drafts).resolve() if args.drafts else None)
        contacts = read_contacts(s.contacts, required=s.contacts_required)
        result = remind(_warehouse(), args.period, contacts=contacts, outbox=outbox, province=args.province,
                        kind=args.kind, forms=args.form, dry_run=args.dry_run, resend=args.resend_unconfirmed)
    except ReminderError as exc:
        print(f"ccn remind: {exc}", file=sys.stderr)
        return 2
    width = terminal_width()
    for note in result.notes:
        print(paragraph(note, width))
    if result.outcomes:
        def detail(o) -> str:  # under each row: the unit's key (for the contacts file), the deadline, to whom
            parts = [f"mã / key {o.unit_key}", f"hạn trước / due before {o.deadline:%d/%m/%Y}"]
            if o.recipients:
                parts.append(f"gửi tới / to {', '.join(o.recipients)}")
            return " · ".join([*parts, *([o.detail] if o.detail else [])])

        print_table([Col("Tỉnh / Province"), Col("Biểu / Form"), Col("Đơn vị / Unit"), Col("Nhắc / Kind"),
                     Col("Kết quả / Outcome")],
                    [(province_label(o.province_code), o.form, o.unit, " / ".join(KIND_WORDS[o.kind]), o.words)
                     for o in result.outcomes],
                    details=[detail(o) for o in result.outcomes], width=width)
    else:
        print(paragraph(say(f"Kỳ {args.period}: không có đơn vị nào phải nhắc.",
                            f"{args.period}: no unit to remind."), width))
    where_vi, where_en = result.where
    done = sum(o.outcome in ("sent", "drafted", "would_send", "would_draft") for o in result.outcomes)
    if args.dry_run:
        print(paragraph(say(f"Chạy thử: {result.letters} thư nhắc {done} đơn vị sẽ đi tới {where_vi}; chưa gửi, "
                            "chưa ghi gì.",
                            f"Dry run: {result.letters} letter(s) reminding {done} unit(s) would go to {where_en}; "
                            "nothing sent or recorded."), width))
    else:
        print(paragraph(say(f"{result.letters} thư nhắc {done} đơn vị đã đi tới {where_vi}.",
                            f"{result.letters} letter(s) reminding {done} unit(s) went to {where_en}."), width))
    if result.count("no_address"):
        print(paragraph(say(f"{result.count('no_address')} đơn vị không có địa chỉ thư, của đơn vị hay của Sở "
                            f"Công Thương tỉnh: thêm vào {s.contacts} (province_code,form,unit_key,name,email), "
                            "lần chạy sau sẽ nhắc.",
                            f"{result.count('no_address')} unit(s) have no e-mail address, neither their own nor "
                            f"their province's Department's: add it to {s.contacts} (province_code,form,unit_key,"
                            "name,email) and the next run reminds them."), width))
    if result.count("unconfirmed"):
        print(paragraph(say(f"{result.count('unconfirmed')} thư nhắc chưa rõ đã gửi hay chưa (lần chạy bị dừng "
                            "giữa lúc gửi): không tự gửi lại; xem nhật ký máy chủ thư, rồi --resend-unconfirmed để "
                            "gửi lại.",
                            f"{result.count('unconfirmed')} reminder(s) may or may not have gone (a run stopped while "
                            "sending): they are not sent again by themselves; check the mail server's log, then "
                            "--resend-unconfirmed sends them again."), width))
    if result.error:
        print(f"ccn remind: {result.error}", file=sys.stderr)
        return 3
    return 1 if result.needs_attention else 0


def cmd_export(args) -> int:
    """Write the national report of a period (Biểu 04 layout, a sheet per province, completeness)."""
    from pipelines.report.export import export_national

    result = export_national(_warehouse(), args.period, Path(args.out))
    print(say(f"Đã ghi {result.path}: Biểu 04 toàn quốc kỳ {args.period} ({result.national_rows} dòng), "
              f"{result.provinces} tỉnh, thiếu {result.missing_reports} báo cáo phải nộp.",
              f"Wrote {result.path}: national Biểu 04 for {args.period} ({result.national_rows} rows), "
              f"{result.provinces} provinces, {result.missing_reports} expected reports missing."))
    return 0


def cmd_bi_role(args) -> int:
    """Create (or re-tighten) a read-only PostgreSQL role for BI tools."""
    from schemas.grants import BIRoleError, create_bi_role

    password = None
    if args.password_env:  # an unset or empty variable is a mistake, never a role without a password
        password = os.environ.get(args.password_env)
        if not password:
            _fail("bi-role", f"biến môi trường {args.password_env} chưa đặt hoặc rỗng: không tạo vai trò nào.",
                  f"the environment variable {args.password_env} is unset or empty: no role was created.")
            return 2
    try:
        views = create_bi_role(_warehouse(create=True), args.name, password, without_password=args.no_password)
    except BIRoleError as exc:
        print(f"ccn bi-role: {exc}", file=sys.stderr)
        return 2
    names = ", ".join(views)
    print(say(f"Vai trò {args.name}: chỉ được SELECT {len(views)} view ({names}); không đọc bảng, không ghi, "
              "giao dịch chỉ đọc.",
              f"role {args.name}: SELECT on {len(views)} views ({names}); no table, no write, transactions read-only."))
    return 0


def _new_password(variable: str | None) -> str | None:
    """The password from the environment variable named, or typed twice on a terminal; None: refused (said)."""
    if variable:
        value = os.environ.get(variable)
        if not value:
            _fail("user", f"biến môi trường {variable} chưa đặt hoặc rỗng.", f"the environment variable {variable} "
                  "is unset or empty.")
        return value or None
    if not sys.stdin.isatty():
        _fail("user", "không có terminal để gõ mật khẩu: dùng --password-env BIẾN.",
              "no terminal to type the password on: use --password-env VAR.")
        return None
    import getpass

    first = getpass.getpass("Mật khẩu / Password: ")
    if first != getpass.getpass("Nhập lại / Again: "):
        _fail("user", "hai lần gõ mật khẩu không giống nhau.", "the two passwords typed differ.")
        return None
    return first


def cmd_user(args) -> int:
    """Accounts of the stewards' portal: add one, or list them (never a password or its hash)."""
    import getpass

    from pipelines.steward.accounts import ROLES, AccountError, add_user, users

    if args.action == "list":
        from pipelines.table import Col, print_table
        from schemas.admin import admin

        provinces = admin().provinces
        rows = [[u.name, f"{ROLES[u.role][0]} / {ROLES[u.role][1]}",
                 f"{u.province_code} {provinces[u.province_code].name}" if u.province_code else "",
                 f"{u.created_at:%Y-%m-%d %H:%M}", "có / yes" if u.disabled_at else ""] for u in users(_warehouse())]
        print_table([Col("Tên đăng nhập / Login"), Col("Vai trò / Role"), Col("Tỉnh / Province"),
                     Col("Tạo lúc / Created"), Col("Đã khoá / Disabled")], rows)
        return 0
    password = _new_password(args.password_env)
    if password is None:
        return 2
    try:
        account = add_user(_warehouse(create=True), args.name, args.role, password, province_code=args.province,
                           actor=f"cli:{getpass.getuser()}")
    except AccountError as exc:
        print(f"ccn user: {exc}", file=sys.stderr)
        return 2
    vi, en = ROLES[account.role]
    where = f" ({account.province_code})" if account.province_code else ""
    print(say(f"Đã tạo tài khoản {account.name}: {vi}{where}.", f"Account {account.name} created: {en}{where}."))
    return 0


def cmd_portal(args) -> int:
    """The stewards' portal, served by uvicorn until interrupted."""
    import uvicorn

    from pipelines.portal.app import create_app
    from pipelines.settings import settings

    s = settings()
    app = create_app(s, _warehouse(create=True), run_on_send=not args.no_run)
    print(say(f"Cổng cán bộ dữ liệu: http://{args.host}:{args.port}  (Ctrl+C để dừng; kho {s.warehouse_url})",
              f"Stewards' portal: http://{args.host}:{args.port}  (Ctrl+C stops it)"), flush=True)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


def _command(sub, name: str, func, **kwargs) -> argparse.ArgumentParser:
    """The subcommand ``name``, which runs ``func``."""
    parser = sub.add_parser(name, **kwargs)
    parser.set_defaults(func=func)
    return parser


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ccn", description=__doc__.split("\n\n")[0].replace("``", ""),
                                epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    s = _command(sub, "sample", cmd_sample, help="write a realistic national sample (four forms) and its truth.json",
                 description="Write a consistent national set of Biểu 01–04 workbooks for one period, with a "
                             "few deliberate errors and late files, and truth.json with what each file holds.")
    s.add_argument("--out", required=True, help="folder to write into (e.g. .ccn/inbox)")
    s.add_argument("--period", type=_period, default=_period("2026-H1"), help="2026-H1 (default) or 2025-Y …")
    s.add_argument("--provinces", type=int, default=3,
                   help="number of provinces (1–34, default 3; 1–63 old provinces for periods up to 2025-H1, which "
                        "are written as the old provinces and their districts reported them)")
    s.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    s.add_argument("--planted", action="store_true",
                   help="also write the period before for the same units (in OUT/<that period>/, with its own "
                        "truth.json) and plant implausible values in this one, listed in truth.json "
                        "(planted_outliers): what `ccn outliers` must find; periods from 2026-H1 on")

    r = _command(sub, "run", cmd_run,
                 help="ingest every new file in the inbox (archive, read, validate, load, summarise)",
                 description="Run the Dagster ingest job in process: every new file in the inbox is archived "
                             "by SHA-256, read, validated and loaded; the run shows in the Dagster UI.  While it "
                             "runs, each stage is named on stderr (Lưu trữ tệp / Archiving files, Đọc tệp / "
                             "Reading files, Kiểm tra / Validating, Nạp kho / Loading): on a terminal one line "
                             "per stage updates in place (validation step by step: each form, the cross-level "
                             "rules, the Data Docs); elsewhere one line when each stage ends.  At the end it "
                             "prints what the run did beside what the warehouse holds (new files, duplicates, "
                             "accepted, accepted with warnings, rejected, pending, superseded, held for a "
                             "period the Ministry has locked, late), the time "
                             "of each stage, and each rejected report with its first error and the commands "
                             "that show the rest." + TABLE_WIDTH)
    r.add_argument("--inbox", help="folder to ingest (default $CCN_HOME/inbox)")
    r.add_argument("--json", metavar="FILE", help="also write the run's counts and stage times to FILE as JSON")

    rf = _command(sub, "refresh", cmd_refresh,
                  help="refresh a period's completeness, summaries and national workbook (as the schedules do)",
                  description="Run the Dagster period_refresh job for one period in process, as the deadline "
                              "schedules do: who should report and who did, the province, region and cluster "
                              "summaries and the national workbook; the run and the assets show in the UI.")
    rf.add_argument("--period", type=_period, required=True, help="e.g. 2026-H1 or 2025-Y")

    m = _command(sub, "summary", cmd_summary, help="print the national summary (Biểu 04 over all provinces)",
                 description="Print, per period, the national summary of Biểu 04 over the provinces whose report "
                             "was accepted: each row's code, indicator name, value (to its unit's decimals, "
                             "forms.toml [unit_decimals]: whole numbers for counts, 3 for tỷ đồng, 2 for ha and %) "
                             "and unit." + TABLE_WIDTH)
    m.add_argument("--period", type=_period, help="only this period")
    m.add_argument("--truth", metavar="TRUTH_JSON", help="compare with a sample's truth.json; exit 1 on a difference")

    fi = _command(sub, "findings", cmd_findings,
                  help="list validation findings (filter by period, province, form, severity)",
                  description=_para("Every finding of the settled submissions, one row each: the finding id (for "
                              "`ccn waive`), the submission (for `ccn feedback`), form, period, province (code "
                              "and name), unit, severity and where it is (sheet!cell); under the row its rule, "
                              "file and report status, then the message in Vietnamese and English.  Ends with "
                              "the names of the forms shown, the counts and the path of the Great Expectations "
                              "Data Docs of the latest validation." + TABLE_WIDTH),
                  epilog="examples:\n  ccn findings --period 2026-H1 --province 01 --severity error\n"
                         "  ccn findings --form 04",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    fi.add_argument("--period", type=_period, help="e.g. 2026-H1 or 2025-Y")
    fi.add_argument("--province", metavar="CODE", help="2025 GSO province code, e.g. 01")
    fi.add_argument("--form", choices=form_codes(), help="Biểu number")
    fi.add_argument("--severity", choices=["error", "warning"])
    fi.add_argument("--submission", type=int, metavar="ID", help="only this submission")

    fb = _command(sub, "feedback", cmd_feedback,
                  help="write the workbook to send back: failing cells marked and commented",
                  description="Write the submission's workbook as it was received, every cell a finding "
                              "points at filled (red error, yellow warning, grey waived) and commented with "
                              "the rule, message and expected value, and a first sheet listing the findings.",
                  epilog="example:\n  ccn feedback 42 --out phan_hoi_42.xlsx",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    fb.add_argument("submission_id", type=int, metavar="SUBMISSION_ID", help="as shown by `ccn findings`")
    fb.add_argument("--out", required=True, metavar="FILE.xlsx",
                    help="where to write the feedback workbook; must end in .xlsx (any other name is refused)")

    wv = _command(sub, "waive", cmd_waive, help="accept a finding knowingly (who, why; kept for audit)",
                  description="Waive one finding: it no longer blocks its submission.  A rejected submission "
                              "whose errors are all waived loads on the next `ccn run`.  The waiver (who, "
                              "when, why) is kept and shown by `ccn findings`.",
                  epilog='example:\n  ccn waive 1234 --reason "Tỉnh xác nhận số liệu đúng (công văn 12/SCT)" '
                         '--by "Nguyễn Văn A"',
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    wv.add_argument("finding_id", type=int, metavar="FINDING_ID", help="as shown by `ccn findings`")
    wv.add_argument("--reason", required=True, help="why the finding is accepted")
    wv.add_argument("--by", required=True, metavar="NAME", help="who decides")

    ol = _command(sub, "outliers", cmd_outliers,
                  help="list a period's implausible values (outliers), each with its cell, range and why",
                  description=_para("The outliers of a period on the current reports: values implausible against "
                              "the unit's earlier periods (a growth bound, median and MAD) or against the same "
                              "form's reports of the period (in the province; the nation for Biểu 04), and reports "
                              "copied forward from the previous one (the outlier rules of validations/rules.toml). "
                              "One row each: finding id, province, form, unit, sheet!cell, row, value, plausible "
                              "range and what a steward decided; under it the rule, the indicator and why, in "
                              "Vietnamese and English. Outliers are warnings: they never block loading. `ccn run` "
                              "analyses every period whose loaded reports changed; --refresh analyses this period "
                              "now." + TABLE_WIDTH),
                  epilog="examples:\n  ccn outliers --period 2026-H1 --province 37\n"
                         "  ccn outliers --period 2026-H1 --form 02 --refresh",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    ol.add_argument("--period", type=_period, required=True, help="e.g. 2026-H1 or 2025-Y")
    ol.add_argument("--province", metavar="CODE", help="2025 GSO province code, e.g. 37")
    ol.add_argument("--form", choices=form_codes(), help="Biểu number")
    ol.add_argument("--refresh", action="store_true", help="analyse the period again first (writes its findings)")

    fu = _command(sub, "follow-up", cmd_follow_up,
                  help="mark a warning confirmed, corrected or to follow up (audited); list open follow-ups",
                  description=_para("Mark one warning (an outlier or another warning; errors are waived instead) "
                                    "confirmed (the value is right), corrected (the office corrects it) or "
                                    "follow-up (to be followed up with the office), with a comment and who decides. "
                                    "Every mark is kept and recorded in the audit trail (table audit_event); the "
                                    "latest counts (view mart_follow_ups). --list prints the open follow-ups (latest "
                                    "mark: follow-up) of a period and province; --all every followed-up finding."
                                    + TABLE_WIDTH),
                  epilog="examples:\n"
                         "  ccn follow-up 1234 --status follow-up --comment \"Hỏi lại Sở về doanh thu dòng 9\" "
                         "--by \"Nguyễn Văn A\"\n"
                         "  ccn follow-up 1234 --status confirmed --comment \"Sở xác nhận: dự án mới vào hoạt động\" "
                         "--by \"Nguyễn Văn A\"\n"
                         "  ccn follow-up --list --period 2026-H1 --province 37",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    fu.add_argument("finding_id", type=int, nargs="?", metavar="FINDING", help="as shown by `ccn outliers` or "
                    "`ccn findings`")
    fu.add_argument("--status", choices=["confirmed", "corrected", "follow-up"], help="the decision")
    fu.add_argument("--comment", help="why (required with --status)")
    fu.add_argument("--by", metavar="NAME", help="who decides (required with --status)")
    fu.add_argument("--list", action="store_true", help="list the open follow-ups instead")
    fu.add_argument("--period", type=_period, help="with --list: only this period")
    fu.add_argument("--province", metavar="CODE", help="with --list: only this 2025 province")
    fu.add_argument("--all", action="store_true", help="with --list: every followed-up finding, closed ones too")

    co = _command(sub, "completeness", cmd_completeness, help="who should have reported for a period, and who did",
                  description=_para("Print expected, received, on time, late and missing reports per form and "
                              "province.  Reads only: who should report (Biểu 04 per province, 03 per commune "
                              "with clusters, 02 per registered cluster, 01 per known project) is what `ccn "
                              "run` and `ccn register` last computed, and the time of that is printed; "
                              "--refresh recomputes it first (writes the expected reports of the period).  One "
                              "table per form (its name above it), a row per province (code and name), then the "
                              "totals per form." + TABLE_WIDTH),
                  epilog="examples:\n  ccn completeness --period 2026-H1 --province 15\n"
                         "  ccn completeness --period 2026-H1 --refresh",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    co.add_argument("--period", type=_period, required=True, help="e.g. 2026-H1 or 2025-Y")
    co.add_argument("--province", help="only this 2025 province code, e.g. 37")
    co.add_argument("--refresh", action="store_true",
                    help="recompute who should report for the period first (a write to the warehouse)")

    rm = _command(sub, "remind", cmd_remind,
                  help="remind the senders that have not reported, before or after the deadline (e-mail or drafts)",
                  description=_para("Before and after each legal deadline, write to every expected sender of the "
                              "period that has not reported (Biểu 01 projects, 02 cluster investors, 03 communes, 04 "
                              "provinces' Departments of Industry and Trade): an official letter in Vietnamese with "
                              "its English translation below, naming the units and the deadline. Kind: 'before' "
                              "while the form's deadline has not come, 'after' from the first late day (by the "
                              "clock unless --kind). Addresses come from the contacts file (CCN_CONTACTS, default "
                              "$CCN_HOME/contacts.csv): a unit with its own address gets its own letter, copied to "
                              "its province's Department; the others are listed in one letter to the Department; "
                              "units with neither are listed here as 'no address'. Sent through CCN_SMTP_URL (from "
                              "CCN_MAIL_FROM), or written as .eml drafts into $CCN_HOME/drafts when no server is "
                              "set or --drafts is given. No unit is reminded twice for the same deadline and kind "
                              "(table reminder): a run that stopped while sending leaves the reminder "
                              "'unconfirmed', never re-sent by itself. Prints a row per unit: sent, drafted, "
                              "reminded already, no address, refused, unconfirmed; under it the unit's key (as the "
                              "contacts file names it), the deadline and the addresses. Exit 0: done; 1: a unit has no "
                              "address or a reminder was refused or is unconfirmed; 2: wrong input (contacts file, "
                              "settings, code); 3: the database or the mail server cannot be used." + TABLE_WIDTH),
                  epilog="contacts file (CSV, UTF-8):\n"
                         "  province_code,form,unit_key,name,email\n"
                         "  15,,,Sở Công Thương tỉnh Lào Cai,sct.laocai@example.vn   the Department (and its Biểu 04)\n"
                         "  15,02,15-au-lau,,ccn.aulau@example.vn; ketoan@example.vn    a unit, its key as printed\n"
                         "environment:\n"
                         "  CCN_SMTP_URL   smtp://host:25, smtp+starttls://user:password@host:587 or "
                         "smtps://user:password@host:465\n"
                         "  CCN_MAIL_FROM  the address reminders come from (required with CCN_SMTP_URL)\n"
                         "  CCN_CONTACTS   the contacts file (default $CCN_HOME/contacts.csv)\n"
                         "examples:\n"
                         "  ccn remind --period 2026-H1 --dry-run            who would be reminded, and how\n"
                         "  ccn remind --period 2026-H1 --province 15 --kind after\n"
                         "  ccn remind --period 2026-Y --drafts thu_nhac/    write drafts to review, send nothing",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    rm.add_argument("--period", type=_period, required=True, help="e.g. 2026-H1 or 2025-Y")
    rm.add_argument("--province", metavar="CODE", help="only this 2025 province, e.g. 15")
    rm.add_argument("--kind", choices=["before", "after"],
                    help="only reminders of this kind (default: each form's by the clock); a form whose deadline "
                         "does not allow it is left aside with a note")
    rm.add_argument("--form", action="append", choices=form_codes(), metavar="FORM",
                    help="only this form (01–04; may be repeated)")
    rm.add_argument("--drafts", metavar="DIR",
                    help="write the letters as .eml drafts into DIR instead of sending them (recorded as reminded)")
    rm.add_argument("--dry-run", action="store_true", help="show what would be sent; send, write and record nothing")
    rm.add_argument("--resend-unconfirmed", action="store_true",
                    help="send again the reminders a stopped run left unconfirmed (after checking the mail "
                         "server's log: a recipient may get one twice)")

    ex = _command(sub, "export", cmd_export, help="write the national report workbook of a period",
                  description="ccn export national --period P --out F.xlsx: Biểu 04 for the nation in the "
                              "official layout, a sheet per region and per 2025 province (with what its "
                              "communes' Biểu 03 add up to where it differs) and the completeness sheets.")
    ex.add_argument("what", choices=["national"], help="the report to write (national)")
    ex.add_argument("--period", type=_period, required=True, help="e.g. 2026-H1 or 2025-Y")
    ex.add_argument("--out", required=True, help="the .xlsx file to write")

    bi = _command(sub, "bi-role", cmd_bi_role,
                  help="create a read-only PostgreSQL role for BI tools (reads the views only)",
                  description="Create (or re-tighten) a PostgreSQL login role that can SELECT the mart_* "
                              "views and nothing else: no table, no INSERT/UPDATE/DELETE, no CREATE, "
                              "read-only transactions. Grants are renewed whenever the views are re-created. "
                              "On the embedded SQLite warehouse there are no roles: the command says so.")
    bi.add_argument("name", help="role name: lower-case letters, digits and _")
    bi.add_argument("--password-env", metavar="VAR",
                    help="environment variable holding the role's password (never on the command line); "
                         "unset or empty is refused")
    bi.add_argument("--no-password", action="store_true",
                    help="create the role without a password, because the server authenticates it otherwise "
                         "(certificate or peer in pg_hba.conf); a new role needs this or --password-env")

    us = _command(sub, "user", cmd_user, help="accounts of the stewards' portal: add one, list them",
                  description="Accounts of the stewards' portal. There is no default account: create the first "
                              "with `ccn user add`. The password is read from an environment variable "
                              "(--password-env) or typed twice on a terminal, never given on the command line, and "
                              "is kept only as its argon2id hash. Each account created is recorded in the audit "
                              "trail (table audit_event).")
    user_sub = us.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = user_sub.add_parser("add", help="create an account")
    add.add_argument("name", help="the login: 2–64 lower-case letters, digits, '.', '_' or '-'")
    add.add_argument("--role", required=True, choices=["province", "ministry", "viewer"],
                     help="province: one province's steward (needs --province); ministry: all provinces, waives "
                          "and accepts; viewer: reads summaries only")
    add.add_argument("--province", metavar="CODE", help="the 2025 province code of a province steward, e.g. 37")
    add.add_argument("--password-env", metavar="VAR",
                     help="environment variable holding the password (at least 12 characters); without it the "
                          "password is typed twice on the terminal")
    user_sub.add_parser("list", help="the accounts, with role, province and whether disabled (no password)")

    po = _command(sub, "portal", cmd_portal, help="serve the stewards' portal (upload, check, findings, approval)",
                  description="Serve the stewards' portal on http://127.0.0.1:8080 against the same CCN_HOME and "
                              "warehouse as the other commands: province stewards upload and check workbooks and "
                              "send them into the inbox, the Ministry reviews findings, waives, accepts and unlocks "
                              "periods, viewers read the summaries. Create the first account with `ccn user add`. "
                              "After a file is sent the portal runs `ccn run` itself (one run at a time) unless "
                              "--no-run leaves it to the Dagster daemon's inbox sensor. Behind a reverse proxy on "
                              "this machine that sets X-Forwarded-Proto: https, session cookies are marked Secure.")
    po.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    po.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    po.add_argument("--no-run", action="store_true",
                    help="do not run the ingest job after a file is sent (the Dagster inbox sensor does)")

    pe = _command(sub, "period", cmd_period,
                  help="a province's period on its way to the Ministry: show, submit, accept, return, unlock",
                  description=_para("A province's period is open (reports arrive), submitted by the province "
                                    "for the Ministry's approval, accepted by the Ministry (the period is "
                                    "locked: a report that arrives for it afterwards is held, shown with its "
                                    "findings but counted nowhere, until the Ministry unlocks the period; the "
                                    "next `ccn run` then settles it), or returned to the province with a "
                                    "comment. Every change is recorded in the audit trail (table audit_event) "
                                    "with who made it (--by, recorded as cli:NAME)."),
                  epilog="examples:\n  ccn period show --period 2026-H1\n"
                         "  ccn period submit --province 37 --period 2026-H1 --by \"Nguyễn Thị Hoa\"\n"
                         "  ccn period accept --province 37 --period 2026-H1 --by \"Trần Văn Bình\"\n"
                         "  ccn period return --province 37 --period 2026-H1 --comment \"Thiếu Biểu 03 của 2 xã\" "
                         "--by \"Trần Văn Bình\"\n"
                         "  ccn period unlock --province 37 --period 2026-H1 --reason \"Tỉnh gửi bổ sung Biểu 02\" "
                         "--by \"Trần Văn Bình\"",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    period_sub = pe.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = period_sub.add_parser("show", help="the state of each province's period (a table)",
                                 description="With --period: every 2025 province (or only --province) and its "
                                             "state, open included. Without: every province and period whose "
                                             "state was ever changed.")
    show.add_argument("--period", type=_period, help="e.g. 2026-H1 or 2025-Y")
    show.add_argument("--province", metavar="CODE", help="a 2025 province code, e.g. 37")
    moves = {"submit": ("the province submits its period for the Ministry's approval (from open or returned)", None),
             "accept": ("the Ministry accepts the period and locks it (from open, submitted or returned)",
                        ("--comment", False, "a remark kept with the acceptance")),
             "return": ("the Ministry returns the period to the province (from open or submitted)",
                        ("--comment", True, "what the province must do (required)")),
             "unlock": ("the Ministry unlocks an accepted period; reports held for it settle at the next run",
                        ("--reason", True, "why the period is unlocked (required)"))}
    for action, (text, extra) in moves.items():
        mv = period_sub.add_parser(action, help=text, description=text[:1].upper() + text[1:] + ".")
        mv.add_argument("--province", required=True, metavar="CODE", help="the 2025 province code, e.g. 37")
        mv.add_argument("--period", type=_period, required=True, help="e.g. 2026-H1 or 2025-Y")
        if extra:
            flag, required, what = extra
            mv.add_argument(flag, required=required, metavar="TEXT", help=what)
        mv.add_argument("--by", required=True, metavar="NAME", help="who decides (recorded as cli:NAME)")

    rg = _command(sub, "register", cmd_register,
                  help="load provinces' cluster register workbooks (the official cluster lists)",
                  description="Load the cluster register of a province (the workbook `ccn template register` "
                              "writes, filled in) into the warehouse: its clusters become verified, are "
                              "expected to send Biểu 02 every period unless planned or withdrawn, and keep "
                              "the ID they had if they already reported under another spelling. A register "
                              "with any error loads nothing and its findings are printed with their cells; "
                              "loading the same register again changes nothing. Exit 1 when a file was "
                              "not loaded.",
                  epilog="example: ccn register danh_sach_ccn_lao_cai.xlsx")
    rg.add_argument("files", nargs="+", metavar="FILE", help="register workbooks (.xlsx or .xls)")

    t = _command(sub, "template", cmd_template, help="write an empty Biểu 01–04 (or a cluster register) to fill in",
                 description="Write an empty form in the official layout of Circular 14 with the national "
                             "identification lines: drop-down lists for province, commune (district before "
                             "2025-07-01) and period, labels locked (sheet protection, no password), only "
                             "column (4) and the identification values open, number formats per unit. "
                             "'register' writes a province's cluster list (name, commune, type, status, "
                             "areas, decisions, investor).",
                 epilog="examples:\n  ccn template 02 --out bieu02.xlsx\n"
                        "  ccn template 03 --province 15 --out bieu03_lao_cai.xlsx"
                        "   (communes of one province only)\n"
                        "  ccn template 03 --generation district --out bieu03_2025H1.xlsx\n"
                        "  ccn template register --province 15 --out ccn_lao_cai.xlsx",
                 formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("form", choices=[*form_codes(), *(f.lstrip("0") for f in form_codes()), "register"],
                   help="01 project, 02 cluster investor, 03 commune, 04 province, or register")
    t.add_argument("--out", required=True, help="the .xlsx file to write")
    t.add_argument("--generation", choices=["commune", "district"], default="commune",
                   help="commune wording (from 2025-07-01, default) or district wording (reports up to 2025-H1)")
    t.add_argument("--province", help="GSO province code: list only this province and its communes (shorter lists)")

    ck = _command(sub, "check", cmd_check,
                  help="check workbooks or folders before sending: every finding with sheet and cell; "
                                "exit 1 on error",
                  description="Read each workbook as the pipeline will (forms, identification, values, "
                              "within-form rules; a cluster register as a register) without writing anything. "
                              "A folder is searched with its subfolders for workbooks (.xlsx .xlsm .xls .ods; "
                              "hidden files and office lock files ~$… left aside).  Prints each file's "
                              "findings with sheet and cell, in Vietnamese and English, then the count. "
                              "Exit status: 0 when no file has an error (warnings allowed), 1 otherwise, "
                              "2 when a folder holds no workbook.",
                  epilog="examples:\n  ccn check bieu03_xa_phu_thinh.xlsx bieu02_*.xlsx\n"
                         "  ccn check bao_cao_6_thang/          every workbook in the folder and below\n"
                         "  ccn check --json bao_cao_6_thang/ > ket_qua.json",
                  formatter_class=argparse.RawDescriptionHelpFormatter)
    ck.add_argument("files", nargs="+", metavar="FILE_OR_FOLDER",
                    help="workbooks (.xlsx .xlsm .xls .ods) or folders holding them")
    ck.add_argument("--json", action="store_true", help="print the findings as JSON instead of text")

    u = _command(sub, "ui", cmd_ui, help="open the Dagster UI on this home (dagster dev -w workspace.yaml)")
    u.add_argument("--port", type=int, default=3000)
    return p


def _no_warehouse(command: str, exc) -> None:
    """Where a read-only command looked for the warehouse, and how to point it at one."""
    from pipelines.settings import settings

    s = settings()
    if s.is_embedded:
        where_vi = f"không có kho dữ liệu {exc.where} (CCN_HOME={s.home})"
        where_en = f"no warehouse at {exc.where} (CCN_HOME={s.home})"
        if exc.reason == "empty":
            where_vi, where_en = f"tệp {exc.where} không chứa kho dữ liệu", f"{exc.where} holds no warehouse"
        how_vi = ("đặt CCN_HOME là thư mục chứa warehouse.sqlite, hoặc CCN_WAREHOUSE_URL là địa chỉ kho dữ liệu "
                  "(PostgreSQL); `ccn run` tạo kho mới")
        how_en = ("set CCN_HOME to the folder holding warehouse.sqlite, or CCN_WAREHOUSE_URL to the warehouse's URL "
                  "(PostgreSQL); `ccn run` creates a new one")
    else:
        where_vi = f"cơ sở dữ liệu {exc.where} (CCN_WAREHOUSE_URL) không chứa kho dữ liệu"
        where_en = f"the database {exc.where} (CCN_WAREHOUSE_URL) holds no warehouse"
        how_vi = "đặt CCN_WAREHOUSE_URL là địa chỉ kho dữ liệu; `ccn run` tạo kho mới"
        how_en = "set CCN_WAREHOUSE_URL to the warehouse's URL; `ccn run` creates a new one"
    _fail(command, f"{where_vi}; {how_vi}.", f"{where_en}; {how_en}.")


def _database_error(command: str, exc) -> None:
    """A database that cannot be reached or refuses the command: one line, with the driver's own first line."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError

    from pipelines.settings import settings
    from schemas.database import warehouse_location

    where = warehouse_location(settings().warehouse_url)
    lines = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    detail = " ".join(lines[0].split()) if lines else type(exc).__name__
    low = detail.lower()
    if isinstance(exc, (ArgumentError, NoSuchModuleError)):
        vi, en = f"CCN_WAREHOUSE_URL không phải địa chỉ kho dữ liệu dùng được ({where})", \
            f"CCN_WAREHOUSE_URL is not a usable warehouse URL ({where})"
    elif "does not exist" in low:
        vi, en = f"cơ sở dữ liệu {where} không tồn tại; kiểm tra CCN_WAREHOUSE_URL", \
            f"the database {where} does not exist; check CCN_WAREHOUSE_URL"
    elif isinstance(exc, OperationalError) and ("password" in low or "authentication" in low):
        vi, en = f"máy chủ cơ sở dữ liệu {where} từ chối đăng nhập; kiểm tra CCN_WAREHOUSE_URL", \
            f"the database server {where} refused the login; check CCN_WAREHOUSE_URL"
    elif isinstance(exc, OperationalError):
        vi, en = f"không mở được kho dữ liệu {where}; kiểm tra máy chủ và CCN_WAREHOUSE_URL", \
            f"cannot open the warehouse {where}; check the server and CCN_WAREHOUSE_URL"
    else:
        vi, en = f"kho dữ liệu {where} báo lỗi", f"the warehouse {where} reported an error"
    _fail(command, f"{vi}.", f"{en} ({detail}).")


def _is_database_error(exc: BaseException) -> bool:
    sa = sys.modules.get("sqlalchemy.exc")
    return sa is not None and isinstance(exc, sa.SQLAlchemyError)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        code = args.func(args)
        sys.stdout.flush()  # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:
        # the reader went away (`ccn summary | head -1`): stop quietly, as a program killed by SIGPIPE would
        try:  # the interpreter flushes stdout again at exit: let that go nowhere
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
        except (AttributeError, OSError, ValueError):  # a stdout without a file descriptor
            pass
        return 141
    except Exception as exc:  # only the two kinds below are answered, the rest is re-raised
        from schemas.database import WarehouseMissing

        if isinstance(exc, WarehouseMissing):
            _no_warehouse(args.command, exc)
            return 2
        if _is_database_error(exc):
            _database_error(args.command, exc)
            return 3
        raise


if __name__ == "__main__":
    raise SystemExit(main())
