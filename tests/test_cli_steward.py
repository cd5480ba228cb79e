"""The command line a steward meets (issue 11, part 6), run as the real ``ccn`` command in a subprocess.

* ``ccn check FOLDER`` checks every workbook in the folder and its subfolders, prints each file and the count,
  and exits 1 when a file has an error;
* a command that only reads never creates a warehouse: with none where CCN_HOME / CCN_WAREHOUSE_URL point,
  it says where it looked and how to point it at one, and exits 2;
* ``ccn completeness`` reads only, unless ``--refresh``;
* a database that cannot be reached (or does not exist) is one line on stderr and exit 3, not a traceback;
* a closed pipe (``ccn summary | head -1``) ends quietly;
* every message is wholly Vietnamese, then `` — `` and wholly English;
* ``ccn feedback --out x.xls`` is refused.

Workbooks come from ``ccn sample``; the warehouse is filled by ``ccn run`` on SQLite, and the database errors
use the real PostgreSQL server on 127.0.0.1:5432.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, inspect, select

pytestmark = pytest.mark.slow  # each test starts ccn as a subprocess: 74 s measured for the module

CCN = str(Path(sys.executable).with_name("ccn"))

VI_LETTERS = set("ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ")
MIXED = ("tệp/files", "lỗi/errors", "giá trị/values", "cảnh báo/warnings", "cụm/clusters", "(không có tệp này)")


def env_for(home: Path, url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("CCN_WAREHOUSE_URL", "DAGSTER_HOME", "CCN_HOME")}
    env["CCN_HOME"] = str(home)
    if url:
        env["CCN_WAREHOUSE_URL"] = url
    return env


def ccn(*args: str, home: Path, url: str | None = None, cwd: Path | None = None,
        timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([CCN, *args], env=env_for(home, url), cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, check=False)


def assert_bilingual(line: str) -> None:
    """``[ccn CMD: ]<Vietnamese> — <English>``: one separator, Vietnamese before it, none after it."""
    body = line.split(": ", 1)[1] if line.startswith("ccn ") else line
    assert body.count(" — ") == 1, line
    vi, _, en = body.partition(" — ")
    assert any(ch in VI_LETTERS for ch in vi.lower()), f"no Vietnamese before the dash: {line!r}"
    en = en.replace("Biểu", "")  # the forms' name, as written in both languages
    assert not any(ch in VI_LETTERS for ch in en.lower()), f"Vietnamese in the English half: {line!r}"


# ───────────────────────────────────────────── fixtures ─────────────────────────────────────────────


@pytest.fixture(scope="module")
def sample(tmp_path_factory) -> tuple[Path, dict]:
    """A one-province 2026-H1 sample written by ``ccn sample``, and its truth."""
    base = tmp_path_factory.mktemp("steward")
    out = base / "sample"
    done = ccn("sample", "--out", str(out), "--period", "2026-H1", "--provinces", "1", "--seed", "5",
               home=base / "unused_home")
    assert done.returncode == 0, done.stderr
    (out / "ccn_sample.out").write_text(done.stdout, encoding="utf-8")  # not a workbook: `ccn check` leaves it aside
    return out, json.loads((out / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def loaded_home(sample, tmp_path_factory) -> Path:
    """A home whose SQLite warehouse ``ccn run`` filled with the sample."""
    folder, _ = sample
    home = tmp_path_factory.mktemp("loaded_home")
    done = ccn("run", "--inbox", str(folder), home=home, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert (home / "warehouse.sqlite").is_file()
    (home / "run.out").write_text(done.stdout, encoding="utf-8")
    return home


def _files(truth: dict, status: str, prefix: str) -> list[str]:
    return sorted(f["file"] for f in truth["files"]
                  if f["expected_status"] == status and Path(f["file"]).name.startswith(prefix))


def _copy(sample_dir: Path, rel: str, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(sample_dir / rel, dest)
    return dest


def _sqlite(home: Path):
    return create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")


# ───────────────────────────────────────── ccn check FOLDER ─────────────────────────────────────────


@pytest.fixture
def folder(sample, tmp_path) -> tuple[Path, list[Path], Path]:
    """A province's outbox: two good workbooks and a bad one in subfolders, and files that are no workbooks
    (a text file, an office lock file, a hidden folder with a broken workbook).  Returns the folder, the three
    workbooks in sorted order and the bad one."""
    sample_dir, truth = sample
    good02 = _files(truth, "accepted", "bieu02_")[0]
    good03 = _files(truth, "accepted", "bieu03_")[0]
    bad01 = next(f["file"] for f in truth["files"] if f["expected_status"] == "rejected"
                 and "value.not_a_number" in f["errors"])
    root = tmp_path / "gui_di"
    books = [_copy(sample_dir, good02, root / "cum" / Path(good02).name),
             _copy(sample_dir, bad01, root / "cum" / "sai" / Path(bad01).name),
             _copy(sample_dir, good03, root / "xa" / Path(good03).name)]
    (root / "ghi_chu.txt").write_text("không phải bảng tính", encoding="utf-8")
    (root / "cum" / f"~${Path(good02).name}").write_bytes(b"\x00lock")  # Excel's lock file of an open workbook
    (root / ".an").mkdir()
    (root / ".an" / "hong.xlsx").write_bytes(b"PK\x03\x04garbage")  # a hidden folder is not looked into
    return root, sorted(books), books[1]


def test_check_a_folder_checks_every_workbook_below_it(folder):
    root, books, bad = folder
    done = ccn("check", str(root), home=root.parent / "home")
    assert done.returncode == 1, done.stdout + done.stderr
    out = done.stdout
    assert "no such file" not in out + done.stderr
    assert [line[3:] for line in out.splitlines() if line.startswith("== ")] == [str(b) for b in books]
    # each file's own result: the bad one with its error and cell, the good ones OK
    part = out.split(f"== {bad}\n", 1)[1].split("\n== ", 1)[0]
    assert "LỖI / ERROR" in part and "value.not_a_number" in part and "!D" in part
    assert out.count("OK: không có lỗi hay cảnh báo — no errors or warnings") == 2

    as_json = ccn("check", "--json", str(root), home=root.parent / "home")
    assert as_json.returncode == 1
    results = json.loads(as_json.stdout)
    assert [r["file"] for r in results] == [str(b) for b in books]
    errors, warnings = sum(r["errors"] for r in results), sum(r["warnings"] for r in results)
    assert [r["file"] for r in results if r["errors"]] == [str(bad)]
    last = out.strip().splitlines()[-1]
    assert last == (f"3 tệp (1 tệp có lỗi): {errors} lỗi, {warnings} cảnh báo; sửa các lỗi trước khi gửi. — "
                    f"3 files (1 with errors): {errors} errors, {warnings} warnings; fix the errors before sending.")
    assert "Bỏ qua 2 tệp không phải bảng tính" in out  # the text file and the lock file, said, not checked
    for line in (last, next(x for x in out.splitlines() if x.startswith("Bỏ qua"))):
        assert_bilingual(line)
    assert not any(token in out for token in MIXED)


def test_a_folder_of_good_workbooks_exits_0_and_files_and_folders_mix(folder, tmp_path):
    root, books, bad = folder
    bad.unlink()
    loose = tmp_path / "bieu02_rieng.xlsx"
    shutil.copy2(books[0], loose)
    done = ccn("check", str(root), str(loose), home=tmp_path / "home")
    assert done.returncode == 0, done.stdout
    last = done.stdout.strip().splitlines()[-1]
    assert last.endswith("3 files (0 with errors): 0 errors, 0 warnings; ready to send.")
    headers = [line[3:] for line in done.stdout.splitlines() if line.startswith("== ")]
    assert headers == [str(b) for b in books if b != bad] + [str(loose)]


def test_every_workbook_format_is_looked_for(sample, tmp_path):
    """.xlsx .xlsm .xls .ods, whatever the case of the extension; what they hold is the reader's business."""
    sample_dir, truth = sample
    good = _files(truth, "accepted", "bieu02_")[0]
    root = tmp_path / "formats"
    names = ["a.xlsx", "b.XLSM", "c.xls", "d.ods", "sub/e.Xlsx"]
    for name in names:
        _copy(sample_dir, good, root / name)
    _copy(sample_dir, good, root / "f.xlsx.bak")
    _copy(sample_dir, good, root / "g.csv")
    done = ccn("check", "--json", str(root), home=tmp_path / "home")
    assert done.returncode in (0, 1), done.stderr
    assert sorted(Path(r["file"]).relative_to(root).as_posix() for r in json.loads(done.stdout)) == sorted(names)


