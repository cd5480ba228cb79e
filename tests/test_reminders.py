"""Reminders of the reporting deadlines (issue 15) on both backends, against a real SMTP server (aiosmtpd on
127.0.0.1, with a login): a two-province sample in which one province did not send its Biểu 04 and one cluster its
Biểu 02, and projects of the other province sent only reports that were refused.  The server must receive exactly
the expected letters — recipients, subject, the missing units named, Vietnamese that decodes, English below —
once across two runs, and the letters after the deadline once more; with no server the same letters are written
as ``.eml`` drafts, parsed back here.  Units without any address are listed, not dropped, and reminded once an
address is known.  A run killed between the server's acceptance and the record leaves the reminder unconfirmed:
the next run does not send it again, ``--resend-unconfirmed`` does.  Migration 0009 goes down and up again."""

from __future__ import annotations

import email
import email.policy
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect

from pipelines.report.dashboard import province_dashboard
from pipelines.report.reminders import (
    SEPARATOR,
    Contacts,
    DraftOutbox,
    ReminderError,
    SmtpOutbox,
    outbox_for,
    read_contacts,
    remind,
)
from pipelines.settings import settings, smtp_server
from pipelines.steward.approval import accept_period, unlock_period
from schemas.admin import admin
from schemas.migrate import upgrade
from schemas.periods import VN_TZ, Period
from tests.helpers import ccn, engine, rows
from tests.test_validation import run_stages

# the test server asks for a login over plain SMTP on 127.0.0.1, which aiosmtpd rightly warns about
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

ROOT = Path(__file__).resolve().parent.parent
H1 = Period.parse("2026-H1")
BEFORE_DAY = datetime(2026, 6, 15, 8, 0, tzinfo=VN_TZ)  # what the schedule before the 20 Jun deadline fires at
AFTER_DAY = datetime(2026, 6, 22, 8, 0, tzinfo=VN_TZ)  # past 20 Jun (Biểu 01, 02), before 30 Jun (Biểu 04)
USER, PASSWORD = "nhac", "mật khẩu 1"  # a password with a space and a Vietnamese letter, percent-encoded in the URL
SENDER = "csdl-ccn@moit.example.vn"


# --- a real SMTP server ------------------------------------------------------------------------------------------

class Mailbox:
    """What the server accepted: (envelope sender, recipients, the message parsed back from its bytes)."""

    def __init__(self):
        self.received: list[tuple[str, list[str], email.message.EmailMessage, bytes]] = []
        self.refuse: set[str] = set()  # recipients answered 550

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.received.append((envelope.mail_from, list(envelope.rcpt_tos), msg, raw))
        return "250 OK"

    def take(self) -> list:
        out, self.received = self.received, []
        return out


def _login(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == \
        (USER.encode(), PASSWORD.encode())
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def mail_server():
    box = Mailbox()
    port = _free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port, authenticator=_login, auth_required=True,
                            auth_require_tls=False)
    controller.start()
    box.url = f"smtp://{USER}:m%E1%BA%ADt%20kh%E1%BA%A9u%201@127.0.0.1:{port}"
    yield box
    controller.stop()


# --- the sample --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def loaded(module_home, tmp_path_factory):
    from pipelines.sample.generator import generate

    sample = tmp_path_factory.mktemp("reminder_sample")
    truth = generate(sample, H1, provinces=2, seed=7, absent_04=1, absent_02=1, late_04=1)
    shutil.copytree(sample, module_home / "inbox")
    run_stages(module_home / "inbox")
    eng = engine()
    yield eng, truth
    eng.dispose()


