"""Reminders of the reporting deadlines (issue 15): before and after each legal deadline, a letter to every expected
sender that has not reported, in the style of an official letter (công văn), Vietnamese then its English
translation; sent through the mail server of ``CCN_SMTP_URL`` or written as ``.eml`` drafts.  Plain Python for
``ccn remind`` and the Dagster schedules alike (docs/reminders.md).

* **Who has not reported** is the stewards' dashboard's list (:func:`pipelines.report.dashboard.province_dashboard`,
  on ``expected_report`` and the view ``mart_missing_reports``), recomputed first (:func:`refresh_expected`); a
  province whose period the Ministry has accepted (locked) is not reminded.
* **Kind**: ``before`` is sent while the deadline of the unit's form has not come (the schedules send it
  ``days_before`` days ahead, ``schemas/reminders.toml``), ``after`` from the first late instant on; asked for a
  kind the clock does not allow, the form is left aside with a note.
* **To whom** (the rule): addresses come only from the contacts file (``CCN_CONTACTS``, :func:`read_contacts`):
  no table of the warehouse holds one (the cluster register names investors and tax codes, the portal's accounts
  have a login and a province).  A unit with its own address gets its own letter, copied to its province's
  Department of Industry and Trade when that is known; a unit without one is listed in a single letter to the
  Department, which is asked to urge it; the Department's own address is also that of its Biểu 04.  A unit with
  neither is listed as ``no_address`` and recorded nowhere, so a later run, once the address is known, reminds it.
* **Never twice**: table ``reminder`` has one row per (period, form, unit, kind), its primary key.  Drafts: the
  rows and the ``.eml`` file are written in one transaction (the file under a name fixed by the letter's content,
  replaced atomically, so a retry after a crash rewrites the same file).  E-mail: the rows are committed as
  ``sending`` before the server is asked, then marked ``sent``; a definite refusal (recipients, sender or data
  refused, before anything was accepted) deletes them so the next run retries.  A run that stops between the two
  leaves ``sending`` rows: the reminder may or may not have gone, and it is **not** sent again by itself (at most
  once), but shown as ``unconfirmed`` by every later run until ``--resend-unconfirmed`` (at least once, by a
  person's choice) sends it again.  A duplicate official letter cannot be recalled; an unconfirmed one is listed
  every time and the reminder after the deadline follows anyway.
"""

from __future__ import annotations

import base64
import csv
import email.policy
import email.utils
import hashlib
import os
import re
import smtplib
import ssl
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email.headerregistry import Address
from email.message import EmailMessage
from functools import lru_cache
from pathlib import Path

from sqlalchemy import delete, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from pipelines import faults
from pipelines.report.completeness import refresh_expected
from pipelines.report.dashboard import MissingReport, province_dashboard
from pipelines.settings import Settings, SmtpServer, mail_from, smtp_server
from pipelines.steward.approval import period_states
from schemas.admin import admin
from schemas.forms import form_codes, load_forms
from schemas.periods import VN_TZ, Period
from schemas.tables import reminder
from schemas.text import bilingual, clean, slug

POLICY_FILE = Path(__file__).resolve().parents[2] / "schemas" / "reminders.toml"
BEFORE, AFTER = "before", "after"
KINDS = (BEFORE, AFTER)
KIND_WORDS = {BEFORE: ("trước hạn", "before"), AFTER: ("sau hạn", "after")}  # the deadline
SENDING, SENT, DRAFTED = "sending", "sent", "drafted"

# what happened to each expected report, in words (Vietnamese, English); the table of ``ccn remind`` prints them
OUTCOME_WORDS = {
    "sent": ("đã gửi", "sent"),
    "drafted": ("đã viết thư nháp", "draft written"),
    "would_send": ("sẽ gửi (chạy thử)", "would be sent (dry run)"),
    "would_draft": ("sẽ viết thư nháp (chạy thử)", "would be drafted (dry run)"),
    "already": ("đã nhắc trước đó", "reminded already"),
    "unconfirmed": ("chưa rõ đã gửi: lần chạy trước dừng giữa chừng", "unconfirmed: an earlier run stopped midway"),
    "no_address": ("không có địa chỉ thư", "no e-mail address"),
    "refused": ("máy chủ thư từ chối, sẽ thử lại", "refused by the mail server, retried next run"),
    "not_tried": ("chưa gửi: dừng sau lỗi", "not sent: stopped after an error"),
    "taken": ("lần chạy khác đang nhắc", "taken by another run"),
    "locked": ("kỳ đã khoá, không nhắc", "period locked, not reminded"),
}
# the outcomes that leave something for a person to do (``ccn remind`` exits 1)
NEEDS_ATTENTION = ("unconfirmed", "no_address", "refused", "not_tried")


