"""The stewards' portal in a real browser (issue 14): Debian's Chromium driven by Playwright against ``ccn portal``
started as a child process, on SQLite and on PostgreSQL, with accounts made by ``ccn user add`` and the runs made by
the portal's own runner (``ccn run`` after each file sent).

The warehouse first holds a two-province sample of 2026-H1 (``ccn sample``, ``ccn run``).  Then, in this order:

1. a province steward uploads that province's Biểu 04 with a wrong total, re-saved by LibreOffice as a steward's
   office would, sees the cell marked and the message in Vietnamese and English, sends it anyway, downloads the
   feedback workbook of the rejected report, fixes the cell, uploads and sends it again and sees it accepted;
2. the ministry steward waives a finding with a reason (it shows in the audit trail) and accepts the period;
3. a later file for that period is held, and the page says so before it is sent;
4. the other province's steward gets 404 for everything of the first province;
5. a form sent without its CSRF token is refused; 6. hostile files are refused with their reason.

The pictures of docs/pictures/portal-*.png are taken on the way (SQLite run); they are written into the repository
only with ``CCN_UPDATE_PICTURES=1`` (``make pictures``), else into the test's temporary folder.  Chromium is needed
at /usr/bin/chromium (``make browser`` installs Debian's): a missing browser fails the tests, it never skips them.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from tests.helpers import ccn, rows
from tests.hostile_corpus import CT, RELS, WB, WB_RELS, honest, raw_zip, repeated_deflate

pytestmark = pytest.mark.slow  # a sample through the pipeline per backend, a webserver and a browser

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
PICTURES = ROOT / "docs" / "pictures"
UPDATE_PICTURES = os.environ.get("CCN_UPDATE_PICTURES") == "1"
PASSWORD = "mat-khau-thu-nghiem-12"  # noqa: S105 - the test accounts' password
PERIOD = "2026-H1"
VIEWPORT = {"width": 1280, "height": 900}
RUN_SECONDS = 240  # at most, from a file sent to its outcome on the page (a run takes a few seconds)


@dataclass
class Site:
    backend: str
    base: str  # http://127.0.0.1:PORT
    home: Path
    work: Path  # files made by the tests, and the pictures unless they are updated
    sample: Path
    p: str  # the province whose steward works through the tests
    q: str  # the other province
    browser: object  # playwright's Browser
    state: dict = field(default_factory=dict)  # what one test leaves for the next (submission ids, SHA-256s)

    def picture(self, name: str) -> Path:
        """Where the picture ``portal-<name>.png`` goes: docs/pictures when asked for (one backend draws them)."""
        folder = PICTURES if UPDATE_PICTURES and self.backend == "sqlite" else self.work
        return folder / f"portal-{name}.png"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_portal(home: Path, port: int) -> subprocess.Popen:
    """``ccn portal`` in a process group of its own (its runner's ``ccn run`` children end with it)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    log = open(home / "portal.log", "wb")  # noqa: SIM115 - the child writes into it until the end of the module
    server = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "portal", "--host", "127.0.0.1", "--port",
                               str(port)], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    log.close()
    until = time.monotonic() + 120
    while time.monotonic() < until:
        assert server.poll() is None, f"ccn portal stopped:\n{_tail(home)}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                if r.status == 200:
                    return server
        except OSError:
            time.sleep(0.3)
    _stop(server)
    raise AssertionError(f"ccn portal did not answer on port {port}:\n{_tail(home)}")