def test_a_folder_without_workbooks_is_an_error_not_zero_files(tmp_path):
    root = tmp_path / "nham_thu_muc"
    (root / "con").mkdir(parents=True)
    (root / "con" / "readme.txt").write_text("x", encoding="utf-8")
    done = ccn("check", str(root), home=tmp_path / "home")
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(root) in lines[0] and "no workbook" in lines[0]
    assert_bilingual(lines[0])


def test_sample_and_template_say_what_they_wrote(sample, tmp_path):
    folder, _ = sample
    assert_bilingual((folder / "ccn_sample.out").read_text(encoding="utf-8").strip())
    done = ccn("template", "03", "--province", "15", "--out", str(tmp_path / "b03.xlsx"), home=tmp_path / "home")
    assert done.returncode == 0 and (tmp_path / "b03.xlsx").is_file()
    assert_bilingual(done.stdout.strip())
    done = ccn("template", "03", "--out", str(tmp_path / "b03.xls"), home=tmp_path / "home")
    assert done.returncode == 2
    assert_bilingual(done.stderr.strip())


def test_check_help_explains_folders():
    done = subprocess.run([CCN, "check", "--help"], capture_output=True, text=True, check=False)
    assert done.returncode == 0
    assert "FILE_OR_FOLDER" in done.stdout and "subfolders" in done.stdout and ".ods" in done.stdout


