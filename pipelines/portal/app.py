"""The stewards' portal: a small ASGI application (Starlette, served by uvicorn) in front of the same pipeline.

It wires the domain functions the command line uses (check, findings and waivers, feedback, completeness, period
approval, export) to server-rendered pages, Vietnamese first with English beside.  Every route names the roles that
may call it (``ROUTES`` below, the list docs/portal.md gives); a province steward reaches only the province of the
account: anything of another province answers 404, as if it did not exist.  Every state-changing request is a POST
carrying the session's CSRF token.  Sending a file puts it into the inbox; the ``ingest`` job loads it (the portal
asks for a run, see runner.py, or the Dagster inbox sensor does).
"""

from __future__ import annotations

import logging
import math
import tempfile
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import quote, urlencode

import pandas as pd
from sqlalchemy import select
from sqlalchemy.engine import Engine
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from pipelines.portal.runner import Runner
from pipelines.portal.security import COOKIE, MAX_AGE, Session, dump, load, same_token, secret_key
from pipelines.report import dashboard, history
from pipelines.report.completeness import period_codes, reported_periods
from pipelines.report.export import export_national
from pipelines.settings import Limits, Settings
from pipelines.stages import national_summary
from pipelines.steward import accounts, approval, findings, follow_up, scope, upload
from pipelines.steward.feedback import FeedbackError, write_feedback
from pipelines.steward.sheet_view import sheet_views
from schemas.admin import admin
from schemas.forms import load_forms
from schemas.periods import VN_TZ, Period
from schemas.status import FOLLOW_UP_WORDS, STATUS_WORDS, Status
from schemas.tables import audit_event
from schemas.text import BILINGUAL_SEPARATOR
from validations.catalogue import SEVERITY_WORDS

log = logging.getLogger("ccn.portal")
HERE = Path(__file__).parent
MAX_FILES = 200  # files in one upload (a folder of a province's communes fits)
PER_PAGE = 50


@dataclass
class Portal:
    settings: Settings
    engine: Engine
    key: bytes
    runner: Runner
    limits: Limits = field(default_factory=Limits)
    templates: Jinja2Templates = field(default_factory=lambda: Jinja2Templates(directory=str(HERE / "templates")))

    @property
    def staging(self) -> Path:
        return self.settings.home / "uploads"

    def account(self, login: str) -> accounts.Account | None:
        return next((a for a in accounts.users(self.engine) if a.name == login and a.disabled_at is None), None)


@dataclass
class Visit:
    """One request as the handlers see it: who asks (None: nobody logged in), their session and form."""

    request: Request
    portal: Portal
    session: Session
    account: accounts.Account | None
    form: FormData | None = None

    @property
    def address(self) -> str | None:
        return self.request.client.host if self.request.client else None

    @property
    def user(self) -> accounts.Account:
        """The account of a route open to accounts only (the route's guard has let it through)."""
        if self.account is None:
            raise RuntimeError("a route for accounts reached without one")
        return self.account

    def sees(self, province_code: str | None) -> bool:
        """May this account see things of ``province_code``?  A province steward sees only their own."""
        return self.user.role != "province" or (province_code is not None and province_code == self.user.province_code)

    def page(self, template: str, status_code: int = 200, **context) -> Response:
        context.update(account=self.account, csrf=self.session.csrf, path=self.request.url.path,
                       roles=accounts.ROLES, province_name=province_name, provinces=sorted(admin().provinces),
                       status_words=STATUS_WORDS, severity_words=SEVERITY_WORDS, state_words=approval.STATE_WORDS,
                       follow_up_words=FOLLOW_UP_WORDS)
        return self.portal.templates.TemplateResponse(self.request, template, context, status_code=status_code)

    def field(self, name: str) -> str:
        value = self.form.get(name) if self.form is not None else None
        return value.strip() if isinstance(value, str) else ""


def province_name(code: str | None) -> str:
    unit = admin().provinces.get(code or "")
    return f"{code} {unit.name}" if unit else (code or "—")