def _missing_in_truth(truth) -> dict[str, set[tuple[str, str]]]:
    """Province → the (form, unit key) the sample's truth says were not received, every report of them refused
    or their file left out (the dashboard's test checks the dashboard against the same truth)."""
    out: dict[str, set[tuple[str, str]]] = {}
    provinces = sorted({r["province_code"] for r in truth["completeness"] if r["form"] != "04"})  # the sample's
    reported = {(r["form"], r["unit_key"]) for f in truth["files"] if not f["errors"] for r in f["reports"]}
    for f in truth["files"]:
        for r in f["reports"]:
            if f["errors"] and (r["form"], r["unit_key"]) not in reported:
                out.setdefault(r["province_code"], set()).add((r["form"], r["unit_key"]))
    for absent in truth["absent"]:
        province = Path(absent).parent.name.split("_")[0]
        if Path(absent).name.startswith("bieu04"):
            out.setdefault(province, set()).add(("04", province))
        else:  # the cluster whose projects reported and whose own Biểu 02 is absent
            clusters = {r["unit_key"].split("/")[0] for f in truth["files"] for r in f["reports"]
                        if r["form"] == "01" and r["province_code"] == province}
            sent = {r["unit_key"] for f in truth["files"] for r in f["reports"] if r["form"] == "02"}
            out.setdefault(province, set()).update(("02", c) for c in clusters - sent)
    assert set(out) == set(provinces)
    return out


@pytest.fixture
def sample(loaded, module_home, monkeypatch):
    """The loaded sample with no reminder recorded yet, no drafts, and the reminder settings unset."""
    eng, truth = loaded
    from sqlalchemy import delete

    from schemas.tables import reminder

    with eng.begin() as conn:
        conn.execute(delete(reminder))
    shutil.rmtree(module_home / "drafts", ignore_errors=True)
    for var in ("CCN_SMTP_URL", "CCN_MAIL_FROM", "CCN_CONTACTS"):
        monkeypatch.delenv(var, raising=False)
    missing = _missing_in_truth(truth)
    b04 = next(p for p, units in missing.items() if ("04", p) in units)  # its Biểu 04 and one Biểu 02 absent
    b01 = next(p for p in missing if p != b04)  # projects whose only reports were refused
    return eng, truth, missing, b04, b01