# ───────────────────────────────── read-only commands never create a warehouse ─────────────────────────────────

READ_ONLY = {
    "summary": ["summary", "--period", "2026-H1"],
    "findings": ["findings", "--severity", "error"],
    "completeness": ["completeness", "--period", "2026-H1"],
    "completeness --refresh": ["completeness", "--period", "2026-H1", "--refresh"],
    "feedback": ["feedback", "1", "--out", "{tmp}/phan_hoi.xlsx"],
    "export": ["export", "national", "--period", "2026-H1", "--out", "{tmp}/quoc_gia.xlsx"],
    "waive": ["waive", "1", "--reason", "Sở xác nhận", "--by", "Nguyễn Văn A"],
}


@pytest.mark.parametrize("command", list(READ_ONLY))
def test_no_warehouse_in_ccn_home_is_said_and_nothing_is_created(command, tmp_path):
    home = tmp_path / "wrong_folder" / ".ccn"
    args = [a.replace("{tmp}", str(tmp_path)) for a in READ_ONLY[command]]
    done = ccn(*args, home=home, cwd=tmp_path)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr
    line = lines[0]
    assert line.startswith(f"ccn {args[0]}: ")
    assert str(home / "warehouse.sqlite") in line and f"CCN_HOME={home}" in line and "CCN_WAREHOUSE_URL" in line
    assert_bilingual(line)
    assert list(tmp_path.iterdir()) == []  # no home, no empty warehouse, no output file


def test_an_empty_home_and_an_empty_file_stay_as_they_are(tmp_path):
    home = tmp_path / ".ccn"
    home.mkdir()
    done = ccn("summary", home=home)
    assert done.returncode == 2 and "no warehouse at" in done.stderr
    assert list(home.iterdir()) == []
    (home / "warehouse.sqlite").write_bytes(b"")  # e.g. left by `touch`
    done = ccn("findings", home=home)
    assert done.returncode == 2 and "holds no warehouse" in done.stderr
    assert sorted(p.name for p in home.iterdir()) == ["warehouse.sqlite"]
    assert (home / "warehouse.sqlite").stat().st_size == 0


def test_an_empty_postgresql_database_is_not_turned_into_a_warehouse(pg_url, tmp_path):
    done = ccn("completeness", "--period", "2026-H1", home=tmp_path / "home", url=pg_url)
    assert done.returncode == 2, done.stderr
    line = done.stderr.strip()
    assert "\n" not in line and "holds no warehouse" in line and pg_url.rsplit("/", 1)[1] in line
    assert_bilingual(line)
    engine = create_engine(pg_url)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == [] and inspect(conn).get_view_names() == []
    finally:
        engine.dispose()


