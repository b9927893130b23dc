"""The workspace database: imported cohorts and recorded runs, behind any SQLAlchemy URL.

A SQLite file under the workspace folder by default; set ``OPTALLOC_DATABASE_URL`` (or pass
``url``) for PostgreSQL or another server. Every write happens in one transaction, so a failed
import leaves the previous state intact.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC
from pathlib import Path
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import (
    JSON,
    Column,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    inspect,
    select,
    text,
)
from sqlalchemy.pool import NullPool, StaticPool

from optalloc import interrupts
from optalloc.errors import OptallocError
from optalloc.privacy import private_dir, private_file, workspace_dir

T = TypeVar("T")
URL_ENV = "OPTALLOC_DATABASE_URL"
COHORT_PREFIX = "cohort__"
NAME_PATTERN = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,50}$")

# One row per recorded command run (solve, compare, sweep, size, uncertainty): enough to show it
# again and to re-run it from the stored scenario text, whatever has happened to the files since.
RUNS_METADATA = MetaData()
RUNS = Table(
    "runs",
    RUNS_METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(32), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("scenario_names", JSON, nullable=False),
    Column("scenarios", JSON, nullable=False),  # [{name, path, text_hash, raw}]
    Column("cohort_hashes", JSON, nullable=False),  # {scenario name: sha256 of the cohort table}
    Column("code_version", String(64), nullable=False),
    Column("git_commit", String(64)),
    Column("params", JSON, nullable=False),  # what re-running needs (solver, flags)
    Column("timings", JSON, nullable=False),
    Column("seconds", Float),
    Column("results", JSON, nullable=False),
    Column("note", Text),
)


# What each stored cohort is: size, source and when it was imported (``cohort list``).
COHORTS = Table(
    "cohorts",
    RUNS_METADATA,
    Column("name", String(64), primary_key=True),
    Column("patients", Integer, nullable=False),
    Column("source", Text, nullable=False),
    Column("imported_at", String(32), nullable=False),
    Column("dropped_columns", JSON, nullable=False),
)


@contextlib.contextmanager
def database_errors(shown_url: str) -> Iterator[None]:
    """Turn a database library's error into one paragraph naming the URL (never its password)
    and what to check."""
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError, SQLAlchemyError

    try:
        yield
    except NoSuchModuleError as exc:
        raise OptallocError(
            f"workspace database {shown_url}: unknown database kind ({exc}). Use a SQLAlchemy "
            "URL such as sqlite:///path/workspace.db or postgresql://user@host/db."
        ) from None
    except ArgumentError as exc:
        raise OptallocError(
            f"workspace database {shown_url}: not a database URL ({exc}). Use a SQLAlchemy URL "
            "such as sqlite:///path/workspace.db or postgresql://user@host/db."
        ) from None
    except ModuleNotFoundError as exc:
        raise OptallocError(
            f"workspace database {shown_url}: the driver {exc.name!r} is not installed; install it "
            "into optalloc's environment."
        ) from None
    except SQLAlchemyError as exc:
        first = (
            str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        )
        raise OptallocError(
            f"workspace database {shown_url}: {first}. Check that the server runs and accepts "
            "connections, the URL, user and password, and that the folder or database is "
            "writable; or unset OPTALLOC_DATABASE_URL to use the local SQLite file."
        ) from None
    except OSError as exc:
        raise OptallocError(
            f"workspace database {shown_url}: {exc.strerror or exc}. Check the folder exists and is writable."
        ) from None


def _guarded(method: Callable[..., T]) -> Callable[..., T]:
    """Apply :func:`database_errors` to a Workspace method."""

    @functools.wraps(method)
    def wrapper(self: Workspace, *args: Any, **kwargs: Any) -> T:
        with database_errors(self.safe_url):
            return method(self, *args, **kwargs)

    return wrapper


def default_url() -> str:
    env_url = os.environ.get(URL_ENV)
    if env_url:
        return env_url
    folder = private_dir(workspace_dir())
    return f"sqlite:///{folder / 'workspace.db'}"


def _private_sqlite(url: str) -> None:
    """Create a SQLite database file owner-only (0600) before SQLite creates it world-readable."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    if path.parent.exists() and not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    private_file(path)


def _pool_for(url: str) -> type[NullPool] | type[StaticPool]:
    """No pool: a command opens the database a few times, and pooled connections left open when
    the engine is dropped are what PostgreSQL servers (and psycopg's warnings) see as leaks. An
    in-memory SQLite database lives only as long as its one connection, so it keeps that one."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    return StaticPool if in_memory else NullPool


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    """WAL and a busy timeout: several optalloc processes may record into one file at once."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")  # first, so that switching to WAL waits too
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def ensure_tables(engine: Engine, metadata: MetaData, tables: list[Table]) -> None:
    """Create ``tables`` if missing; another process creating them at the same moment is fine."""
    from sqlalchemy.exc import OperationalError, ProgrammingError

    try:
        metadata.create_all(engine, tables=tables)
    except (OperationalError, ProgrammingError):
        existing = set(inspect(engine).get_table_names())
        if not all(table.name in existing for table in tables):
            raise


