"""The stewards' portal through HTTP (Starlette's test client, the real warehouse on both backends): who may call
each route, the refusals (404 for another province or another role, 403 without the CSRF token, 429 after too many
failed logins), and the loop a province steward follows (upload → check → send → run → outcome), with the
Ministry's waiver, acceptance (a later file is held) and unlock.  The browser tests are in tests/test_portal_browser.py.
"""

from __future__ import annotations

import re
import shutil
from datetime import datetime
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from tests.helpers import ccn, view
from tests.hostile_corpus import LAUGHS, xlsx
from tests.test_validation import B0304, write_report

pytestmark = pytest.mark.slow  # a sample through the pipeline per backend, then requests
PASSWORD = "mat-khau-thu-nghiem-12"  # noqa: S105 - the test accounts' password
PERIOD = "2026-H1"


@pytest.fixture(scope="module")
def site(module_home, tmp_path_factory):
    """Two provinces' Biểu 04 loaded (p's with an error), four accounts and the portal over them."""
    from starlette.testclient import TestClient

    from pipelines.portal.app import create_app
    from pipelines.settings import settings
    from pipelines.steward.accounts import add_user
    from schemas.admin import admin
    from schemas.migrate import open_warehouse

    p, q = sorted(admin().provinces)[:2]
    inbox = module_home / "inbox"
    cells = write_report(inbox / "p_bieu04.xlsx", "04", {**B0304, "15": 7}, province=p)
    write_report(inbox / "q_bieu04.xlsx", "04", {**B0304, "20": 30}, province=q)
    assert ccn("run") == 0
    engine = open_warehouse(settings().warehouse_url)
    for name, role, code in (("tinh-p", "province", p), ("tinh-q", "province", q), ("bo", "ministry", None),
                             ("xem", "viewer", None)):
        add_user(engine, name, role, PASSWORD, province_code=code, actor="test")
    app = create_app(settings(), engine, run_on_send=False)
    subs = view("mart_submissions").set_index("file_name")
    yield {"app": app, "client": lambda: TestClient(app, follow_redirects=False), "p": p, "q": q,
           "engine": engine, "cells": cells, "home": module_home,
           "p_sub": int(subs.loc["p_bieu04.xlsx", "submission_id"]),
           "q_sub": int(subs.loc["q_bieu04.xlsx", "submission_id"]), "tmp": tmp_path_factory.mktemp("portal")}
    engine.dispose()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def logged_in(site, name: str):
    client = site["client"]()
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "name": name, "password": PASSWORD})
    assert r.status_code == 303, r.text
    client.csrf = csrf_of(client.get("/dashboard").text)
    return client


def test_every_page_asks_for_a_login(site):
    client = site["client"]()
    for path in ("/", "/upload", "/dashboard", "/submissions", f"/submissions/{site['p_sub']}",
                 f"/submissions/{site['p_sub']}/original", f"/submissions/{site['p_sub']}/feedback.xlsx",
                 "/findings", "/summary", f"/export/{PERIOD}.xlsx", "/audit", "/sent/" + "0" * 64):
        r = client.get(path)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next="), path


def test_the_session_cookie_is_signed_httponly_and_samesite(site):
    client = site["client"]()
    r = client.get("/login")
    cookie = r.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    client.cookies.set("ccn_session", client.cookies["ccn_session"].replace(".", "x.", 1))  # a forged body
    assert client.get("/dashboard").status_code == 303


def test_a_wrong_password_is_refused_and_audited(site):
    client = site["client"]()
    token = csrf_of(client.get("/login").text)
    r = client.post("/login", data={"csrf": token, "name": "tinh-p", "password": "not the password"})
    assert r.status_code == 401 and "Tên đăng nhập hoặc mật khẩu không đúng." in r.text
    events = view("audit_event", "WHERE action = 'login.failed'")
    assert "tinh-p" in set(events["actor"]) and "testclient" in set(events["address"])


def test_too_many_failed_logins_wait_even_with_the_right_password(site):
    from pipelines.steward.accounts import add_user

    add_user(site["engine"], "tinh-throttle", "province", PASSWORD, province_code=site["p"], actor="test")
    client = site["client"]()
    token = csrf_of(client.get("/login").text)
    codes = [client.post("/login", data={"csrf": token, "name": "tinh-throttle", "password": f"wrong {i}"}).status_code
             for i in range(5)]
    assert codes == [401] * 5
    r = client.post("/login", data={"csrf": token, "name": "tinh-throttle", "password": PASSWORD})
    assert r.status_code == 429 and "Đăng nhập sai quá nhiều lần" in r.text