def not_found(visit: Visit) -> Response:
    return visit.page("error.html", 404, title=("Không tìm thấy", "Not found"),
                      message=("Trang hoặc hồ sơ này không có, hoặc tài khoản của bạn không được xem.",
                               "This page or record does not exist, or your account may not see it."))


Handler = Callable[[Visit], Awaitable[Response]]


def route(path: str, *roles: str, methods: tuple[str, ...] = ("GET",)):
    """A route open to ``roles`` (none: to anyone).  Anyone not logged in is sent to the login page; an account
    of another role gets 404.  A POST without the session's CSRF token is refused before anything happens."""

    def wrap(fn: Handler) -> Route:
        async def endpoint(request: Request) -> Response:
            portal: Portal = request.app.state.portal
            session = load(request.cookies.get(COOKIE), portal.key)
            account = None
            if session is not None and session.login:
                account = await run_in_threadpool(portal.account, session.login)
                if account is None:  # disabled or removed since: the session ends
                    session = None
            fresh = session is None
            visit = Visit(request, portal, session or Session.new(), account)
            response = await _answer(fn, visit, roles)
            if fresh:
                set_session(response, visit, visit.session)
            return response

        ROUTES.append((path, methods, roles, fn.__doc__ or ""))
        return Route(path, endpoint, methods=list(methods), name=fn.__name__)

    return wrap


async def _answer(fn: Handler, visit: Visit, roles: tuple[str, ...]) -> Response:
    request = visit.request
    if request.method == "POST":
        too_big = _too_big(request, visit.portal.limits)
        if too_big:
            return visit.page("error.html", 413, title=("Tệp quá lớn", "Too large"), message=too_big)
        visit.form = await request.form(max_files=MAX_FILES, max_fields=200)
        if not same_token(visit.field("csrf"), visit.session):
            await visit.form.close()
            return visit.page("error.html", 403, title=("Yêu cầu bị từ chối", "Request refused"),
                              message=(("Phiên làm việc đã hết hạn hoặc yêu cầu không gửi từ trang của cổng. "
                                        "Hãy tải lại trang rồi thử lại."),
                                       ("The session has expired or the request did not come from the portal's "
                                        "page. Reload the page and try again.")))
    if roles and visit.account is None:
        return RedirectResponse(f"/login?{urlencode({'next': request.url.path})}", 303)
    if roles and visit.account is not None and visit.user.role not in roles:
        return not_found(visit)
    try:
        return await fn(visit)
    finally:
        if visit.form is not None:
            await visit.form.close()


def _too_big(request: Request, limits: Limits) -> tuple[str, str] | None:
    length = request.headers.get("content-length")
    ceiling = limits.max_file_bytes * 10 + 1_000_000  # a batch of files; each is also bounded by itself
    if length and length.isdigit() and int(length) > ceiling:
        mb = ceiling // (1024 * 1024)
        return (f"Một lần gửi không quá {mb} MB; hãy chia thành nhiều lần.",
                f"One upload may not exceed {mb} MB; split it into several.")
    return None


def set_session(response: Response, visit: Visit, session: Session) -> None:
    response.set_cookie(COOKIE, dump(session, visit.portal.key), max_age=MAX_AGE, httponly=True, samesite="lax",
                        secure=visit.request.url.scheme == "https", path="/")


ROUTES: list[tuple[str, tuple[str, ...], tuple[str, ...], str]] = []  # path, methods, roles, what it does
ALL = ("province", "ministry", "viewer")
STEWARDS = ("province", "ministry")


# --- logging in and out ---------------------------------------------------------------------------------------

