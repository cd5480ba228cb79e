"""Sessions and CSRF tokens of the stewards' portal, with nothing but the standard library.

A session is a cookie holding the login, a CSRF token and the time it was issued, signed with HMAC-SHA256 under the
portal's secret key; it is ``HttpOnly`` (no script reads it), ``SameSite=Lax`` (no other site's form sends it) and
``Secure`` when the portal is served over HTTPS.  A visitor who has not logged in gets a session with no login, so
that the login form carries a CSRF token too.  The account behind a session is read again on every request: a
disabled account loses its sessions at once.

The secret key is ``CCN_PORTAL_SECRET`` when set, else ``$CCN_HOME/portal-secret``, made once with 32 random bytes
and readable by its owner only.  Changing the key ends every session.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

COOKIE = "ccn_session"
MAX_AGE = 8 * 3600  # seconds: a working day; after it the steward logs in again
SECRET_ENV = "CCN_PORTAL_SECRET"  # noqa: S105 - the name of the variable, not a secret


def secret_key(home: Path) -> bytes:
    """The portal's signing key (see the module's text)."""
    given = os.environ.get(SECRET_ENV, "")
    if given:
        return given.encode()
    path = home / "portal-secret"
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path.read_text().strip().encode()


@dataclass(frozen=True)
class Session:
    login: str | None  # None: a visitor who has not logged in
    csrf: str
    issued: int  # seconds since the epoch

    @staticmethod
    def new(login: str | None = None) -> Session:
        return Session(login, secrets.token_urlsafe(24), int(time.time()))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def dump(session: Session, key: bytes) -> str:
    body = _b64(json.dumps({"u": session.login, "c": session.csrf, "t": session.issued}).encode())
    return f"{body}.{_b64(hmac.new(key, body.encode(), hashlib.sha256).digest())}"


def load(cookie: str | None, key: bytes, now: float | None = None) -> Session | None:
    """The session a cookie holds; None when it is missing, forged, damaged or older than MAX_AGE."""
    if not cookie or cookie.count(".") != 1:
        return None
    body, signature = cookie.split(".")
    expected = _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())
    if not hmac.compare_digest(signature, expected):
        return None
    try:
        data = json.loads(_unb64(body))
        session = Session(data["u"], str(data["c"]), int(data["t"]))
    except (ValueError, KeyError, TypeError):
        return None
    if (now or time.time()) - session.issued > MAX_AGE:
        return None
    return session


def same_token(given: str | None, session: Session) -> bool:
    return bool(given) and hmac.compare_digest(str(given), session.csrf)
