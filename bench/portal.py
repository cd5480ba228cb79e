"""The stewards' portal over HTTP (issue #14): the time from upload to the rendered check, and 34 provinces at once.

    .venv/bin/python bench/portal.py                        # both backends, 30 uploads per form, one minute of load
    .venv/bin/python bench/portal.py --backend sqlite --seconds 20 --files 500
    .venv/bin/python bench/portal.py --profile 04          # where the time of one check goes (cProfile), then exit

Each backend gets a fresh home (and on PostgreSQL a fresh database, ``ccn_bench_portal``, created and dropped on the
local server), one province steward account per 2025 province made by the code of ``ccn user add``, and a real
portal: ``ccn portal --host 127.0.0.1 --port <free port>`` in its own process, with its run requests on (each file
sent asks for a ``ccn run``, as in a deployment without the Dagster daemon).  The clients are httpx, one thread and
one session per steward, logged in through the login page with its CSRF token.

* **latency** — one steward at a time uploads one workbook (``POST /upload``, multipart ``files``) and the clock
  stops when the whole page with the check result has arrived: the sheets rendered, the failing cells marked.
  After ``--warm-up`` untimed uploads per form, ``--latency-runs`` timed ones for each of Biểu 01, 02, 03 and 04,
  each a different file of ``ccn sample`` (``pipelines.sample``), uploaded by the steward of its province.
  Target (issue #14): median ≤ 300 ms and p95 ≤ 1 s per file.
* **load** — all stewards at once, each uploading the files of its own province one after the other with no pause,
  sending each one (``POST /upload/{token}/send``, which puts it into the inbox) and opening the page it redirects
  to, until ``--seconds`` have passed or ``--files`` files are sent.  The portal's runs load the inbox meanwhile;
  the benchmark then waits until the last run has ended and every sent file has its submissions, and checks that
  nothing was lost: every sent file's SHA-256 is in the warehouse's ``received_file`` with its archived copy
  (whose bytes hash to it) and in ``submission``.  Any HTTP status other than the expected one, a refusal or a
  transport error counts as an error.  Peak memory is the portal process's ``VmHWM`` (its own, not its runs').
* **breakdown** — on the first backend, between the latency and the load, the parts of the check timed in this
  process on as many files of each form (safety inspection, reading and the within-form rules, the sheet view); the
  rest of the HTTP median is the request itself: multipart parsing, writing the upload, its audit event, the
  period's lock and the rendered page.  ``--profile FORM`` shows the functions inside the check.

Workbooks: ``ccn sample`` with a smaller province than the default (8–10 clusters), 34 provinces, three times:
2026-H1, 2025-Y and 2026-H1 again with another seed (whose reports of the same units supersede the first's, as
corrections do): 4,697 files, 3,412 Biểu 01, 830 Biểu 02, 353 Biểu 03, 102 Biểu 04, at least 95 per province, with the
sample's deliberate errors (sent too; the run rejects them).  They are generated once into ``bench/.cache`` (~10 s
a set, printed apart).  The corrupt file of each set is left out: the portal refuses it and it cannot be sent.
Figures are printed as tables and written to ``bench/results/portal-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import random
import re
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
CACHE = ROOT / "bench" / ".cache"
RESULTS = ROOT / "bench" / "results"
PG_ADMIN = os.environ.get("CCN_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
PG_DATABASE = "ccn_bench_portal"
FORMS = ("01", "02", "03", "04")
WORKLOADS = (("2026-H1", 0), ("2025-Y", 1), ("2026-H1", 2))  # period, seed offset: ~4,600 files, ≥ 80 a province
TARGET_MEDIAN_MS, TARGET_P95_MS = 300, 1000
CSRF = re.compile(r'name="csrf" value="([^"]+)"')
SEND = re.compile(r'action="/upload/([A-Za-z0-9_-]{22})/send"')
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- workbooks ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Workbook:
    path: Path
    form: str
    province: str  # the 2025 province code, from the folder the sample writes it into
    sha256: str


def workload(period: str, seed: int) -> tuple[Path, float | None]:
    """A national sample for ``period`` with 8–10 clusters per province, generated once; its folder and the seconds
    its generation took (None when it came from the cache)."""
    from pipelines.sample.generator import Profile, generate
    from schemas.periods import Period

    out = CACHE / f"portal-{period}-s{seed}"
    if (out / "truth.json").exists():
        return out, None
    tmp = out.with_suffix(".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"generating the sample for {period} (seed {seed}, 34 provinces) into {out} …", flush=True)
    t = time.perf_counter()
    generate(tmp, Period.parse(period), provinces=34, seed=seed,
             profile=Profile(communes=(3, 4), clusters=(8, 10), project_ha=(2.0, 4.0)))
    seconds = time.perf_counter() - t
    tmp.rename(out)
    print(f"  generated in {seconds:.1f} s", flush=True)
    return out, seconds


def workbooks(folder: Path) -> list[Workbook]:
    """The sample's workbooks with their form (from truth.json), province and SHA-256; not the corrupt file."""
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    out = []
    for f in truth["files"]:
        if not f["reports"]:
            continue
        path = folder / f["file"]
        out.append(Workbook(path, f["reports"][0]["form"], f["file"].split("_", 1)[0],
                            hashlib.sha256(path.read_bytes()).hexdigest()))
    return out


