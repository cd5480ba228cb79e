"""``ccn user add``: accounts of the stewards' portal (issue 14) on both backends.  The password is kept only as
an argon2id hash, appears in no column, message or log; a wrong password, an unknown and a disabled login are
refused alike; bad input creates nothing; every account created is in the audit trail."""

from __future__ import annotations

import logging
import secrets
from datetime import datetime

import pytest
from sqlalchemy import text, update

from pipelines.steward.accounts import AccountError, add_user, authenticate
from schemas.migrate import upgrade
from schemas.periods import VN_TZ
from schemas.tables import portal_user
from tests.helpers import ccn, engine

PASSWORD = "đèn xanh " + secrets.token_urlsafe(12)  # made per run (no password in the repository), marks included


@pytest.fixture(params=["sqlite", "postgresql"])
def home(request, tmp_path, monkeypatch):
    monkeypatch.setenv("CCN_HOME", str(tmp_path / "home"))
    if request.param == "sqlite":
        monkeypatch.setenv("CCN_WAREHOUSE_URL", f"sqlite:///{tmp_path / 'home' / 'warehouse.sqlite'}")
    else:
        monkeypatch.setenv("CCN_WAREHOUSE_URL", request.getfixturevalue("pg_url"))
    (tmp_path / "home").mkdir()
    eng = engine()
    upgrade(eng)  # a warehouse that holds no account yet
    eng.dispose()
    return tmp_path / "home"


def _rows(sql: str) -> list:
    eng = engine()
    with eng.connect() as conn:
        rows = conn.execute(text(sql)).all()
    eng.dispose()
    return rows


