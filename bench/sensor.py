"""One tick of the inbox sensor over a national inbox (issue #13): an inbox of 2 × W1 files (38,166 by default,
in one folder per province and per form as offices deliver them), every one already recorded by the archive,
then the same with one new file.  Prints the time of a tick (median of five, and the slowest) and the size of
the cursor it leaves.  The files are small stand-ins: a tick compares names, sizes and modification times with
the archive's record and never opens a file that is known, so their content does not matter.

    .venv/bin/python bench/sensor.py [--files 38166] [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dagster import DagsterInstance, build_sensor_context  # noqa: E402 - after the path is set

from assets.sensors import inbox_sensor  # noqa: E402
from pipelines.intake.archive import scan_inbox  # noqa: E402
from schemas.database import bulk_insert, make_engine  # noqa: E402
from schemas.migrate import upgrade  # noqa: E402
from schemas.periods import VN_TZ  # noqa: E402
from schemas.tables import file_arrival, received_file  # noqa: E402


def make_inbox(inbox: Path, files: int) -> None:
    for i in range(files):
        folder = inbox / f"{i % 34:02d}_tinh" / f"bieu0{1 + i % 4}"
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"bao_cao_{i:06d}.xlsx").write_bytes(b"PK" + i.to_bytes(4, "big"))


def record_all(url: str, inbox: Path) -> None:
    """The archive's record of every inbox file, as a run that loaded them leaves it."""
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(tz=VN_TZ)
    received, arrivals = [], []
    for f in scan_inbox(inbox):
        sha = hashlib.sha256(f.relative.encode()).hexdigest()
        received.append({"sha256": sha, "file_name": f.path.name, "source_path": str(f.path), "size": f.size,
                         "received_at": now, "archived_at": now, "archive_path": f"archive/{sha[:2]}/{sha}.xlsx",
                         "state": "read"})
        arrivals.append({"sha256": sha, "source_path": str(f.path), "size": f.size, "mtime_ns": str(f.mtime_ns),
                         "seen_at": now})
    with engine.begin() as conn:
        bulk_insert(conn, received_file, received)
        bulk_insert(conn, file_arrival, arrivals)
    engine.dispose()


def ticks(instance, cursor: str | None, times: int = 5) -> tuple[list[float], object]:
    taken, result = [], None
    for _ in range(times):
        t = time.perf_counter()
        result = inbox_sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=cursor))
        taken.append(time.perf_counter() - t)
    return taken, result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--files", type=int, default=38_166, help="inbox size (default 2 × W1: 38,166)")
    ap.add_argument("--url", help="warehouse URL (default: a SQLite file in a temporary home)")
    args = ap.parse_args()
    home = Path(tempfile.mkdtemp(prefix="ccn-bench-sensor-"))
    url = args.url or f"sqlite:///{home / 'warehouse.sqlite'}"
    os.environ.update(CCN_HOME=str(home), CCN_WAREHOUSE_URL=url)
    inbox = home / "inbox"
    t = time.perf_counter()
    make_inbox(inbox, args.files)
    record_all(url, inbox)
    print(f"{args.files} files made and recorded in {time.perf_counter() - t:.1f} s ({url.split(':')[0]})")
    instance = DagsterInstance.ephemeral()
    rows = []
    taken, known = ticks(instance, None)
    rows.append(("all known", taken, known))
    (inbox / "00_tinh" / "bieu01" / "moi.xlsx").write_bytes(b"PK new")
    taken, one_new = ticks(instance, known.cursor, times=1)
    rows.append(("one new file", taken, one_new))
    taken, after = ticks(instance, one_new.cursor)
    rows.append(("the new file requested", taken, after))
    print(f"{'tick':<24}{'median s':>10}{'max s':>8}{'runs':>6}{'cursor bytes':>14}")
    for label, taken, result in rows:
        print(f"{label:<24}{statistics.median(taken):>10.3f}{max(taken):>8.3f}{len(result.run_requests):>6}"
              f"{len(result.cursor or ''):>14}")


if __name__ == "__main__":
    main()
