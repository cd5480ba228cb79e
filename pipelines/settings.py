"""Where the pipeline keeps its files and which warehouse it writes, from the environment.

``CCN_HOME`` (default ``./.ccn``) holds ``inbox/``, ``archive/``, the embedded warehouse
(``warehouse.sqlite``) and the Dagster home (``dagster/``).  ``CCN_WAREHOUSE_URL`` (any SQLAlchemy URL)
points the warehouse elsewhere, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``.
Limits on input (``CCN_MAX_FILE_MB`` …) are documented in docs/reliability.md.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name}={value!r} is not a whole number") from None
    if number <= 0:
        raise ValueError(f"{name}={value!r} must be greater than 0")
    return number


def write_batch() -> int:
    """Files archived or recorded per transaction (``CCN_WRITE_BATCH``, default 250).  Larger batches load
    faster; a crash costs at most one batch of work, which the next run redoes."""
    return _int_env("CCN_WRITE_BATCH", 250)


@dataclass(frozen=True)
class Limits:
    """Bounds on what one input file may cost to read, checked by pipelines/intake/safety.py before any parser runs.

    Every bound is an environment variable (docs/reliability.md); a file over any of them is rejected with a
    reason that names the limit, and the other files of the run still load.
    """

    max_file_bytes: int = field(default_factory=lambda: _int_env("CCN_MAX_FILE_MB", 20) * 1024 * 1024)
    max_uncompressed_bytes: int = field(default_factory=lambda: _int_env("CCN_MAX_UNCOMPRESSED_MB", 100) * 1024 * 1024)
    max_zip_entries: int = field(default_factory=lambda: _int_env("CCN_MAX_ZIP_ENTRIES", 2000))
    max_rows: int = field(default_factory=lambda: _int_env("CCN_MAX_ROWS", 10_000))
    max_columns: int = field(default_factory=lambda: _int_env("CCN_MAX_COLUMNS", 256))
    max_cells: int = field(default_factory=lambda: _int_env("CCN_MAX_CELLS", 500_000))


@dataclass(frozen=True)
class Settings:
    home: Path
    warehouse_url: str

    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def archive(self) -> Path:
        return self.home / "archive"

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def is_embedded(self) -> bool:
        return self.warehouse_url.startswith("sqlite")

    def ensure(self) -> Settings:
        for d in (self.home, self.inbox, self.archive, self.dagster_home):
            d.mkdir(parents=True, exist_ok=True)
        return self


def settings() -> Settings:
    home = Path(os.environ.get("CCN_HOME", ".ccn")).resolve()
    url = os.environ.get("CCN_WAREHOUSE_URL") or f"sqlite:///{home / 'warehouse.sqlite'}"
    return Settings(home=home, warehouse_url=url)