class ReminderError(ValueError):
    """Input a person must correct (the contacts file, the sender address, a code): the message says what."""


class MailServerError(RuntimeError):
    """The mail server cannot be reached or refused the login: nothing was sent."""


# --- the policy: schemas/reminders.toml -----------------------------------------------------------------------

@dataclass(frozen=True)
class Policy:
    days_before: int
    hour: int
    issuer: dict[str, str]
    vi: dict
    en: dict


@lru_cache(maxsize=1)
def policy() -> Policy:
    data = tomllib.loads(POLICY_FILE.read_text(encoding="utf-8"))
    days, hour = data["schedule"]["days_before"], data["schedule"]["hour"]
    if not (isinstance(days, int) and 1 <= days <= 20 and isinstance(hour, int) and 0 <= hour <= 23):
        raise ValueError(f"{POLICY_FILE.name}: [schedule] days_before must be 1–20 and hour 0–23")
    return Policy(days, hour, data["issuer"], data["letter"]["vi"], data["letter"]["en"])


def deadline_of(period: Period, form: str) -> datetime:
    """The first late instant of ``form``'s report for ``period`` (forms.toml)."""
    return period.deadline(load_forms()[form].deadline[period.kind])


def reminder_day(month_day: str, kind: str) -> tuple[int, int]:
    """(month, day) a scheduled reminder of a deadline ``MM-DD`` goes out: ``days_before`` ahead, or on the first
    late day."""
    month, day = (int(x) for x in month_day.split("-"))
    when = date(2001, month, day) - timedelta(days=policy().days_before if kind == BEFORE else 0)
    return when.month, when.day


# --- contacts ---------------------------------------------------------------------------------------------------

CONTACT_COLUMNS = ("province_code", "form", "unit_key", "name", "email")
_EMAIL = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Contact:
    name: str | None  # whom the letter is for ("Kính gửi"), as the contacts file names it
    emails: tuple[str, ...]


@dataclass(frozen=True)
class Contacts:
    """The addresses of the contacts file: each province's Department (its row has no form and no unit), and of
    the units that have one (form and unit key as ``ccn remind --dry-run`` prints them)."""

    departments: dict[str, Contact] = field(default_factory=dict)
    units: dict[tuple[str, str], Contact] = field(default_factory=dict)
    source: Path | None = None

    def department(self, province_code: str) -> Contact | None:
        return self.departments.get(province_code)

    def unit(self, form: str, unit_key: str) -> Contact | None:
        """The unit's own address; a province's Biểu 04 is its Department's."""
        return self.departments.get(unit_key) if form == "04" else self.units.get((form, unit_key))


def read_contacts(path: Path, *, required: bool = False) -> Contacts:
    """The contacts CSV (UTF-8, a header row ``province_code,form,unit_key,name,email``; several addresses of one
    unit separated by ``;``).  A missing file is no address at all, unless ``required`` (``CCN_CONTACTS`` named
    it); any wrong line is a :class:`ReminderError` naming the file, the line and what is wrong."""
    if not path.is_file():
        if required:
            raise ReminderError(bilingual(f"không có tệp danh bạ {path} (CCN_CONTACTS)",
                                          f"no contacts file {path} (CCN_CONTACTS)"))
        return Contacts(source=None)
    departments: dict[str, Contact] = {}
    units: dict[tuple[str, str], Contact] = {}
    provinces = admin().provinces
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.DictReader(fh)
        header = [clean(h) for h in reader.fieldnames or []]
        if header[:len(CONTACT_COLUMNS)] != list(CONTACT_COLUMNS):
            raise ReminderError(bilingual(
                f"{path}: dòng 1 phải là tiêu đề {','.join(CONTACT_COLUMNS)}, không phải {','.join(header)}",
                f"{path}: line 1 must be the header {','.join(CONTACT_COLUMNS)}, not {','.join(header)}"))
        reader.fieldnames = header
        for row in reader:
            line = reader.line_num

            def wrong(vi: str, en: str, line: int = line) -> ReminderError:
                return ReminderError(bilingual(f"{path}, dòng {line}: {vi}", f"{path}, line {line}: {en}"))

            values = {k: clean(row.get(k)) for k in CONTACT_COLUMNS}
            if not any(values.values()):
                continue
            province, form, key = values["province_code"].zfill(2), values["form"].zfill(2), values["unit_key"]
            if province not in provinces:
                raise wrong(f"{values['province_code'] or '(trống)'} không phải mã tỉnh năm 2025",
                            f"{values['province_code'] or '(empty)'} is not a 2025 province code")
            if values["form"] and form not in form_codes():
                raise wrong(f"biểu {values['form']} không có (01, 02, 03 hoặc 04)",
                            f"there is no form {values['form']} (01, 02, 03 or 04)")
            if not values["form"] and key:
                raise wrong("có mã đơn vị mà không có biểu", "a unit key without its form")
            if values["form"] and form != "04" and not key:
                raise wrong(f"biểu {form} cần mã đơn vị (unit_key)", f"form {form} needs the unit's key (unit_key)")
            if form == "04" and key not in ("", province):
                raise wrong(f"Biểu 04 là của tỉnh: mã đơn vị phải để trống hoặc là {province}",
                            f"Biểu 04 is the province's: leave unit_key empty or write {province}")
            emails = tuple(e.strip() for e in re.split(r"[;,]", values["email"]) if e.strip())
            if not emails:
                raise wrong("thiếu địa chỉ thư (email)", "the e-mail address is missing")
            bad = [e for e in emails if not _EMAIL.match(e)]
            if bad:
                raise wrong(f"địa chỉ thư không hợp lệ: {', '.join(bad)}", f"not an e-mail address: {', '.join(bad)}")
            is_department = not values["form"] or form == "04"
            before = departments.get(province) if is_department else units.get((form, key))
            merged = Contact((before.name if before else None) or values["name"] or None,
                             tuple(dict.fromkeys((*(before.emails if before else ()), *emails))))
            if is_department:
                departments[province] = merged
            else:
                units[(form, key)] = merged
    return Contacts(departments, units, path)