def test_a_post_without_the_csrf_token_is_refused(site):
    from schemas.tables import finding_waiver

    bo = logged_in(site, "bo")
    finding = int(view("mart_findings", f"WHERE submission_id = {site['p_sub']}")["finding_id"].iloc[0])
    for data in ({"reason": "no token"}, {"reason": "wrong token", "csrf": "x" * 32}):
        r = bo.post(f"/findings/{finding}/waive", data=data)
        assert r.status_code == 403 and "Yêu cầu bị từ chối" in r.text
    with site["engine"].connect() as conn:
        assert conn.execute(select(finding_waiver).where(finding_waiver.c.finding_id == finding)).first() is None
    login = site["client"]()
    login.get("/login")
    assert login.post("/login", data={"name": "bo", "password": PASSWORD}).status_code == 403


def test_roles_reach_only_their_pages(site):
    viewer, province, ministry = logged_in(site, "xem"), logged_in(site, "tinh-q"), logged_in(site, "bo")
    for path in ("/upload", "/submissions", f"/submissions/{site['q_sub']}", "/findings", "/audit"):
        assert viewer.get(path).status_code == 404, path
    for path in ("/summary", f"/export/{PERIOD}.xlsx", "/dashboard"):
        assert viewer.get(path).status_code == 200, path
    for path in ("/audit", "/summary", f"/export/{PERIOD}.xlsx"):
        assert province.get(path).status_code == 404, path
    assert ministry.get("/upload").status_code == 404
    assert province.post("/findings/1/waive", data={"csrf": province.csrf, "reason": "x"}).status_code == 404
    assert province.post(f"/periods/{site['q']}/{PERIOD}/accept", data={"csrf": province.csrf}).status_code == 404
    assert ministry.post(f"/periods/{site['q']}/{PERIOD}/submit", data={"csrf": ministry.csrf}).status_code == 404
    assert viewer.post(f"/periods/{site['q']}/{PERIOD}/submit", data={"csrf": viewer.csrf}).status_code == 404


def test_a_province_sees_nothing_of_another(site):
    q = logged_in(site, "tinh-q")
    p_sub = site["p_sub"]
    for path in (f"/submissions/{p_sub}", f"/submissions/{p_sub}/original", f"/submissions/{p_sub}/feedback.xlsx"):
        r = q.get(path)
        assert r.status_code == 404 and "p_bieu04" not in r.text, path
    assert q.post(f"/periods/{site['p']}/{PERIOD}/submit", data={"csrf": q.csrf}).status_code == 404
    # lists are cut to the province, whatever the query asks
    for path in (f"/findings?province={site['p']}", f"/submissions?province={site['p']}",
                 f"/dashboard?province={site['p']}&period={PERIOD}"):
        r = q.get(path)
        assert r.status_code == 200 and "p_bieu04" not in r.text and f"/submissions/{p_sub}\"" not in r.text, path
    assert f"/submissions/{site['q_sub']}" in q.get("/submissions").text


def test_the_ministry_waives_a_finding_with_a_reason(site):
    bo = logged_in(site, "bo")
    page = bo.get(f"/findings?province={site['p']}&severity=error")
    assert page.status_code == 200 and "b0304.operating_count_sum" in page.text
    finding = int(view("mart_findings", f"WHERE submission_id = {site['p_sub']} AND severity = 'error'"
                       )["finding_id"].iloc[0])
    assert bo.post(f"/findings/{finding}/waive", data={"csrf": bo.csrf, "reason": ""}).status_code == 400
    r = bo.post(f"/findings/{finding}/waive", data={"csrf": bo.csrf, "reason": "Sở xác nhận số liệu đúng",
                                                    "back": "/findings"})
    assert r.status_code == 303
    row = view("mart_findings", f"WHERE finding_id = {finding}").iloc[0]
    assert row.waived_by == "bo" and row.waiver_reason == "Sở xác nhận số liệu đúng"
    # the view's ISO 8601 time is shown as an official reads it, on either backend
    waived = datetime.fromisoformat(row.waived_at)
    shown = bo.get(f"/findings?province={site['p']}&severity=error").text
    assert f"Đã miễn trừ: bo, {waived:%d/%m/%Y %H:%M}" in shown
    audit = view("audit_event", "WHERE action = 'finding.waive'")
    assert f"finding {finding}" in set(audit["target"]) and "testclient" in set(audit["address"])
    assert "finding.waive" in bo.get("/audit").text


