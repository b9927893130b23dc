"""The workspace database: imported cohorts and recorded runs, behind any SQLAlchemy URL.

A SQLite file under the workspace folder by default; set ``OPTALLOC_DATABASE_URL`` (or pass
``url``) for PostgreSQL or another server. Every write happens in one transaction, so a failed
import leaves the previous state intact.
"""

from __future__ import annotations

import os
import re

import pandas as pd
from sqlalchemy import Engine, create_engine, inspect, text

from optalloc.errors import OptallocError
from optalloc.privacy import workspace_dir

URL_ENV = "OPTALLOC_DATABASE_URL"
COHORT_PREFIX = "cohort__"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,50}$")


def default_url() -> str:
    env_url = os.environ.get(URL_ENV)
    if env_url:
        return env_url
    folder = workspace_dir()
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder / 'workspace.db'}"


class Workspace:
    """Cohorts stored as tables named ``cohort__<name>``; runs in the ``runs`` table."""

    def __init__(self, url: str | None = None) -> None:
        self.url = url or default_url()
        self.engine: Engine = create_engine(self.url)

    @staticmethod
    def _check_name(name: str) -> str:
        if not NAME_PATTERN.match(name):
            raise OptallocError(
                f"cohort name {name!r} is not allowed: use a letter followed by letters, digits "
                "or underscores (at most 51 characters)."
            )
        return COHORT_PREFIX + name

    def save_cohort(self, name: str, cohort: pd.DataFrame) -> None:
        table = self._check_name(name)
        with self.engine.begin() as connection:
            cohort.to_sql(table, connection, if_exists="replace", index=False)

    def load_cohort(self, name: str) -> pd.DataFrame:
        table = self._check_name(name)
        if table not in inspect(self.engine).get_table_names():
            known = ", ".join(self.cohort_names()) or "none"
            raise OptallocError(
                f"workspace {self.url}: no cohort named {name!r} (known: {known}). "
                "Import one with 'optalloc cohort import FILE --name NAME'."
            )
        with self.engine.connect() as connection:
            return pd.read_sql_table(table, connection)

    def cohort_names(self) -> list[str]:
        return sorted(t[len(COHORT_PREFIX):] for t in inspect(self.engine).get_table_names()
                      if t.startswith(COHORT_PREFIX))

    def drop_cohort(self, name: str) -> None:
        table = self._check_name(name)
        with self.engine.begin() as connection:
            connection.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