@route("/login", methods=("GET", "POST"))
async def login(visit: Visit) -> Response:
    """Log in (anyone)."""
    target = visit.request.query_params.get("next", "/")
    target = target if target.startswith("/") and not target.startswith("//") else "/"
    if visit.request.method == "GET":
        return visit.page("login.html", target=target)
    name, password = visit.field("name").lower(), visit.field("password")
    try:
        account = await run_in_threadpool(accounts.login, visit.portal.engine, name, password, visit.address)
    except accounts.LoginThrottled as exc:
        minutes = max(1, math.ceil(exc.seconds / 60))
        return visit.page("login.html", 429, target=target, name=name, error=(
            f"Đăng nhập sai quá nhiều lần. Hãy thử lại sau {minutes} phút.",
            f"Too many failed logins. Try again in {minutes} minutes."))
    if account is None:
        return visit.page("login.html", 401, target=target, name=name, error=(
            "Tên đăng nhập hoặc mật khẩu không đúng.", "Wrong login or password."))
    response = RedirectResponse(target, 303)
    set_session(response, visit, Session.new(account.name))  # a new token at login: no fixation
    return response


@route("/logout", *ALL, methods=("POST",))
async def logout(visit: Visit) -> Response:
    """Log out (every account)."""
    response = RedirectResponse("/login", 303)
    set_session(response, visit, Session.new())
    return response


@route("/", *ALL)
async def home(visit: Visit) -> Response:
    """Where each role starts: a province steward at the upload page, the others at the national dashboard."""
    return RedirectResponse("/upload" if visit.user.role == "province" else "/dashboard", 303)


# --- uploading, checking and sending ------------------------------------------------------------------------------

@route("/upload", "province", methods=("GET", "POST"))
async def upload_page(visit: Visit) -> Response:
    """Upload workbooks (a province steward): each is inspected, checked and shown as its sheets with the cells
    of every finding marked."""
    if visit.request.method == "GET":
        return visit.page("upload.html", results=[])
    files = [f for f in visit.form.getlist("files") if isinstance(f, UploadFile) and f.filename] \
        if visit.form is not None else []
    results = []
    for item in files:
        results.append(await run_in_threadpool(_stage_one, visit, item))
    return visit.page("upload.html", results=results, sent_none=not files)


def _stage_one(visit: Visit, item: UploadFile) -> dict:
    account, portal, province = visit.user, visit.portal, visit.user.province_code or ""
    staged = upload.stage_upload(portal.staging, province, item.filename or "", item.file, portal.limits)
    upload.record_upload(portal.engine, account.name, staged, address=visit.address)
    if staged.check is None:
        return {"staged": staged, "sheets": [], "locked": [], "sendable": False}
    views = {v.sheet: v for v in sheet_views(staged.path, staged.check)}
    periods = sorted({s.period for s in staged.check.sheets if s.period})
    locked = [p for p in periods if approval.period_state(portal.engine, province, p).locked]
    return {"staged": staged, "sheets": [(s, views.get(s.sheet or "")) for s in staged.check.sheets], "locked": locked,
            "sendable": not staged.check.errors}


@route("/upload/{token}/send", "province", methods=("POST",))
async def send(visit: Visit) -> Response:
    """Send a checked file into the inbox (a province steward, their own upload only); a run then loads it."""
    sent_files = await run_in_threadpool(_send, visit, [visit.request.path_params["token"]])
    return RedirectResponse(f"/sent/{sent_files[0]}", 303) if sent_files else not_found(visit)


@route("/upload/send", "province", methods=("POST",))
async def send_many(visit: Visit) -> Response:
    """Send every file of an upload that has no error in one go (a province steward, their own uploads only)."""
    tokens = [t for t in visit.form.getlist("token") if isinstance(t, str)][:MAX_FILES] if visit.form else []
    sent_files = await run_in_threadpool(_send, visit, tokens)
    return RedirectResponse(f"/sent/{','.join(sent_files)}", 303) if sent_files else not_found(visit)


def _send(visit: Visit, tokens: list[str]) -> list[str]:
    """Send the uploads of ``tokens`` that this steward made and that were not refused; their SHA-256s."""
    portal, done = visit.portal, []
    for token in tokens:
        staged = upload.staged(portal.staging, token)
        if staged is None or staged.province_code != visit.user.province_code or staged.refused:
            continue
        upload.send_upload(portal.staging, token, portal.settings.inbox, portal.engine, visit.user.name,
                           address=visit.address)
        done.append(staged.sha256)
    if done:
        portal.runner.request()
    return done