def test_stewards_follow_up_a_warning_of_their_province(site):
    from schemas.tables import validation_finding

    with site["engine"].begin() as conn:  # an outlier on q's report, as the analysis after loading writes one
        warning = conn.execute(validation_finding.insert().values(
            submission_id=site["q_sub"], rule_id="outlier.growth", severity="warning", sheet="Biểu 04", cell="D30",
            indicator_code="20", message="Dòng 20: 30 tăng 15 lần — Row 20: 30 is 15 ×", stage="outlier")
            .returning(validation_finding.c.finding_id)).scalar_one()
    errors = view("mart_findings", f"WHERE severity = 'error' AND submission_id = {site['p_sub']}")
    error = int(errors["finding_id"].iloc[0])
    q, p, bo = logged_in(site, "tinh-q"), logged_in(site, "tinh-p"), logged_in(site, "bo")
    form = {"status": "follow-up", "comment": "Hỏi lại phòng kinh tế xã", "back": "/findings"}
    assert q.post(f"/findings/{warning}/follow-up", data=form).status_code == 403  # no CSRF token
    assert p.post(f"/findings/{warning}/follow-up", data={**form, "csrf": p.csrf}).status_code == 404  # not theirs
    r = q.post(f"/findings/{warning}/follow-up", data={**form, "csrf": q.csrf})
    assert r.status_code == 303 and r.headers["location"] == "/findings"
    page = q.get("/findings").text
    assert f'action="/findings/{warning}/follow-up"' in page and "«Hỏi lại phòng kinh tế xã» — tinh-q" in page
    assert f'action="/findings/{error}/follow-up"' not in bo.get("/findings").text  # errors are waived instead
    r = bo.post(f"/findings/{error}/follow-up", data={**form, "csrf": bo.csrf})
    assert r.status_code == 400 and "an error is corrected or waived" in r.text
    r = bo.post(f"/findings/{warning}/follow-up", data={**form, "status": "confirmed", "comment": "Xã xác nhận",
                                                        "csrf": bo.csrf})
    assert r.status_code == 303
    marks = view("mart_follow_ups", f"WHERE finding_id = {warning}").iloc[0]
    assert (marks.status, marks.marked_by, int(marks.marks)) == ("confirmed", "bo", 2)
    audit = view("audit_event", "WHERE action = 'finding.follow_up' ORDER BY event_id")
    assert list(audit["actor"]) == ["tinh-q", "bo"] and set(audit["address"]) == {"testclient"}


def test_downloads_are_the_received_file_and_its_feedback(site, tmp_path):
    p = logged_in(site, "tinh-p")
    sub = site["p_sub"]
    original = p.get(f"/submissions/{sub}/original")
    assert original.status_code == 200
    archived = view("received_file", "WHERE file_name = 'p_bieu04.xlsx'")["archive_path"].iloc[0]
    assert original.content == Path(archived).read_bytes()
    fb = p.get(f"/submissions/{sub}/feedback.xlsx")
    assert fb.status_code == 200
    (tmp_path / "fb.xlsx").write_bytes(fb.content)
    wb = load_workbook(tmp_path / "fb.xlsx")
    assert wb.sheetnames[0] == "Kết quả kiểm tra"
    assert wb["Biểu 04"][site["cells"]["15"]].fill.fgColor.rgb.endswith(("FFC7CE", "D9D9D9"))


def _upload(client, name: str, data: bytes):
    return client.post("/upload", data={"csrf": client.csrf}, files=[("files", (name, data))])


def test_several_files_are_sent_at_once_and_only_by_their_uploader(site, tmp_path):
    steward, other = logged_in(site, "tinh-p"), logged_in(site, "tinh-q")
    files = []
    for i, value in enumerate((83, 84)):
        path = tmp_path / f"b{i}.xlsx"
        write_report(path, "04", {**B0304, "20": value}, province=site["p"])
        files.append(("files", (f"Biểu 04 lần {i}.xlsx", path.read_bytes())))
    page = steward.post("/upload", data={"csrf": steward.csrf}, files=files)
    assert "2 tệp đã kiểm tra: 0 bị từ chối, 0 có lỗi, 2 không có lỗi." in page.text
    tokens = re.findall(r'name="token" value="([^"]+)"', page.text)
    assert len(tokens) == 2
    assert other.post("/upload/send", data={"csrf": other.csrf, "token": tokens}).status_code == 404
    assert other.post(f"/upload/{tokens[0]}/send", data={"csrf": other.csrf}).status_code == 404
    r = steward.post("/upload/send", data={"csrf": steward.csrf, "token": tokens})
    assert r.status_code == 303
    shas = r.headers["location"].removeprefix("/sent/").split(",")
    assert len(shas) == 2
    page = steward.get(r.headers["location"])
    assert "Biểu 04 lần 0.xlsx" in page.text and "Biểu 04 lần 1.xlsx" in page.text
    assert other.get(r.headers["location"]).status_code == 404
    assert steward.post("/upload/send", data={"csrf": steward.csrf, "token": tokens}).status_code == 404  # once