def _contacts(path: Path, missing, b04: str, b01: str) -> tuple[Path, dict]:
    """A contacts file: both Departments; in the first province the cluster has its own address, in the other one
    project has its own (two addresses), the others none."""
    (cluster,) = [k for f, k in missing[b04] if f == "02"]
    projects = sorted(k for f, k in missing[b01] if f == "01")
    own = projects[0]
    lines = ["province_code,form,unit_key,name,email",
             f"{b04},,,,sct@{b04}.example.vn",
             f"{b04},02,{cluster},Công ty CP Hạ tầng Cụm {cluster},ht@{cluster}.example.vn",
             f"{b01},,,Sở Công Thương tỉnh có mã {b01},sct@{b01}.example.vn",
             f"{b01},01,{own},,giamdoc@{own.split('/')[1]}.example.vn; ketoan@{own.split('/')[1]}.example.vn"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path, {"cluster": cluster, "own_project": own, "other_projects": projects[1:]}


def _labels(eng, province: str) -> dict[tuple[str, str], str]:
    board = province_dashboard(eng, H1.code, province)
    return {(m.form, m.unit_key): m.label for units in board.missing.values() for m in units}


def _body(msg) -> tuple[str, str]:
    text = msg.get_content()
    vi, _, en = text.partition(SEPARATOR)
    return vi, en


def _expected_letters(missing, b04, b01, who) -> dict[frozenset[str], set[tuple[str, str]]]:
    """Recipients (To and Cc) → the units the letter names."""
    d04, d01 = f"sct@{b04}.example.vn", f"sct@{b01}.example.vn"
    tax = who["own_project"].split("/")[1]
    return {
        frozenset({d04}): {("04", b04)},
        frozenset({f"ht@{who['cluster']}.example.vn", d04}): {("02", who["cluster"])},
        frozenset({f"giamdoc@{tax}.example.vn", f"ketoan@{tax}.example.vn", d01}): {("01", who["own_project"])},
        frozenset({d01}): {("01", k) for k in who["other_projects"]},
    }


def _smtp_env(monkeypatch, server: Mailbox, contacts: Path) -> None:
    monkeypatch.setenv("CCN_SMTP_URL", server.url)
    monkeypatch.setenv("CCN_MAIL_FROM", SENDER)
    monkeypatch.setenv("CCN_CONTACTS", str(contacts))


def _run(eng, now, **kw):
    s = settings()
    return remind(eng, H1, contacts=read_contacts(s.contacts, required=s.contacts_required), outbox=outbox_for(s),
                  now=now, **kw)


# --- the tests ---------------------------------------------------------------------------------------------------

def test_the_server_receives_each_letter_once_across_runs(sample, mail_server, monkeypatch, tmp_path):
    eng, _truth, missing, b04, b01 = sample
    contacts, who = _contacts(tmp_path / "danh_ba.csv", missing, b04, b01)
    _smtp_env(monkeypatch, mail_server, contacts)
    mail_server.take()
    assert isinstance(outbox_for(settings()), SmtpOutbox) and smtp_server().password == PASSWORD

    result = _run(eng, BEFORE_DAY)
    got = mail_server.take()
    expected = _expected_letters(missing, b04, b01, who)
    assert {frozenset(rcpt): None for _, rcpt, _, _ in got}.keys() == expected.keys()
    assert len(got) == len(expected) == result.letters == 4
    labels = {**_labels(eng, b04), **_labels(eng, b01)}
    assert set(labels) == missing[b04] | missing[b01]
    for mail_from, rcpt, msg, raw in got:
        units = expected[frozenset(rcpt)]
        assert mail_from == SENDER and msg["From"].addresses[0].addr_spec == SENDER
        head = raw.split(b"\r\n\r\n", 1)[0]
        assert head.isascii()  # UTF-8 headers travel encoded (RFC 2047) ...
        assert msg["Subject"].startswith("Nhắc gửi báo cáo cụm công nghiệp kỳ 6 tháng đầu năm 2026, hạn trước "
                                         "20/06/2026" if units != {("04", b04)} else
                                         "Nhắc gửi báo cáo cụm công nghiệp kỳ 6 tháng đầu năm 2026, hạn trước "
                                         "30/06/2026")  # ... and decode to the Vietnamese
        assert msg["Message-ID"].startswith("<ccn-reminder.2026-H1.before.") and msg["Content-Language"] == "vi, en"
        vi, en = _body(msg)
        assert vi.index("Kính gửi: ") < vi.index("Căn cứ khoản 3 Điều 3 Thông tư số 14/2024/TT-BCT")
        assert "Thông tư số 38/2025/TT-BCT" in vi and "ENGLISH TRANSLATION" in en and "ENGLISH" not in vi
        deadline = "ngày 30 tháng 6 năm 2026" if units == {("04", b04)} else "ngày 20 tháng 6 năm 2026"
        assert f"trước {deadline}" in vi and "Đến ngày 15 tháng 6 năm 2026" in vi
        assert "Under Article 3(3)" in en and "Đề nghị" in vi  # one language per section:
        assert "Article" not in vi and not any(w in en for w in ("Đề nghị", "Kính gửi", "Căn cứ", "Trân trọng"))
        listed = [line for line in vi.splitlines() if line.startswith("  ") and ". Biểu số " in line]
        assert len(listed) == len(units)
        for form, key in units:
            if form == "04":  # a province's Biểu 04 is named as its Department, which sends it
                province = admin().provinces[key].name  # "Thành phố Đà Nẵng": "Sở Công Thương thành phố Đà Nẵng"
                name = f"Sở Công Thương {province[:1].lower()}{province[1:]}"
            else:
                name = labels[(form, key)]
                assert name.replace("(MST ", "(tax code ") in en
            assert any(line.startswith(f"  1. Biểu số {form}: {name}") or f". Biểu số {form}: {name}" in line
                       for line in listed), (name, listed)
            if form == "01":
                assert key.split("/")[1] in vi
    department_letter = next(m for _, rcpt, m, _ in got if frozenset(rcpt) == frozenset({f"sct@{b01}.example.vn"}))
    assert department_letter["To"].addresses[0].display_name == f"Sở Công Thương tỉnh có mã {b01}"
    assert f"Đề nghị Sở Công Thương {admin().provinces[b01].name[:1].lower()}" in _body(department_letter)[0]
    cluster_letter = next(m for _, rcpt, m, _ in got if f"ht@{who['cluster']}.example.vn" in rcpt)
    assert cluster_letter["To"].addresses[0].display_name == f"Công ty CP Hạ tầng Cụm {who['cluster']}"
    assert [a.addr_spec for a in cluster_letter["Cc"].addresses] == [f"sct@{b04}.example.vn"]
    assert "(để phối hợp)" in _body(cluster_letter)[0]

    recorded = rows("SELECT form, unit_key, kind, state, channel FROM reminder ORDER BY form, unit_key")
    assert {(r.form, r.unit_key) for r in recorded} == missing[b04] | missing[b01]
    assert {(r.kind, r.state, r.channel) for r in recorded} == {("before", "sent", "smtp")}
    others = {o.province_code for o in result.outcomes if o.outcome == "no_address"}
    assert others == set(admin().provinces) - {b04, b01}  # the Biểu 04 of every other province: listed, not sent

    again = _run(eng, BEFORE_DAY)
    assert mail_server.take() == []  # the second run sends nothing
    assert {o.outcome for o in again.outcomes if o.province_code in (b04, b01)} == {"already"}

    after = _run(eng, AFTER_DAY)  # 20 Jun has passed: the letters after the deadline of Biểu 01 and 02, once
    got = mail_server.take()
    assert {frozenset(rcpt) for _, rcpt, _, _ in got} == set(expected) - {frozenset({f"sct@{b04}.example.vn"})}
    for _, _, msg, _ in got:
        vi, en = _body(msg)
        assert "Thời hạn nêu trên đã qua. Đến ngày 22 tháng 6 năm 2026" in vi and "That deadline has passed" in en
    b04_row = next(o for o in after.outcomes if (o.form, o.unit_key) == ("04", b04))
    assert (b04_row.kind, b04_row.outcome) == ("before", "already")  # 30 Jun has not come: its reminder went
    assert _run(eng, AFTER_DAY).letters == 0 and mail_server.take() == []


def test_drafts_when_no_server_is_configured(sample, monkeypatch, tmp_path, module_home):
    eng, _truth, missing, b04, b01 = sample
    contacts, who = _contacts(tmp_path / "danh_ba.csv", missing, b04, b01)
    monkeypatch.setenv("CCN_CONTACTS", str(contacts))
    monkeypatch.setenv("CCN_MAIL_FROM", SENDER)
    outbox = outbox_for(settings())
    assert isinstance(outbox, DraftOutbox) and outbox.folder == module_home / "drafts"

    result = _run(eng, BEFORE_DAY)
    drafts = sorted((module_home / "drafts").glob("*.eml"))
    assert len(drafts) == result.letters == 4 and not list((module_home / "drafts").glob("*.tmp"))
    expected = _expected_letters(missing, b04, b01, who)
    seen = {}
    for path in drafts:
        msg = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        rcpt = frozenset(a.addr_spec for h in ("To", "Cc") if msg[h] for a in msg[h].addresses)
        seen[rcpt] = msg
        assert msg["X-Unsent"] == "1" and msg["Subject"].startswith("Nhắc gửi báo cáo cụm công nghiệp")
        vi, en = _body(msg)
        assert len([line for line in vi.splitlines() if ". Biểu số " in line]) == len(expected[rcpt])
        assert "ENGLISH TRANSLATION" in en
    assert seen.keys() == expected.keys()
    recorded = rows("SELECT DISTINCT draft_path, state, channel FROM reminder")
    assert {(Path(r.draft_path), r.state, r.channel) for r in recorded} == {(p, "drafted", "draft") for p in drafts}

    again = _run(eng, BEFORE_DAY)
    assert sorted((module_home / "drafts").glob("*.eml")) == drafts and again.letters == 0
    assert {o.outcome for o in again.outcomes if o.province_code in (b04, b01)} == {"already"}


def test_units_without_an_address_are_listed_and_reminded_once_one_is_known(sample, monkeypatch, tmp_path):
    eng, _truth, missing, b04, b01 = sample
    drafts = DraftOutbox(tmp_path / "nhap")
    nobody = remind(eng, H1, contacts=Contacts(), outbox=drafts, now=BEFORE_DAY)
    assert nobody.letters == 0 and not drafts.folder.exists()
    assert {o.outcome for o in nobody.outcomes} == {"no_address"} and nobody.needs_attention
    assert {(o.form, o.unit_key) for o in nobody.outcomes if o.province_code in (b04, b01)} == \
        missing[b04] | missing[b01]
    assert rows("SELECT * FROM reminder") == []  # nothing recorded: the units are still to remind

    path = tmp_path / "danh_ba.csv"
    path.write_text(f"province_code,form,unit_key,name,email\n{b01},,,,sct@{b01}.example.vn\n", encoding="utf-8")
    known = remind(eng, H1, contacts=read_contacts(path), outbox=drafts, now=BEFORE_DAY)
    assert known.letters == 1  # one letter to the Department listing all its units
    assert {(o.form, o.unit_key) for o in known.outcomes if o.outcome == "drafted"} == missing[b01]
    assert {o.province_code for o in known.outcomes if o.outcome == "no_address"} == set(admin().provinces) - {b01}


def test_a_locked_period_is_not_reminded(sample, tmp_path):
    eng, _truth, missing, b04, _b01 = sample
    path = tmp_path / "danh_ba.csv"
    path.write_text(f"province_code,form,unit_key,name,email\n{b04},,,,a@{b04}.example.vn\n", encoding="utf-8")
    accept_period(eng, b04, H1.code, "cli:test")
    try:
        result = remind(eng, H1, contacts=read_contacts(path), outbox=DraftOutbox(tmp_path / "d"), now=BEFORE_DAY,
                        province=b04)
    finally:
        unlock_period(eng, b04, H1.code, "cli:test", "test over")
    assert result.letters == 0 and {(o.form, o.unit_key, o.outcome) for o in result.outcomes} == \
        {(f, k, "locked") for f, k in missing[b04]}


def test_a_refused_letter_is_retried_by_the_next_run(sample, mail_server, monkeypatch, tmp_path):
    eng, _truth, missing, b04, b01 = sample
    contacts, _who = _contacts(tmp_path / "danh_ba.csv", missing, b04, b01)
    _smtp_env(monkeypatch, mail_server, contacts)
    mail_server.take()
    mail_server.refuse = {f"sct@{b04}.example.vn"}
    try:
        first = _run(eng, BEFORE_DAY, province=b04, forms=["04"])
    finally:
        mail_server.refuse = set()
    assert [o.outcome for o in first.outcomes] == ["refused"] and "550" in first.outcomes[0].detail
    assert mail_server.take() == [] and rows("SELECT * FROM reminder") == []
    second = _run(eng, BEFORE_DAY, province=b04, forms=["04"])
    assert [o.outcome for o in second.outcomes] == ["sent"] and len(mail_server.take()) == 1


def test_kind_asked_for_and_the_clock(sample, tmp_path):
    eng, *_ = sample
    early = remind(eng, H1, contacts=Contacts(), outbox=DraftOutbox(tmp_path), now=BEFORE_DAY, kind="after",
                   dry_run=True)
    assert early.outcomes == [] and len(early.notes) == 4 and all("chưa đến hạn" in n for n in early.notes)
    late = remind(eng, H1, contacts=Contacts(), outbox=DraftOutbox(tmp_path), now=AFTER_DAY, kind="before",
                  dry_run=True)
    assert len(late.notes) == 2 and {o.form for o in late.outcomes} <= {"03", "04"}  # 01, 02 are due already
    assert {o.kind for o in late.outcomes} == {"before"}


@pytest.mark.parametrize("line,wrong", [
    ("99,,,,a@b.vn", "99 is not a 2025 province code"),
    ("15,05,x,,a@b.vn", "there is no form 05"),
    ("15,,15-x,,a@b.vn", "a unit key without its form"),
    ("15,02,,,a@b.vn", "form 02 needs the unit's key"),
    ("15,04,22,,a@b.vn", "Biểu 04 is the province's"),
    ("15,02,15-x,,", "the e-mail address is missing"),
    ("15,02,15-x,,sct.laocai.gov.vn", "not an e-mail address: sct.laocai.gov.vn"),
])
def test_a_wrong_contacts_line_is_named(tmp_path, line, wrong):
    path = tmp_path / "c.csv"
    path.write_text(f"province_code,form,unit_key,name,email\n15,,,,ok@laocai.gov.vn\n{line}\n", encoding="utf-8")
    with pytest.raises(ReminderError, match=f"c.csv, dòng 3: .* — .*c.csv, line 3: {wrong}"):
        read_contacts(path)
    path.write_text("tinh,email\n15,a@b.vn\n", encoding="utf-8")
    with pytest.raises(ReminderError, match="line 1 must be the header province_code,form,unit_key,name,email"):
        read_contacts(path)
    with pytest.raises(ReminderError, match="no contacts file"):
        read_contacts(tmp_path / "none.csv", required=True)
    assert read_contacts(tmp_path / "none.csv") == Contacts()


def test_smtp_url_settings(monkeypatch):
    monkeypatch.setenv("CCN_SMTP_URL", "smtps://a%40b:p%3As@mail.example.vn")
    s = smtp_server()
    assert (s.host, s.port, s.tls, s.user, s.password) == ("mail.example.vn", 465, "ssl", "a@b", "p:s")
    assert "p:s" not in str(s) and str(s) == "smtps://a@b@mail.example.vn:465"
    monkeypatch.setenv("CCN_SMTP_URL", "smtp+starttls://mail.example.vn")
    assert (smtp_server().port, smtp_server().tls) == (587, "starttls")
    monkeypatch.setenv("CCN_SMTP_URL", "http://user:secret@mail.example.vn")
    with pytest.raises(ValueError, match="must look like smtp://") as err:
        smtp_server()
    assert "secret" not in str(err.value)


def test_ccn_remind(sample, monkeypatch, tmp_path, capsys):
    _eng, _truth, missing, b04, b01 = sample
    contacts, _who = _contacts(tmp_path / "danh_ba.csv", missing, b04, b01)
    monkeypatch.setenv("CCN_CONTACTS", str(contacts))
    out_dir = tmp_path / "thu_nhac"
    assert ccn("remind", "--period", H1.code, "--province", b04, "--dry-run") == 0
    dry = capsys.readouterr().out
    assert "sẽ viết thư nháp (chạy thử) / would be drafted (dry run)" in dry and not out_dir.exists()
    assert ccn("remind", "--period", H1.code, "--drafts", str(out_dir)) == 1  # other provinces have no address
    out = capsys.readouterr().out
    assert "Tỉnh / Province" in out and "Kết quả / Outcome" in out
    assert out.count("đã viết thư nháp / draft written") == len(missing[b04] | missing[b01])
    assert out.count("không có địa chỉ thư / no e-mail address") == len(admin().provinces) - 2
    assert f"4 thư nhắc {len(missing[b04] | missing[b01])} đơn vị đã đi tới thư nháp trong {out_dir}" in out
    assert len(list(out_dir.glob("*.eml"))) == 4
    for _form, key in missing[b04] | missing[b01]:
        assert key in out
    assert ccn("remind", "--period", H1.code, "--province", b04) == 0
    assert capsys.readouterr().out.count("đã nhắc trước đó / reminded already") == len(missing[b04])
    assert ccn("remind", "--period", H1.code, "--province", "99") == 2
    assert "99 is not a 2025 province code" in capsys.readouterr().err
    closed = _free_port()
    monkeypatch.setenv("CCN_SMTP_URL", f"smtp://127.0.0.1:{closed}")
    assert ccn("remind", "--period", H1.code) == 2
    assert "CCN_MAIL_FROM" in capsys.readouterr().err
    monkeypatch.setenv("CCN_MAIL_FROM", SENDER)  # a server that is not there: nothing sent, nothing recorded
    contacts.write_text(contacts.read_text(encoding="utf-8") + "01,,,,sct.hanoi@example.vn\n", encoding="utf-8")
    before = rows("SELECT COUNT(*) AS n FROM reminder")[0].n
    assert ccn("remind", "--period", H1.code) == 3
    done = capsys.readouterr()
    assert f"cannot use the mail server smtp://127.0.0.1:{closed}" in done.err
    assert "chưa gửi: dừng sau lỗi / not sent: stopped after an error" in done.out
    assert rows("SELECT COUNT(*) AS n FROM reminder")[0].n == before


def test_ccn_remind_help(capsys):
    with pytest.raises(SystemExit) as done:
        ccn("remind", "--help")
    assert done.value.code == 0
    out = capsys.readouterr().out
    for words in ("--period", "--province", "--kind {before,after}", "--drafts DIR", "--dry-run",
                  "--resend-unconfirmed", "CCN_SMTP_URL", "CCN_CONTACTS", "province_code,form,unit_key,name,email"):
        assert words in out


def test_the_schedules_and_the_job(sample, monkeypatch, tmp_path, module_home):
    from dagster import build_schedule_context

    from assets.jobs import remind_job
    from assets.resources import CCNResource
    from assets.schedules import reminder_schedules

    schedules = {s.name: s for s in reminder_schedules}

    _eng, _truth, missing, b04, b01 = sample
    before = schedules["remind_before_deadline_projects_clusters"]
    request = before.evaluate_tick(build_schedule_context(scheduled_execution_time=BEFORE_DAY)).run_requests[0]
    assert request.run_config == {"ops": {"send_reminders": {"config": {"period": "2026-H1", "kind": "before",
                                                                        "forms": ["01", "02"]}}}}
    assert request.run_key == "remind_before_deadline_projects_clusters:2026-H1"
    december = datetime(2026, 12, 26, 8, 0, tzinfo=VN_TZ)
    provinces = schedules["remind_before_deadline_provinces"]
    config = provinces.evaluate_tick(build_schedule_context(scheduled_execution_time=december)).run_requests[0]
    assert config.run_config["ops"]["send_reminders"]["config"] == {"period": "2026-Y", "kind": "before",
                                                                    "forms": ["04"]}

    contacts, _who = _contacts(tmp_path / "danh_ba.csv", missing, b04, b01)
    monkeypatch.setenv("CCN_CONTACTS", str(contacts))
    ran = remind_job.execute_in_process(
        run_config={"ops": {"send_reminders": {"config": {"period": "2026-H1", "kind": "after",
                                                           "forms": ["01", "02"]}}}},
        resources={"ccn": CCNResource()})
    assert ran.success
    drafts = list((module_home / "drafts").glob("2026-H1_after_*.eml"))
    assert len(drafts) == 3  # the cluster, the project with its own address, the Department for the others
    assert {r.form for r in rows("SELECT form FROM reminder")} == {"01", "02"}


# --- a run killed between the server's acceptance and the record ---------------------------------------------

@pytest.mark.slow
def test_a_run_killed_after_sending_never_sends_again_by_itself(sample, mail_server, monkeypatch, tmp_path):
    _eng, _truth, missing, b04, b01 = sample
    contacts, _who = _contacts(tmp_path / "danh_ba.csv", missing, b04, b01)
    _smtp_env(monkeypatch, mail_server, contacts)
    mail_server.take()
    marker = tmp_path / "pause.json"
    env = dict(os.environ, CCN_FAULT_PAUSE="remind:sent", CCN_FAULT_MARKER=str(marker),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    args = ["remind", "--period", H1.code, "--province", b04, "--form", "04"]
    proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", *args], env=env, cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[0][-3000:]
        assert time.monotonic() < deadline, "the run never reached remind:sent"
        time.sleep(0.05)
    assert json.loads(marker.read_text(encoding="utf-8"))["pid"] == proc.pid
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    marker.unlink()
    assert len(mail_server.take()) == 1  # the server has it; the record says only that it was being sent
    assert [(r.state, r.sent_at) for r in rows("SELECT state, sent_at FROM reminder")] == [("sending", None)]

    assert ccn(*args) == 1  # at most once: not sent again, shown as unconfirmed
    assert mail_server.take() == []
    assert [r.state for r in rows("SELECT state FROM reminder")] == ["sending"]

    assert ccn(*args, "--resend-unconfirmed") == 0  # a person's choice: sent again, with the same Message-ID
    (again,) = mail_server.take()
    assert again[2]["Message-ID"].startswith("<ccn-reminder.2026-H1.after.")
    assert [r.state for r in rows("SELECT state FROM reminder")] == ["sent"]


def _alembic(conn) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(ROOT / "schemas" / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def test_migration_0009_down_and_up(sample, tmp_path):
    eng, *_ = sample
    with eng.begin() as conn:
        command.downgrade(_alembic(conn), "0007")
    with eng.connect() as conn:
        assert "reminder" not in set(inspect(conn).get_table_names())
    upgrade(eng)  # as the next run does
    with eng.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("reminder")}
    assert columns == {"period", "form", "unit_key", "kind", "province_code", "deadline", "state", "channel",
                       "recipients", "to_department", "message_id", "draft_path", "claimed_at", "sent_at", "detail"}
    assert remind(eng, H1, contacts=Contacts(), outbox=DraftOutbox(tmp_path), now=BEFORE_DAY).letters == 0
