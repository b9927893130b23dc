"""Loading patient records from files, SQL or the workspace into a validated, pseudonymised table."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optalloc.cohort.schema import COHORT_COLUMNS, first_bad_row, validate_cohort
from optalloc.errors import CohortError, shown
from optalloc.io import read_table
from optalloc.privacy import pseudonymize_column

# Columns that hold real patient identifiers in common exports; each becomes ``patient_id``.
IDENTIFIER_COLUMNS = ("patient_id", "mrn", "patient_nbr", "person_id")
#: Columns a transfusion cohort keeps (its schema, plus the synthesiser's planted type, which
#: only benchmarks read); anything else in a file (names, NHS numbers, notes) is dropped.
DECLARED_COLUMNS: tuple[str, ...] = (*(c.name for c in COHORT_COLUMNS), "true_type")


def _identifier_column(frame: pd.DataFrame, source: str, id_column: str | None) -> str:
    if id_column is not None:
        if id_column not in frame.columns:
            raise CohortError(
                f"{source}: --id-column {id_column!r} is not a column of the table "
                f"(its columns: {', '.join(map(str, frame.columns[:15]))})."
            )
        return id_column
    present = [c for c in IDENTIFIER_COLUMNS if c in frame.columns]
    if not present:
        raise CohortError(
            f"{source}: no patient identifier column. Add one named patient_id (or mrn, "
            "patient_nbr, person_id), or name yours with --id-column; it is replaced by a pseudonym "
            "on import."
        )
    if len(present) > 1:
        raise CohortError(
            f"{source}: several identifier columns ({', '.join(present)}). Say which one identifies "
            "the patient with --id-column; the others are dropped."
        )
    return present[0]


def pseudonymize_identifiers(
    frame: pd.DataFrame, source: str, id_column: str | None = None, unique: bool = False
) -> pd.DataFrame:
    """Replace the identifier column by keyed pseudonyms in ``patient_id``; drop the original
    and every other identifier column. A blank identifier, or (with ``unique``, one row per
    patient) a repeated one, is refused by row, naming the original value to look for."""
    column = _identifier_column(frame, source, id_column)
    text = frame[column].astype("string").str.strip()
    blank = text.isna() | text.isin(["", "nan", "NaN", "None", "NULL", "null"])
    if blank.any():
        row = first_bad_row(pd.Series(blank.to_numpy()))
        raise CohortError(
            f"{source}: row {row} has no patient identifier in column {column!r}. Every row "
            "needs one; fill it in or drop the row."
        )
    if unique:
        dup = text.duplicated(keep="first")
        if dup.any():
            row = first_bad_row(pd.Series(dup.to_numpy()))
            first = int(np.flatnonzero((text == text.iloc[row - 1]).to_numpy())[0]) + 1
            raise CohortError(
                f"{source}: row {row} repeats the identifier {shown(text.iloc[row - 1])} of row {first} "
                f"(column {column!r}). A cohort has one row per patient; merge or drop the repeat."
            )
    out = frame.drop(columns=[c for c in {column, *IDENTIFIER_COLUMNS} if c in frame.columns])
    out.insert(0, "patient_id", pseudonymize_column(text.astype(str)))
    return out


def keep_declared(frame: pd.DataFrame, source: str, strict: bool = False) -> pd.DataFrame:
    """Only the declared columns; the rest are dropped (listed in ``attrs['dropped_columns']``
    for the caller to say so) or, with ``strict``, refused."""
    extra = [str(c) for c in frame.columns if c not in DECLARED_COLUMNS]
    if extra and strict:
        raise CohortError(
            f"{source}: column(s) {', '.join(extra)} are not part of a transfusion cohort, and "
            "--strict refuses to drop them. Remove them from the file, or import without --strict "
            "(they are then dropped, never stored)."
        )
    out = frame.drop(columns=extra)
    out.attrs["dropped_columns"] = extra
    return out


def prepare_cohort(
    frame: pd.DataFrame, source: str, id_column: str | None = None, strict: bool = False, pseudonymised: bool = False
) -> pd.DataFrame:
    """Pseudonymise, keep the declared columns, then validate: the one path every cohort source
    goes through. ``pseudonymised`` is for tables optalloc itself stored (the workspace), whose
    ``patient_id`` already holds pseudonyms; nothing else is trusted to."""
    if not pseudonymised:
        frame = pseudonymize_identifiers(frame, source, id_column, unique=True)
    kept = keep_declared(frame, source, strict)
    validated = validate_cohort(kept, source=source)
    validated.attrs["dropped_columns"] = kept.attrs.get("dropped_columns", [])
    return validated


def load_cohort_file(path: str | Path, id_column: str | None = None, strict: bool = False) -> pd.DataFrame:
    """Read a CSV or Parquet cohort file (identifiers as text, so ``00123`` keeps its zeros)."""
    ids = [*IDENTIFIER_COLUMNS, *([id_column] if id_column else [])]
    return prepare_cohort(
        read_table(path, dtype=dict.fromkeys(ids, str)), source=str(path), id_column=id_column, strict=strict
    )


def load_patient_table(path: str | Path, id_column: str | None = None) -> pd.DataFrame:
    """Any table of one row per patient, identifiers pseudonymised, every other column kept as
    read: for segmenting a planner's own table, which follows no domain's schema."""
    ids = [*IDENTIFIER_COLUMNS, *([id_column] if id_column else [])]
    frame = read_table(path, dtype=dict.fromkeys(ids, str))
    return pseudonymize_identifiers(frame, str(path), id_column, unique=True)


def is_cohort_table(columns: list[str]) -> bool:
    """Whether a table is meant as a transfusion cohort: it holds most of the columns one
    requires. Then a missing one is an error naming it, not a cue to segment whatever is there."""
    required = [c.name for c in COHORT_COLUMNS if c.required and c.kind != "id"]
    return 2 * sum(name in columns for name in required) > len(required)


def load_cohort_sql(query: str, url: str, id_column: str | None = None, strict: bool = False) -> pd.DataFrame:
    """Read a cohort with a SQL query from any SQLAlchemy database URL."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    try:
        engine = create_engine(url, poolclass=NullPool)  # one query: nothing left open after it
        with engine.connect() as connection:
            frame = pd.read_sql_query(query, connection)
    except SQLAlchemyError as exc:
        raise CohortError(
            f"{url}: the query could not be run ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}). Check the URL, table and columns."
        ) from None
    return prepare_cohort(frame, source=f"{url} ({query})", id_column=id_column, strict=strict)
