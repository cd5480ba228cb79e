"""Keeping every file as received (content-addressed by SHA-256) and noticing which inbox files are new.

A file's identity is its bytes: the same bytes dropped twice are archived and read once.  An inbox entry is
known by (path, size, modification time), so a run hashes only files it has not seen.  ``received_at`` is the
file's modification time in the inbox, with its time zone (Asia/Ho_Chi_Minh).

The bytes are hashed while they are copied to a temporary file in the archive, which is then renamed to its
SHA-256: the archive never holds a partial file under a final name, and its name is the hash of exactly the
bytes it holds even if the sender rewrites the inbox file meanwhile.  Files are recorded in batches: the batch's
copies are made durable by one ``os.sync()`` and only then are its rows committed, so a crash or a full disk
leaves at most orphan copies (reused next time, after their hash is checked) or temporary files (removed after
``STALE_TEMP_SECONDS``).  Guarantees: docs/reliability.md.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import inspect, select
from sqlalchemy.engine import Engine

from pipelines import faults
from pipelines.settings import write_batch
from schemas.database import insert_ignore
from schemas.periods import VN_TZ
from schemas.tables import file_arrival, received_file

STALE_TEMP_SECONDS = 3600  # a temporary copy older than this was left by a killed run
TEMP_PREFIX = ".incoming-"


@dataclass(frozen=True)
class InboxFile:
    path: Path
    relative: str  # path inside the inbox, as the sender's folders name it
    size: int
    mtime_ns: int

    @property
    def arrival_key(self) -> tuple[str, int, str]:
        """(path, size, modification time) as ``file_arrival`` records the entry (:func:`known_arrivals`)."""
        return str(self.path), self.size, str(self.mtime_ns)

    @property
    def received_at(self) -> datetime:
        return datetime.fromtimestamp(self.mtime_ns / 1e9, tz=VN_TZ)


@dataclass(frozen=True)
class ArchiveResult:
    new: int  # files archived for the first time
    duplicates: int  # new inbox entries whose bytes were already archived
    unchanged: int  # inbox entries seen before


def scan_inbox(inbox: Path) -> list[InboxFile]:
    """Every regular file under ``inbox`` (hidden files and temporary office lock files ``~$…`` left out).

    Symbolic links are followed only when they stay inside the inbox: a link to a file elsewhere on the
    server (``/etc/…``) is never copied into the archive, and linked folders are not entered.  Devices and pipes
    are never opened.  One ``os.scandir`` per folder and one ``stat`` per file, so a national inbox of 20,000
    files is listed in a fraction of a second.
    """
    out: list[InboxFile] = []
    if not inbox.exists():
        return out
    root_real = inbox.resolve()

    def walk(folder: str, prefix: str) -> None:
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        folders = []
        for e in entries:
            if e.name.startswith("."):
                continue
            try:
                if e.is_dir(follow_symlinks=False):
                    folders.append(e)
                    continue
                if e.name.startswith("~$") or e.name == "truth.json":
                    continue
                if e.is_symlink() and not Path(e.path).resolve().is_relative_to(root_real):
                    continue
                st = e.stat()
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode):
                out.append(InboxFile(Path(e.path), prefix + e.name, st.st_size, st.st_mtime_ns))
        for d in folders:
            walk(d.path, f"{prefix}{d.name}/")

    walk(str(inbox), "")
    return out


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def archive_path(archive: Path, sha: str, name: str) -> Path:
    """``archive/<sha[:2]>/<sha>.<ext>``: only the hash and a plain extension (letters, digits) of the name are
    used, so no file name (``..``, separators, control characters) can place a file elsewhere."""
    ext = Path(name.replace("\\", "/").rsplit("/", 1)[-1]).suffix.lower()
    ext = ext if re.fullmatch(r"\.[a-z0-9]{1,7}", ext) else ""
    return archive / sha[:2] / f"{sha}{ext}"


def _copy_hashing(src: Path, tmp_dir: Path) -> tuple[str, Path]:
    """Copy ``src`` into a temporary file in ``tmp_dir``, hashing the bytes copied."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=tmp_dir, prefix=TEMP_PREFIX)
    h = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            for chunk in iter(lambda: inp.read(1 << 20), b""):
                h.update(chunk)
                out.write(chunk)
            out.flush()  # made durable by one os.sync() per batch, before its rows are committed
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return h.hexdigest(), Path(tmp)


