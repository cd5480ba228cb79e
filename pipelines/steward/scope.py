"""Which 2025 province a submission, and so its findings and its file, belongs to: what a province steward of the
portal may see (issue 14).  Written once here, for one row and as SQL, so the portal's checks and its lists agree.

A submission belongs to the province it was identified for (``submission.province_code``: the 2025 province, also
for a report of a pre-2025 province).  One whose province is unknown (an unreadable file, a workbook naming no
province) belongs to the province of the inbox folder it arrived in, when that folder's name begins with a 2025
province code: the portal puts a province's uploads under ``inbox/<code> <name>/``, e.g. ``12 Lai Châu/…`` (the
sample's ``22_tinh-quang-ninh/`` reads the same).  Only the folder directly under the inbox counts, never a file
name or a deeper folder, so nothing a sender types can claim a province.  Otherwise it belongs to no province and
only the ministry sees it.  An archived file is recorded once, by its content (``received_file``), with the
folder it first arrived in: the same bytes sent again from another province's folder stay with the first.
"""

from __future__ import annotations

import re
from pathlib import PurePosixPath

from sqlalchemy import Select, and_, false, func, or_, select
from sqlalchemy.engine import Engine
from sqlalchemy.sql.elements import ColumnElement

from schemas.admin import admin
from schemas.tables import received_file, submission, validation_finding

_FOLDER_CODE = re.compile(r"(\d{2})(?:[ _-]|$)")  # "12 Lai Châu", "22_tinh-quang-ninh", "12"
_AFTER_CODE = (" ", "_", "-", "/")  # what follows the code in the first folder's name, the SQL form of the above


def folder_province(source_path: str | None) -> str | None:
    """The 2025 province whose code begins the first folder of a path inside the inbox (None: none)."""
    parts = PurePosixPath(source_path or "").parts
    if len(parts) < 2:  # a file directly in the inbox has no folder
        return None
    m = _FOLDER_CODE.match(parts[0])
    return m.group(1) if m and m.group(1) in admin().provinces else None


def of_province(province_code: str) -> ColumnElement[bool]:
    """SQL: the submission (``submission`` joined with its ``received_file``) belongs to ``province_code``."""
    if province_code not in admin().provinces:
        return false()
    s, path = submission.c, received_file.c.source_path
    in_folder = and_(func.substr(path, 1, 3).in_([province_code + c for c in _AFTER_CODE]), path.like("%/%"))
    return or_(s.province_code == province_code, and_(s.province_code.is_(None), in_folder))


def submissions_of(province_code: str) -> Select:
    """SQL: the ids of the submissions that belong to ``province_code``."""
    return (select(submission.c.submission_id)
            .select_from(submission.join(received_file, received_file.c.sha256 == submission.c.sha256))
            .where(of_province(province_code)))


def submission_province(engine: Engine, submission_id: int) -> str | None:
    """The 2025 province that may see a submission (None: no such submission, or only the ministry)."""
    s, f = submission.c, received_file.c
    with engine.connect() as conn:
        r = conn.execute(select(s.province_code, f.source_path)
                         .select_from(submission.join(received_file, f.sha256 == s.sha256))
                         .where(s.submission_id == submission_id)).first()
    return None if r is None else r.province_code or folder_province(r.source_path)


def finding_province(engine: Engine, finding_id: int) -> str | None:
    """The 2025 province that may see a finding, that of its submission (None: no such finding, or only the
    ministry)."""
    with engine.connect() as conn:
        sid = conn.execute(select(validation_finding.c.submission_id)
                           .where(validation_finding.c.finding_id == finding_id)).scalar()
    return None if sid is None else submission_province(engine, sid)
