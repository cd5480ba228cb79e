"""What ``ccn run``, ``ccn findings``, ``ccn completeness`` and ``ccn summary`` print (issue 13, the terminal), run
as the real ``ccn`` command on a home that ``ccn sample`` and ``ccn run`` made (the sample of test_cli_steward).

* ``ccn run`` names its stages in words on stderr, validation included, and closes with accepted, accepted with
  warnings, rejected and pending each on its own line, equal to what the warehouse holds;
* the three reading commands print Vietnamese headers with English glosses, province names (schemas.admin)
  beside province codes, form and indicator names beside their codes;
* no word is cut: piped, every row is whole (whatever COLUMNS says); on a terminal of 80 and 120 columns every
  line fits, long cells wrapped at spaces, and no token printed is a cut form of a word of a name.
"""

from __future__ import annotations

import os
import pty
import re
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from pipelines.table import text_width
from schemas.admin import admin
from schemas.forms import load_forms
from tests.test_cli_steward import CCN, env_for, sample  # noqa: F401 - the sample fixture, shared

pytestmark = pytest.mark.slow  # ccn as a subprocess: about 30 s for the module


def run(*args: str, home: Path) -> subprocess.CompletedProcess:
    """ccn with its output piped (COLUMNS set, to show it does not matter there)."""
    env = {**env_for(home), "COLUMNS": "40"}
    return subprocess.run([CCN, *args], env=env, capture_output=True, text=True, timeout=600, check=False)


def on_terminal(*args: str, home: Path, columns: int) -> tuple[int, str]:
    """ccn with its standard output on a terminal (a pseudo-terminal) ``columns`` wide: exit status, output."""
    master, slave = pty.openpty()
    env = {**env_for(home), "COLUMNS": str(columns)}
    proc = subprocess.Popen([CCN, *args], env=env, stdin=subprocess.DEVNULL, stdout=slave,
                            stderr=subprocess.DEVNULL)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:  # the other end closed: the command has ended
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return proc.wait(timeout=600), b"".join(chunks).decode().replace("\r\n", "\n")


