"""Uploads of the stewards' portal (issue 14): a workbook received from a browser is kept aside, inspected and
checked as the run would check it, then sent into the inbox, where the run loads it.

Guarantees:

* an upload is written under ``staging/<token>/<province folder>/<safe name>``: the token is random
  (:func:`secrets.token_urlsafe`) and the only way back to the upload (:func:`staged` refuses anything not of
  its exact shape), the name keeps no path, no control character, nothing a file system or the inbox scanner
  reads specially; the province folder is one the pipeline reads as that province, so the check resolves the
  units as the run will and a report of another province gets the run's ``identity.province_folder_conflict``;
* the bytes are counted while they are written: past ``Limits.max_file_bytes`` nothing more is read and nothing is
  kept;
* the safety inspection (pipelines/intake/safety.py) runs before any parser; a refused file is never parsed and
  its bytes are not kept, only the reason, worded as the run words it (``file.unreadable``);
* :func:`send_upload` puts the file into ``inbox/<province folder>/`` under a hidden temporary name the inbox
  scanner skips, then renames it: the run never sees a partial file; its audit event is committed with it.

Plain Python: the web layer (pipelines/portal) calls these functions and owns the pages.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
import unicodedata
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from sqlalchemy.engine import Engine

from pipelines.intake import safety
from pipelines.settings import Limits
from pipelines.steward.accounts import record
from pipelines.steward.check import FileCheck, SheetCheck, check_file
from schemas.admin import admin
from schemas.periods import VN_TZ
from schemas.text import bilingual, slug
from validations.catalogue import Finding, finding

log = logging.getLogger(__name__)

CHUNK = 1 << 20
TOKEN = re.compile(r"[A-Za-z0-9_-]{22}")  # secrets.token_urlsafe(16): 16 random bytes, 22 characters
META = "staged.json"
MAX_NAME_BYTES = 160  # UTF-8 bytes of a kept name: the inbox adds a 23-character prefix, file systems allow 255
SENDING_PREFIX = ".sending-"  # hidden: pipelines/intake/archive.py scan_inbox skips names starting with "."
_UNSAFE = re.compile(r'[<>:"/\\|?*]')  # characters some file systems refuse in a name
_SENT = re.compile(r"\d{8}-\d{6}-[A-Za-z0-9_-]{6}-(?=.)")  # the prefix send_upload gives a name in the inbox


class UploadError(ValueError):
    """What cannot be done with an upload, in Vietnamese then English (``str(exc)``)."""


@dataclass
class Staged:
    token: str
    name: str  # the name the sender gave the file, made safe (:func:`safe_name`)
    path: Path  # where the file is kept (no longer there once refused or sent)
    size: int
    sha256: str
    province_code: str
    refused: str | None = None  # why the file is not read, Vietnamese — English, as the run says it
    check: FileCheck | None = None  # the findings (pipelines/steward/check.py) when it was read

    @property
    def errors(self) -> int:
        return self.check.errors if self.check else 0

    @property
    def warnings(self) -> int:
        return self.check.warnings if self.check else 0


def province_folder(province_code: str) -> str:
    """The inbox folder of a 2025 province, as ``ccn sample`` names it (``12_tinh-lai-chau``): ASCII, and read as
    that province by the run (pipelines/load/ingest.py) and the check."""
    units = admin().provinces
    if province_code not in units:
        raise UploadError(bilingual(f"{province_code} không phải mã tỉnh năm 2025",
                                    f"{province_code} is not a 2025 province code"))
    return f"{province_code}_{slug(units[province_code].name)}"


def safe_name(name: str) -> str:
    """The file name a sender gave, fit to keep: the last path part only, NFC, control and format characters
    dropped, characters some file systems refuse replaced by ``_``, no leading dot, space or ``~$`` (hidden or an
    office lock file to the inbox scanner), at most ``MAX_NAME_BYTES`` bytes with its extension kept; Vietnamese
    letters stay."""
    base = re.split(r"[/\\]", name or "")[-1]
    base = "".join(ch for ch in unicodedata.normalize("NFC", base) if not unicodedata.category(ch).startswith("C"))
    base = _UNSAFE.sub("_", base).strip()
    while base.startswith((".", "~$", " ")):
        base = base.lstrip(". ").removeprefix("~$")
    stem, dot, ext = base.rpartition(".")
    if not dot or not re.fullmatch(r"[A-Za-z0-9]{1,7}", ext):
        stem, dot, ext = base, "", ""
    tail = f"{dot}{ext}"
    while stem and len((stem + tail).encode()) > MAX_NAME_BYTES:
        stem = stem[:-1]
    stem = stem.rstrip(" .")
    return f"{stem or 'tep'}{tail}"


def stage_upload(staging: Path, province_code: str, name: str, data: bytes | BinaryIO,
                 limits: Limits | None = None) -> Staged:
    """Keep one uploaded file for ``province_code``, inspect it and check it: the :class:`Staged` upload, with
    ``refused`` set (and no check) when the file is over the size limit or the safety inspection refuses it."""
    limits = limits or Limits()
    folder = province_folder(province_code)
    token = secrets.token_urlsafe(16)
    path = staging / token / folder / safe_name(name)
    path.parent.mkdir(parents=True)
    h = hashlib.sha256()
    size = 0
    reason: tuple[str, str] | None = None
    with open(path, "wb") as out:
        for chunk in _chunks(data, limits.max_file_bytes + 1):
            size += len(chunk)
            if size > limits.max_file_bytes:
                reason = _too_large(limits.max_file_bytes)
                break
            h.update(chunk)
            out.write(chunk)
    out_of = Staged(token, path.name, path, size, h.hexdigest() if reason is None else "", province_code)
    if reason is None:
        try:
            safety.inspect(path, limits)
        except safety.Refused as exc:
            if exc.detail:
                log.info("upload %s refused: %s", token, exc)  # the library's own text: for the log only
            reason = (exc.vi, exc.en)
    if reason is not None:
        f = finding("file.unreadable", reason_vi=reason[0], reason_en=reason[1])
        out_of.refused = bilingual(f.message_vi, f.message_en)
        path.unlink(missing_ok=True)  # a refused file is not kept: only why it was refused
    else:
        try:
            out_of.check = check_file(path, folders=[folder])
        except Exception:  # a reader fault is the program's, not the steward's: logged, and the file not judged
            log.exception("upload %s: the check failed", token)
            f = finding("file.unreadable", reason_vi="lỗi chương trình khi đọc tệp; đã ghi vào nhật ký",
                        reason_en="a program error while reading the file; it was logged")
            out_of.refused = bilingual(f.message_vi, f.message_en)
    _save(staging / token, out_of)
    return out_of


def _chunks(data: bytes | BinaryIO, most: int):
    """The bytes of ``data`` in chunks, never more than ``most`` in all (an upload is not read past its limit)."""
    if isinstance(data, (bytes, bytearray, memoryview)):
        view = memoryview(data)[:most]
        for i in range(0, len(view), CHUNK):
            yield bytes(view[i:i + CHUNK])
        return
    left = most
    while left > 0:
        chunk = data.read(min(CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)
        yield chunk


def _too_large(limit: int) -> tuple[str, str]:
    n = f"{limit:,}".replace(",", ".")
    return (f"tệp lớn hơn giới hạn {n} byte (CCN_MAX_FILE_MB); tệp quá lớn",
            f"the file is over the limit of {limit:,} bytes (CCN_MAX_FILE_MB)")


def staged(staging: Path, token: str) -> Staged | None:
    """The upload kept under ``token``, or None (unknown, sent, discarded, or not a token at all: nothing but the
    exact shape of a generated token is ever joined to a path)."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        return None
    try:
        meta = json.loads((staging / token / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    check = meta.pop("check")
    out = Staged(**{**meta, "path": Path(meta["path"])})
    if check is not None:
        out.check = FileCheck(Path(check["path"]), [
            SheetCheck(s["sheet"], s["what"], s["values"], [Finding(**f) for f in s["findings"]], tuple(s["counted"]),
                       s.get("period"))
            for s in check["sheets"]], [Finding(**f) for f in check["findings"]])
    return out


def _save(folder: Path, s: Staged) -> None:
    meta = asdict(s)  # the check's dataclasses too
    meta["path"] = str(s.path)
    if meta["check"] is not None:
        meta["check"]["path"] = str(s.check.path) if s.check else ""
    tmp = folder / f".{META}"
    tmp.write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")
    os.replace(tmp, folder / META)


def record_upload(engine: Engine, actor: str, s: Staged, address: str | None = None) -> None:
    """The audit event ``upload.check``: who uploaded which file (by its SHA-256) for which province, and what the
    check found (or that the file was refused)."""
    outcome = "refused" if s.refused else f"errors={s.errors} warnings={s.warnings}"
    with engine.begin() as conn:
        record(conn, actor, "upload.check", address=address, target=s.name,
               detail=f"sha256={s.sha256} province={s.province_code} {outcome}")


def send_upload(staging: Path, token: str, inbox: Path, engine: Engine, actor: str, *,
                address: str | None = None) -> Path:
    """Move the upload ``token`` into ``inbox/<province folder>/<YYYYmmdd-HHMMSS>-<token[:6]>-<name>``, with the
    audit event ``upload.send`` (target: the path inside the inbox; detail: the SHA-256) committed with it, and
    forget the upload.  Returns the file's path in the inbox.  Refuses an unknown or refused upload, and one whose
    kept bytes are no longer those checked."""
    s = staged(staging, token)
    if s is None:
        raise UploadError(bilingual("không có tệp tải lên này (đã gửi, đã quá hạn hoặc không tồn tại)",
                                    "no such upload (already sent, expired or never made)"))
    if s.refused:
        raise UploadError(bilingual(f"tệp bị từ chối, không gửi được: {s.refused}",
                                    "the file was refused and cannot be sent"))
    folder = province_folder(s.province_code)
    stamp = datetime.now(VN_TZ).strftime("%Y%m%d-%H%M%S")
    dest = inbox / folder / f"{stamp}-{token[:6]}-{s.name}"
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.parent / f"{SENDING_PREFIX}{token}"
    try:
        if _copy_hashing(s.path, tmp) != s.sha256:
            raise UploadError(bilingual("tệp đã thay đổi từ khi được kiểm tra; hãy tải lên lại",
                                        "the file changed since it was checked; upload it again"))
        with engine.begin() as conn:  # the event is kept exactly when the file is in the inbox
            record(conn, actor, "upload.send", address=address,
                   target=str(PurePosixPath(folder, dest.name)), detail=s.sha256)
            os.replace(tmp, dest)
    finally:
        tmp.unlink(missing_ok=True)
    shutil.rmtree(staging / token, ignore_errors=True)
    return dest


def given_name(inbox_name: str) -> str:
    """The name a sender gave a file that :func:`send_upload` put into the inbox (``20261205-120602-FoIp5G-Báo
    cáo.xlsx`` → ``Báo cáo.xlsx``), for the pages and downloads; any other name as it is."""
    m = _SENT.match(inbox_name or "")
    return inbox_name[m.end():] if m else inbox_name


def _copy_hashing(src: Path, dest: Path) -> str:
    h = hashlib.sha256()
    with open(src, "rb") as inp, open(dest, "wb") as out:
        for chunk in iter(lambda: inp.read(CHUNK), b""):
            h.update(chunk)
            out.write(chunk)
        out.flush()
        os.fsync(out.fileno())
    return h.hexdigest()


def discard_stale(staging: Path, older_than_seconds: float = 86400) -> int:
    """Remove the uploads not sent within ``older_than_seconds``; returns how many.  Only folders named like a
    token are looked at."""
    cutoff = time.time() - older_than_seconds
    removed = 0
    if not staging.is_dir():
        return 0
    for entry in staging.iterdir():
        try:
            if TOKEN.fullmatch(entry.name) and entry.is_dir() and not entry.is_symlink() \
                    and entry.stat().st_mtime < cutoff:
                shutil.rmtree(entry)
                removed += 1
        except OSError:
            pass
    return removed