# --- the letters ------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Due:
    """One expected report not received, to remind of."""

    period: Period
    province_code: str
    kind: str
    deadline: datetime
    missing: MissingReport

    @property
    def form(self) -> str:
        return self.missing.form

    @property
    def unit_key(self) -> str:
        return self.missing.unit_key


@dataclass(frozen=True)
class Letter:
    """One e-mail: to a unit about its own report, or to a Department listing its province's units."""

    period: Period
    province_code: str
    kind: str
    deadline: datetime
    dues: tuple[Due, ...]
    to: Contact
    cc: Contact | None
    to_department: bool

    @property
    def recipients(self) -> list[str]:
        return list(dict.fromkeys([*self.to.emails, *(self.cc.emails if self.cc else ())]))

    @property
    def key(self) -> str:
        """Fixed by what the letter says and to whom: the same letter again has the same Message-ID and draft name."""
        parts = [self.period.code, self.kind, self.province_code, *sorted(f"{d.form}/{d.unit_key}" for d in self.dues),
                 *self.recipients]
        return hashlib.sha256("|".join(parts).encode("utf-8")).hexdigest()[:20]

    def message_id(self, sender: str | None) -> str:
        domain = sender.rpartition("@")[2] if sender else "ccn.localhost"
        return f"<ccn-reminder.{self.period.code}.{self.kind}.{self.key}@{domain}>"

    def addressee(self) -> tuple[str, str]:
        """Whom the letter is for (Kính gửi / To), Vietnamese and English."""
        vi, en = policy().vi, policy().en
        if self.to_department or self.dues[0].form == "04":  # in English the Department's name in words
            dept_vi, dept_en = _department(self.province_code)
            return self.to.name or dept_vi, dept_en
        if self.to.name:  # a unit's own name, as the contacts file writes it
            return self.to.name, self.to.name
        m = self.dues[0].missing
        unit = m.unit_name or m.unit_key
        template = f"addressee_{m.form}"
        if template in vi:
            return vi[template].format(unit=_in_sentence(unit)), en[template].format(unit=_in_english(unit))
        return unit, unit


def _in_sentence(name: str) -> str:
    """``Tỉnh Lào Cai`` inside a sentence: ``tỉnh Lào Cai`` (the kind word of a unit's name is not capitalised)."""
    kinds = ("Tỉnh ", "Thành phố ", "Xã ", "Phường ", "Đặc khu ", "Thị trấn ", "Huyện ", "Quận ", "Thị xã ")
    return name[:1].lower() + name[1:] if name.startswith(kinds) else name


def _in_english(name: str) -> str:
    """``Tỉnh Lào Cai`` in an English sentence: ``Lào Cai province`` (schemas/reminders.toml ``place_kinds``)."""
    for kind, pattern in policy().en["place_kinds"].items():
        if name.startswith(kind + " "):
            return pattern.format(name=name[len(kind) + 1:])
    return name


def _province_name(code: str) -> str:
    return admin().provinces[code].name


def _department(province_code: str) -> tuple[str, str]:
    name = _province_name(province_code)
    return (policy().vi["department"].format(province=_in_sentence(name)),
            policy().en["department"].format(province=_in_english(name)))