@pytest.fixture(scope="module")
def ran(sample, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:  # noqa: F811 - the fixture above
    folder, _ = sample
    home = tmp_path_factory.mktemp("terminal_home")
    done = run("run", "--inbox", str(folder), home=home)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return home, done


def _query(home: Path, sql: str) -> list:
    engine = create_engine(f"sqlite:///{home / 'warehouse.sqlite'}")
    try:
        with engine.connect() as conn:
            return conn.execute(text(sql)).all()
    finally:
        engine.dispose()


def _row(out: str, label: str) -> list[str]:
    """The numbers after ``label`` on its line of the run's closing table."""
    line = next(x for x in out.splitlines() if x.strip().startswith(label + "  "))
    return line.strip()[len(label):].split()


# ─────────────────────────────────────────────── ccn run ───────────────────────────────────────────────


def test_run_names_its_stages_and_shows_validation_progress(ran):
    home, done = ran
    forms = {r[0] for r in _query(home, "SELECT DISTINCT form FROM submission WHERE form IS NOT NULL")}
    assert forms == {"01", "02", "03", "04"}
    err = done.stderr.splitlines()
    validating = [x for x in err if x.startswith("Kiểm tra: ")]
    assert len(validating) == 1, done.stderr
    # a step per form, the cross-level rules and the Data Docs
    assert re.fullmatch(r"Kiểm tra: 6 bước trong [\d.]+ giây — Validating: 6 steps in [\d.]+s", validating[0])
    for vi, en in (("Lưu trữ tệp", "Archiving files"), ("Đọc tệp", "Reading files"), ("Nạp kho", "Loading")):
        assert any(x.startswith(f"{vi}: ") and f" — {en}: " in x for x in err), done.stderr
    # the stage times name the stages in words, not by their step ids
    assert "Kiểm tra / Validating" in done.stdout and "Đọc tệp / Reading files" in done.stdout
    assert not re.search(r"^\s*(inbox_files|read_reports|findings|warehouse)\s", done.stdout, re.MULTILINE)


def test_run_counts_accepted_with_warnings_on_its_own_line(ran):
    home, done = ran
    held = dict(_query(home, "SELECT status, COUNT(*) FROM submission GROUP BY status"))
    assert held.get("accepted_with_warnings", 0) > 0  # the sample's late reports
    out = done.stdout
    assert "Lần chạy này / This run" in out and "Trong kho / In the warehouse" in out
    for label, status in (("Nhận / Accepted", "accepted"),
                          ("Nhận, có cảnh báo / Accepted with warnings", "accepted_with_warnings"),
                          ("Từ chối / Rejected", "rejected"), ("Chờ xử lý / Pending", "pending")):
        # a fresh home: what the run settled is what the warehouse holds
        assert _row(out, label) == [str(held.get(status, 0))] * 2, (label, out)
    # the rejected files with their first error and the commands, as before
    assert "Bị từ chối, với lỗi đầu tiên của mỗi báo cáo" in out and "ccn feedback ID" in out


# ─────────────────────────────────────── findings, completeness, summary ───────────────────────────────────────

COMMANDS = {"findings": ["findings"], "completeness": ["completeness", "--period", "2026-H1"],
            "summary": ["summary", "--period", "2026-H1"]}
HEADERS = {"findings": ["Phát hiện / Finding", "Hồ sơ / Submission", "Biểu / Form", "Kỳ / Period",
                        "Tỉnh / Province", "Đơn vị / Unit", "Mức độ / Severity", "Vị trí / Where"],
           "completeness": ["Tỉnh / Province", "Phải nộp / Expected", "Đã nhận / Received", "Đúng hạn / On time",
                            "Muộn / Late", "Còn thiếu / Missing", "Biểu / Form"],
           "summary": ["Mã / Code", "Chỉ tiêu / Indicator", "Giá trị / Value", "Đơn vị tính / Unit"]}


def _names(home: Path) -> list[str]:
    """Every name these commands may print: units of the warehouse, provinces, forms and indicators."""
    units = [r[0] for r in _query(home, "SELECT DISTINCT unit_name FROM submission WHERE unit_name IS NOT NULL")]
    provinces = [u.name for u in admin().provinces.values()]
    forms = [f.title for f in load_forms().values()] + [f.title_en for f in load_forms().values()]
    rows = [r.label_vi for f in load_forms().values() for r in f.rows]
    return units + provinces + forms + rows


def _cut_words(out: str, names: list[str], home: Path) -> set[str]:
    """Tokens of ``out`` that are a beginning of a word of a name but no word themselves (of a name, a message
    of the warehouse or a header): words cut short."""
    strip = "():,;.\"'"
    words = {w.strip(strip) for n in names for w in n.split()}
    other = [r[0] for r in _query(home, "SELECT DISTINCT message FROM validation_finding")]
    other += [h for hs in HEADERS.values() for h in hs]
    known = words | {w.strip(strip) for t in other for w in t.split()}
    known |= {w.lower() for w in known}
    tokens = {t.strip("():,;.\"") for t in out.split()}
    return {t for t in tokens if any(ch.isalpha() for ch in t) and t not in known and t.lower() not in known
            and any(w.startswith(t) and w != t for w in words)}


@pytest.mark.parametrize("command", list(COMMANDS))
def test_headers_are_bilingual_and_rows_whole_when_piped(command, ran):
    home, _ = ran
    done = run(*COMMANDS[command], home=home)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    lines = out.splitlines()
    for header in HEADERS[command]:
        assert any(header in line for line in lines), (header, out[:3000])
    assert "…" not in out
    assert not _cut_words(out, _names(home), home)
    if command == "findings":
        for code, unit in _query(home, "SELECT DISTINCT province_code, unit_name FROM mart_findings "
                                       "WHERE province_code IS NOT NULL"):
            assert f"{code} {admin().provinces[code].name}" in out  # the name beside the code
            assert unit in out  # piped: every unit name whole on its line
        assert any(line.startswith("Biểu 01: " + load_forms()["01"].title + " — ") for line in lines)
    if command == "completeness":
        for code, name in ((c, u.name) for c, u in admin().provinces.items()):  # all 34 owe a Biểu 04
            assert any(line.startswith(f"{code} {name}  ") for line in lines), code
        for form, spec in load_forms().items():
            assert f"Biểu {form}: {spec.title} — Biểu {form}: {spec.title_en}" in lines
            assert any(line.startswith(f"{form} {spec.title}  ") for line in lines)
    if command == "summary":
        for code, name in _query(home, "SELECT indicator_code, indicator_name FROM mart_national_summary "
                                       "WHERE period = '2026-H1'"):
            assert any(re.match(rf"\s*{re.escape(code)}  {re.escape(name)}\s", line) for line in lines), code


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_at_80_and_120_columns_lines_fit_and_no_word_is_cut(command, columns, ran):
    home, _ = ran
    code, out = on_terminal(*COMMANDS[command], home=home, columns=columns)
    assert code == 0, out
    assert any(text_width(line) > columns for line in run(*COMMANDS[command], home=home).stdout.splitlines())
    too_long = [line for line in out.splitlines() if text_width(line) > columns and len(line.split()) > 1]
    assert not too_long, "\n".join(too_long)  # only a single word longer than the line (a path) may run on
    assert "…" not in out
    assert not _cut_words(out, _names(home), home)
    tokens = set(out.split())
    piped = run(*COMMANDS[command], home=home).stdout
    made = {t for t in tokens - set(piped.split()) if set(t) != {"─"}}  # the rules under the headers aside
    assert made <= {"/", "—"}  # wrapping moves words, never makes new ones
    if command == "findings":  # every word of every unit name shown is printed whole
        units = [r[0] for r in _query(home, "SELECT DISTINCT unit_name FROM mart_findings WHERE unit_name "
                                            "IS NOT NULL")]
        assert units and all(w in tokens for u in units for w in u.split())
    if command == "summary":
        labels = [r[0] for r in _query(home, "SELECT indicator_name FROM mart_national_summary")]
        assert all(w.strip("():,") in {t.strip("():,") for t in tokens} for n in labels for w in n.split())
    # the headers, wrapped or not, keep their words
    for header in HEADERS[command]:
        assert all(w in tokens for w in header.split()), header


def test_help_says_what_the_commands_print():
    for command, words in (("run", ["Kiểm tra / Validating", "accepted with warnings", "pending", "COLUMNS"]),
                           ("findings", ["province (code", "COLUMNS", "never inside a word"]),
                           ("completeness", ["per form", "COLUMNS"]), ("summary", ["indicator name", "COLUMNS"])):
        done = subprocess.run([CCN, command, "--help"], capture_output=True, text=True, check=False,
                              env={**os.environ, "COLUMNS": "200"})
        text_ = " ".join(done.stdout.split())
        assert all(w in text_ for w in words), (command, done.stdout)