def test_the_loaded_warehouse_is_found_from_any_folder(loaded_home, tmp_path):
    done = ccn("summary", "--period", "2026-H1", home=loaded_home, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    first = done.stdout.splitlines()[0]
    assert first.startswith("Tổng hợp toàn quốc kỳ 2026-H1 (Biểu 04, 1 tỉnh) — National summary 2026-H1")
    assert_bilingual(first)
    done = ccn("findings", "--severity", "error", home=loaded_home, cwd=tmp_path)
    assert done.returncode == 0
    total = next(line for line in done.stdout.splitlines() if "findings:" in line)
    assert_bilingual(total)
    assert_bilingual(next(line for line in done.stdout.splitlines() if line.startswith("Data Docs")))


# ─────────────────────────────────────── completeness reads only ───────────────────────────────────────


def _expected(home: Path, period: str) -> tuple[int, object]:
    from schemas.tables import expected_report as e

    engine = _sqlite(home)
    try:
        with engine.connect() as conn:
            return conn.execute(select(func.count(), func.max(e.c.refreshed_at)).where(e.c.period == period)).one()
    finally:
        engine.dispose()


def test_completeness_reads_only_unless_refresh(loaded_home, sample):
    before = _expected(loaded_home, "2026-H1")
    assert before[0] > 0  # `ccn run` computed who should report
    done = ccn("completeness", "--period", "2026-H1", home=loaded_home)
    assert done.returncode == 0, done.stderr
    assert _expected(loaded_home, "2026-H1") == before  # not recomputed: same rows, same time
    lines = done.stdout.splitlines()
    for line in (lines[0], next(x for x in lines if x.startswith("Kỳ 2026-H1")), lines[-1]):
        assert_bilingual(line)
    assert "--refresh" in lines[-1]
    totals = lines[lines.index(next(x for x in lines if x.startswith("Kỳ 2026-H1"))):]
    b04 = next(line.split() for line in totals if line.startswith("04 "))
    assert b04[-5] == "34"

    # a period never computed: said, not computed behind the steward's back
    assert _expected(loaded_home, "2026-Y")[0] == 0
    done = ccn("completeness", "--period", "2026-Y", home=loaded_home)
    assert done.returncode == 0
    assert "never computed" in done.stdout and "--refresh" in done.stdout
    assert_bilingual(done.stdout.strip())
    assert _expected(loaded_home, "2026-Y")[0] == 0

    done = ccn("completeness", "--period", "2026-Y", "--refresh", home=loaded_home)
    assert done.returncode == 0, done.stderr
    count, when = _expected(loaded_home, "2026-Y")
    assert count >= 34 and when is not None
    assert done.stdout.startswith("Đã tính lại danh sách phải báo cáo kỳ 2026-Y")
    assert_bilingual(done.stdout.splitlines()[0])


def test_completeness_help_names_refresh():
    done = subprocess.run([CCN, "completeness", "--help"], capture_output=True, text=True, check=False)
    assert "--refresh" in done.stdout and "Reads only" in done.stdout


# ─────────────────────────────────────────── database errors ───────────────────────────────────────────


@pytest.mark.parametrize("args", [["summary"], ["findings"], ["completeness", "--period", "2026-H1"],
                                  ["run", "--inbox", "."]])
def test_an_unreachable_server_is_one_line(args, tmp_path):
    url = "postgresql+psycopg://postgres@127.0.0.1:1/test"
    done = ccn(*args, home=tmp_path / "home", url=url, timeout=120)
    assert done.returncode == 3
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"ccn {args[0]}: ") and "127.0.0.1:1/test" in lines[0] and "refused" in lines[0]
    assert_bilingual(lines[0])
    assert not (tmp_path / "home").exists()


def test_a_missing_database_is_one_line(pg_server, tmp_path):
    name = f"ccn_absent_{uuid.uuid4().hex[:10]}"
    url = pg_server.rsplit("/", 1)[0] + f"/{name}"
    for args in (["summary", "--period", "2026-H1"], ["feedback", "3", "--out", str(tmp_path / "f.xlsx")]):
        done = ccn(*args, home=tmp_path / "home", url=url)
        assert done.returncode == 3, done.stderr
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and "Traceback" not in done.stderr
        assert name in lines[0] and "does not exist" in lines[0]
        assert_bilingual(lines[0])
    assert not (tmp_path / "f.xlsx").exists()


def test_a_malformed_url_is_one_line(tmp_path):
    done = ccn("findings", home=tmp_path / "home", url="postgres-ql://nowhere/db")
    assert done.returncode == 3
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "CCN_WAREHOUSE_URL" in lines[0] and "Traceback" not in done.stderr


# ───────────────────────────────────────────── closed pipe ─────────────────────────────────────────────