def _vi_date(day: date) -> str:
    """``ngày 05 tháng 01 năm 2026``: as official letters write a date (a day under 10 and the months 1 and 2 with
    a leading zero)."""
    month = f"{day.month:02d}" if day.month <= 2 else str(day.month)
    return f"ngày {day.day:02d} tháng {month} năm {day.year}"


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def _en_day(day: date) -> str:
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def _last_day(deadline: datetime) -> date:
    """The deadline as the Circular words it: "before 20 June" is late from 20 June 00:00 (the day itself)."""
    return deadline.astimezone(VN_TZ).date()


def _period_words(period: Period) -> tuple[str, str]:
    vi = period.label_vi
    return vi[:1].lower() + vi[1:], (f"the first six months of {period.year}" if period.kind == "H1"
                                     else f"the year {period.year}")


def _forms_words(forms: Iterable[str]) -> tuple[str, str]:
    codes = sorted(set(forms))
    vi = [f"Biểu số {f}" for f in codes]
    en = [f"Biểu {f}" for f in codes]
    return (" và ".join([", ".join(vi[:-1]), vi[-1]]) if len(vi) > 1 else vi[0],
            " and ".join([", ".join(en[:-1]), en[-1]]) if len(en) > 1 else en[0])


def letter_text(letter: Letter, today: date) -> tuple[str, str, str]:
    """(subject, Vietnamese body, English body) of a letter written on ``today``."""
    p, vi, en = policy(), policy().vi, policy().en
    period_vi, period_en = _period_words(letter.period)
    forms_vi, forms_en = _forms_words(d.form for d in letter.dues)
    day = _last_day(letter.deadline)
    deadline_vi, deadline_en = _vi_date(day), _en_day(day)
    short = f"{day.day:02d}/{day.month:02d}/{day.year}"
    province = _province_name(letter.province_code)
    to_vi, to_en = letter.addressee()
    dept_vi, dept_en = _department(letter.province_code)
    words = dict(period=period_vi, forms=forms_vi, deadline=deadline_vi, deadline_short=short, today=_vi_date(today),
                 place=p.issuer["place"], addressee=to_vi, province=_in_sentence(province), count=len(letter.dues),
                 department=dept_vi, units=len(letter.dues))
    units_en = f"{len(letter.dues)} unit" + ("s" if len(letter.dues) > 1 else "")
    words_en = dict(words, units=units_en, period=period_en, forms=forms_en, deadline=deadline_en,
                    today=_en_day(today), addressee=to_en, province=_in_english(province), department=dept_en)
    subject = bilingual(vi["mail_subject"].format(**words), en["mail_subject"].format(**words_en))

    def body(t: dict, w: dict, issuer: tuple[str, str], heading: list[str]) -> str:
        lines = [*heading, issuer[0].upper(), issuer[1].upper(), "", *t["motto"], "", t["dated"].format(**w), "",
                 t["subject"].format(**w), "", t["to"].format(**w), "", t["basis"].format(**w), "",
                 t[f"missing_{letter.kind}" if letter.to_department else f"missing_unit_{letter.kind}"].format(**w),
                 ""]
        for i, d in enumerate(letter.dues, 1):
            label = _unit_label(d.missing, t is vi)
            lines.append(f"  {i}. {'Biểu số' if t is vi else 'Biểu'} {d.form}: {label}"
                         + (f" ({t['rejected']})" if d.missing.rejected else ""))
        ask = "ask_department" if letter.to_department else "ask_unit"
        ignore = "ignore_department" if letter.to_department else "ignore"
        lines += ["", t[f"{ask}_{letter.kind}"].format(**w), t[ignore], "", t["closing"], "", t["copies"],
                  t["copy_to"]]
        if letter.cc:
            lines.append(t["copy_department"].format(**w))
        lines += [t["copy_archive"], "", t["automatic"]]
        return "\n".join(lines)

    text_vi = body(vi, words, (p.issuer["ministry"], p.issuer["agency"]), [])
    text_en = body(en, words_en, (p.issuer["ministry_en"], p.issuer["agency_en"]), [en["heading"], ""])
    return subject, text_vi, text_en


def _unit_label(m: MissingReport, vietnamese: bool = True) -> str:
    """The unit as the dashboard names it (a province's Biểu 04 as its Department, which sends it); in English
    ``MST`` (tax code) in words."""
    if m.form == "04":
        return _department(m.unit_key)[0 if vietnamese else 1]
    return m.label if vietnamese else m.label.replace("(MST ", "(tax code ")


SEPARATOR = "-" * 72


