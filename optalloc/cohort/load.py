"""Loading patient records from files, SQL or the workspace into a validated, pseudonymised table."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from optalloc.cohort.schema import validate_cohort
from optalloc.errors import CohortError
from optalloc.io import read_table
from optalloc.privacy import pseudonymize_column

# Columns that hold real patient identifiers in common exports; each becomes ``patient_id``.
IDENTIFIER_COLUMNS = ("patient_id", "mrn", "patient_nbr", "person_id")


def pseudonymize_identifiers(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Replace the identifier column by keyed pseudonyms in ``patient_id``; drop the original."""
    present = [c for c in IDENTIFIER_COLUMNS if c in frame.columns]
    if not present:
        raise CohortError(
            f"{source}: no patient identifier column. Add one named patient_id (or mrn, "
            "patient_nbr, person_id); it is replaced by a pseudonym on import."
        )
    if len(present) > 1:
        raise CohortError(
            f"{source}: several identifier columns ({', '.join(present)}). Keep exactly one."
        )
    column = present[0]
    out = frame.drop(columns=[column])
    out.insert(0, "patient_id", pseudonymize_column(frame[column]))
    return out


def prepare_cohort(frame: pd.DataFrame, source: str) -> pd.DataFrame:
    """Pseudonymise then validate a raw table; the one path every cohort source goes through."""
    return validate_cohort(pseudonymize_identifiers(frame, source), source=source)


def load_cohort_file(path: str | Path) -> pd.DataFrame:
    """Read a CSV or Parquet cohort file (identifiers as text, so ``00123`` keeps its zeros)."""
    return prepare_cohort(read_table(path, dtype={c: str for c in IDENTIFIER_COLUMNS}), source=str(path))


def load_cohort_sql(query: str, url: str) -> pd.DataFrame:
    """Read a cohort with a SQL query from any SQLAlchemy database URL."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError

    try:
        engine = create_engine(url)
        with engine.connect() as connection:
            frame = pd.read_sql_query(query, connection)
    except SQLAlchemyError as exc:
        raise CohortError(f"{url}: the query could not be run ({exc.__class__.__name__}: "
                          f"{str(exc).splitlines()[0]}). Check the URL, table and columns.") from None
    return prepare_cohort(frame, source=f"{url} ({query})")