class Workspace:
    """Cohorts stored as tables named ``cohort__<name>``; runs in the ``runs`` table."""

    def __init__(self, url: str | None = None) -> None:
        from sqlalchemy import event

        self.url = url or default_url()
        with database_errors(self.safe_url):
            _private_sqlite(self.url)
            self.engine: Engine = create_engine(self.url, poolclass=_pool_for(self.url))
            if self.engine.dialect.name == "sqlite":
                event.listen(self.engine, "connect", _sqlite_pragmas)
            with self.engine.connect():  # fail here, clearly, not half-way through a command
                pass

    @staticmethod
    def _check_name(name: str) -> str:
        if not NAME_PATTERN.match(name):
            raise OptallocError(
                f"cohort name {name!r} is not allowed: use a letter followed by letters, digits "
                "or underscores (at most 51 characters)."
            )
        return COHORT_PREFIX + name

    @_guarded
    def save_cohort(self, name: str, cohort: pd.DataFrame, source: str = "", replace: bool = False) -> None:
        """Store a cohort and what it is, in one transaction; an existing name needs ``replace``."""
        table = self._check_name(name)
        if not replace and table in inspect(self.engine).get_table_names():
            raise OptallocError(
                f"workspace {self.safe_url}: a cohort named {name!r} exists already. Import with "
                "--replace to overwrite it, or choose another --name."
            )
        from datetime import datetime

        ensure_tables(self.engine, RUNS_METADATA, [COHORTS])
        with self.engine.begin() as connection:
            cohort.to_sql(table, connection, if_exists="replace", index=False)
            interrupts.check()  # roll back rather than commit an interrupted import
            connection.execute(COHORTS.delete().where(COHORTS.c.name == name))
            connection.execute(
                COHORTS.insert().values(
                    name=name,
                    patients=int(len(cohort)),
                    source=source,
                    imported_at=datetime.now(UTC).isoformat(timespec="seconds"),
                    dropped_columns=list(cohort.attrs.get("dropped_columns", [])),
                )
            )

    @property
    def safe_url(self) -> str:
        """The URL without its password, for messages."""
        from optalloc.io import redact_url

        return redact_url(self.url)

    @_guarded
    def cohorts(self) -> list[dict[str, Any]]:
        """Every stored cohort with its size, source and import date (unknown for old ones)."""
        names = self.cohort_names()
        info: dict[str, dict[str, Any]] = {}
        if COHORTS.name in inspect(self.engine).get_table_names():
            with self.engine.connect() as connection:
                info = {row.name: dict(row._mapping) for row in connection.execute(select(COHORTS))}
        return [
            info.get(name, {"name": name, "patients": None, "source": "", "imported_at": "", "dropped_columns": []})
            for name in names
        ]

    @_guarded
    def load_cohort(self, name: str) -> pd.DataFrame:
        table = self._check_name(name)
        if table not in inspect(self.engine).get_table_names():
            known = ", ".join(self.cohort_names()) or "none"
            raise OptallocError(
                f"workspace {self.safe_url}: no cohort named {name!r} (known: {known}). "
                "Import one with 'optalloc cohort import FILE --name NAME'."
            )
        with self.engine.connect() as connection:
            return pd.read_sql_table(table, connection)

    @_guarded
    def cohort_names(self) -> list[str]:
        return sorted(
            t[len(COHORT_PREFIX) :] for t in inspect(self.engine).get_table_names() if t.startswith(COHORT_PREFIX)
        )

    @_guarded
    def drop_cohort(self, name: str) -> None:
        """Delete a stored cohort and its record; an unknown name is an error listing the known."""
        table = self._check_name(name)
        if table not in inspect(self.engine).get_table_names():
            known = ", ".join(self.cohort_names()) or "none"
            raise OptallocError(f"workspace {self.safe_url}: no cohort named {name!r} (known: {known}).")
        with self.engine.begin() as connection:
            connection.execute(text(f'DROP TABLE IF EXISTS "{table}"'))
            if COHORTS.name in inspect(connection).get_table_names():
                connection.execute(COHORTS.delete().where(COHORTS.c.name == name))

    @_guarded
    def save_run(self, record: dict[str, Any]) -> int:
        """Store one run in its own transaction; returns its id."""
        ensure_tables(self.engine, RUNS_METADATA, [RUNS])
        interrupts.check()
        with self.engine.begin() as connection:
            result = connection.execute(RUNS.insert().values(**record))
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    @_guarded
    def list_runs(self, limit: int = 50, kind: str | None = None) -> list[dict[str, Any]]:
        """The most recent runs first, without their (large) scenario texts and results."""
        if "runs" not in inspect(self.engine).get_table_names():
            return []
        columns = [
            RUNS.c.id,
            RUNS.c.created_at,
            RUNS.c.kind,
            RUNS.c.scenario_names,
            RUNS.c.code_version,
            RUNS.c.git_commit,
            RUNS.c.seconds,
            RUNS.c.note,
        ]
        query = select(*columns).order_by(RUNS.c.id.desc()).limit(limit)
        if kind:
            query = query.where(RUNS.c.kind == kind)
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]

    @_guarded
    def get_run(self, run_id: int) -> dict[str, Any]:
        """One run in full; a clear error if there is no such id."""
        row = None
        if "runs" in inspect(self.engine).get_table_names():
            with self.engine.connect() as connection:
                row = connection.execute(select(RUNS).where(RUNS.c.id == run_id)).first()
        if row is None:
            raise OptallocError(
                f"workspace {self.safe_url}: no run with id {run_id}. List the recorded runs with 'optalloc runs list'."
            )
        return dict(row._mapping)
