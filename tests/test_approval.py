"""Approval of a province's period (issue 14) on both backends: the transitions and their refusals, each change in
the audit trail, ``ccn period``, and the real flow — a report that arrives for a period the Ministry has accepted
is held (shown, counted nowhere), stays held run after run, and once the period is unlocked the next run settles
it and it supersedes the report it replaces.  Migration 0007 goes down and up again."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from openpyxl import load_workbook
from sqlalchemy import inspect

from pipelines.steward.approval import (
    STATE_WORDS,
    ApprovalError,
    accept_period,
    locked_pairs,
    period_state,
    period_states,
    return_period,
    submit_period,
    unlock_period,
)
from schemas.migrate import upgrade
from schemas.status import Approval, Status
from tests.helpers import ccn, engine, rows, view
from tests.test_validation import B0304, PERIOD, run_stages, write_report

P = "37"  # Ninh Bình
H1 = PERIOD.code  # 2026-H1


@pytest.fixture
def eng(home):
    e = engine()
    upgrade(e)
    yield e
    e.dispose()


def _audit() -> list[tuple[str, str, str, str]]:
    return [(r.actor, r.action, r.target, r.detail) for r in rows(
        "SELECT actor, action, target, detail FROM audit_event ORDER BY event_id")]


def test_transitions_refusals_and_audit(eng):
    assert period_state(eng, P, H1).state == Approval.OPEN and not period_state(eng, P, H1).locked
    assert period_states(eng) == []

    s = submit_period(eng, P, H1, "hoa.nb", address="10.0.0.7")
    assert (s.state, s.changed_by, s.comment, s.locked) == (Approval.SUBMITTED, "hoa.nb", None, False)
    with pytest.raises(ApprovalError, match=r"đã được gửi.* — .*submitted already"):
        submit_period(eng, P, H1, "hoa.nb")
    with pytest.raises(ApprovalError, match="--comment"):
        return_period(eng, P, H1, "binh.bct", "  ")
    r = return_period(eng, P, H1, "binh.bct", "Thiếu Biểu 03 của 2 xã")
    assert (r.state, r.comment) == (Approval.RETURNED, "Thiếu Biểu 03 của 2 xã")
    with pytest.raises(ApprovalError, match="returned by the Ministry already"):
        return_period(eng, P, H1, "binh.bct", "lại")
    submit_period(eng, P, H1, "hoa.nb")
    a = accept_period(eng, P, H1, "binh.bct", comment="Đủ và khớp")
    assert a.locked and a.label == "Bộ đã chấp nhận, kỳ đã khoá / accepted by the Ministry, locked"
    with eng.connect() as conn:
        assert locked_pairs(conn) == {(P, H1)}
    for refused in (lambda: submit_period(eng, P, H1, "hoa.nb"), lambda: accept_period(eng, P, H1, "binh.bct"),
                    lambda: return_period(eng, P, H1, "binh.bct", "sai")):
        with pytest.raises(ApprovalError, match=r"Bộ chấp nhận và khoá.* — .*accepted by the Ministry and is locked"):
            refused()
    with pytest.raises(ApprovalError, match="--reason"):
        unlock_period(eng, P, H1, "binh.bct", "")
    u = unlock_period(eng, P, H1, "binh.bct", "Tỉnh gửi bổ sung Biểu 02")
    assert (u.state, u.locked, u.comment) == (Approval.OPEN, False, "Tỉnh gửi bổ sung Biểu 02")
    with pytest.raises(ApprovalError, match="is not locked"):
        unlock_period(eng, P, H1, "binh.bct", "lại")
    # open again: the Ministry may accept it straight away (and return an open period)
    accept_period(eng, "22", H1, "binh.bct")

    stored = period_state(eng, P, H1)
    assert (stored.state, stored.changed_by, stored.comment) == (Approval.OPEN, "binh.bct", "Tỉnh gửi bổ sung Biểu 02")
    assert stored.changed_at is not None and stored.changed_at.utcoffset() is not None
    assert [(x.province_code, x.state) for x in period_states(eng, H1)] == [("22", "accepted"), (P, "open")]
    assert period_states(eng, "2025-Y") == []
    assert [x.province_code for x in period_states(eng, province_code="22")] == ["22"]
    assert _audit() == [
        ("hoa.nb", "period.submit", f"{P}/{H1}", "open → submitted"),
        ("binh.bct", "period.return", f"{P}/{H1}", "submitted → returned: Thiếu Biểu 03 của 2 xã"),
        ("hoa.nb", "period.submit", f"{P}/{H1}", "returned → submitted"),
        ("binh.bct", "period.accept", f"{P}/{H1}", "submitted → accepted: Đủ và khớp"),
        ("binh.bct", "period.unlock", f"{P}/{H1}", "accepted → open: Tỉnh gửi bổ sung Biểu 02"),
        ("binh.bct", "period.accept", f"22/{H1}", "open → accepted"),
    ]
    assert [a for (a,) in rows("SELECT address FROM audit_event ORDER BY event_id")][:2] == ["10.0.0.7", None]


@pytest.mark.parametrize("province, period, said", [("99", H1, "99"), ("", H1, "province code"),
                                                    (P, "2026-Q3", "2026-Q3"), (P, "", "2025-H1")])
def test_bad_province_or_period_changes_nothing(eng, province, period, said):
    with pytest.raises(ApprovalError, match=said):
        accept_period(eng, province, period, "binh.bct")
    with pytest.raises(ApprovalError):
        submit_period(eng, province, period, "hoa.nb")
    assert rows("SELECT * FROM period_approval") == [] and _audit() == []


def test_every_state_has_words():
    assert set(STATE_WORDS) == set(Approval.STATES)
    assert all(vi and en and vi != en for vi, en in STATE_WORDS.values())


def test_ccn_period(eng, capsys):
    assert ccn("period", "accept", "--province", P, "--period", H1, "--by", "Trần Văn Bình") == 0
    out = capsys.readouterr().out
    assert "đang nhận báo cáo → Bộ đã chấp nhận, kỳ đã khoá" in out and "open → accepted by the Ministry" in out
    assert _audit() == [("cli:Trần Văn Bình", "period.accept", f"{P}/{H1}", "open → accepted")]

    assert ccn("period", "submit", "--province", P, "--period", H1, "--by", "Hoa") == 2
    assert "Bộ cần mở khoá trước" in capsys.readouterr().err
    try:
        code = ccn("period", "return", "--province", P, "--period", H1, "--by", "Bình")
    except SystemExit as exc:  # argparse: --comment is required
        code = exc.code
    assert code == 2 and "--comment" in capsys.readouterr().err

    assert ccn("period", "show", "--period", H1) == 0
    table = capsys.readouterr().out
    assert "Trạng thái / State" in table and "37 Tỉnh Ninh Bình" in table and "cli:Trần Văn Bình" in table
    assert table.count("đang nhận báo cáo / open") == 33  # every other 2025 province, open
    assert ccn("period", "show", "--province", "99") == 2
    assert "99" in capsys.readouterr().err
    assert ccn("period", "unlock", "--province", P, "--period", H1, "--reason", "bổ sung", "--by", "Bình") == 0
    assert "ccn run" in capsys.readouterr().out
    assert ccn("period", "show") == 0
    assert "đang nhận báo cáo / open" in capsys.readouterr().out
    assert [a[1] for a in _audit()] == ["period.accept", "period.unlock"]


def _summary() -> dict[str, tuple[float, int]]:
    return {r.indicator_code: (r.value, r.provinces_reporting) for r in view("mart_national_summary").itertuples()}


def _statuses() -> dict[str, str]:
    return dict(view("mart_submissions")[["file_name", "status"]].itertuples(index=False))


@pytest.mark.slow  # three runs of the stages (GX validation), a few seconds per backend
def test_a_report_for_a_locked_period_is_held_until_unlocked(eng, home):
    from pipelines.report.completeness import completeness, refresh_expected
    from pipelines.steward.findings import waive

    inbox = home / "inbox"
    q, r = "22", "48"
    write_report(inbox / "p_bieu04.xlsx", "04", B0304, province=P, days_before=6)
    write_report(inbox / "q_bieu04.xlsx", "04", {**B0304, "15": 7}, province=q, days_before=6)  # rejected
    first = run_stages(inbox)
    assert (first.accepted, first.rejected, first.held) == (1, 1, 0)
    before = _summary()
    assert before["20"] == (80, 1)

    accept_period(eng, P, H1, "binh.bct")
    accept_period(eng, r, H1, "binh.bct")  # a province that has sent nothing yet
    write_report(inbox / "p_bieu04_bo_sung.xlsx", "04", {**B0304, "20": 90}, province=P, days_before=2)
    write_report(inbox / "r_bieu04.xlsx", "04", B0304, province=r, days_before=2)
    second = run_stages(inbox)
    assert (second.accepted, second.accepted_with_warnings, second.rejected, second.superseded, second.held) == \
        (0, 0, 0, 0, 2)
    assert _statuses() == {"p_bieu04.xlsx": "accepted", "q_bieu04.xlsx": "rejected",
                           "p_bieu04_bo_sung.xlsx": "held", "r_bieu04.xlsx": "held"}
    assert _summary() == before  # counted nowhere
    assert set(view("mart_indicator_values")["province_code"]) == {P}
    refresh_expected(eng, PERIOD)
    comp = completeness(eng, PERIOD).set_index(["form", "province_code"])
    assert (comp.loc[("04", r), "missing"], comp.loc[("04", r), "held"]) == (1, 1)  # received, but held
    assert (comp.loc[("04", P), "received"], comp.loc[("04", P), "held"]) == (1, 0)  # its accepted report counts

    # a run with nothing new keeps them held and does not count them again; the rejected report's waiver is audited
    third = run_stages(inbox)
    assert (third.held, third.accepted) == (0, 0) and _statuses()["r_bieu04.xlsx"] == "held"
    [(finding,)] = rows("SELECT finding_id FROM mart_findings WHERE file_name = 'q_bieu04.xlsx' "
                        "AND severity = 'error'")
    w = waive(eng, int(finding), "Sở xác nhận số liệu đúng", "Nguyễn Văn A", address="10.0.0.9")
    assert w.errors_left == 0
    assert _audit()[-1] == ("Nguyễn Văn A", "finding.waive", f"finding {finding}", "Sở xác nhận số liệu đúng")
    assert rows("SELECT address FROM audit_event WHERE action = 'finding.waive'")[0][0] == "10.0.0.9"

    unlock_period(eng, P, H1, "binh.bct", "Tỉnh gửi bổ sung")
    fourth = run_stages(inbox)
    assert (fourth.accepted, fourth.accepted_with_warnings, fourth.superseded, fourth.held) == (1, 1, 1, 0)
    assert _statuses() == {"p_bieu04.xlsx": "superseded", "q_bieu04.xlsx": "accepted_with_warnings",
                           "p_bieu04_bo_sung.xlsx": "accepted", "r_bieu04.xlsx": "held"}
    subs = view("mart_submissions").set_index("file_name")
    [(by,)] = rows("SELECT superseded_by FROM submission WHERE submission_id = :i",
                   i=int(subs.loc["p_bieu04.xlsx", "submission_id"]))
    assert by == int(subs.loc["p_bieu04_bo_sung.xlsx", "submission_id"])
    assert _summary()["20"] == (90 + 80, 2)  # the unlocked province's new figure, and q's waived report


@pytest.mark.slow  # the sample through `ccn run` (Dagster in process) three times
def test_held_in_the_run_table(inbox, truth, capsys, tmp_path):
    files = [f for f in truth["files"] if f["reports"] and f["reports"][0]["form"] == "04"
             and f["expected_status"] == Status.ACCEPTED]
    sample = files[0]
    province = sample["reports"][0]["province_code"]
    assert ccn("run") == 0
    before = _summary()
    capsys.readouterr()
    assert ccn("period", "accept", "--province", province, "--period", truth["period"], "--by", "Bình") == 0

    # the same report saved again (a new file, a new hash) arrives after the acceptance
    wb = load_workbook(inbox / sample["file"])
    again = inbox / "bo_sung" / Path(sample["file"]).name
    again.parent.mkdir()
    wb.save(again)
    later = (inbox / sample["file"]).stat().st_mtime + 3600
    os.utime(again, (later, later))
    capsys.readouterr()
    assert ccn("run") == 0
    out = capsys.readouterr().out
    held_line = next(line for line in out.splitlines() if "Tạm giữ (kỳ đã khoá) / Held (period locked)" in line)
    assert held_line.split()[-2:] == ["1", "1"]  # this run, in the warehouse
    assert _summary() == before
    subs = view("mart_submissions")
    mine = subs[subs.province_code.eq(province) & subs.form.eq("04")].sort_values("received_at")
    assert list(mine.status) == ["accepted", "held"]

    assert ccn("period", "unlock", "--province", province, "--period", truth["period"], "--reason", "bổ sung",
               "--by", "Bình") == 0
    assert ccn("run") == 0
    subs = view("mart_submissions")
    mine = subs[subs.province_code.eq(province) & subs.form.eq("04")].sort_values("received_at")
    assert list(mine.status) == ["superseded", "accepted"]
    assert _summary() == before  # the same figures, now from the later report
    shutil.rmtree(again.parent)


def _alembic(conn) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent.parent / "schemas" / "migrations"))
    cfg.attributes["connection"] = conn
    return cfg


def test_migration_0007_down_and_up(eng):
    accept_period(eng, P, H1, "binh.bct")
    with eng.begin() as conn:
        command.downgrade(_alembic(conn), "0006")
    with eng.connect() as conn:
        tables = set(inspect(conn).get_table_names())
    assert "period_approval" not in tables and {"audit_event", "portal_user", "submission"} <= tables
    upgrade(eng)  # as the next run does
    with eng.connect() as conn:
        columns = {c["name"] for c in inspect(conn).get_columns("period_approval")}
        assert locked_pairs(conn) == set()  # a new, empty table: every period open
    assert columns == {"province_code", "period", "state", "changed_at", "changed_by", "comment"}
    assert accept_period(eng, P, H1, "binh.bct").locked