def _stop(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(timeout=30)


def _tail(home: Path) -> str:
    log = home / "portal.log"
    return log.read_text(errors="replace")[-4000:] if log.exists() else ""


@pytest.fixture(scope="module")
def site(module_home, tmp_path_factory):
    """The 2026-H1 sample of two provinces loaded, four accounts, ``ccn portal`` serving them and Chromium."""
    assert Path(CHROMIUM).exists(), (f"Chromium is needed at {CHROMIUM}: `make browser` installs Debian's package "
                                     "(the tests never download a browser)")
    assert shutil.which("soffice") and shutil.which("pdftotext"), \
        "LibreOffice and poppler-utils are needed: `make office` installs them"
    from playwright.sync_api import sync_playwright

    backend = "sqlite" if os.environ["CCN_WAREHOUSE_URL"].startswith("sqlite") else "postgresql"
    sample = module_home / "inbox" / "sample"
    assert ccn("sample", "--out", str(sample), "--period", PERIOD, "--provinces", "2", "--seed", "3") == 0
    assert ccn("run") == 0
    p, q = sorted(folder.name.split("_")[0] for folder in sample.iterdir() if folder.is_dir())
    os.environ["CCN_TEST_PASSWORD"] = PASSWORD
    try:
        for name, role, province in (("tinh-p", "province", p), ("tinh-q", "province", q), ("bo", "ministry", None),
                                     ("xem", "viewer", None)):
            where = ["--province", province] if province else []
            assert ccn("user", "add", name, "--role", role, *where, "--password-env", "CCN_TEST_PASSWORD") == 0
    finally:
        del os.environ["CCN_TEST_PASSWORD"]
    port = _free_port()
    server = _start_portal(module_home, port)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM)
            try:
                yield Site(backend, f"http://127.0.0.1:{port}", module_home, tmp_path_factory.mktemp("browser"),
                           sample, p, q, browser)
            finally:
                browser.close()
    finally:
        _stop(server)


# --- helpers -----------------------------------------------------------------------------------------------------