def remove_stale_temps(archive: Path, older_than: float = STALE_TEMP_SECONDS) -> int:
    """Delete temporary copies left by killed runs (a live run's copy is seconds old)."""
    removed = 0
    cutoff = time.time() - older_than
    for tmp in archive.glob(f"*/{TEMP_PREFIX}*") if archive.exists() else ():
        try:
            if tmp.stat().st_mtime < cutoff:
                tmp.unlink()
                removed += 1
        except OSError:
            pass
    return removed


def known_arrivals(conn) -> set[tuple[str, int, str]]:
    """The inbox entries the archive has recorded, as (path, size, modification time in ns): what no run needs
    to look at again."""
    return {(r.source_path, r.size, r.mtime_ns) for r in conn.execute(
        select(file_arrival.c.source_path, file_arrival.c.size, file_arrival.c.mtime_ns))}


def unknown_files(engine: Engine | None, inbox: Path) -> list[InboxFile]:
    """The inbox files the archive has not recorded under their path, size and modification time (every file when
    there is no warehouse yet, ``engine`` None, or it has no archive record yet)."""
    files = scan_inbox(inbox)
    if engine is None:
        return files
    with engine.connect() as conn:
        if not inspect(conn).has_table(file_arrival.name):
            return files
        seen = known_arrivals(conn)
    return [f for f in files if f.arrival_key not in seen]


def archive_new(engine: Engine, inbox: Path, archive: Path, progress=None) -> ArchiveResult:
    """Archive every inbox file not seen before; record its arrival.  Safe to run twice at once."""
    files = scan_inbox(inbox)
    remove_stale_temps(archive)
    with engine.connect() as conn:
        seen = known_arrivals(conn)
        known = {r[0] for r in conn.execute(select(received_file.c.sha256))}
    new = dup = 0
    now = datetime.now(tz=VN_TZ)
    todo = [f for f in files if f.arrival_key not in seen]
    unchanged = len(files) - len(todo)
    pending: list[tuple[InboxFile, str, int, Path]] = []  # copied, not yet recorded
    batch_size = write_batch()

    def record() -> None:
        """Make the batch's copies durable (one sync), then record them in one transaction."""
        nonlocal new, dup
        os.sync()
        with engine.begin() as conn:
            fresh = [(f, sha, size, dest) for f, sha, size, dest in pending if sha not in known]
            for i in range(len(fresh)):
                faults.pause(f"archive:{new + i}", conn)
            inserted = insert_ignore(conn, received_file, [
                {"sha256": sha, "file_name": f.path.name, "source_path": f.relative, "size": size,
                 "received_at": f.received_at, "archived_at": now, "archive_path": str(dest), "state": "archived"}
                for f, sha, size, dest in {p[1]: p for p in fresh}.values()])
            insert_ignore(conn, file_arrival, [
                {"sha256": sha, "source_path": str(f.path), "size": f.size, "mtime_ns": str(f.mtime_ns),
                 "seen_at": now} for f, sha, _size, _dest in pending])
        new += inserted
        dup += len(pending) - inserted
        known.update(p[1] for p in pending)
        pending.clear()

    for i, f in enumerate(todo):
        try:
            sha, tmp = _copy_hashing(f.path, archive / "tmp")
        except FileNotFoundError:
            continue  # removed from the inbox since the scan: nothing arrived
        size = tmp.stat().st_size  # what was archived, even if the sender rewrote the file since the scan
        dest = archive_path(archive, sha, f.path.name)
        try:
            if sha not in known and not (dest.exists() and sha256_of(dest) == sha):
                dest.parent.mkdir(parents=True, exist_ok=True)
                os.replace(tmp, dest)
        finally:
            tmp.unlink(missing_ok=True)
        pending.append((f, sha, size, dest))
        if len(pending) >= batch_size:
            record()
        if progress:
            progress(i + 1, len(todo))
    if pending:
        record()
    return ArchiveResult(new=new, duplicates=dup, unchanged=unchanged)

