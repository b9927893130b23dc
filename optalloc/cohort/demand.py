"""Sizing for forecast demand: today's cohort rescaled, group by group, to a forecast quantile.

``optalloc forecast --by GROUP --out forecast.csv`` gives, per group and step ahead, the
forecast number of patients and its quantiles. ``size --demand forecast.csv --quantile 0.9``
sizes a resource for that demand rather than for today's cohort: each group's patients are
resampled (seeded) to the group's quantile at ``--step``; a group that grows gets copies of its
own patients (each copy a new pseudonym ending ``~k``, standing for a future patient like
them), a group that shrinks keeps a random subset. Taking each group's own quantile is
conservative for the total: the total's 90th percentile is lower than the sum of the groups'.
Groups the forecast does not mention keep their patients as they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optalloc.errors import OptallocError
from optalloc.io import read_table

MAX_SCALE = 20.0


@dataclass(frozen=True)
class Demand:
    """Target patients per group of one cohort column, read from a forecast file."""

    column: str
    targets: dict[str, int]
    quantile: float
    step: int
    source: str


def read_demand(path: Path | str, quantile: float, step: int = 1, column: str | None = None) -> Demand:
    """The forecast's ``q{quantile}`` at ``step`` per group, with errors naming the file."""
    source = str(path)
    if not 0.5 <= quantile < 1:
        raise OptallocError(f"--quantile must be at least 0.5 and below 1. Got {quantile} instead.")
    frame = read_table(path)
    name = f"q{int(round(quantile * 100))}"
    needed = {"group", "step", name}
    missing = sorted(needed - set(frame.columns))
    if missing:
        raise OptallocError(
            f"{source}: a demand forecast needs the columns group, step and {name} (as "
            f"'optalloc forecast --out' writes, with quantiles q10, q50, q80, q90, q95); "
            f"missing {', '.join(missing)}."
        )
    rows = frame[frame["step"] == step]
    if rows.empty:
        raise OptallocError(
            f"{source}: no row for --step {step}; the file has steps "
            f"{', '.join(str(s) for s in sorted(frame['step'].unique()))}."
        )
    values = pd.to_numeric(rows[name], errors="coerce")
    if values.isna().any() or (values < 0).any():
        bad = rows.index[values.isna() | (values < 0)][0]
        raise OptallocError(
            f"{source}: row {int(bad) + 2}, column {name}: {rows.loc[bad, name]!r} is not a non-negative number."
        )
    by = column or (str(frame["by"].iloc[0]) if "by" in frame.columns else None)
    if by is None:
        raise OptallocError(
            f"{source}: say which cohort column the groups are (--demand-column), or use a "
            "forecast file with a 'by' column."
        )
    targets = {str(g): int(round(v)) for g, v in zip(rows["group"], values)}
    return Demand(column=by, targets=targets, quantile=quantile, step=step, source=source)


def scale_cohort(cohort: pd.DataFrame, demand: Demand, seed: int = 0) -> pd.DataFrame:
    """``cohort`` with each forecast group resampled to its target size (see the module)."""
    if demand.column not in cohort.columns:
        raise OptallocError(
            f"{demand.source}: the forecast's groups are of {demand.column!r}, which the "
            f"scenario's cohort lacks (its columns: {', '.join(map(str, cohort.columns[:12]))}...)."
        )
    labels = cohort[demand.column].astype("string").fillna("(missing)")
    unknown = sorted(set(demand.targets) - set(labels.unique()))
    if unknown:
        raise OptallocError(
            f"{demand.source}: group(s) {', '.join(unknown)} have no patient in the scenario's "
            f"cohort, so there is nobody to stand for their future patients."
        )
    rng = np.random.default_rng(seed)
    parts = []
    for group, rows in cohort.groupby(labels, sort=True):
        target = demand.targets.get(str(group))
        if target is None:
            parts.append(rows)
            continue
        if target > MAX_SCALE * len(rows):
            raise OptallocError(
                f"{demand.source}: group {group} would grow from {len(rows)} to {target} patients "
                f"(over {MAX_SCALE:g} times); check that the forecast is of the same population."
            )
        if target <= len(rows):
            parts.append(rows.iloc[np.sort(rng.choice(len(rows), target, replace=False))])
            continue
        extra = rows.iloc[rng.choice(len(rows), target - len(rows), replace=True)].copy()
        extra["patient_id"] = [f"{pid}~{k + 1}" for k, pid in enumerate(extra["patient_id"].astype(str))]
        parts.append(pd.concat([rows, extra]))
    return pd.concat(parts).reset_index(drop=True)
