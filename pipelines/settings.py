"""Where the pipeline keeps its files and which warehouse it writes, from the environment.

``CCN_HOME`` (default ``./.ccn``) holds ``inbox/``, ``archive/``, the embedded warehouse
(``warehouse.sqlite``) and the Dagster home (``dagster/``).  ``CCN_WAREHOUSE_URL`` (any SQLAlchemy URL)
points the warehouse elsewhere, e.g. ``postgresql+psycopg://postgres@127.0.0.1:5432/test``.
Limits on input (``CCN_MAX_FILE_MB`` …) are documented in docs/reliability.md.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path


def _int_env(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value else default


@dataclass(frozen=True)
class Limits:
    """Bounds on what one input file may cost to read."""

    max_file_bytes: int = field(default_factory=lambda: _int_env("CCN_MAX_FILE_MB", 20) * 1024 * 1024)
    max_uncompressed_bytes: int = field(default_factory=lambda: _int_env("CCN_MAX_UNCOMPRESSED_MB", 200) * 1024 * 1024)
    max_rows_read: int = field(default_factory=lambda: _int_env("CCN_MAX_ROWS", 2000))
    max_columns: int = field(default_factory=lambda: _int_env("CCN_MAX_COLUMNS", 200))

    def check_container(self, path: Path) -> None:
        """Refuse a zip-based workbook whose parts would expand beyond the limit (zip bombs)."""
        from pipelines.reader import _Refused

        try:
            with open(path, "rb") as fh:
                magic = fh.read(4)
        except OSError as exc:
            raise _Refused(str(exc)) from exc
        if magic[:2] != b"PK":
            return
        try:
            with zipfile.ZipFile(path) as zf:
                total = sum(i.file_size for i in zf.infolist())
        except zipfile.BadZipFile as exc:
            raise _Refused(f"the file is not a valid Excel workbook or is damaged ({exc})") from exc
        if total > self.max_uncompressed_bytes:
            raise _Refused(f"the workbook expands to {total:,} bytes, over the limit of {self.max_uncompressed_bytes:,}")


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

    def ensure(self) -> "Settings":
        for d in (self.home, self.inbox, self.archive, self.dagster_home):
            d.mkdir(parents=True, exist_ok=True)
        return self


def settings() -> Settings:
    home = Path(os.environ.get("CCN_HOME", ".ccn")).resolve()
    url = os.environ.get("CCN_WAREHOUSE_URL") or f"sqlite:///{home / 'warehouse.sqlite'}"
    return Settings(home=home, warehouse_url=url)
