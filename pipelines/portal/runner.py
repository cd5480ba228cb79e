"""Run requests of the portal: after a file is sent, the ``ingest`` job loads what is new in the inbox.

The portal runs ``ccn run`` in a child process (the run is the same as on the command line and appears in the
Dagster UI's history), one at a time: a file sent while a run is under way is loaded by one more run right after it.
Where the Dagster daemon's inbox sensor does this work (production), ``ccn portal --no-run`` leaves it to the sensor.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from pathlib import Path

log = logging.getLogger("ccn.portal")


class Runner:
    def __init__(self, home: Path, warehouse_url: str, enabled: bool = True) -> None:
        self.home, self.warehouse_url, self.enabled = home, warehouse_url, enabled
        self._wanted = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.runs = 0  # runs finished since the portal started
        self.last_code: int | None = None

    def request(self) -> None:
        """Ask for a run; returns at once.  Several requests while a run is under way make one more run."""
        if not self.enabled:
            return
        with self._lock:
            self._wanted = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="ccn-run", daemon=True)
                self._thread.start()

    @property
    def busy(self) -> bool:
        return self._thread is not None

    def _loop(self) -> None:
        while True:
            with self._lock:  # a request made from here on is seen: it either finds this thread or starts one
                if not self._wanted:
                    self._thread = None
                    return
                self._wanted = False
            env = {**os.environ, "CCN_HOME": str(self.home), "CCN_WAREHOUSE_URL": self.warehouse_url}
            cmd = [sys.executable, "-m", "pipelines.cli", "run"]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)  # noqa: S603 - no shell
            self.runs += 1
            self.last_code = done.returncode
            if done.returncode:
                log.error("ccn run ended with %s:\n%s", done.returncode, done.stderr[-4000:])

    def wait(self, timeout: float | None = None) -> None:
        """Until no run is under way (for the tests and the benchmark)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