def test_the_loop_upload_check_send_run_accept_lock_hold_unlock(site, tmp_path):
    from pipelines.portal.app import ROUTES  # noqa: F401 - the route table the note lists

    p_name, bo = site["p"], logged_in(site, "bo")
    steward = logged_in(site, "tinh-p")
    bad = tmp_path / "bad.xlsx"
    cells = write_report(bad, "04", {**B0304, "15": 9}, province=p_name)
    r = _upload(steward, "Báo cáo tỉnh.xlsx", bad.read_bytes())
    assert r.status_code == 200
    assert "b0304.operating_count_sum" in r.text and 'class="mark error num"' in r.text  # a number: aligned right
    assert re.search(rf'id="cell-[^"]*{cells["15"]}" class="mark error num"', r.text)
    # a hostile file is refused with its reason and nothing parses it
    refused = _upload(steward, "bom.xlsx", xlsx(LAUGHS))
    assert "Tệp bị từ chối, không được đọc." in refused.text and "/send" not in refused.text

    good = tmp_path / "good.xlsx"
    write_report(good, "04", {**B0304, "20": 81}, province=p_name)
    page = _upload(steward, "Báo cáo tỉnh đã sửa.xlsx", good.read_bytes())
    token = re.search(r'action="/upload/([^/"]+)/send"', page.text).group(1)
    sent = steward.post(f"/upload/{token}/send", data={"csrf": steward.csrf})
    assert sent.status_code == 303
    sha = sent.headers["location"].rsplit("/", 1)[1]
    from pipelines.steward.upload import province_folder

    folder = next((site["home"] / "inbox" / province_folder(p_name)).glob("*Báo cáo tỉnh đã sửa.xlsx"))
    assert folder.read_bytes() == good.read_bytes()
    assert "đang chờ được nạp" in steward.get(f"/sent/{sha}").text
    assert logged_in(site, "tinh-q").get(f"/sent/{sha}").status_code == 404
    assert ccn("run") == 0
    outcome = steward.get(f"/sent/{sha}")
    assert "đang chờ" not in outcome.text and "nhận" in outcome.text

    # the province submits the period, the ministry accepts it: a later file is held until the unlock
    assert steward.post(f"/periods/{p_name}/{PERIOD}/submit", data={"csrf": steward.csrf}).status_code == 303
    assert bo.post(f"/periods/{p_name}/{PERIOD}/accept", data={"csrf": bo.csrf}).status_code == 303
    later = tmp_path / "later.xlsx"
    write_report(later, "04", {**B0304, "20": 82}, province=p_name)
    page = _upload(steward, "Báo cáo muộn.xlsx", later.read_bytes())
    assert "tạm giữ" in page.text
    token = re.search(r'action="/upload/([^/"]+)/send"', page.text).group(1)
    sha = steward.post(f"/upload/{token}/send", data={"csrf": steward.csrf}).headers["location"].rsplit("/", 1)[1]
    assert ccn("run") == 0
    assert "tạm giữ" in steward.get(f"/sent/{sha}").text
    held = view("submission", f"WHERE sha256 = '{sha}'")
    assert list(held["status"]) == ["held"]
    assert bo.post(f"/periods/{p_name}/{PERIOD}/unlock", data={"csrf": bo.csrf, "comment": ""}).status_code == 400
    assert bo.post(f"/periods/{p_name}/{PERIOD}/unlock",
                   data={"csrf": bo.csrf, "comment": "Tỉnh gửi số liệu sửa"}).status_code == 303
    assert ccn("run") == 0
    assert view("submission", f"WHERE sha256 = '{sha}'")["status"].iloc[0] in ("accepted", "accepted_with_warnings")
    actions = set(view("audit_event")["action"])
    assert {"upload.check", "upload.send", "period.submit", "period.accept", "period.unlock"} <= actions


def test_every_route_is_listed_with_its_roles(site):
    from pipelines.portal.app import ROUTES

    assert all(doc for *_, doc in ROUTES)
    # docs/portal.md lists each route with its methods and roles, as the code has them
    documented = {}
    for line in (Path(__file__).parents[1] / "docs" / "portal.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| `/") and not cells[0].startswith("`/static"):
            who = () if cells[2] == "anyone" else tuple(cells[2].split(", "))
            documented[cells[0].strip("`")] = (tuple(cells[1].split(", ")), who)
    assert documented == {path: (methods, roles) for path, methods, roles, _ in ROUTES}
    shutil.rmtree(site["tmp"], ignore_errors=True)
