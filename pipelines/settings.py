"""Where the pipeline keeps its files and which warehouse it writes, from the environment.

``CCN_HOME`` (default ``./.ccn``) holds ``inbox/``, ``archive/``, the embedded warehouse
(``warehouse.sqlite``) and the Dagster home (``dagster/``).  ``CCN_WAREHOUSE_URL`` (any SQLAlchemy URL)
points the warehouse elsewhere, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``.
Limits on input (``CCN_MAX_FILE_MB`` …) are documented in docs/reliability.md.

Deadline reminders (docs/reminders.md): ``CCN_SMTP_URL`` the mail server that sends them (``smtp://host:port``,
``smtp+starttls://user:password@host:587``, ``smtps://user:password@host:465``; unset: they are written as ``.eml``
drafts into ``$CCN_HOME/drafts/``), ``CCN_MAIL_FROM`` the address they come from (required to send), and
``CCN_CONTACTS`` the CSV of addresses (default ``$CCN_HOME/contacts.csv``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number") from None
    if number <= 0:
        raise ValueError(f"{name}={value!r} must be greater than 0")
    return number


def write_batch() -> int:
    """Files archived or recorded per transaction (``CCN_WRITE_BATCH``, default 250).  Larger batches load
    faster; a crash costs at most one batch of work, which the next run redoes."""
    return _int_env("CCN_WRITE_BATCH", 250)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one input file may cost to read, checked by pipelines/intake/safety.py before any parser runs.

    Every bound is an environment variable (docs/reliability.md); a file over any of them is rejected with a
    reason that names the limit, and the other files of the run still load.
    """

    max_file_bytes: int = field(default_factory=lambda: _int_env("CCN_MAX_FILE_MB", 20) * 1024 * 1024)
    max_uncompressed_bytes: int = field(default_factory=lambda: _int_env("CCN_MAX_UNCOMPRESSED_MB", 100) * 1024 * 1024)
    max_zip_entries: int = field(default_factory=lambda: _int_env("CCN_MAX_ZIP_ENTRIES", 2000))
    max_rows: int = field(default_factory=lambda: _int_env("CCN_MAX_ROWS", 10_000))
    max_columns: int = field(default_factory=lambda: _int_env("CCN_MAX_COLUMNS", 256))
    max_cells: int = field(default_factory=lambda: _int_env("CCN_MAX_CELLS", 500_000))


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def drafts(self) -> Path:
        """Where reminders are written as ``.eml`` drafts when no mail server is configured."""
        return self.home / "drafts"

    @property
    def contacts(self) -> Path:
        """The CSV of e-mail addresses of the senders and the provinces' Departments (``CCN_CONTACTS``)."""
        value = os.environ.get("CCN_CONTACTS", "").strip()
        return Path(value).resolve() if value else self.home / "contacts.csv"

    @property
    def contacts_required(self) -> bool:
        """``CCN_CONTACTS`` was set: the file must exist (the default file may be absent: no address known)."""
        return bool(os.environ.get("CCN_CONTACTS", "").strip())

    @property
    def is_embedded(self) -> bool:
        return self.warehouse_url.startswith("sqlite")

    def ensure(self) -> Settings:
        for d in (self.home, self.inbox, self.archive, self.dagster_home):
            d.mkdir(parents=True, exist_ok=True)
        return self


def settings() -> Settings:
    home = Path(os.environ.get("CCN_HOME", ".ccn")).resolve()
    url = os.environ.get("CCN_WAREHOUSE_URL") or f"sqlite:///{home / 'warehouse.sqlite'}"
    return Settings(home=home, warehouse_url=url)


SMTP_SCHEMES = {"smtp": ("none", 25), "smtp+starttls": ("starttls", 587), "smtps": ("ssl", 465)}


@dataclass(frozen=True)
class SmtpServer:
    """The mail server of ``CCN_SMTP_URL``.  ``tls``: ``none`` (plain SMTP, for a relay on this machine or its
    network), ``starttls`` (the connection is upgraded, refused if the server cannot), ``ssl`` (TLS from the start)."""

    host: str
    port: int
    tls: str
    user: str | None = field(default=None)
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:  # for messages: never the password
        scheme = next(s for s, (tls, _) in SMTP_SCHEMES.items() if tls == self.tls)
        user = f"{self.user}@" if self.user else ""
        return f"{scheme}://{user}{self.host}:{self.port}"


def smtp_server() -> SmtpServer | None:
    """``CCN_SMTP_URL`` read and checked (None when unset: reminders are written as drafts)."""
    value = os.environ.get("CCN_SMTP_URL", "").strip()
    if not value:
        return None
    shown = value.split("@", 1)[-1] if "@" in value else value  # never echo a password
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        raise ValueError(f"CCN_SMTP_URL=…{shown!r} is not a URL such as smtp://host:25") from None
    if url.scheme not in SMTP_SCHEMES or not url.hostname or url.path not in ("", "/") or url.query:
        raise ValueError(f"CCN_SMTP_URL=…{shown!r} must look like smtp://host:25, smtp+starttls://user:password@"
                         "host:587 or smtps://user:password@host:465")
    tls, default_port = SMTP_SCHEMES[url.scheme]
    return SmtpServer(host=url.hostname, port=port or default_port, tls=tls,
                      user=unquote(url.username) if url.username else None,
                      password=unquote(url.password) if url.password else None)


def mail_from() -> str | None:
    """``CCN_MAIL_FROM``: the address reminders come from (needed to send them; drafts may go without)."""
    return os.environ.get("CCN_MAIL_FROM", "").strip() or None
