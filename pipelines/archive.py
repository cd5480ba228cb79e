"""Keeping every file as received (content-addressed by SHA-256) and noticing which inbox files are new.

A file's identity is its bytes: the same bytes dropped twice are archived and read once.  An inbox entry is
known by (path, size, modification time), so a run hashes only files it has not seen.  ``received_at`` is the
file's modification time in the inbox, with its time zone (Asia/Ho_Chi_Minh).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Engine

from schemas.periods import VN_TZ
from schemas.warehouse import file_arrival, insert_ignore, received_file


@dataclass(frozen=True)
class InboxFile:
    path: Path
    relative: str  # path inside the inbox, as the sender's folders name it
    size: int
    mtime_ns: int

    @property
    def received_at(self) -> datetime:
        return datetime.fromtimestamp(self.mtime_ns / 1e9, tz=VN_TZ)


@dataclass(frozen=True)
class ArchiveResult:
    new: int  # files archived for the first time
    duplicates: int  # new inbox entries whose bytes were already archived
    unchanged: int  # inbox entries seen before


def scan_inbox(inbox: Path) -> list[InboxFile]:
    """Every regular file under ``inbox`` (hidden files and temporary office lock files ``~$…`` left out)."""
    out = []
    if not inbox.exists():
        return out
    for root, dirs, names in os.walk(inbox):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(names):
            if name.startswith((".", "~$")) or name == "truth.json":
                continue
            p = Path(root) / name
            try:
                st = p.stat()
            except OSError:
                continue
            if p.is_file():
                out.append(InboxFile(p, p.relative_to(inbox).as_posix(), st.st_size, st.st_mtime_ns))
    return out


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def archive_path(archive: Path, sha: str, name: str) -> Path:
    ext = Path(name).suffix.lower()[:8] if Path(name).suffix.isascii() else ""
    return archive / sha[:2] / f"{sha}{ext}"


def _copy_atomic(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out, open(src, "rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def archive_new(engine: Engine, inbox: Path, archive: Path, progress=None) -> ArchiveResult:
    """Archive every inbox file not seen before; record its arrival.  Safe to run twice at once."""
    files = scan_inbox(inbox)
    with engine.connect() as conn:
        seen = {(r.source_path, r.size, r.mtime_ns) for r in conn.execute(
            select(file_arrival.c.source_path, file_arrival.c.size, file_arrival.c.mtime_ns))}
        known = {r[0] for r in conn.execute(select(received_file.c.sha256))}
    new = dup = unchanged = 0
    now = datetime.now(tz=VN_TZ)
    todo = [f for f in files if (str(f.path), f.size, str(f.mtime_ns)) not in seen]
    unchanged = len(files) - len(todo)
    for i, f in enumerate(todo):
        sha = sha256_of(f.path)
        dest = archive_path(archive, sha, f.path.name)
        with engine.begin() as conn:
            if sha not in known:
                if not dest.exists():
                    _copy_atomic(f.path, dest)
                inserted = insert_ignore(conn, received_file, {
                    "sha256": sha, "file_name": f.path.name, "source_path": f.relative, "size": f.size,
                    "received_at": f.received_at, "archived_at": now, "archive_path": str(dest), "state": "archived"})
                new += inserted
                dup += not inserted
                known.add(sha)
            else:
                dup += 1
            insert_ignore(conn, file_arrival, {"sha256": sha, "source_path": str(f.path), "size": f.size,
                                                "mtime_ns": str(f.mtime_ns), "seen_at": now})
        if progress:
            progress(i + 1, len(todo))
    return ArchiveResult(new=new, duplicates=dup, unchanged=unchanged)

