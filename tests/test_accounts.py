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
