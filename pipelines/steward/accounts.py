"""Accounts of the stewards' portal and the audit trail (issue 14).

An account is a login, a role and, for a province steward, the 2025 province it may see.  Its password is kept
only as an argon2id hash (memory-hard); there is no default account and no password in the repository, the logs
or the database in clear.  Every change to accounts, and later every upload, sending, waiver, approval, unlock
and failed login, is an ``audit_event``: who, what, when, from where.
"""

from __future__ import annotations

import math
import re
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, insert, select
from sqlalchemy.engine import Connection, Engine

from schemas.admin import admin
from schemas.periods import VN_TZ
from schemas.tables import audit_event, portal_user
from schemas.text import bilingual

# role -> (Vietnamese, English): what each may do is the portal's to enforce
ROLES = {
    "province": ("Cán bộ Sở Công Thương (một tỉnh)", "province steward (one province)"),
    "ministry": ("Cán bộ Bộ Công Thương (mọi tỉnh)", "ministry steward (all provinces)"),
    "viewer": ("Người xem (chỉ đọc)", "viewer (read-only)"),
}
MIN_PASSWORD = 12  # characters
_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
_HASHER = PasswordHasher()  # argon2id with the library's current parameters (64 MiB, 3 passes)
# verifying an unknown login costs the same as a known one, so timing does not tell which logins exist
_UNKNOWN = _HASHER.hash("no such account")


class AccountError(ValueError):
    pass


@dataclass(frozen=True)
class Account:
    name: str
    role: str
    province_code: str | None
    created_at: datetime
    disabled_at: datetime | None


def record(conn: Connection, actor: str, action: str, *, address: str | None = None, target: str | None = None,
           detail: str | None = None) -> None:
    """One audit event, in the caller's transaction (it is kept exactly when what it records is)."""
    conn.execute(insert(audit_event).values(at=datetime.now(VN_TZ), actor=actor, action=action, address=address,
                                            target=target, detail=detail))


def add_user(engine: Engine, name: str, role: str, password: str, *, province_code: str | None = None,
             actor: str) -> Account:
    """Create an account; refuses a bad login, role or province, a short password, or a login already taken."""
    if not _NAME.match(name):
        raise AccountError(bilingual(
            "tên đăng nhập gồm 2–64 chữ thường không dấu, chữ số, dấu chấm, gạch dưới hoặc gạch ngang",
            "a login is 2–64 lower-case letters without marks, digits, dots, underscores or hyphens"))
    if role not in ROLES:
        raise AccountError(bilingual(f"vai trò phải là một trong {', '.join(ROLES)}",
                                     f"the role must be one of {', '.join(ROLES)}"))
    if (role == "province") != bool(province_code):
        raise AccountError(bilingual("cán bộ Sở (province) cần --province; vai trò khác thì không",
                                     "a province steward needs --province; the other roles take none"))
    if province_code and province_code not in admin().provinces:
        raise AccountError(bilingual(f"{province_code} không phải mã tỉnh năm 2025",
                                     f"{province_code} is not a 2025 province code"))
    if len(password) < MIN_PASSWORD:
        raise AccountError(bilingual(f"mật khẩu cần ít nhất {MIN_PASSWORD} ký tự",
                                     f"the password needs at least {MIN_PASSWORD} characters"))
    now = datetime.now(VN_TZ)
    with engine.begin() as conn:
        if conn.execute(select(portal_user.c.name).where(portal_user.c.name == name)).first():
            raise AccountError(bilingual(f"tên đăng nhập {name} đã có", f"the login {name} already exists"))
        conn.execute(insert(portal_user).values(name=name, role=role, province_code=province_code,
                                                password_hash=_HASHER.hash(password), created_at=now))
        record(conn, actor, "user.add", target=name, detail=f"{role} {province_code or ''}".strip())
    return Account(name, role, province_code, now, None)


def users(engine: Engine) -> list[Account]:
    with engine.connect() as conn:
        rows = conn.execute(select(portal_user.c.name, portal_user.c.role, portal_user.c.province_code,
                                   portal_user.c.created_at, portal_user.c.disabled_at)
                            .order_by(portal_user.c.name)).all()
    return [Account(*r) for r in rows]


