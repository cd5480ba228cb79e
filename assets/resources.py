"""Dagster resource: where the pipeline's home and warehouse are (wiring only)."""


import os
from pathlib import Path

from dagster import ConfigurableResource

from pipelines.settings import Settings, settings
from pipelines.stages import Context


class CCNResource(ConfigurableResource):
    """CCN_HOME, the inbox and the warehouse URL; empty fields fall back to the environment."""

    home: str = ""
    inbox: str = ""
    warehouse_url: str = ""

    def context(self, run_id: str) -> Context:
        base = settings()
        home = Path(self.home).resolve() if self.home else base.home
        url = self.warehouse_url or (base.warehouse_url if not self.home or os.environ.get("CCN_WAREHOUSE_URL")
                                     else f"sqlite:///{home / 'warehouse.sqlite'}")
        s = Settings(home=home, warehouse_url=url)
        return Context(settings=s, inbox=Path(self.inbox).resolve() if self.inbox else s.inbox, run_id=run_id)