def message(letter: Letter, sender: str | None, now: datetime, *, draft: bool = False) -> EmailMessage:
    """The e-mail of a letter: UTF-8 headers (RFC 2047 where not ASCII), a text/plain UTF-8 body in
    quoted-printable, the Vietnamese letter first and its English translation below a rule."""
    subject, text_vi, text_en = letter_text(letter, now.astimezone(VN_TZ).date())
    to_vi, _ = letter.addressee()
    msg = EmailMessage(policy=email.policy.SMTP)
    issuer = policy().issuer["agency"]
    if sender:
        msg["From"] = Address(display_name=issuer, addr_spec=sender)
    msg["To"] = [Address(display_name=to_vi, addr_spec=e) for e in letter.to.emails]
    if letter.cc:
        cc_vi = letter.cc.name or _department(letter.province_code)[0]
        msg["Cc"] = [Address(display_name=cc_vi, addr_spec=e) for e in letter.cc.emails
                     if e not in letter.to.emails]
    msg["Subject"] = subject
    msg["Date"] = email.utils.format_datetime(now.astimezone(VN_TZ))
    msg["Message-ID"] = letter.message_id(sender)
    msg["X-CCN-Reminder"] = f"{letter.period.code} {letter.kind} {letter.province_code}"
    if draft:
        msg["X-Unsent"] = "1"  # mail programs open the file as a message to send
    msg.set_content(f"{text_vi}\n\n{SEPARATOR}\n\n{text_en}\n", charset="utf-8", cte="quoted-printable")
    msg["Content-Language"] = "vi, en"  # after set_content, which clears the Content-* headers
    return msg


# --- outboxes ---------------------------------------------------------------------------------------------------

class DraftOutbox:
    """Letters written as ``.eml`` files into ``folder`` (no mail server configured, or ``--drafts``)."""

    channel = "draft"

    def __init__(self, folder: Path, sender: str | None = None):
        self.folder = folder
        self.sender = sender

    def describe(self) -> tuple[str, str]:
        return f"thư nháp trong {self.folder}", f"drafts in {self.folder}"

    def path_for(self, letter: Letter) -> Path:
        to = slug(letter.addressee()[0])[:40].strip("-") or "unit"
        return self.folder / f"{letter.period.code}_{letter.kind}_{letter.province_code}_{to}_{letter.key[:8]}.eml"

    def write(self, letter: Letter, msg: EmailMessage) -> Path:
        path = self.path_for(letter)
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".eml.tmp")
        tmp.write_bytes(msg.as_bytes())
        os.replace(tmp, path)
        return path


class SmtpRefused(Exception):
    """The server refused the message before accepting it for anyone: it was not sent."""


class SmtpOutbox:
    """Letters sent through the mail server of ``CCN_SMTP_URL``, one connection per run, opened at the first one."""

    channel = "smtp"

    def __init__(self, server: SmtpServer, sender: str, timeout: float = 30.0):
        self.server = server
        self.sender = sender
        self.timeout = timeout
        self._smtp: smtplib.SMTP | None = None

    def describe(self) -> tuple[str, str]:
        return f"máy chủ thư {self.server}", f"the mail server {self.server}"

    def open(self) -> None:
        if self._smtp is not None:
            return
        s = self.server
        try:
            if s.tls == "ssl":
                smtp: smtplib.SMTP = smtplib.SMTP_SSL(s.host, s.port, timeout=self.timeout,
                                                      context=ssl.create_default_context())
            else:
                smtp = smtplib.SMTP(s.host, s.port, timeout=self.timeout)
                if s.tls == "starttls":
                    smtp.starttls(context=ssl.create_default_context())
            if s.user:
                _login(smtp, s.user, s.password or "")
        except (OSError, smtplib.SMTPException, UnicodeError) as exc:
            raise MailServerError(bilingual(f"không kết nối được máy chủ thư {s} (CCN_SMTP_URL): {exc}",
                                            f"cannot use the mail server {s} (CCN_SMTP_URL): {exc}")) from exc
        self._smtp = smtp

    def send(self, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
        """The addresses the server refused while accepting the others; :class:`SmtpRefused` when it accepted
        it for no one; any other error leaves it unknown whether it was sent."""
        if self._smtp is not None:  # a server may drop a connection left idle: nothing is sent yet, reconnect
            try:
                self._smtp.noop()
            except (OSError, smtplib.SMTPException):
                self._smtp = None
        self.open()
        assert self._smtp is not None  # noqa: S101 - open() sets it or raises
        try:
            return self._smtp.send_message(msg)
        except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError) as exc:
            raise SmtpRefused(str(exc)) from exc

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (OSError, smtplib.SMTPException):
                pass
            self._smtp = None


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in; smtplib encodes credentials as ASCII, so others go as AUTH PLAIN in UTF-8 (RFC 4616)."""
    if (user + password).isascii():
        smtp.login(user, password)
        return
    smtp.ehlo_or_helo_if_needed()
    if "plain" not in smtp.esmtp_features.get("auth", "").lower().split():
        raise smtplib.SMTPException("the server offers no AUTH PLAIN, the only way to send a non-ASCII login")
    token = base64.b64encode(b"\0" + user.encode("utf-8") + b"\0" + password.encode("utf-8")).decode("ascii")
    code, answer = smtp.docmd("AUTH", f"PLAIN {token}")
    if code != 235:
        raise smtplib.SMTPAuthenticationError(code, answer)


Outbox = DraftOutbox | SmtpOutbox


def outbox_for(settings: Settings, drafts: Path | None = None) -> Outbox:
    """Where reminders go: drafts into ``drafts`` when given, else the mail server of ``CCN_SMTP_URL``, else drafts
    into ``$CCN_HOME/drafts``.  Sending needs ``CCN_MAIL_FROM``."""
    sender = mail_from()
    if sender and not _EMAIL.match(sender):
        raise ReminderError(bilingual(f"CCN_MAIL_FROM={sender!r} không phải địa chỉ thư",
                                      f"CCN_MAIL_FROM={sender!r} is not an e-mail address"))
    if drafts is not None:
        return DraftOutbox(drafts, sender)
    try:
        server = smtp_server()
    except ValueError as exc:
        raise ReminderError(str(exc)) from None
    if server is None:
        return DraftOutbox(settings.drafts, sender)
    if not sender:
        raise ReminderError(bilingual("đã đặt CCN_SMTP_URL nhưng chưa đặt CCN_MAIL_FROM (địa chỉ gửi thư nhắc)",
                                      "CCN_SMTP_URL is set but CCN_MAIL_FROM (the address reminders come from) "
                                      "is not"))
    return SmtpOutbox(server, sender)


# --- planning and sending ---------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Outcome:
    """What happened to one expected report: a row of ``ccn remind``'s table."""

    province_code: str
    form: str
    unit_key: str
    unit: str  # the unit as an official reads it
    kind: str
    deadline: datetime
    outcome: str  # a key of OUTCOME_WORDS
    recipients: tuple[str, ...] = ()
    detail: str = ""  # when reminded already, where a draft is, what the server said

    @property
    def words(self) -> str:
        vi, en = OUTCOME_WORDS[self.outcome]
        return f"{vi} / {en}"


