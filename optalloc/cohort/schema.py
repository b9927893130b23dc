"""The transfusion cohort's columns: one source of truth for the synthesiser, loader and estimates.

Each column states its kind and plausible range; :func:`validate_cohort` checks a table against
them before any expensive step and names the file, column and first offending row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optalloc.errors import CohortError, shown

DIAGNOSES: tuple[str, ...] = (
    "myelodysplastic_syndrome",
    "thalassaemia",
    "sickle_cell_disease",
    "ckd_anaemia",
    "chemotherapy_anaemia",
    "other_anaemia",
)
SEXES: tuple[str, ...] = ("F", "M")


@dataclass(frozen=True)
class Column:
    """One cohort column: its kind (``int``, ``float``, ``bool``, ``category``, ``id``) and range."""

    name: str
    kind: str
    description: str
    low: float | None = None
    high: float | None = None
    categories: tuple[str, ...] = ()
    required: bool = True


COHORT_COLUMNS: tuple[Column, ...] = (
    Column("patient_id", "id", "patient identifier; pseudonymised on import"),
    Column("age", "int", "age in years", 18, 110),
    Column("sex", "category", "administrative sex", categories=SEXES),
    Column("diagnosis", "category", "diagnosis group behind the transfusion need", categories=DIAGNOSES),
    Column("transfusions_per_28d", "float", "transfusion visits per 28 days", 0, 28),
    Column("units_per_visit", "int", "red-cell units given per visit", 1, 4),
    Column("haemoglobin_g_dl", "float", "pre-transfusion haemoglobin, g/dL", 3, 16),
    Column("distance_km", "float", "road distance from home to the hospital clinic, km", 0, 1000),
    Column("frailty", "int", "Clinical Frailty Scale (1 very fit .. 9 terminally ill)", 1, 9),
    Column("comorbidity_count", "int", "number of chronic comorbidities", 0, 30),
    Column("prior_reaction", "bool", "a previous transfusion reaction is recorded"),
    Column("admissions_past_year", "int", "inpatient admissions in the past 12 months", 0, 100),
    Column("ed_visits_past_year", "int", "emergency department visits in the past 12 months", 0, 200),
    Column("readmitted_30d", "bool", "observed: readmitted within 30 days of the last discharge", required=False),
)
# Columns the pipeline may read as model/segmentation features. ``true_type`` (planted by the
# synthesiser for scoring) and the label ``readmitted_30d`` are deliberately absent.
FEATURE_COLUMNS: tuple[str, ...] = tuple(
    c.name for c in COHORT_COLUMNS if c.name not in {"patient_id", "readmitted_30d"}
)
NUMERIC_FEATURES: tuple[str, ...] = tuple(
    c.name for c in COHORT_COLUMNS if c.kind in {"int", "float", "bool"} and c.name in FEATURE_COLUMNS
)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(c.name for c in COHORT_COLUMNS if c.kind == "category")


def first_bad_row(mask: pd.Series) -> int:
    """1-based data row number (as a spreadsheet shows it after the header) of the first True."""
    return int(np.flatnonzero(mask.to_numpy())[0]) + 1


_TRUTH = {
    True: True,
    False: False,
    "1": True,
    "0": False,
    "true": True,
    "false": False,
    "True": True,
    "False": False,
    "yes": True,
    "no": False,
}


def booleans(values: pd.Series, source: str, name: str) -> pd.Series:
    """``values`` as booleans (true/false, 1/0, yes/no); anything else is an error naming the row."""
    mapped = values.map(lambda v: _TRUTH.get(v))
    bad = mapped.isna()
    if bad.any():
        row = first_bad_row(bad)
        raise CohortError(
            f"{source}: column {name!r} must be true/false (or 1/0) but row {row} "
            f"holds {shown(values.iloc[row - 1])}. Correct the value and load again."
        )
    return mapped.astype(bool)


def numbers(
    values: pd.Series, source: str, name: str, *, minimum: float | None = None, maximum: float = 1e12
) -> pd.Series:
    """``values`` as finite floats within ``[minimum, maximum]`` (magnitude at most ``maximum``
    when there is no minimum); text, a blank, infinity or an absurd number is an error naming
    the row, so nothing of the kind can reach a model or a solver."""
    # numbers already (a Parquet column): checked as they are, not copied by to_numeric
    numeric = values if pd.api.types.is_float_dtype(values.dtype) else pd.to_numeric(values, errors="coerce")
    bad = numeric.isna()
    if bad.any():
        row = first_bad_row(bad)
        raise CohortError(
            f"{source}: column {name!r} must be a number but row {row} holds "
            f"{shown(values.iloc[row - 1])}. Correct the value and load again."
        )
    floats = numeric.to_numpy(dtype=float)
    low = -maximum if minimum is None else minimum
    outside = ~np.isfinite(floats) | (floats < low) | (floats > maximum)
    if outside.any():
        row = int(np.flatnonzero(outside)[0]) + 1
        allowed = (
            f"between {low:g} and {maximum:g}" if minimum is not None else f"finite and at most {maximum:g} in size"
        )
        raise CohortError(
            f"{source}: column {name!r} row {row} holds {shown(values.iloc[row - 1])}; it must be {allowed}. "
            "Correct the value and load again."
        )
    return numeric


def validate_cohort(
    frame: pd.DataFrame,
    source: str = "cohort",
    columns: Sequence[Column] = COHORT_COLUMNS,
    what: str = "A transfusion cohort",
) -> pd.DataFrame:
    """Check and coerce a cohort table against ``columns`` (the transfusion schema unless a
    declared domain gives its own); raise :class:`CohortError` naming the first problem.

    Returns a copy with canonical dtypes (ints, floats, bools, categories as strings).
    """
    missing = [c.name for c in columns if c.required and c.name not in frame.columns]
    if missing:
        raise CohortError(
            f"{source}: missing required column(s) {', '.join(missing)}. {what} needs "
            f"the columns {', '.join(c.name for c in columns if c.required)}; "
            "add or rename them and load the file again."
        )
    if frame.empty:
        raise CohortError(f"{source}: the table has no rows. Load a file with at least one patient.")
    out = frame.copy()
    for column in columns:
        if column.name not in out.columns:
            continue
        values = out[column.name]
        if values.isna().any():
            row = first_bad_row(values.isna())
            raise CohortError(
                f"{source}: column {column.name!r} is empty at row {row}. Every patient needs "
                f"a value for {column.name} ({column.description}); fill it in or drop the row."
            )
        if column.kind == "id":
            out[column.name] = values.astype(str)
            dup = out[column.name].duplicated()
            if dup.any():
                row = first_bad_row(dup)
                raise CohortError(
                    f"{source}: patient_id {shown(out[column.name].iloc[row - 1])} at row {row} appears "
                    "more than once. Keep one row per patient."
                )
            continue
        if column.kind == "category":
            text = values.astype(str)
            bad = ~text.isin(column.categories)
            if bad.any():
                row = first_bad_row(bad)
                raise CohortError(
                    f"{source}: column {column.name!r} has the unknown value {shown(text.iloc[row - 1])} "
                    f"at row {row}. Allowed values: {', '.join(column.categories)}."
                )
            out[column.name] = text
            continue
        if column.kind == "bool":
            out[column.name] = booleans(values, source, column.name)
            continue
        numeric = numbers(values, source, column.name)
        if column.kind == "int":
            not_whole = numeric != np.round(numeric)
            if not_whole.any():
                row = first_bad_row(not_whole)
                raise CohortError(
                    f"{source}: column {column.name!r} must be a whole number but row {row} "
                    f"holds {shown(values.iloc[row - 1])}."
                )
        out_of_range = (numeric < column.low) | (numeric > column.high)
        if out_of_range.any():
            row = first_bad_row(out_of_range)
            raise CohortError(
                f"{source}: column {column.name!r} at row {row} is {shown(numeric.iloc[row - 1])}, "
                f"outside the plausible range {column.low:g} to {column.high:g} "
                f"({column.description}). Check the unit and the value."
            )
        out[column.name] = numeric.astype("int64" if column.kind == "int" else "float64")
    return out.reset_index(drop=True)
