"""Loading a province's cluster register workbook into the warehouse's cluster register.

The register (``ccn template register``, read by ``reader.read_register``) is the province's official list: its
clusters become ``verified`` with ``source = 'register'``, so they are expected to send Biểu 02 every period
(unless planned or withdrawn) even if they never reported.  A cluster the register names that reports already
registered under another spelling is matched through its aliases (``identify.cluster_key``) and keeps its ID;
the register's name becomes its official name and the spelling an alias.  A register with any error loads nothing:
the steward corrects it and loads it again (loading the same register twice changes nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.engine import Engine

from pipelines.read.register import RegisterReading
from schemas.database import insert_ignore
from schemas.keys import cluster_id, cluster_key
from schemas.periods import VN_TZ
from schemas.tables import cluster, cluster_alias


@dataclass
class RegisterLoad:
    province_code: str | None
    added: list[str] = field(default_factory=list)  # cluster IDs new to the register
    verified: list[str] = field(default_factory=list)  # clusters learnt from reports, now confirmed
    refused: tuple[str, str] | None = None  # why nothing was loaded: (Vietnamese, English)


def load_register(engine: Engine, reading: RegisterReading) -> RegisterLoad:
    """Upsert the clusters of ``reading`` in one transaction (nothing when the reading has an error)."""
    out = RegisterLoad(reading.province_code)
    errors = [f for f in reading.findings if f.is_error]
    if errors or not reading.province_code:
        out.refused = ((f"{len(errors)} lỗi trong danh sách", f"{len(errors)} error(s) in the register") if errors
                       else ("không xác định được tỉnh", "the province could not be identified"))
        return out
    province = reading.province_code
    now = datetime.now(tz=VN_TZ)
    with engine.begin() as conn:
        aliases = dict(conn.execute(select(cluster_alias.c.alias_key, cluster_alias.c.cluster_id)
                                    .where(cluster_alias.c.province_code == province)).all())
        sources = dict(conn.execute(select(cluster.c.cluster_id, cluster.c.source)
                                    .where(cluster.c.province_code == province)).all())
        for row in reading.rows:
            key = cluster_key(row.name)
            cid = aliases.get(key) or cluster_id(province, row.name)
            fields = {"name": row.name, "commune_code": row.commune_code, "kind": row.values.get("kind"),
                      "status": row.values.get("status"), "verified": True, "source": "register"}
            if cid in sources:
                conn.execute(update(cluster).where(cluster.c.cluster_id == cid).values(**fields))
                if sources[cid] != "register":
                    out.verified.append(cid)
            else:
                conn.execute(cluster.insert().values(cluster_id=cid, province_code=province, created_at=now, **fields))
                out.added.append(cid)
            sources[cid] = "register"
            if key not in aliases:
                insert_ignore(conn, cluster_alias, {"province_code": province, "alias_key": key, "cluster_id": cid,
                                                    "alias": row.name})
                aliases[key] = cid
    return out