@route("/sent/{files}", *STEWARDS)
async def sent(visit: Visit) -> Response:
    """What became of sent files (their SHA-256s, comma-separated): waiting for the run, then each file's reports
    and their status (the sender's province and the ministry)."""
    shas = visit.request.path_params["files"].split(",")[:MAX_FILES]
    found = await run_in_threadpool(lambda: [_sent_file(visit.portal.engine, sha) for sha in shas])
    files = [f for f in found if f is not None and visit.sees(f["province_code"])]
    if not files or len(files) < len(found):
        return not_found(visit)
    for f in files:
        f["rows"], _ = await run_in_threadpool(history.submissions, visit.portal.engine, sha256=f["sha256"])
    waiting = any(not f["rows"] or any(r.status == Status.PENDING for r in f["rows"]) for f in files)
    return visit.page("sent.html", files=files, waiting=waiting, running=visit.portal.runner.busy)


def _sent_file(engine: Engine, sha: str) -> dict | None:
    """The upload.send event of a file: its name in the inbox, who sent it and the province it was sent for."""
    e = audit_event.c
    with engine.connect() as conn:
        row = conn.execute(select(e.at, e.actor, e.target).where(e.action == "upload.send", e.detail == sha)
                           .order_by(e.at.desc())).first()
    if row is None:
        return None
    inbox_name = row.target.rsplit("/", 1)[-1]
    return {"sha256": sha, "at": row.at, "actor": row.actor, "name": upload.given_name(inbox_name),
            "inbox_name": inbox_name, "province_code": scope.folder_province(row.target)}


# --- the dashboard of a period --------------------------------------------------------------------------------------

def _periods() -> list[str]:
    """The periods begun by today, the latest first."""
    return period_codes(until=datetime.now(VN_TZ).date())[::-1]


def _period(visit: Visit) -> str:
    """The period asked for, else the latest one with reports, else the latest begun."""
    asked = visit.request.query_params.get("period", "")
    try:
        return Period.parse(asked).code
    except ValueError:
        known = reported_periods(visit.portal.engine)
        return known[-1].code if known else _periods()[0]


@route("/dashboard", *ALL)
async def dashboard_page(visit: Visit) -> Response:
    """A period at a glance: for a province, expected, received, on time, late and missing per form with the names
    of who has not reported, and the period's approval; for the ministry and viewers, every province."""
    period = await run_in_threadpool(_period, visit)
    province = visit.user.province_code if visit.user.role == "province" \
        else visit.request.query_params.get("province") or None
    if province is not None and province not in admin().provinces:
        return not_found(visit)
    engine = visit.portal.engine
    if province is None:
        rows = await run_in_threadpool(dashboard.national_dashboard, engine, period)
        return visit.page("national.html", period=period, periods=_periods(), rows=rows,
                          states={s.province_code: s for s in approval.period_states(engine, period)})
    board = await run_in_threadpool(dashboard.province_dashboard, engine, period, province)
    state = await run_in_threadpool(approval.period_state, engine, province, period)
    return visit.page("dashboard.html", period=period, periods=_periods(), board=board, state=state,
                      province=province, forms=load_forms())