def authenticate(engine: Engine, name: str, password: str) -> Account | None:
    """The account when ``password`` is its password and it is not disabled; else None (a wrong password, an
    unknown or disabled login are told apart by nobody, not even by the time taken)."""
    with engine.connect() as conn:
        row = conn.execute(select(portal_user).where(portal_user.c.name == name)).first()
    try:
        _HASHER.verify(row.password_hash if row else _UNKNOWN, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or row.disabled_at is not None:
        return None
    return Account(row.name, row.role, row.province_code, row.created_at, row.disabled_at)


# --- logins: attempts limited per account and per address (issue 14) -----------------------------------------
LOGIN_WINDOW = timedelta(minutes=15)  # failed logins counted over this span
MAX_FAILED_PER_ACCOUNT = 5  # failed logins of one login name in the window; the next attempt waits
MAX_FAILED_PER_ADDRESS = 20  # failed logins from one address in the window, whatever the names
ACTOR_LENGTH = 64  # of a typed login name kept in the audit trail (no login is longer)


class LoginThrottled(AccountError):
    """Too many failed logins: the next attempt is refused, even with the right password, for ``seconds``."""

    def __init__(self, seconds: int):
        self.seconds = seconds
        minutes = -(-seconds // 60)
        super().__init__(bilingual(f"đăng nhập sai quá nhiều lần; hãy thử lại sau {minutes} phút",
                                   f"too many failed logins; try again in {minutes} minute{'s' * (minutes > 1)}"))


def _typed(name: str) -> str:
    return (name or "")[:ACTOR_LENGTH]


def login_wait(engine: Engine, name: str, address: str | None, now: datetime | None = None) -> int:
    """Seconds to wait before another login attempt for ``name`` from ``address`` (0: allowed).  With ``limit``
    failed logins or more in the last LOGIN_WINDOW (MAX_FAILED_PER_ACCOUNT for the name, MAX_FAILED_PER_ADDRESS
    for the address), the wait lasts until enough of them have left the window to fall under the limit."""
    now = now or datetime.now(VN_TZ)
    since = now - LOGIN_WINDOW
    e = audit_event.c
    failed = select(e.at).where(e.action == "login.failed", e.at > since, e.at <= now).order_by(e.at.desc())
    wait = timedelta(0)
    with engine.connect() as conn:
        for who, limit in ((e.actor == _typed(name), MAX_FAILED_PER_ACCOUNT),
                           (e.address == address if address else None, MAX_FAILED_PER_ADDRESS)):
            if who is None:
                continue
            times = conn.execute(failed.where(who).limit(limit)).scalars().all()  # newest first
            if len(times) >= limit:  # allowed again when the limit-th newest leaves the window
                wait = max(wait, times[limit - 1] + LOGIN_WINDOW - now)
    return max(1, math.ceil(wait.total_seconds())) if wait > timedelta(0) else 0


def login(engine: Engine, name: str, password: str, address: str | None) -> Account | None:
    """The account when the password is right and no wait is due; None when it is wrong (recorded as
    ``login.failed`` with the name typed and the address).  Raises LoginThrottled while a wait is due (recorded as
    ``login.throttled``, which does not lengthen the wait); a right login is recorded as ``login.ok``."""
    actor = _typed(name)
    with _LOGIN_LOCKS[hash(actor) % len(_LOGIN_LOCKS)]:  # attempts on one name in parallel are counted one by one
        wait = login_wait(engine, name, address)
        if wait:
            with engine.begin() as conn:
                record(conn, actor, "login.throttled", address=address, detail=f"{wait} s")
            raise LoginThrottled(wait)
        account = authenticate(engine, name, password)
        with engine.begin() as conn:
            record(conn, actor, "login.ok" if account else "login.failed", address=address)
    return account


# A fixed pool (not one lock per typed name, which anyone could grow): within a process, the check of the wait and
# the record of the attempt are one step for a name, so parallel guesses cannot all pass the same check.
_LOGIN_LOCKS = [threading.Lock() for _ in range(64)]


@dataclass(frozen=True)
class AuditEvent:
    event_id: int
    at: datetime
    actor: str
    action: str
    address: str | None
    target: str | None
    detail: str | None


def audit_events(engine: Engine, *, action: str | None = None, actor: str | None = None, limit: int = 100,
                 offset: int = 0) -> tuple[list[AuditEvent], int]:
    """The audit trail, newest first, filtered by action and actor: one page and how many events match in all."""
    if limit < 1 or offset < 0:
        raise ValueError("limit >= 1 and offset >= 0")
    e = audit_event.c
    where = [c == v for c, v in ((e.action, action), (e.actor, actor)) if v is not None]
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(audit_event).where(*where)).scalar_one()
        rows = conn.execute(select(e.event_id, e.at, e.actor, e.action, e.address, e.target, e.detail).where(*where)
                            .order_by(e.at.desc(), e.event_id.desc()).limit(limit).offset(offset)).all()
    return [AuditEvent(*r) for r in rows], int(total)