def login(site: Site, name: str):
    """A new browser context (its own cookies) logged in as ``name``, through the login page."""
    context = site.browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="vi-VN")
    page = context.new_page()
    page.goto(site.base + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    follow(page, page.locator("form button[type=submit]"))
    assert "/login" not in page.url, page.inner_text("main")
    return page


def upload(site: Site, page, *files: Path) -> None:
    page.goto(site.base + "/upload")
    page.set_input_files("form.upload input[name=files][multiple]", [str(f) for f in files])
    follow(page, page.locator("form.upload button[type=submit]"))


def follow(page, locator):
    """Click ``locator`` and wait for the page it leads to (a click returns before the next page is there)."""
    with page.expect_navigation() as navigation:
        locator.click()
    return navigation.value


def send(page) -> str:
    """Press the send button of the only file checked, and wait for the run to settle it; the file's SHA-256."""
    follow(page, page.locator("form.send button"))
    assert "/sent/" in page.url, page.inner_text("main")
    settled(page)
    return page.url.rsplit("/", 1)[1]


def settled(page) -> None:
    """Until the sent page stops waiting for the run.  The page reloads itself every 3 s while it waits; it is loaded
    here afresh instead, so that it is read whole and never in the middle of one of its own reloads."""
    from playwright.sync_api import Error

    url, until = page.url, time.monotonic() + RUN_SECONDS
    while time.monotonic() < until:
        try:
            page.goto(url)
            if page.locator("meta[http-equiv=refresh]").count() == 0:
                return
        except Error:  # its own reload began meanwhile
            pass
        page.wait_for_timeout(1000)
    raise AssertionError(f"the run did not settle the file in {RUN_SECONDS} s:\n{page.inner_text('main')}")


def shoot(page, path: Path) -> None:
    """The whole page down to the end of its content (not the empty viewport below it)."""
    bottom = page.evaluate("document.querySelector('main').getBoundingClientRect().bottom + window.scrollY")
    page.screenshot(path=path, full_page=True, clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": bottom})


def text_align(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).textAlign")


def fits_width(page) -> bool:
    """The page needs no horizontal scrolling (long lines wrap, the menu fits)."""
    return page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


def one_row(sample: Path, province: str, form: str) -> tuple[Path, dict]:
    """The sample's workbook of ``form`` for ``province`` and the values it holds (truth.json)."""
    truth = json.loads((sample / "truth.json").read_text(encoding="utf-8"))
    for f in truth["files"]:
        reports = f["reports"]
        if len(reports) == 1 and reports[0]["form"] == form and reports[0]["unit_key"] == province:
            return sample / f["file"], reports[0]["values"]
    raise AssertionError(f"no Biểu {form} of province {province} in the sample")


def value_cell(ws, code: str):
    """The cell holding the value of the row whose code (column A) is ``code``."""
    for row in ws.iter_rows():
        if str(row[0].value).strip() == code:
            return next(c for c in row[1:] if isinstance(c.value, (int, float)) and not isinstance(c.value, bool))
    raise AssertionError(f"no row {code} in {ws.title}")


def edited(src: Path, dest: Path, changes: dict[str, float], work: Path, *, office: bool = False) -> str:
    """``src`` with the values of ``changes`` (row code → value) written to ``dest``, saved by LibreOffice when
    ``office`` (as a steward's office suite saves it); returns the first changed cell's reference."""
    wb = load_workbook(src)
    ws = wb.worksheets[0]
    refs = []
    for code, value in changes.items():
        cell = value_cell(ws, code)
        cell.value = value
        refs.append(cell.coordinate)
    if not office:
        wb.save(dest)
        return refs[0]
    plain = work / "openpyxl" / dest.name
    plain.parent.mkdir(exist_ok=True)
    wb.save(plain)
    subprocess.run(["soffice", f"-env:UserInstallation=file://{work / 'office-profile'}", "--headless",
                    "--convert-to", "xlsx", "--outdir", str(dest.parent), str(plain)],
                   check=True, capture_output=True, timeout=180)
    assert dest.exists(), "LibreOffice wrote no workbook"
    return refs[0]


# --- the scenarios, in the order a period goes ---------------------------------------------------------------------

def test_a_province_steward_fixes_a_file_until_it_is_accepted(site):
    from playwright.sync_api import expect

    anonymous = site.browser.new_context(viewport=VIEWPORT).new_page()
    anonymous.goto(site.base + "/upload")
    assert anonymous.url == f"{site.base}/login?next=%2Fupload"
    shoot(anonymous, site.picture("login"))
    anonymous.context.close()

    src, values = one_row(site.sample, site.p, "04")
    wrong, total = int(values["15"]) + 3, int(values["15.1"] + values["15.2"])
    bad = site.work / "Báo cáo 6 tháng 2026 - Biểu 04.xlsx"
    ref = edited(src, bad, {"15": wrong}, site.work, office=True)
    sheet = load_workbook(bad, read_only=True).sheetnames[0]

    page = login(site, "tinh-p")
    assert page.url.endswith("/upload")
    upload(site, page, bad)
    main = page.inner_text("main")
    assert "1 tệp đã kiểm tra: 0 bị từ chối, 1 có lỗi, 0 không có lỗi." in main
    assert "1 file checked: 0 refused, 1 with errors, 0 without errors." in main
    # the cell is marked on the sheet as received, and the finding names it, in Vietnamese and in English
    mark = page.locator("table.sheet td.mark.error")
    expect(mark).to_have_count(1)
    assert mark.get_attribute("id") == "cell-" + quote(f"{sheet}!{ref}", safe="")
    assert mark.inner_text() == str(wrong)
    assert text_align(mark) == "right"
    vi, en = f"Dòng 15 ghi {wrong} nhưng 15.1 + 15.2 = {total}", f"Row 15 reads {wrong} but 15.1 + 15.2 = {total}"
    finding = page.locator("li.finding.error")
    expect(finding.locator("a.where")).to_have_text(f"{sheet}!{ref}")
    expect(finding.locator(".msg").first).to_have_text(vi)
    expect(finding.locator(".msg.en")).to_have_text(en)
    assert f"{vi} — {en}" in mark.get_attribute("title")
    finding.locator("a.where").click()  # the link brings the marked cell into view
    expect(mark).to_be_in_viewport()
    assert fits_width(page)
    cell = mark.bounding_box()
    height = min(cell["y"] + cell["height"] + page.evaluate("window.scrollY") + 240,
                 page.evaluate("document.documentElement.scrollHeight"))
    page.screenshot(path=site.picture("upload"), full_page=True,  # from the top to a few rows below the cell
                    clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": height})

    # sent anyway: the run rejects it, and its feedback workbook names the finding at its cell
    sha_rejected = send(page)
    row = page.locator("table.list tbody tr").first
    expect(row.locator(".status-rejected")).to_have_count(1)
    expect(row.locator("td").first).to_contain_text(bad.name)
    assert not re.search(r"\d{8}-\d{6}-", row.inner_text()), "the inbox's prefix is not the steward's file name"
    follow(page, row.locator("a[href^='/submissions/']"))
    rejected = int(page.url.rsplit("/", 1)[1])
    with page.expect_download() as download:
        page.click("a[href$='/feedback.xlsx']")
    assert download.value.suggested_filename == f"{bad.stem} - phan hoi {rejected}.xlsx"
    feedback = site.work / "phan-hoi.xlsx"
    download.value.save_as(feedback)
    wb = load_workbook(feedback)
    assert wb.sheetnames[0] == "Kết quả kiểm tra"
    listed = [" | ".join(str(c) for c in r if c is not None) for r in wb.worksheets[0].iter_rows(values_only=True)]
    assert listed[0].startswith(f"Kết quả kiểm tra báo cáo / Validation of the report: {bad.name}")
    line = next(r for r in listed if "(b0304.operating_count_sum)" in r)
    assert f"| {ref} |" in line and vi in line and en in line
    assert wb[sheet][ref].fill.fgColor.rgb.endswith("FFC7CE")

    # fixed and sent again: accepted, and it supersedes the sample's report and the rejected one
    fixed = site.work / "Báo cáo 6 tháng 2026 - Biểu 04 (đã sửa).xlsx"
    edited(bad, fixed, {"15": total}, site.work)
    upload(site, page, fixed)
    expect(page.locator("p.verdict.good")).to_contain_text("Không có lỗi")
    sha_accepted = send(page)
    row = page.locator("table.list tbody tr").first
    expect(row.locator(".status-accepted, .status-accepted_with_warnings")).to_have_count(1)
    follow(page, row.locator("a[href^='/submissions/']"))
    accepted = int(page.url.rsplit("/", 1)[1])
    versions = page.locator("table.versions tbody tr")
    expect(versions).to_have_count(3)
    for i in (0, 1):  # the sample's report and the rejected one: superseded, with a link to the one that counts
        expect(versions.nth(i).locator(".status-superseded")).to_have_count(1)
        expect(versions.nth(i).locator(f"a[href='/submissions/{accepted}']")).to_have_count(1)
    expect(versions.nth(1)).to_contain_text(bad.name)
    expect(versions.nth(2)).to_contain_text(fixed.name)
    shoot(page, site.picture("submission"))

    page.goto(f"{site.base}/submissions?form=04&period={PERIOD}")
    expect(page.locator("table.list tbody tr")).to_have_count(3)
    assert text_align(page.locator("table.list td.num").first) == "right"
    assert fits_width(page)
    shoot(page, site.picture("submissions"))

    page.goto(f"{site.base}/dashboard?period={PERIOD}")
    form04 = page.locator("table.list tbody tr", has_text="Biểu 04")
    assert [t.strip() for t in form04.locator("td.num").all_inner_texts()][:2] == ["1", "1"]  # expected, received
    assert text_align(form04.locator("td.num").first) == "right"
    assert fits_width(page)
    shoot(page, site.picture("dashboard"))
    page.context.close()
    site.state.update(rejected=rejected, accepted=accepted, sha_rejected=sha_rejected, sha_accepted=sha_accepted,
                      names=(bad.name, fixed.name), fixed=fixed, total=total)


def test_the_ministry_waives_a_finding_and_accepts_the_period(site):
    from playwright.sync_api import expect

    accepted, rejected = site.state["accepted"], site.state["rejected"]
    page = login(site, "bo")
    assert page.url.endswith("/dashboard")
    page.goto(f"{site.base}/findings?province={site.p}&form=04")
    old = page.locator("table.findings-table tbody tr", has=page.locator(f"a[href='/submissions/{rejected}']"))
    assert old.count() >= 1
    for i in range(old.count()):  # findings of a superseded report show its status, nothing to waive
        expect(old.nth(i).locator("form.waive")).to_have_count(0)
        expect(old.nth(i)).to_contain_text("bị thay thế")
    current = page.locator("table.findings-table tbody tr", has=page.locator(f"a[href='/submissions/{accepted}']"))
    expect(current).to_have_count(1)  # sent after 2026-H1's deadline (30/06/2026), it has a warning to waive
    expect(current).to_contain_text("timeliness.late")
    reason = "Sở Công Thương đã giải trình: số liệu gửi lại sau khi sửa dòng 15"
    current.locator("input[name=reason]").fill(reason)
    follow(page, current.locator("form.waive button"))
    expect(current.locator(".waived")).to_contain_text("Đã miễn trừ: bo")
    expect(current.locator(".waived")).to_contain_text(reason)
    page.goto(f"{site.base}/findings?province={site.p}")
    assert fits_width(page)
    shoot(page, site.picture("findings"))

    page.goto(f"{site.base}/audit")
    waived = page.locator("table.list tbody tr", has_text="finding.waive")
    expect(waived).to_have_count(1)
    expect(waived).to_contain_text(reason)
    expect(page.locator("table.list tbody tr", has_text="upload.send")).to_have_count(2)
    assert fits_width(page), "long audit lines wrap"
    shoot(page, site.picture("audit"))

    page.goto(f"{site.base}/dashboard?province={site.p}&period={PERIOD}")
    page.fill("form[action$='/accept'] input[name=comment]", "Đã đối chiếu với Sở")
    follow(page, page.locator("form[action$='/accept'] button"))
    expect(page.locator("section.approval")).to_contain_text("Bộ đã chấp nhận, kỳ đã khoá")
    expect(page.locator("section.approval")).to_contain_text("accepted by the Ministry, locked")
    expect(page.locator("form[action$='/unlock']")).to_have_count(1)
    assert rows("SELECT state FROM period_approval WHERE province_code = :p AND period = :period",
                p=site.p, period=PERIOD)[0].state == "accepted"

    # the national summary adds up the two provinces' Biểu 04 as they count now
    page.goto(f"{site.base}/summary?period={PERIOD}")
    q04 = one_row(site.sample, site.q, "04")[1]
    line = page.locator("table.list tbody tr").filter(has=page.locator("td:first-child", has_text=re.compile("^15$")))
    assert line.locator("td.num").first.inner_text() == f"{site.state['total'] + q04['15']:,.0f}"
    assert text_align(line.locator("td.num").first) == "right"
    shoot(page, site.picture("summary"))
    # printed: the page's content, without the menu, the buttons and the links to download
    page.emulate_media(media="print")
    pdf = site.work / "summary.pdf"
    page.pdf(path=pdf, format="A4")
    printed = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True, text=True,
                             check=True).stdout
    assert "Tổng hợp toàn quốc kỳ 2026-H1" in printed and "Số lượng cụm công nghiệp đã hoạt động" in printed
    assert "Đăng xuất" not in printed and "Nhật ký" not in printed and "Tải bảng tổng hợp" not in printed
    page.context.close()


def test_a_later_file_for_the_accepted_period_is_held(site):
    from playwright.sync_api import expect

    later = site.work / "Báo cáo 6 tháng 2026 - Biểu 04 (bổ sung).xlsx"
    values = one_row(site.sample, site.p, "04")[1]
    edited(site.state["fixed"], later, {"25": values["25"] + 10}, site.work)
    page = login(site, "tinh-p")
    upload(site, page, later)
    held = page.locator("section.file .alert.warning")
    expect(held).to_contain_text(f"Kỳ {PERIOD} của tỉnh đã được Bộ chấp nhận và khoá: tệp gửi lên sẽ bị tạm giữ "
                                 "cho đến khi Bộ mở khoá.")
    expect(held).to_contain_text(f"Period {PERIOD} of the province was accepted and locked by the Ministry: a file "
                                 "sent now is held until the Ministry unlocks it.")
    site.state["sha_held"] = send(page)
    row = page.locator("table.list tbody tr").first
    expect(row.locator(".status-held")).to_have_text("tạm giữ (kỳ đã khoá) held (period locked)")
    # the report that counts is still the accepted one
    page.goto(f"{site.base}/submissions/{site.state['accepted']}")
    expect(page.locator("dl.facts")).to_contain_text("nhận")
    page.context.close()


def test_another_province_sees_none_of_it(site):
    from playwright.sync_api import expect

    s = site.state
    page = login(site, "tinh-q")
    for path in (f"/submissions/{s['rejected']}", f"/submissions/{s['accepted']}",
                 f"/submissions/{s['rejected']}/original", f"/submissions/{s['accepted']}/original",
                 f"/submissions/{s['rejected']}/feedback.xlsx", f"/submissions/{s['accepted']}/feedback.xlsx",
                 f"/sent/{s['sha_rejected']}", f"/sent/{s['sha_accepted']}", f"/sent/{s['sha_held']}",
                 f"/sent/{s['sha_accepted']},{s['sha_held']}"):
        response = page.goto(site.base + path)
        assert response.status == 404, path
        body = page.inner_text("main")
        assert "Không tìm thấy" in body and not any(name in body for name in s["names"]), path
    # the lists are cut to the steward's province whatever the address asks
    for path in (f"/findings?province={site.p}", f"/submissions?province={site.p}&form=04"):
        page.goto(site.base + path)
        for sub in (s["rejected"], s["accepted"]):
            expect(page.locator(f"a[href='/submissions/{sub}']")).to_have_count(0)
    page.goto(f"{site.base}/dashboard?province={site.p}&period={PERIOD}")
    expect(page.locator("h1")).to_contain_text(site.q)
    # and nothing of it can be changed: the forms of the ministry and of the first province answer 404
    csrf = page.locator("input[name=csrf]").first.get_attribute("value")
    finding = rows("SELECT finding_id FROM validation_finding WHERE submission_id = :s", s=s["rejected"])[0][0]
    for path in (f"/findings/{finding}/waive", f"/periods/{site.p}/{PERIOD}/submit",
                 f"/periods/{site.p}/{PERIOD}/unlock"):
        assert page.request.post(site.base + path, form={"csrf": csrf, "reason": "x", "comment": "x"},
                                 max_redirects=0).status == 404, path
    page.context.close()


def test_a_form_sent_without_its_csrf_token_is_refused(site):
    from playwright.sync_api import expect

    before = len(rows("SELECT 1 FROM audit_event WHERE action = 'upload.check'"))
    page = login(site, "tinh-p")
    page.goto(site.base + "/upload")
    page.evaluate("document.querySelector('form.upload input[name=csrf]').remove()")
    page.set_input_files("form.upload input[name=files][multiple]", str(site.state["fixed"]))
    assert follow(page, page.locator("form.upload button[type=submit]")).status == 403
    expect(page.locator("h1")).to_have_text("Yêu cầu bị từ chối Request refused")
    assert len(rows("SELECT 1 FROM audit_event WHERE action = 'upload.check'")) == before  # nothing was read
    page.context.close()

    page = login(site, "bo")
    page.goto(f"{site.base}/findings?province={site.p}&severity=error")
    form = page.locator("form.waive").first
    finding = int(re.search(r"/findings/(\d+)/waive", form.get_attribute("action")).group(1))
    form.locator("input[name=csrf]").evaluate("e => e.value = 'a-token-from-another-session'")
    form.locator("input[name=reason]").fill("không được ghi")
    assert follow(page, form.locator("button")).status == 403
    assert not rows("SELECT 1 FROM finding_waiver WHERE finding_id = :f", f=finding)
    page.context.close()


def test_hostile_files_are_refused_with_their_reason(site):
    from playwright.sync_api import expect

    zeros = b"\0" * (1 << 20)
    bomb = site.work / "bom giải nén.xlsx"  # declares 2 KB, expands to 1 GiB
    bomb.write_bytes(raw_zip([honest("[Content_Types].xml", CT), honest("_rels/.rels", RELS),
                              honest("xl/workbook.xml", WB), honest("xl/_rels/workbook.xml.rels", WB_RELS),
                              ("xl/sharedStrings.xml", repeated_deflate(zeros, 1024), 8, 0, 2048)]))
    pdf = site.work / "bao-cao.xlsx"
    pdf.write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj<<>>endobj\n")
    page = login(site, "tinh-p")
    upload(site, page, bomb, pdf)
    expect(page.locator("section.summary")).to_contain_text(
        "2 tệp đã kiểm tra: 2 bị từ chối, 0 có lỗi, 0 không có lỗi.")
    files = page.locator("section.file")
    expect(files).to_have_count(2)
    reasons = {bomb.name: ("vượt quá dung lượng đã khai báo", "expands beyond its declared 2,048 bytes"),
               pdf.name: ("tệp là tài liệu PDF, không phải bảng tính Excel", "a PDF document, not an Excel workbook")}
    for i in range(2):
        section = files.nth(i)
        vi, en = reasons[_name(section)]
        alert = section.locator(".alert.error")
        expect(alert).to_contain_text("Tệp bị từ chối, không được đọc.")
        expect(alert).to_contain_text("The file is refused and was not read.")
        expect(alert.locator("p").first).to_contain_text(vi)
        expect(alert.locator("p.en")).to_contain_text(en)
        expect(section.locator("form.send")).to_have_count(0)
    page.context.close()


def _name(section) -> str:
    """The file name a result section is headed with (without its size)."""
    return section.locator("h2").evaluate("h => h.firstChild.textContent").strip()
