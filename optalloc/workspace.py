"""The workspace database: imported cohorts and recorded runs, behind any SQLAlchemy URL.

A SQLite file under the workspace folder by default; set ``OPTALLOC_DATABASE_URL`` (or pass
``url``) for PostgreSQL or another server. Every write happens in one transaction, so a failed
import leaves the previous state intact.
"""

from __future__ import annotations

import os
import re
from typing import Any

import pandas as pd
from sqlalchemy import (JSON, Column, Engine, Float, Integer, MetaData, String, Table, Text, create_engine,
                        inspect, select, text)

from optalloc.errors import OptallocError
from optalloc.privacy import workspace_dir

URL_ENV = "OPTALLOC_DATABASE_URL"
COHORT_PREFIX = "cohort__"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,50}$")

# One row per recorded command run (solve, compare, sweep, size, uncertainty): enough to show it
# again and to re-run it from the stored scenario text, whatever has happened to the files since.
RUNS_METADATA = MetaData()
RUNS = Table(
    "runs", RUNS_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("scenario_names", JSON, nullable=False),
    Column("scenarios", JSON, nullable=False),      # [{name, path, text_hash, raw}]
    Column("cohort_hashes", JSON, nullable=False),  # {scenario name: sha256 of the cohort table}
    Column("code_version", String(64), nullable=False),
    Column("git_commit", String(64)),
    Column("params", JSON, nullable=False),         # what re-running needs (solver, flags)
    Column("timings", JSON, nullable=False),
    Column("seconds", Float),
    Column("results", JSON, nullable=False),
    Column("note", Text),
)


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

    def save_run(self, record: dict[str, Any]) -> int:
        """Store one run in its own transaction; returns its id."""
        RUNS_METADATA.create_all(self.engine, tables=[RUNS])
        with self.engine.begin() as connection:
            result = connection.execute(RUNS.insert().values(**record))
            return int(result.inserted_primary_key[0])

    def list_runs(self, limit: int = 50, kind: str | None = None) -> list[dict[str, Any]]:
        """The most recent runs first, without their (large) scenario texts and results."""
        if "runs" not in inspect(self.engine).get_table_names():
            return []
        columns = [RUNS.c.id, RUNS.c.created_at, RUNS.c.kind, RUNS.c.scenario_names, RUNS.c.code_version,
                   RUNS.c.git_commit, RUNS.c.seconds, RUNS.c.note]
        query = select(*columns).order_by(RUNS.c.id.desc()).limit(limit)
        if kind:
            query = query.where(RUNS.c.kind == kind)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    def get_run(self, run_id: int) -> dict[str, Any]:
        """One run in full; a clear error if there is no such id."""
        row = None
        if "runs" in inspect(self.engine).get_table_names():
            with self.engine.connect() as connection:
                row = connection.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
        if row is None:
            raise OptallocError(
                f"workspace {self.url}: no run with id {run_id}. List the recorded runs with 'optalloc runs list'."
            )
        return dict(row._mapping)