# --- the portal and its stewards -----------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def new_pg_database() -> str:
    from sqlalchemy import create_engine, text

    eng = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))  # left by an interrupted run
        conn.execute(text(f'CREATE DATABASE "{PG_DATABASE}"'))
    eng.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DATABASE}"


def drop_pg_database() -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with eng.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{PG_DATABASE}" WITH (FORCE)'))
    eng.dispose()


def add_stewards(url: str, provinces: list[str], password: str) -> float:
    """One province steward per province, as ``ccn user add NAME --role province --province CODE`` makes it (the
    warehouse created and migrated first, as the command does); the seconds it took."""
    from pipelines.steward.accounts import add_user
    from schemas.database import make_engine
    from schemas.migrate import upgrade

    t = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    for code in provinces:
        add_user(engine, f"tinh-{code}", "province", password, province_code=code, actor="cli:bench")
    engine.dispose()
    return time.perf_counter() - t


class Portal:
    """``ccn portal`` in its own process (and process group) over ``home`` and ``url``."""

    def __init__(self, home: Path, url: str | None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("CCN_WAREHOUSE_URL", "DAGSTER_HOME")}
        env.update(CCN_HOME=str(home), DAGSTER_HOME=str(home / "dagster"),
                   PYTHONPATH=os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p))
        if url:
            env["CCN_WAREHOUSE_URL"] = url
        self.log = home / "portal.log"
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "pipelines.cli", "portal", "--host", "127.0.0.1",
                                          "--port", str(self.port)], cwd=ROOT, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the portal ended with {self.proc.returncode}:\n{self.log.read_text()[-4000:]}")
            try:
                if httpx.get(f"{self.base}/login", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise SystemExit(f"the portal did not answer within 120 s:\n{self.log.read_text()[-4000:]}")
            time.sleep(0.25)

    def children(self) -> set[int]:
        """The portal's child processes (its runs: ``ccn run``), from /proc."""
        out: set[int] = set()
        for task in Path(f"/proc/{self.proc.pid}/task").glob("*"):
            try:
                out.update(int(p) for p in (task / "children").read_text().split())
            except OSError:
                pass
        return out

    def cpu_seconds(self) -> tuple[float, float]:
        """CPU time (user + system) of the portal process itself, and of its runs that have ended."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        tick = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / tick, (int(fields[13]) + int(fields[14])) / tick

    def peak_rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return math.nan

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # the group this benchmark started, runs included
                self.proc.wait()


class Refused(RuntimeError):
    """An answer of the portal other than the expected one."""


class Steward:
    """One browser: a session of a province steward."""

    def __init__(self, base: str, province: str) -> None:
        self.province, self.name = province, f"tinh-{province}"
        self.client = httpx.Client(base_url=base, follow_redirects=False, timeout=300)
        self.csrf = ""

    def login(self, password: str) -> None:
        page = self.client.get("/login")
        r = self.client.post("/login", data={"csrf": _csrf(page.text), "name": self.name, "password": password})
        if r.status_code != 303:
            raise Refused(f"login {self.name}: HTTP {r.status_code}")
        self.csrf = _csrf(self.client.get("/upload").text)  # a new session at login, with its own token

    def upload(self, book: Workbook) -> tuple[float, str]:
        """POST one workbook to /upload; the seconds until the whole check page arrived, and the upload's token."""
        data = book.path.read_bytes()
        t = time.perf_counter()
        r = self.client.post("/upload", data={"csrf": self.csrf}, files=[("files", (book.path.name, data, XLSX))])
        seconds = time.perf_counter() - t
        if r.status_code != 200:
            raise Refused(f"upload {book.path.name}: HTTP {r.status_code}")
        token = SEND.search(r.text)
        if token is None or "Tệp bị từ chối" in r.text:
            raise Refused(f"upload {book.path.name}: refused or no send button")
        return seconds, token.group(1)

    def send(self, token: str, book: Workbook) -> float:
        """POST the send of an upload and open the page it leads to; the seconds it took."""
        t = time.perf_counter()
        r = self.client.post(f"/upload/{token}/send", data={"csrf": self.csrf})
        if r.status_code != 303 or r.headers.get("location") != f"/sent/{book.sha256}":
            raise Refused(f"send {book.path.name}: HTTP {r.status_code} → {r.headers.get('location')}")
        page = self.client.get(r.headers["location"])
        if page.status_code != 200:
            raise Refused(f"sent page of {book.path.name}: HTTP {page.status_code}")
        return time.perf_counter() - t

    def close(self) -> None:
        self.client.close()


def _csrf(html: str) -> str:
    m = CSRF.search(html)
    if m is None:
        raise Refused("no CSRF token on the page")
    return m.group(1)


def log_in_all(base: str, provinces: list[str], password: str) -> dict[str, Steward]:
    stewards = {code: Steward(base, code) for code in provinces}
    for s in stewards.values():
        s.login(password)
    return stewards


# --- measurements --------------------------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    """The ``q`` quantile by nearest rank (p95 of 30 values: the 29th smallest)."""
    xs = sorted(values)
    return xs[max(0, math.ceil(q * len(xs)) - 1)] if xs else math.nan


def spread(books: list[Workbook], n: int) -> list[Workbook]:
    """``n`` of ``books`` spread over the list (over the provinces, as it is sorted by folder); cycles if short."""
    if not books:
        return []
    step = max(1, len(books) // n)
    return [books[(i * step) % len(books)] for i in range(n)]


def latency(stewards: dict[str, Steward], books: list[Workbook], runs: int, warm_up: int) -> dict:
    out: dict = {"load_average_at_start": round(os.getloadavg()[0], 1)}
    for form in FORMS:
        mine = sorted((b for b in books if b.form == form and b.province in stewards), key=lambda b: str(b.path))
        chosen = spread(mine, warm_up + runs)
        for b in chosen[:warm_up]:
            stewards[b.province].upload(b)
        ms = [stewards[b.province].upload(b)[0] * 1000 for b in chosen[warm_up:]]
        out[form] = {"runs": len(ms), "distinct_files": len({b.sha256 for b in chosen[warm_up:]}),
                     "median_ms": round(statistics.median(ms), 1), "p95_ms": round(pct(ms, 0.95), 1),
                     "max_ms": round(max(ms), 1), "bytes_median": statistics.median(
                         b.path.stat().st_size for b in chosen[warm_up:])}
        r = out[form]
        print(f"  Biểu {form}: median {r['median_ms']:.0f} ms, p95 {r['p95_ms']:.0f} ms over {r['runs']} uploads",
              flush=True)
    out["load_average_at_end"] = round(os.getloadavg()[0], 1)
    return out


@dataclass
class Load:
    stop_at: float
    budget: int
    sent: list[tuple[Workbook, float, float]] = field(default_factory=list)  # book, upload s, send s
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self.lock:
            if self.budget <= 0 or time.perf_counter() >= self.stop_at:
                return False
            self.budget -= 1
            return True


def steward_loop(s: Steward, queue: list[Workbook], load: Load, start: threading.Barrier) -> None:
    start.wait()
    for book in queue:
        if not load.take():
            return
        try:
            up, token = s.upload(book)
            sent = s.send(token, book)
        except (Refused, httpx.HTTPError) as exc:
            with load.lock:
                load.errors.append(f"{s.name}: {type(exc).__name__}: {exc}")
            continue
        with load.lock:
            load.sent.append((book, up, sent))


def load_phase(portal: Portal, url: str, stewards: dict[str, Steward], books: list[Workbook], seconds: float,
               files: int, drain_timeout: float) -> dict:
    rng = random.Random(14)
    queues = {code: [b for b in books if b.province == code] for code in stewards}
    for q in queues.values():
        rng.shuffle(q)  # the forms mixed, as a province's folder of collected reports comes
    start = threading.Barrier(len(stewards) + 1)
    load = Load(stop_at=math.inf, budget=files)
    threads = [threading.Thread(target=steward_loop, args=(s, queues[code], load, start), daemon=True)
               for code, s in stewards.items()]
    for t in threads:
        t.start()
    runs: dict[int, list[float]] = {}  # run process id -> first and last time seen
    cpu0, load0, client0 = portal.cpu_seconds(), os.getloadavg()[0], _own_cpu_seconds()
    load.stop_at = time.perf_counter() + seconds
    t0 = time.perf_counter()
    start.wait()
    last_print = t0
    while any(t.is_alive() for t in threads):
        time.sleep(0.25)
        now = time.perf_counter()
        _watch_runs(portal, runs, now)
        if now - last_print >= 10:
            last_print = now
            print(f"  {now - t0:5.0f} s: {len(load.sent)} files sent ({len(load.sent) / (now - t0):.1f}/s), "
                  f"{len(load.errors)} errors, {len(runs)} runs started", flush=True)
    upload_end = time.perf_counter()
    elapsed = upload_end - t0
    print(f"  uploads ended: {len(load.sent)} files in {elapsed:.1f} s; waiting for the runs …", flush=True)

    from schemas.database import make_engine

    shas = {b.sha256 for b, _, _ in load.sent}
    engine = make_engine(url)
    quiet = 0
    while True:
        now = time.perf_counter()
        busy = _watch_runs(portal, runs, now)
        loaded = _loaded(engine, shas)
        quiet = quiet + 1 if not busy and loaded == len(shas) else 0
        if quiet >= 4:  # a second with every file loaded and no run under way
            break
        if now - upload_end > drain_timeout:
            print(f"  gave up waiting after {drain_timeout:.0f} s: {loaded} of {len(shas)} files loaded", flush=True)
            break
        time.sleep(0.25)
    drained = time.perf_counter() - upload_end
    cpu1, client1 = portal.cpu_seconds(), _own_cpu_seconds()
    per_run = _files_per_run(engine, shas)
    engine.dispose()
    last_run = max(runs.values(), key=lambda v: v[0]) if runs else [upload_end, upload_end]
    checks = verify(url, shas)
    ups = [u * 1000 for _, u, _ in load.sent]
    sends = [s * 1000 for _, _, s in load.sent]
    forms = Counter(b.form for b, _, _ in load.sent)
    return {"stewards": len(stewards), "files": len(load.sent), "forms": dict(sorted(forms.items())),
            "seconds": round(elapsed, 1), "files_per_s": round(len(load.sent) / elapsed, 1),
            "upload_p50_ms": round(statistics.median(ups), 0) if ups else None,
            "upload_p95_ms": round(pct(ups, 0.95), 0) if ups else None,
            "send_p50_ms": round(statistics.median(sends), 0) if sends else None,
            "send_p95_ms": round(pct(sends, 0.95), 0) if sends else None,
            "errors": len(load.errors), "error_examples": load.errors[:10],
            "runs": len(runs), "run_s": [round(b - a, 1) for a, b in sorted(runs.values())],
            "drain_s": round(drained, 1),
            "last_run_s": round(last_run[1] - last_run[0], 1),
            "last_run_started_after_uploads_s": round(last_run[0] - upload_end, 1),
            "files_per_run": per_run, "portal_cpu_s": round(cpu1[0] - cpu0[0], 1),
            "runs_cpu_s": round(cpu1[1] - cpu0[1], 1), "clients_cpu_s": round(client1 - client0, 1),
            "load_average": [round(load0, 1), round(os.getloadavg()[0], 1)],
            "portal_peak_rss_mib": round(portal.peak_rss_mib(), 0), **checks}


def _own_cpu_seconds() -> float:
    """CPU time of this process (the stewards' clients and the benchmark's own polling)."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _watch_runs(portal: Portal, runs: dict[int, list[float]], now: float) -> bool:
    """Note the portal's runs seen now; whether one is under way."""
    children = portal.children()
    for pid in children:
        runs.setdefault(pid, [now, now])[1] = now
    return bool(children)


def _loaded(engine, shas: set[str]) -> int:
    """How many of ``shas`` have submissions, none of them still pending."""
    from sqlalchemy import select

    from schemas.status import Status
    from schemas.tables import submission

    with engine.connect() as conn:
        rows = conn.execute(select(submission.c.sha256, submission.c.status)).all()
    seen = {sha for sha, _ in rows if sha in shas}
    pending = {sha for sha, status in rows if status == Status.PENDING}
    return len(seen - pending)


def _files_per_run(engine, shas: set[str]) -> list[int]:
    """How many of ``shas`` each run loaded, in the order of the runs."""
    from sqlalchemy import func, select

    from schemas.tables import submission

    s = submission.c
    with engine.connect() as conn:
        rows = conn.execute(select(s.run_id, s.sha256, func.min(s.submission_id)).group_by(s.run_id, s.sha256)).all()
    first: dict[str, int] = {}
    files: Counter[str] = Counter()
    for run_id, sha, sid in rows:
        if sha in shas:
            first[run_id] = min(first.get(run_id, sid), sid)
            files[run_id] += 1
    return [files[r] for r in sorted(first, key=first.__getitem__)]


def verify(url: str, shas: set[str]) -> dict:
    """Nothing lost: each sent SHA-256 in ``received_file`` with an archived copy of those bytes, and in
    ``submission``; and the statuses the run gave their submissions."""
    from sqlalchemy import select

    from schemas.database import make_engine
    from schemas.tables import received_file, submission

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            archived = dict(conn.execute(select(received_file.c.sha256, received_file.c.archive_path)).all())
            subs = conn.execute(select(submission.c.sha256, submission.c.status)).all()
    finally:
        engine.dispose()
    not_archived = [sha for sha in shas if sha not in archived
                    or not Path(archived[sha]).is_file()
                    or hashlib.sha256(Path(archived[sha]).read_bytes()).hexdigest() != sha]
    with_submission = {sha for sha, _ in subs}
    statuses = Counter(status for sha, status in subs if sha in shas)
    return {"lost_archive": len(not_archived), "lost_warehouse": len(shas - with_submission),
            "lost": len(set(not_archived) | (shas - with_submission)), "statuses": dict(sorted(statuses.items()))}


def breakdown(books: list[Workbook], per_form: int) -> dict:
    """The parts of a check, in this process, on ``per_form`` files of each form (after one untimed)."""
    from pipelines.intake import safety
    from pipelines.settings import Limits
    from pipelines.steward.check import check_file
    from pipelines.steward.sheet_view import sheet_views
    from pipelines.steward.upload import province_folder

    limits = Limits()
    staging = Path(tempfile.mkdtemp(prefix="ccn-bench-staging-"))
    out = {}
    try:
        for form in FORMS:
            chosen = spread(sorted((b for b in books if b.form == form), key=lambda b: str(b.path)), per_form + 1)
            times: dict[str, list[float]] = {"inspect_ms": [], "check_ms": [], "sheet_view_ms": []}
            for i, b in enumerate(chosen):
                path = staging / f"{form}-{i}" / province_folder(b.province) / b.path.name  # as an upload is kept
                path.parent.mkdir(parents=True)
                shutil.copyfile(b.path, path)
                t0 = time.perf_counter()
                safety.inspect(path, limits)  # the reader finds its verdict remembered, as in the portal
                t1 = time.perf_counter()
                check = check_file(path, folders=[province_folder(b.province)])
                t2 = time.perf_counter()
                sheet_views(path, check)
                t3 = time.perf_counter()
                if i:
                    for k, v in zip(times, (t1 - t0, t2 - t1, t3 - t2), strict=True):
                        times[k].append(v * 1000)
            out[form] = {k: round(statistics.median(v), 1) for k, v in times.items()}
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out


def profile(books: list[Workbook], form: str) -> None:
    """cProfile of the check of ten files of ``form``, the 25 functions with the most cumulative time."""
    import cProfile
    import pstats

    from pipelines.steward.check import check_file
    from pipelines.steward.upload import province_folder

    chosen = spread(sorted((b for b in books if b.form == form), key=lambda b: str(b.path)), 11)
    check_file(chosen[0].path, folders=[province_folder(chosen[0].province)])  # imports and caches, untimed
    prof = cProfile.Profile()
    prof.enable()
    for b in chosen[1:]:
        check_file(b.path, folders=[province_folder(b.province)])
    prof.disable()
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)


# --- one backend ---------------------------------------------------------------------------------------------------

def bench_backend(backend: str, books: list[Workbook], args, with_breakdown: bool) -> dict:
    from schemas.admin import admin

    provinces = sorted(admin().provinces)[: args.stewards]
    home = Path(tempfile.mkdtemp(prefix=f"ccn-bench-portal-{backend}-"))
    url = new_pg_database() if backend == "postgresql" else f"sqlite:///{home / 'warehouse.sqlite'}"
    password = secrets.token_urlsafe(18)  # this run's only: never written anywhere
    result: dict = {"backend": backend}
    portal = None
    stewards: dict[str, Steward] = {}
    try:
        print(f"\n{backend}: {len(provinces)} steward accounts …", flush=True)
        result["accounts_s"] = round(add_stewards(url, provinces, password), 1)
        portal = Portal(home, url if backend == "postgresql" else None)
        print(f"  portal on {portal.base} (pid {portal.proc.pid}); logging in …", flush=True)
        stewards = log_in_all(portal.base, provinces, password)
        if not args.no_latency:
            print(f"{backend}: latency, {args.warm_up} + {args.latency_runs} uploads per form, one at a time",
                  flush=True)
            result["latency"] = latency(stewards, books, args.latency_runs, args.warm_up)
            if with_breakdown:  # while the portal is idle, just after the uploads it is compared with
                print(f"{backend}: the parts of a check, timed in this process", flush=True)
                result["breakdown"] = breakdown(books, args.latency_runs)
        if not args.no_load:
            print(f"{backend}: load, {len(stewards)} stewards at once for {args.seconds:.0f} s or {args.files} files",
                  flush=True)
            result["load"] = load_phase(portal, url, stewards, books, args.seconds, args.files, args.drain_timeout)
        result["portal_peak_rss_mib"] = round(portal.peak_rss_mib(), 0)
    finally:
        for s in stewards.values():
            s.close()
        if portal is not None:
            portal.stop()
        if args.keep:
            print(f"  kept {home}" + (f" and the database {PG_DATABASE}" if backend == "postgresql" else ""))
        else:
            shutil.rmtree(home, ignore_errors=True)
            if backend == "postgresql":
                drop_pg_database()
    return result


def table(rows: list[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows)


def report(results: dict) -> None:
    backends = results["backends"]
    with_latency = [b for b in backends if "latency" in b]
    if with_latency:
        rows = [("upload → rendered check", *(f"{b['backend']} median / p95 ms" for b in with_latency), "target")]
        for form in FORMS:
            cells = [f"{b['latency'][form]['median_ms']:.0f} / {b['latency'][form]['p95_ms']:.0f}"
                     for b in with_latency]
            met = all(b["latency"][form]["median_ms"] <= TARGET_MEDIAN_MS and b["latency"][form]["p95_ms"]
                      <= TARGET_P95_MS for b in with_latency)
            rows.append((f"Biểu {form} ({with_latency[0]['latency'][form]['runs']} uploads)", *cells,
                         f"≤ {TARGET_MEDIAN_MS} / ≤ {TARGET_P95_MS}: {'met' if met else 'NOT met'}"))
        rows.append(("load average, start → end", *(f"{b['latency']['load_average_at_start']} → "
                                                     f"{b['latency']['load_average_at_end']}"
                                                     for b in with_latency), ""))
        print("\n" + table(rows))
    for b in backends:
        if "breakdown" not in b:
            continue
        rows = [("where the time goes (median ms)", "inspection", "read + rules", "sheet view",
                 f"rest of the request ({b['backend']})", "upload → rendered check")]
        for form, part in b["breakdown"].items():
            whole = b["latency"][form]["median_ms"]
            rows.append((f"Biểu {form}", f"{part['inspect_ms']:.1f}", f"{part['check_ms']:.1f}",
                         f"{part['sheet_view_ms']:.1f}", f"{whole - sum(part.values()):.0f}", f"{whole:.0f}"))
        print("\n" + table(rows))
    loads = [b for b in backends if "load" in b]
    if loads:
        keys = [("stewards", "stewards"), ("files sent", "files"), ("seconds", "seconds"), ("files/s", "files_per_s"),
                ("upload p50 / p95 ms", ("upload_p50_ms", "upload_p95_ms")),
                ("send + sent page p50 / p95 ms", ("send_p50_ms", "send_p95_ms")),
                ("HTTP errors", "errors"), ("runs during and after", "runs"),
                ("last upload → all loaded s", "drain_s"), ("final run s", "last_run_s"),
                ("CPU s: portal / its runs", ("portal_cpu_s", "runs_cpu_s")),
                ("CPU s: the clients", "clients_cpu_s"),
                ("lost (archive / warehouse)", ("lost_archive", "lost_warehouse")),
                ("portal peak RSS MiB", "portal_peak_rss_mib")]
        rows = [("load", *(b["backend"] for b in loads))]
        for label, key in keys:
            cells = []
            for b in loads:
                v = b["load"]
                cells.append(f"{v[key[0]]:,.0f} / {v[key[1]]:,.0f}" if isinstance(key, tuple) else f"{v[key]:,}")
            rows.append((label, *cells))
        rows.append(("run seconds", *(" + ".join(map(str, b["load"]["run_s"])) for b in loads)))
        rows.append(("files per run", *(" + ".join(map(str, b["load"]["files_per_run"])) for b in loads)))
        rows.append(("load average, start → end", *(" → ".join(map(str, b["load"]["load_average"]))
                                                     for b in loads)))
        rows.append(("statuses", *(", ".join(f"{k} {n}" for k, n in b["load"]["statuses"].items()) for b in loads)))
        print("\n" + table(rows))
        for b in loads:
            for e in b["load"]["error_examples"]:
                print(f"  {b['backend']}: {e}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="both",
                    help="warehouse: the embedded SQLite, a fresh PostgreSQL database on $CCN_TEST_PG_URL's server, "
                         "or both in turn (default)")
    ap.add_argument("--stewards", type=int, default=34, help="province stewards, one per province (1–34, default 34)")
    ap.add_argument("--seconds", type=float, default=60, help="load: how long the stewards upload (default 60)")
    ap.add_argument("--files", type=int, default=3000,
                    help="load: stop after this many files are sent, if it comes first (default 3000)")
    ap.add_argument("--latency-runs", type=int, default=30, help="timed uploads per form (default 30)")
    ap.add_argument("--warm-up", type=int, default=3, help="untimed uploads per form before them (default 3)")
    ap.add_argument("--no-latency", action="store_true", help="skip the latency measurement")
    ap.add_argument("--no-load", action="store_true", help="skip the load")
    ap.add_argument("--drain-timeout", type=float, default=900,
                    help="load: seconds to wait for the runs after the last upload (default 900)")
    ap.add_argument("--seed", type=int, default=1, help="seed of the sample workbooks (default 1)")
    ap.add_argument("--profile", choices=FORMS, metavar="FORM",
                    help="print a cProfile of the check of ten files of FORM (01–04) and exit")
    ap.add_argument("--keep", action="store_true", help="keep each home (and PostgreSQL database) to look into")
    args = ap.parse_args()
    if not 1 <= args.stewards <= 34:
        ap.error("--stewards is between 1 and 34")

    generation: dict[str, float | None] = {}
    books: list[Workbook] = []
    for period, offset in WORKLOADS:
        folder, seconds = workload(period, args.seed + offset)
        generation[folder.name] = None if seconds is None else round(seconds, 1)
        books += workbooks(folder)
    unique = {b.sha256: b for b in books}  # two files with the same bytes would be one file to the archive
    books = list(unique.values())
    counts = Counter(b.form for b in books)
    print(f"workbooks: {len(books)} ({', '.join(f'Biểu {f} {counts[f]}' for f in FORMS)}); generation "
          + ", ".join(f"{p} {'cached' if s is None else f'{s:.1f} s'}" for p, s in generation.items()), flush=True)
    if args.profile:
        profile(books, args.profile)
        return 0

    results: dict = {"machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0],
                                 "load_average_at_start": os.getloadavg()},
                     "started": datetime.now().astimezone().isoformat(timespec="seconds"),
                     "args": vars(args), "workbooks": dict(sorted(counts.items())), "generation_s": generation,
                     "backends": []}
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    for i, backend in enumerate(backends):
        results["backends"].append(bench_backend(backend, books, args, with_breakdown=i == 0))
    report(results)
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"portal-{datetime.now().astimezone():%Y%m%d-%H%M%S}.json"
    out.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str))
    print(f"\nfigures written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
