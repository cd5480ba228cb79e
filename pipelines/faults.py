"""Test-only pause points, so fault tests can kill a run at a known place (docs/reliability.md).

``CCN_FAULT_PAUSE=<point>`` makes the process stop once at that point: it writes a JSON marker
(``CCN_FAULT_MARKER``, default ``$CCN_HOME/fault-pause.json``) with its pid and, on PostgreSQL, the pid of
the backend serving the open transaction, then waits until the marker is deleted (or
``CCN_FAULT_PAUSE_SECONDS``, default 120, pass).  Points:

* ``archive:N`` – inside the transaction that records the (N+1)th new file, after its archive copy is written;
* ``before-read`` – every file archived, nothing read yet;
* ``read:N`` – inside the transaction of the (N+1)th file read, after its rows are written, before commit.

Unset (always, outside the fault tests) it costs one dictionary lookup.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from pipelines.settings import settings

_fired: set[str] = set()


def pause(point: str, conn=None) -> None:
    wanted = os.environ.get("CCN_FAULT_PAUSE")
    if not wanted or wanted != point or point in _fired:
        return
    _fired.add(point)

    marker = Path(os.environ.get("CCN_FAULT_MARKER") or settings().home / "fault-pause.json")
    backend = None
    if conn is not None and conn.dialect.name == "postgresql":
        backend = conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps({"point": point, "pid": os.getpid(), "backend_pid": backend}), encoding="utf-8")
    os.replace(tmp, marker)
    deadline = time.monotonic() + float(os.environ.get("CCN_FAULT_PAUSE_SECONDS", "120"))
    while marker.exists() and time.monotonic() < deadline:
        time.sleep(0.05)