@route("/periods/{province}/{period}/{action}", *STEWARDS, methods=("POST",))
async def period_action(visit: Visit) -> Response:
    """Approval of a province's period: ``submit`` (its province steward), ``accept`` (locks it), ``unlock`` and
    ``return`` with a comment (the ministry); each is audited."""
    province, period, action = (visit.request.path_params[k] for k in ("province", "period", "action"))
    allowed = {"submit": "province", "accept": "ministry", "unlock": "ministry", "return": "ministry"}
    if allowed.get(action) != visit.user.role or not visit.sees(province):
        return not_found(visit)
    engine, who, where, comment = visit.portal.engine, visit.user.name, visit.address, visit.field("comment")
    calls = {
        "submit": lambda: approval.submit_period(engine, province, period, who, address=where),
        "accept": lambda: approval.accept_period(engine, province, period, who, address=where,
                                                 comment=comment or None),
        "unlock": lambda: approval.unlock_period(engine, province, period, who, comment, address=where),
        "return": lambda: approval.return_period(engine, province, period, who, comment, address=where),
    }
    try:
        await run_in_threadpool(calls[action])
    except (approval.ApprovalError, ValueError) as exc:
        return visit.page("error.html", 400, title=("Không thực hiện được", "Not done"), message=_two(exc),
                          back=f"/dashboard?{urlencode({'period': period, 'province': province})}")
    if action == "unlock":
        visit.portal.runner.request()  # files held while the period was locked are settled now
    return RedirectResponse(f"/dashboard?{urlencode({'period': period, 'province': province})}", 303)


def _two(message: object) -> tuple[str, str]:
    """A message made by schemas.text.bilingual (``vi — en``) as its Vietnamese and its English."""
    vi, _, en = str(message).partition(BILINGUAL_SEPARATOR)
    return vi, en


# --- submissions, files and feedback -------------------------------------------------------------------------------

@route("/submissions", *STEWARDS)
async def submissions_page(visit: Visit) -> Response:
    """Every submission with its status, newest first (a province steward: their province's only)."""
    q = visit.request.query_params
    province = visit.user.province_code if visit.user.role == "province" else q.get("province") or None
    period, form, page = q.get("period") or None, q.get("form") or None, _page(q.get("page"))
    rows, total = await run_in_threadpool(lambda: history.submissions(
        visit.portal.engine, province_code=province, period=period, form=form, limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE))
    return visit.page("submissions.html", rows=rows, total=total, page=page, pages=_pages(total),
                      filters={"period": period or "", "province": province or "", "form": form or ""},
                      periods=_periods(), forms=load_forms(), query=_query(q))


async def _submission(visit: Visit):
    try:
        submission_id = int(visit.request.path_params["submission_id"])
    except ValueError:
        return None
    detail = await run_in_threadpool(history.submission_detail, visit.portal.engine, submission_id)
    if detail is None or not visit.sees(detail.province):
        return None
    return detail


@route("/submissions/{submission_id}", *STEWARDS)
async def submission_page(visit: Visit) -> Response:
    """One submission: its findings, its versions (what superseded what), its file and feedback workbook."""
    detail = await _submission(visit)
    if detail is None:
        return not_found(visit)
    found = await run_in_threadpool(lambda: findings.list_findings(visit.portal.engine,
                                                                   submission_id=detail.submission.id))
    marks = await run_in_threadpool(follow_up.latest_marks, visit.portal.engine, [int(i) for i in found.finding_id])
    return visit.page("submission.html", s=detail, findings=records(found), marks=marks)


@route("/submissions/{submission_id}/original", *STEWARDS)
async def original(visit: Visit) -> Response:
    """The file as it was received (from the archive)."""
    detail = await _submission(visit)
    if detail is None or not detail.archive_path.is_file():
        return not_found(visit)
    return FileResponse(detail.archive_path, filename=upload.given_name(detail.file_name),
                        media_type="application/octet-stream")


