"""Which columns of an arbitrary patient table can be segmentation features, and as what.

A planner's own table (a registry extract, a research cohort) has neither the transfusion
cohort's columns nor a domain's declaration. Rather than refusing it, ``optalloc segment``
clusters on every column that can be one and says which it used and which it left out:

* numbers and true/false columns are numeric features (flags stay 0/1, see
  :class:`~optalloc.segments.features.CohortFeatures`);
* text columns with 2 to ``MAX_LEVELS`` distinct values are categories;
* left out, each with its reason: columns that look like identifiers (a different whole number,
  or a different text, in every row: record numbers, NHS numbers, names), identifiers, outcomes
  and planted labels
  (:data:`~optalloc.segments.features.FORBIDDEN_FEATURES` and the caller's ``never_use``, which
  the CLI fills with every registered domain's), columns
  with missing values (a distance needs every value), constant columns, dates, and text with
  more distinct values than a category has (free text or another identifier).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd

from optalloc.segments.features import FORBIDDEN_FEATURES, MAX_LEVELS

#: Rows from which a column of whole numbers that never repeat is taken for an identifier.
MIN_ROWS_FOR_IDS = 20


@dataclass(frozen=True)
class InferredFeatures:
    """The columns a table offers for segmentation, and why the others are not used."""

    numeric: tuple[str, ...]
    categorical: tuple[str, ...]
    skipped: dict[str, str]

    def describe(self) -> str:
        """One line for the terminal: what is used, and what is not and why."""
        used = [*self.numeric, *(f"{c} (category)" for c in self.categorical)]
        text = f"segmenting on {len(used)} column(s): {', '.join(used)}"
        if self.skipped:
            text += "; not used: " + ", ".join(f"{c} ({why})" for c, why in self.skipped.items())
        return text


def _whole_and_unique(values: pd.Series, distinct: int) -> bool:
    """A record number, an NHS number: whole numbers, none repeated (over enough rows that a
    measurement such as age would repeat); ``distinct`` is the number of distinct values."""
    if len(values) < MIN_ROWS_FOR_IDS or distinct < len(values):
        return False
    return bool((values.astype(float) % 1 == 0).all())


def infer_features(frame: pd.DataFrame, never_use: Iterable[str] = ()) -> InferredFeatures:
    """Numeric and categorical feature columns of ``frame`` (see the module docstring)."""
    excluded = set(FORBIDDEN_FEATURES) | set(never_use)
    numeric: list[str] = []
    categorical: list[str] = []
    skipped: dict[str, str] = {}
    for column in frame.columns:
        values = frame[column]
        gaps = int(values.isna().sum())
        distinct = values.nunique() if not gaps else 0
        if column in excluded:
            skipped[column] = "an identifier, outcome or label"
        elif gaps:
            skipped[column] = f"{gaps:,} missing value(s)"
        elif distinct < 2:
            skipped[column] = "the same in every row"
        elif pd.api.types.is_datetime64_any_dtype(values):
            skipped[column] = "a date"
        elif pd.api.types.is_bool_dtype(values):
            numeric.append(column)
        elif pd.api.types.is_numeric_dtype(values):
            if _whole_and_unique(values, distinct):
                skipped[column] = "a different whole number in every row: an identifier"
            else:
                numeric.append(column)
        elif distinct == len(values):
            skipped[column] = "a different text in every row: an identifier or free text"
        elif distinct <= MAX_LEVELS:
            categorical.append(column)
        else:
            skipped[column] = f"{distinct:,} distinct texts: free text or an identifier, not a category"
    return InferredFeatures(tuple(numeric), tuple(categorical), skipped)
