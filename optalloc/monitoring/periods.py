"""Periods of a tracked table: calendar periods from an admission date, or ordered blocks.

Diabetes 130 has no dates; its ``encounter_id`` rises with time (the loader keeps its rank as
``encounter_order``), so it is cut into equal blocks labelled ``B01``, ``B02``, ... in time
order. Those are *ordered blocks*, never calendar months: each holds the same number of
encounters, whatever span of time that was.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optalloc.errors import CohortError, shown

DATE_COLUMNS = ("admission_date", "visit_start_date", "admit_date")
ORDER_COLUMN = "encounter_order"
CALENDAR_FREQUENCIES = {"month": "M", "quarter": "Q", "year": "Y"}


@dataclass(frozen=True)
class Periods:
    """Period label of each row, the labels in time order, and what kind of period they are."""

    label: np.ndarray
    order: tuple[str, ...]
    kind: str  # "calendar month", "calendar quarter", "calendar year" or "ordered block"

    def index_of(self, label: str, source: str = "--intervention-start") -> int:
        """Position of a period label in time order, with a clear error for an unknown one."""
        if label not in self.order:
            raise CohortError(f"{source}: no period {label!r}; the periods are {', '.join(self.order)}.")
        return self.order.index(label)


def assign_periods(frame: pd.DataFrame, period: str = "blocks", n_blocks: int = 10, source: str = "table") -> Periods:
    """Label each row of ``frame`` with its period.

    Parameters
    ----------
    period : {"blocks", "month", "quarter", "year"}
        ``blocks`` cuts rows in time order (by ``encounter_order``, else by an admission date)
        into ``n_blocks`` equal blocks; a calendar period needs an admission date column.
    n_blocks : int
        Number of ordered blocks (2 to 100).
    """
    if period not in ("blocks", *CALENDAR_FREQUENCIES):
        raise CohortError(f"--period must be blocks, month, quarter or year. Got {period!r} instead.")
    date_column = next((c for c in DATE_COLUMNS if c in frame.columns), None)
    if period in CALENDAR_FREQUENCIES:
        if date_column is None:
            raise CohortError(
                f"{source}: calendar periods need an admission date column ({', '.join(DATE_COLUMNS)}); "
                f"this table has none (Diabetes 130 has no dates). Use --period blocks, which cuts "
                f"the encounters into equal blocks in time order."
            )
        dates = pd.to_datetime(frame[date_column], errors="coerce")
        if dates.isna().any():
            row = int(np.flatnonzero(dates.isna().to_numpy())[0]) + 1
            raise CohortError(
                f"{source}: column {date_column!r} row {row} is not a date "
                f"({shown(frame[date_column].iloc[row - 1])}). Correct it and run again."
            )
        labels = dates.dt.to_period(CALENDAR_FREQUENCIES[period]).astype(str).to_numpy()
        order = tuple(sorted(set(labels)))
        return Periods(label=labels, order=order, kind=f"calendar {period}")
    if not 2 <= n_blocks <= 100:
        raise CohortError(f"--periods must be between 2 and 100. Got {n_blocks} instead.")
    if ORDER_COLUMN in frame.columns:
        key = pd.to_numeric(frame[ORDER_COLUMN], errors="coerce").to_numpy(dtype=float)
    elif date_column is not None:
        key = pd.to_datetime(frame[date_column], errors="coerce").to_numpy(dtype="datetime64[ns]").astype(float)
    else:
        raise CohortError(
            f"{source}: tracking over time needs the order of the encounters: an "
            f"'{ORDER_COLUMN}' column (Diabetes 130 files have it from encounter_id) or an "
            f"admission date ({', '.join(DATE_COLUMNS)})."
        )
    if len(frame) < 2 * n_blocks:
        raise CohortError(f"{source}: {len(frame)} rows cannot be cut into {n_blocks} blocks; use fewer --periods.")
    rank = pd.Series(key).rank(method="first").to_numpy()
    block = np.minimum(((rank - 1) * n_blocks // len(frame)).astype(int), n_blocks - 1)
    width = len(str(n_blocks))
    names = np.array([f"B{k + 1:0{width}d}" for k in range(n_blocks)])
    return Periods(label=names[block], order=tuple(names), kind="ordered block")