@dataclass
class Plan:
    letters: list[Letter] = field(default_factory=list)
    skipped: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # bilingual lines: forms left aside and why


@dataclass
class RemindResult:
    period: str
    channel: str  # smtp | draft
    where: tuple[str, str]  # the outbox in words
    outcomes: list[Outcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    letters: int = 0  # e-mails sent or drafts written (or that would be, in a dry run)
    error: str | None = None  # the mail server could not be used: the rest was not tried

    def count(self, outcome: str) -> int:
        return sum(o.outcome == outcome for o in self.outcomes)

    @property
    def needs_attention(self) -> bool:
        return self.error is not None or any(o.outcome in NEEDS_ATTENTION for o in self.outcomes)


def _outcome(due: Due, outcome: str, recipients: Sequence[str] = (), detail: str = "") -> Outcome:
    return Outcome(due.province_code, due.form, due.unit_key, _unit_label(due.missing), due.kind, due.deadline, outcome,
                   tuple(recipients), detail)


def _kinds(period: Period, forms: Sequence[str], kind: str | None, now: datetime) -> tuple[dict[str, str], list[str]]:
    """The kind of reminder due now for each form (``kind`` asked for, or what the clock says), and notes on the
    forms left aside because the clock does not allow the kind asked for."""
    chosen, notes = {}, []
    for form in forms:
        deadline = deadline_of(period, form)
        by_clock = BEFORE if now < deadline else AFTER
        day = _last_day(deadline)
        if kind is None or kind == by_clock:
            chosen[form] = by_clock
        elif kind == BEFORE:
            notes.append(bilingual(f"Biểu {form}: hạn trước {_vi_date(day)} đã qua, không còn nhắc trước hạn.",
                                   f"Biểu {form}: its deadline (before {_en_day(day)}) has passed: no reminder "
                                   "before it any more."))
        else:
            notes.append(bilingual(f"Biểu {form}: chưa đến hạn (trước {_vi_date(day)}), chưa nhắc sau hạn.",
                                   f"Biểu {form}: not due yet (before {_en_day(day)}): no reminder after the "
                                   "deadline yet."))
    return chosen, notes


def _provinces(province: str | None) -> list[str]:
    if province is None:
        return sorted(admin().provinces)
    if province not in admin().provinces:
        raise ReminderError(bilingual(f"{province} không phải mã tỉnh năm 2025 (ví dụ 37)",
                                      f"{province} is not a 2025 province code (e.g. 37)"))
    return [province]


def plan(engine: Engine, period: Period, *, contacts: Contacts, now: datetime, province: str | None = None,
         kind: str | None = None, forms: Sequence[str] | None = None) -> Plan:
    """The letters due now and what is left aside (reminded already, no address, period locked); reads only
    (computes who should report if it never was)."""
    if kind is not None and kind not in KINDS:
        raise ReminderError(bilingual(f"loại nhắc {kind!r} không có (before, after)",
                                      f"no reminder kind {kind!r} (before, after)"))
    chosen_forms = list(forms) if forms else list(form_codes())
    unknown = [f for f in chosen_forms if f not in form_codes()]
    if unknown:
        raise ReminderError(bilingual(f"không có biểu {', '.join(unknown)}", f"no form {', '.join(unknown)}"))
    kinds, notes = _kinds(period, chosen_forms, kind, now)
    result = Plan(notes=notes)
    provinces = _provinces(province)
    locked = {s.province_code for s in period_states(engine, period.code) if s.locked}
    r = reminder.c
    with engine.connect() as conn:
        done = {(row.form, row.unit_key, row.kind): row for row in conn.execute(
            select(r.form, r.unit_key, r.kind, r.state, r.channel, r.sent_at, r.claimed_at, r.recipients,
                   r.draft_path).where(r.period == period.code))}
    for code in provinces:
        board = province_dashboard(engine, period.code, code)
        dues = [Due(period, code, kinds[f], deadline_of(period, f), m)
                for f in chosen_forms if f in kinds for m in board.missing.get(f, [])]
        to_department: dict[tuple[str, datetime], list[Due]] = {}
        for due in dues:
            if code in locked:
                result.skipped.append(_outcome(due, "locked"))
                continue
            before = done.get((due.form, due.unit_key, due.kind))
            if before is not None:
                when = (before.sent_at or before.claimed_at).isoformat(sep=" ", timespec="minutes")
                where = f"lúc / at {when} · {before.draft_path if before.channel == 'draft' else before.recipients}"
                outcome = "unconfirmed" if before.state == SENDING else "already"
                result.skipped.append(_outcome(due, outcome, before.recipients.split(", "), where))
                continue
            own = contacts.unit(due.form, due.unit_key)
            department = contacts.department(code)
            if own is not None:
                cc = department if due.form != "04" and department is not None else None
                result.letters.append(Letter(period, code, due.kind, due.deadline, (due,), own, cc, False))
            elif department is not None:
                to_department.setdefault((due.kind, due.deadline), []).append(due)
            else:
                result.skipped.append(_outcome(due, "no_address"))
        department = contacts.department(code)
        for (k, deadline), listed in sorted(to_department.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            assert department is not None  # noqa: S101 - only filled when the Department has an address
            result.letters.append(Letter(period, code, k, deadline, tuple(listed), department, None, True))
    return result


def _rows(letter: Letter, outbox: Outbox, state: str, now: datetime, path: Path | None) -> list[dict]:
    return [{"period": letter.period.code, "form": d.form, "unit_key": d.unit_key, "kind": letter.kind,
             "province_code": letter.province_code, "deadline": letter.deadline, "state": state,
             "channel": outbox.channel, "recipients": ", ".join(letter.recipients),
             "to_department": letter.to_department, "message_id": letter.message_id(outbox.sender),
             "draft_path": str(path) if path else None, "claimed_at": now,
             "sent_at": now if state != SENDING else None, "detail": None} for d in letter.dues]


def _keys(letter: Letter):
    r = reminder.c
    return [(r.period == letter.period.code) & (r.form == d.form) & (r.unit_key == d.unit_key) & (r.kind == letter.kind)
            for d in letter.dues]


def _draft(engine: Engine, letter: Letter, outbox: DraftOutbox, now: datetime) -> list[Outcome]:
    """The rows and the file in one transaction: a crash before the commit leaves a file that the retry rewrites
    under the same name."""
    msg = message(letter, outbox.sender, now, draft=True)
    path = outbox.path_for(letter)
    try:
        with engine.begin() as conn:
            conn.execute(reminder.insert(), _rows(letter, outbox, DRAFTED, now, path))
            outbox.write(letter, msg)
            faults.pause("remind:drafted", conn)
    except IntegrityError:
        return [_outcome(d, "taken") for d in letter.dues]
    return [_outcome(d, "drafted", letter.recipients, str(path)) for d in letter.dues]


def _release(engine: Engine, letter: Letter) -> None:
    """Forget the claim of a letter that was certainly not sent: the next run tries again."""
    with engine.begin() as conn:
        for key in _keys(letter):
            conn.execute(delete(reminder).where(key))


def _send(engine: Engine, letter: Letter, outbox: SmtpOutbox, now: datetime
          ) -> tuple[list[Outcome], bool, str | None]:
    """Claim (rows ``sending``, committed), send, mark ``sent``; (outcomes, whether to go on, the mail server's
    error when it could not be used)."""
    msg = message(letter, outbox.sender, now)
    try:
        with engine.begin() as conn:
            conn.execute(reminder.insert(), _rows(letter, outbox, SENDING, now, None))
    except IntegrityError:
        return [_outcome(d, "taken") for d in letter.dues], True, None
    try:
        refused = outbox.send(msg)
    except SmtpRefused as exc:  # accepted for no one: not sent, the next run tries again
        _release(engine, letter)
        return [_outcome(d, "refused", letter.recipients, str(exc)) for d in letter.dues], True, None
    except MailServerError as exc:  # the connection could not be made again: nothing was sent
        _release(engine, letter)
        return [_outcome(d, "not_tried", letter.recipients) for d in letter.dues], False, str(exc)
    except (OSError, smtplib.SMTPException) as exc:  # it may have gone: keep the claim, stop this run
        return [_outcome(d, "unconfirmed", letter.recipients, f"{type(exc).__name__}: {exc}")
                for d in letter.dues], False, None
    faults.pause("remind:sent")
    detail = "; ".join(f"{addr}: {code} {text.decode(errors='replace')}" for addr, (code, text) in refused.items())
    sent_at = datetime.now(tz=VN_TZ)
    with engine.begin() as conn:
        for key in _keys(letter):
            conn.execute(update(reminder).where(key).values(state=SENT, sent_at=sent_at, detail=detail or None))
    accepted = [e for e in letter.recipients if e not in refused]
    return [_outcome(d, "sent", accepted, detail) for d in letter.dues], True, None


def resend_unconfirmed(engine: Engine, period: Period, *, province: str | None = None,
                       kind: str | None = None, forms: Sequence[str] | None = None) -> int:
    """Forget the ``sending`` rows (reminders whose sending was interrupted), so they are sent again: a person's
    choice after checking the mail server's log.  Returns how many were forgotten."""
    r = reminder.c
    stmt = delete(reminder).where(r.period == period.code, r.state == SENDING)
    if province:
        stmt = stmt.where(r.province_code == province)
    if kind:
        stmt = stmt.where(r.kind == kind)
    if forms:
        stmt = stmt.where(r.form.in_(list(forms)))
    with engine.begin() as conn:
        return conn.execute(stmt).rowcount or 0


def remind(engine: Engine, period: Period, *, contacts: Contacts, outbox: Outbox, now: datetime | None = None,
           province: str | None = None, kind: str | None = None, forms: Sequence[str] | None = None,
           dry_run: bool = False, resend: bool = False) -> RemindResult:
    """Remind every expected sender of ``period`` that has not reported (of one province, one kind, some forms),
    each at most once per kind; ``dry_run`` writes nothing and sends nothing."""
    now = now or datetime.now(tz=VN_TZ)
    _provinces(province)  # a wrong code is refused before anything is written
    if not dry_run:
        refresh_expected(engine, period)  # who should report, as of now (a register may have been loaded)
        if resend:
            resend_unconfirmed(engine, period, province=province, kind=kind, forms=forms)
    p = plan(engine, period, contacts=contacts, now=now, province=province, kind=kind, forms=forms)
    result = RemindResult(period.code, outbox.channel, outbox.describe(), list(p.skipped), p.notes)
    if dry_run:
        would = "would_send" if outbox.channel == "smtp" else "would_draft"
        for letter in p.letters:
            detail = str(outbox.path_for(letter)) if isinstance(outbox, DraftOutbox) else ""
            result.outcomes += [_outcome(d, would, letter.recipients, detail) for d in letter.dues]
        result.letters = len(p.letters)
        result.outcomes.sort(key=_order)
        return result
    try:
        go_on = True
        for i, letter in enumerate(p.letters):
            if not go_on:
                result.outcomes += [_outcome(d, "not_tried", letter.recipients) for d in letter.dues]
                continue
            if isinstance(outbox, DraftOutbox):
                outcomes = _draft(engine, letter, outbox, now)
            else:
                try:
                    outbox.open()
                except MailServerError as exc:
                    result.error = str(exc)
                    for rest in p.letters[i:]:
                        result.outcomes += [_outcome(d, "not_tried", rest.recipients) for d in rest.dues]
                    break
                outcomes, go_on, error = _send(engine, letter, outbox, now)
                result.error = result.error or error
            result.outcomes += outcomes
            result.letters += any(o.outcome in ("sent", "drafted") for o in outcomes)
    finally:
        if isinstance(outbox, SmtpOutbox):
            outbox.close()
    result.outcomes.sort(key=_order)
    return result


def _order(o: Outcome) -> tuple[str, str, str, str, str]:
    return o.province_code, o.form, o.kind, o.unit, o.unit_key