@pytest.mark.parametrize("args", [["summary", "--period", "2026-H1"], ["findings"], ["check", "{sample}"]])
def test_a_closed_pipe_ends_quietly(args, loaded_home, sample):
    folder, _ = sample
    args = [a.replace("{sample}", str(folder)) for a in args]
    proc = subprocess.Popen([CCN, *args], env=env_for(loaded_home), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line is written
    err = proc.stderr.read().decode()
    proc.wait(timeout=300)
    assert err == ""
    assert proc.returncode == 141


def test_head_of_the_summary(loaded_home):
    done = subprocess.run(f"'{CCN}' summary --period 2026-H1 | head -1", shell=True,  # noqa: S602 - the pipe is tested
                          env=env_for(loaded_home), capture_output=True, text=True, check=False)
    assert done.stderr == ""
    assert done.stdout.startswith("Tổng hợp toàn quốc kỳ 2026-H1") and done.stdout.count("\n") == 1


# ─────────────────────────────────────────── feedback --out ───────────────────────────────────────────


def _rejected_submission(home: Path) -> int:
    from schemas.tables import submission as s

    engine = _sqlite(home)
    try:
        with engine.connect() as conn:
            return conn.execute(select(s.c.submission_id).where(s.c.status == "rejected", s.c.form.is_not(None))
                                .order_by(s.c.submission_id)).scalars().first()
    finally:
        engine.dispose()


@pytest.mark.parametrize("name", ["phan_hoi.xls", "phan_hoi.ods", "phan_hoi", "phan_hoi.xlsm"])
def test_feedback_refuses_a_name_that_is_not_xlsx(name, loaded_home, tmp_path):
    sid = _rejected_submission(loaded_home)
    out = tmp_path / name
    done = ccn("feedback", str(sid), "--out", str(out), home=loaded_home)
    assert done.returncode == 2
    line = done.stderr.strip()
    assert "\n" not in line and ".xlsx" in line and name in line
    assert_bilingual(line)
    assert not out.exists()


def test_feedback_writes_xlsx(loaded_home, tmp_path):
    sid = _rejected_submission(loaded_home)
    out = tmp_path / "PHAN_HOI.XLSX"
    done = ccn("feedback", str(sid), "--out", str(out), home=loaded_home)
    assert done.returncode == 0, done.stderr
    assert_bilingual(done.stdout.strip())
    assert zipfile.is_zipfile(out)
    from openpyxl import load_workbook

    assert load_workbook(out).sheetnames[0] == "Kết quả kiểm tra"


def test_refresh_materialises_the_period_where_the_ui_looks(loaded_home):
    """Issue 13: after `ccn run`, `ccn refresh --period P` runs the period_refresh job as the deadline schedules
    do, so every per-period asset of P is materialised in the home's Dagster instance (the UI shows none grey);
    a period outside the report periods and a home without a warehouse are refused in one bilingual line."""
    from dagster import AssetKey, DagsterInstance

    from pipelines.settings import Settings

    done = ccn("refresh", "--period", "2026-H1", home=loaded_home)
    assert done.returncode == 0, done.stderr
    assert_bilingual(done.stdout.strip())
    dagster_home = Settings(home=loaded_home, warehouse_url="").dagster_home
    with DagsterInstance.from_config(str(dagster_home)) as instance:
        for asset in ("completeness", "province_summary", "region_summary", "cluster_status",
                      "national_report"):
            assert "2026-H1" in instance.get_materialized_partitions(AssetKey(asset)), asset
    assert (loaded_home / "exports" / "national_2026-H1.xlsx").is_file()
    for args, home in ((("--period", "2040-H1"), loaded_home), (("--period", "2026-H1"), loaded_home / "empty")):
        refused = ccn("refresh", *args, home=home)
        assert refused.returncode == 2 and refused.stdout == ""
        assert_bilingual(refused.stderr.strip())


def test_run_lists_what_it_rejected_and_how_to_see_more(loaded_home, sample):
    """Issue 13: `ccn run` names each file it rejected with its first error, and the commands that show the rest."""
    _, truth = sample
    out = (loaded_home / "run.out").read_text(encoding="utf-8")
    listed = [line for line in out.splitlines() if line.startswith("  #")]  # one line per rejected report
    rejected = {Path(f["file"]).name for f in truth["files"] if f["expected_status"] == "rejected"}
    rejected.add("ccn_sample.out")  # the fixture's note beside the workbooks: not a workbook, so refused
    assert len(rejected) > 1 and {re.match(r"  #\d+  (.+?)(?: › .*)?: ", line)[1] for line in listed} == rejected
    assert all(" — " in line for line in listed)  # the first error, in Vietnamese then English
    assert "ccn findings --submission ID" in out and "ccn feedback ID" in out