@route("/submissions/{submission_id}/feedback.xlsx", *STEWARDS)
async def feedback(visit: Visit) -> Response:
    """The feedback workbook: the received workbook with every finding's cell marked and the findings listed."""
    detail = await _submission(visit)
    if detail is None:
        return not_found(visit)
    out = Path(tempfile.mkdtemp(prefix="ccn-feedback-")) / f"phan-hoi-{detail.submission.id}.xlsx"
    try:
        await run_in_threadpool(write_feedback, visit.portal.engine, detail.submission.id, out)
    except FeedbackError as exc:
        return visit.page("error.html", 409, title=("Chưa có bảng tính phản hồi", "No feedback workbook yet"),
                          message=_two(exc))
    stem = Path(upload.given_name(detail.file_name) or "ho-so").stem
    return FileResponse(out, filename=f"{stem} - phan hoi {detail.submission.id}.xlsx",
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


# --- findings and waivers --------------------------------------------------------------------------------------------

@route("/findings", *STEWARDS)
async def findings_list(visit: Visit) -> Response:
    """Findings filtered by period, province, form, rule and severity, every one of them, a page at a time (a
    province steward: their province's only)."""
    q = visit.request.query_params
    province = visit.user.province_code if visit.user.role == "province" else q.get("province") or None
    filters = {"period": q.get("period") or None, "province": province, "form": q.get("form") or None,
               "rule": q.get("rule") or None, "severity": q.get("severity") or None}
    page = _page(q.get("page"))
    rows, total = await run_in_threadpool(lambda: findings.findings_page(
        visit.portal.engine, period=filters["period"], province=province, form=filters["form"],
        rule=filters["rule"], severity=filters["severity"], page=page, per_page=PER_PAGE))
    rules = await run_in_threadpool(findings.finding_rules, visit.portal.engine)
    marks = await run_in_threadpool(follow_up.latest_marks, visit.portal.engine, [int(i) for i in rows.finding_id])
    return visit.page("findings.html", rows=records(rows), total=total, page=page, pages=_pages(total), rules=rules,
                      filters={k: v or "" for k, v in filters.items()}, periods=_periods(),
                      forms=load_forms(), query=_query(q), marks=marks)


@route("/findings/{finding_id}/waive", "ministry", methods=("POST",))
async def waive(visit: Visit) -> Response:
    """Waive a finding with a reason (the ministry; audited)."""
    try:
        finding_id = int(visit.request.path_params["finding_id"])
    except ValueError:
        return not_found(visit)
    try:
        await run_in_threadpool(lambda: findings.waive(visit.portal.engine, finding_id, visit.field("reason"),
                                                       visit.user.name, address=visit.address))
    except findings.WaiverError as exc:
        return visit.page("error.html", 400, title=("Không miễn trừ được", "Not waived"), message=_two(exc),
                          back=visit.field("back") or "/findings")
    visit.portal.runner.request()  # a rejected report whose every error is waived loads on the next run
    return _back_to_findings(visit)


def _back_to_findings(visit: Visit) -> Response:
    """Back to the list the form was sent from (a path of this site only, never another site), else the findings."""
    back = visit.field("back")
    return RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/findings", 303)


@route("/findings/{finding_id}/follow-up", *STEWARDS, methods=("POST",))
async def follow_up_mark(visit: Visit) -> Response:
    """Mark a warning confirmed, corrected or to follow up, with a comment (a province steward: their province's
    only; the ministry: any; audited)."""
    try:
        finding_id = int(visit.request.path_params["finding_id"])
    except ValueError:
        return not_found(visit)
    if visit.user.role == "province" and not visit.sees(
            await run_in_threadpool(scope.finding_province, visit.portal.engine, finding_id)):
        return not_found(visit)
    try:
        await run_in_threadpool(lambda: follow_up.mark(visit.portal.engine, finding_id, visit.field("status"),
                                                       visit.field("comment"), visit.user.name,
                                                       address=visit.address))
    except follow_up.FollowUpError as exc:
        return visit.page("error.html", 400, title=("Không ghi được việc theo dõi", "Follow-up not recorded"),
                          message=_two(exc), back=visit.field("back") or "/findings")
    return _back_to_findings(visit)


# --- summaries, export, audit ----------------------------------------------------------------------------------------

@route("/summary", "ministry", "viewer")
async def summary(visit: Visit) -> Response:
    """The national summary of a period (Biểu 04 rows summed over the provinces that reported; read-only)."""
    period = await run_in_threadpool(_period, visit)
    df = await run_in_threadpool(national_summary, visit.portal.engine, period)
    rows_04 = load_forms()["04"].rows_by_code
    rows = []
    for r in df.itertuples():
        spec = rows_04.get(r.indicator_code)
        blank = r.value is None or r.value != r.value
        value = "" if blank else spec.shown(r.value) if spec else f"{float(r.value):,}"
        rows.append((r.indicator_code, r.indicator_name, value, r.value_unit_name, r.provinces_reporting))
    return visit.page("summary.html", period=period, periods=_periods(), rows=rows)


@route("/export/{period}.xlsx", "ministry", "viewer")
async def export(visit: Visit) -> Response:
    """The national workbook of a period (as ``ccn export``)."""
    try:
        period = Period.parse(visit.request.path_params["period"])
    except ValueError:
        return not_found(visit)
    out = Path(tempfile.mkdtemp(prefix="ccn-export-")) / f"tong-hop-{period.code}.xlsx"
    await run_in_threadpool(export_national, visit.portal.engine, period, out)
    return FileResponse(out, filename=out.name,
                        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")


@route("/audit", "ministry")
async def audit(visit: Visit) -> Response:
    """Who did what, when and from where (the ministry)."""
    q = visit.request.query_params
    page = _page(q.get("page"))
    rows, total = await run_in_threadpool(lambda: accounts.audit_events(
        visit.portal.engine, action=q.get("action") or None, actor=q.get("actor") or None, limit=PER_PAGE,
        offset=(page - 1) * PER_PAGE))
    return visit.page("audit.html", rows=rows, total=total, page=page, pages=_pages(total), query=_query(q),
                      filters={"action": q.get("action", ""), "actor": q.get("actor", "")})


def records(df) -> list[dict]:
    """The rows of a frame as dicts for the templates, a missing value as None (pandas' NaN would read as true)."""
    return [{k: (None if _missing(v) else v) for k, v in row.items()} for row in df.to_dict("records")]


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT


def _page(text: str | None) -> int:
    return int(text) if text and text.isdigit() and 0 < int(text) < 1_000_000 else 1


def _pages(total: int) -> int:
    return max(1, math.ceil(total / PER_PAGE))


def _query(params) -> str:
    """The query string without its page, to which a page link adds ``page=N``."""
    return "&".join(f"{quote(k)}={quote(v)}" for k, v in params.multi_items() if k != "page" and v)


# the routes above, in the order they were declared
APP_ROUTES = [login, logout, home, upload_page, send, send_many, sent, dashboard_page, period_action, submissions_page,
              submission_page, original, feedback, findings_list, waive, follow_up_mark, summary, export, audit]


def create_app(settings: Settings, engine: Engine, *, run_on_send: bool = True) -> Starlette:
    """The portal over the warehouse ``engine`` and the inbox of ``settings``."""
    settings.ensure()
    portal = Portal(settings, engine, secret_key(settings.home),
                    Runner(settings.home, settings.warehouse_url, enabled=run_on_send))
    filters = portal.templates.env.filters
    filters["when"] = _when
    filters["vi"] = lambda text: _two(text)[0]
    filters["en"] = lambda text: _two(text)[1]
    filters["given_name"] = upload.given_name
    filters["count_en"] = lambda n, word: f"{n} {word}{'' if n == 1 else 's'}"  # 1 error, 2 errors
    filters["cell_id"] = lambda sheet, ref: "cell-" + quote(f"{sheet}!{ref}", safe="")
    app = Starlette(routes=[*APP_ROUTES, Mount("/static", StaticFiles(directory=HERE / "static"), name="static")])
    app.state.portal = portal
    upload.discard_stale(portal.staging)
    return app


def _when(value) -> str:
    """A time as an official reads it, in Vietnam's time: ``04/12/2026 14:05`` (from a table's datetime or a
    view's ISO 8601 text, ``2026-12-04T14:05:00+07:00``)."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return value
    if not isinstance(value, datetime):
        return "" if value is None else str(value)
    return value.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M")