def test_user_add_keeps_only_an_argon2_hash_and_audits(home, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("PW", PASSWORD)
    assert ccn("user", "add", "hoa.nb", "--role", "province", "--province", "37", "--password-env", "PW") == 0
    out = capsys.readouterr()
    assert "hoa.nb" in out.out and "(37)" in out.out
    [(name, role, province, hashed)] = _rows("SELECT name, role, province_code, password_hash FROM portal_user")
    assert (name, role, province) == ("hoa.nb", "province", "37")
    assert hashed.startswith("$argon2id$") and "m=65536" in hashed  # memory-hard: 64 MiB
    every_cell = " ".join(str(v) for t in ("portal_user", "audit_event") for r in _rows(f"SELECT * FROM {t}")
                          for v in r)
    assert PASSWORD not in every_cell + out.out + out.err + caplog.text
    [(actor, action, target, detail)] = _rows("SELECT actor, action, target, detail FROM audit_event")
    assert actor.startswith("cli:") and (action, target, detail) == ("user.add", "hoa.nb", "province 37")

    eng = engine()
    try:
        account = authenticate(eng, "hoa.nb", PASSWORD)
        assert account and (account.role, account.province_code) == ("province", "37")
        assert authenticate(eng, "hoa.nb", PASSWORD + "x") is None
        assert authenticate(eng, "nobody", PASSWORD) is None
        with eng.begin() as conn:
            conn.execute(update(portal_user).values(disabled_at=datetime.now(VN_TZ)))
        assert authenticate(eng, "hoa.nb", PASSWORD) is None  # disabled
    finally:
        eng.dispose()
    assert ccn("user", "list") == 0
    listed = capsys.readouterr().out
    assert "hoa.nb" in listed and "37 Tỉnh Ninh Bình" in listed and "argon2" not in listed


@pytest.mark.parametrize("args, said", [
    (["--role", "province"], "--province"),  # a province steward needs a province
    (["--role", "ministry", "--province", "37"], "--province"),  # and only they have one
    (["--role", "province", "--province", "99"], "99"),  # not a 2025 province
    (["--role", "admin"], "invalid choice"),
])
def test_user_add_refuses_bad_input_and_creates_nothing(home, monkeypatch, capsys, args, said):
    monkeypatch.setenv("PW", PASSWORD)
    try:
        code = ccn("user", "add", "lan", *args, "--password-env", "PW")
    except SystemExit as exc:  # argparse refuses an unknown role itself
        code = exc.code
    assert code == 2 and said in capsys.readouterr().err
    assert _rows("SELECT name FROM portal_user") == []
    assert _rows("SELECT action FROM audit_event") == []


def test_passwords_short_unset_or_taken_are_refused(home, monkeypatch, capsys):
    monkeypatch.setenv("SHORT", PASSWORD[:11])
    monkeypatch.delenv("UNSET", raising=False)
    monkeypatch.setenv("PW", PASSWORD)
    assert ccn("user", "add", "lan", "--role", "viewer", "--password-env", "UNSET") == 2
    assert "UNSET" in capsys.readouterr().err
    assert ccn("user", "add", "lan", "--role", "viewer", "--password-env", "SHORT") == 2
    assert "12" in capsys.readouterr().err
    assert ccn("user", "add", "lan", "--role", "viewer", "--password-env", "PW") == 0
    assert ccn("user", "add", "lan", "--role", "ministry", "--password-env", "PW") == 2  # the login is taken
    assert "lan" in capsys.readouterr().err
    assert _rows("SELECT name, role FROM portal_user") == [("lan", "viewer")]
    assert [a for (a,) in _rows("SELECT action FROM audit_event")] == ["user.add"]


def test_a_login_must_be_plain(home):
    eng = engine()
    try:
        for bad in ("Hoa", "hoà", "a", "x y", "'; DROP TABLE portal_user; --"):
            with pytest.raises(AccountError):
                add_user(eng, bad, "viewer", PASSWORD, actor="test")
    finally:
        eng.dispose()


def test_logins_are_limited_per_account_and_audited(home):
    from datetime import timedelta

    from pipelines.steward.accounts import LOGIN_WINDOW, MAX_FAILED_PER_ACCOUNT, LoginThrottled, login, login_wait

    eng = engine()
    try:
        add_user(eng, "hoa.nb", "province", PASSWORD, province_code="37", actor="test")
        add_user(eng, "lan", "viewer", PASSWORD, actor="test")
        here, there = "203.0.113.7", "198.51.100.4"
        ok = login(eng, "hoa.nb", PASSWORD, here)
        assert ok is not None and ok.province_code == "37"
        for _ in range(MAX_FAILED_PER_ACCOUNT):
            assert login_wait(eng, "hoa.nb", here) == 0
            assert login(eng, "hoa.nb", PASSWORD + "x", here) is None
        wait = login_wait(eng, "hoa.nb", there)  # the account waits, from any address
        failed = [at for (at,) in _rows("SELECT at FROM audit_event WHERE action = 'login.failed' ORDER BY at")]
        assert len(failed) == MAX_FAILED_PER_ACCOUNT
        assert 0 < wait <= LOGIN_WINDOW.total_seconds()
        # the 6th attempt, even with the right password, is refused and does not lengthen the wait
        with pytest.raises(LoginThrottled) as refused:
            login(eng, "hoa.nb", PASSWORD, there)
        assert isinstance(refused.value, AccountError) and 0 < refused.value.seconds <= wait
        assert "phút" in str(refused.value) and "minute" in str(refused.value)
        # until the oldest failure leaves the window: then one more attempt is allowed
        oldest = datetime.fromisoformat(str(failed[0])) if isinstance(failed[0], str) else failed[0]
        assert login_wait(eng, "hoa.nb", here, now=oldest + LOGIN_WINDOW - timedelta(seconds=30)) == 30
        assert login_wait(eng, "hoa.nb", here, now=oldest + LOGIN_WINDOW + timedelta(seconds=1)) == 0
        assert login(eng, "lan", PASSWORD, here) is not None  # another account from the same address: allowed
        events = _rows("SELECT actor, action, address FROM audit_event WHERE action LIKE 'login.%' ORDER BY event_id")
        assert events == [("hoa.nb", "login.ok", here), *[("hoa.nb", "login.failed", here)] * 5,
                          ("hoa.nb", "login.throttled", there), ("lan", "login.ok", here)]
    finally:
        eng.dispose()


def test_logins_are_limited_per_address_and_names_kept_short(home):
    from pipelines.steward.accounts import (
        ACTOR_LENGTH,
        MAX_FAILED_PER_ADDRESS,
        LoginThrottled,
        audit_events,
        login,
        login_wait,
    )

    eng = engine()
    try:
        add_user(eng, "lan", "viewer", PASSWORD, actor="test")
        guesser, elsewhere = "192.0.2.66", "192.0.2.67"
        long_name = "x" * 100
        assert login(eng, long_name, PASSWORD, guesser) is None
        for n in range(1, MAX_FAILED_PER_ADDRESS):  # a different name each time: no account reaches its limit
            assert login(eng, f"guess{n}", PASSWORD, guesser) is None
        assert login_wait(eng, "lan", guesser) > 0
        with pytest.raises(LoginThrottled):
            login(eng, "lan", PASSWORD, guesser)
        assert login(eng, "lan", PASSWORD, elsewhere) is not None  # the account itself is not locked
        assert _rows("SELECT actor FROM audit_event WHERE action = 'login.failed' ORDER BY event_id")[0] == (
            "x" * ACTOR_LENGTH,)

        # the ministry's view of the trail: newest first, filtered, counted, paged
        page, total = audit_events(eng, action="login.failed", limit=5)
        assert total == MAX_FAILED_PER_ADDRESS and [e.actor for e in page] == [
            f"guess{n}" for n in range(MAX_FAILED_PER_ADDRESS - 1, MAX_FAILED_PER_ADDRESS - 6, -1)]
        assert all(e.address == guesser for e in page)
        everything, total = audit_events(eng, limit=1000)
        assert total == len(everything) == 1 + MAX_FAILED_PER_ADDRESS + 2  # user.add, failures, throttled, ok
        assert [e.action for e in everything[:2]] == ["login.ok", "login.throttled"] and everything[-1].action == (
            "user.add")
        assert [e.event_id for e in everything] == sorted((e.event_id for e in everything), reverse=True)
        second, _ = audit_events(eng, limit=3, offset=3)
        assert second == everything[3:6]
        assert audit_events(eng, actor="lan")[1] == 2
    finally:
        eng.dispose()


def test_parallel_guesses_on_one_account_are_counted_one_by_one(home):
    """Twelve wrong passwords for one account at the same time (the portal serves each in its own thread): only
    MAX_FAILED_PER_ACCOUNT are tried against the hash, the rest wait, as if they had come one after another."""
    from concurrent.futures import ThreadPoolExecutor

    from pipelines.steward.accounts import MAX_FAILED_PER_ACCOUNT, LoginThrottled, login

    eng = engine()
    try:
        add_user(eng, "hoa.nb", "province", PASSWORD, province_code="37", actor="test")

        def guess(n: int) -> str:
            try:
                return "ok" if login(eng, "hoa.nb", f"{PASSWORD}-{n}", f"192.0.2.{n}") else "failed"
            except LoginThrottled:
                return "throttled"

        with ThreadPoolExecutor(12) as pool:
            outcomes = sorted(pool.map(guess, range(12)))
        assert outcomes == ["failed"] * MAX_FAILED_PER_ACCOUNT + ["throttled"] * (12 - MAX_FAILED_PER_ACCOUNT)
        assert _rows("SELECT count(*) FROM audit_event WHERE action = 'login.failed'") == [(MAX_FAILED_PER_ACCOUNT,)]
    finally:
        eng.dispose()
