"""Key figures of solved scenarios, as typed summaries (for JSON and records) and a DataFrame
(for tables).

Rendering is the CLI's job; this module only computes the numbers, once, so the Rich table and
the JSON always agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optalloc.allocation.summary import PlanSummary
from optalloc.pipeline import Outcome


def summarise(outcome: Outcome) -> PlanSummary:
    """Everything a planner compares across scenarios, for one solved scenario."""
    prepared, result = outcome.prepared, outcome.result
    return PlanSummary.of(
        prepared.problem,
        result,
        prepared.estimates.plan_totals(result.assignment),
        scenario=prepared.loaded.scenario.name,
        file=str(prepared.loaded.path),
        greedy=outcome.greedy,
    )


def comparison_frame(summaries: list[PlanSummary]) -> pd.DataFrame:
    """Key figures as rows, scenarios as columns (a named index, as PyPSA's collections do)."""
    settings = list(dict.fromkeys(s for item in summaries for s in item.patients_per_setting))
    limits = list(dict.fromkeys(name for item in summaries for name in item.limit_names))
    columns: dict[str, dict[str, Any]] = {}
    for item in summaries:
        column: dict[str, Any] = {}
        for setting in settings:
            column[f"patients: {setting}"] = item.patients_per_setting.get(setting, 0)
        column["benefit"] = item.objective
        column["readmissions avoided"] = item.outcomes["readmissions_avoided"]
        column["travel hours saved"] = item.outcomes["travel_hours_saved"]
        column["cost"] = item.outcomes["cost"]
        known = set(item.limit_names)
        for name in limits:
            use = item.limit(name) if name in known else None
            column[f"use: {name}"] = use.use if use else None
            column[f"limit: {name}"] = use.shown_limit if use else None
            column[f"value of 1 more: {name}"] = use.marginal_value if use else None
        greedy = item.greedy
        column["greedy benefit"] = greedy.objective if greedy else None
        column["gain over greedy %"] = greedy.gain_pct if greedy else None
        column["status"] = item.status.value
        column["gap"] = item.gap
        column["seconds"] = item.seconds
        columns[item.scenario] = column
    frame = pd.DataFrame(columns)
    frame.index.name = "kpi"
    frame.columns.name = "scenario"
    return frame


def limit_units(summaries: list[PlanSummary]) -> dict[str, str]:
    """Each limit's unit, by name, over the scenarios (for the comparison table's labels)."""
    return {item.name: item.unit for summary in summaries for item in summary.limits}


# Which way is better for each key figure, for colouring differences (+1 higher is better,
# -1 lower is better, 0 neither: patient counts and resource use are choices, not scores).
BETTER: dict[str, int] = {
    "benefit": 1,
    "readmissions avoided": 1,
    "travel hours saved": 1,
    "cost": -1,
    "greedy benefit": 1,
    "gain over greedy %": 1,
    "gap": -1,
    "seconds": -1,
}


def better_direction(kpi: str) -> int:
    """+1, -1 or 0 for a row label of :func:`comparison_frame`."""
    return BETTER.get(kpi, 0)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float | np.integer | np.floating):
        return float(value)
    return None


#: Differences this small against the reference's magnitude are floating-point noise.
RELATIVE_NOISE = 1e-9


def differences_frame(summaries: list[PlanSummary]) -> pd.DataFrame:
    """Long table: one row per key figure and scenario, with its value and its difference from
    the first scenario (absolute and percent; empty for the first scenario and for text)."""
    frame = comparison_frame(summaries)
    reference = frame.columns[0]
    rows = []
    for kpi, row in frame.iterrows():
        base = _number(row[reference])
        for scenario in frame.columns:
            value = row[scenario]
            number = _number(value)
            diff = pct = None
            if (
                scenario != reference
                and number is not None
                and base is not None
                and np.isfinite(number)
                and np.isfinite(base)
            ):
                diff = number - base
                if abs(diff) <= RELATIVE_NOISE * max(1.0, abs(base)):
                    diff = 0.0  # rounding in the solver (a gap of 1e-6 against 1e-6 + 1e-17), not a change
                pct = 100.0 * diff / abs(base) if base else None
            rows.append(
                {
                    "kpi": kpi,
                    "scenario": scenario,
                    "value": value,
                    "diff": diff,
                    "diff_pct": pct,
                    "better": better_direction(str(kpi)),
                }
            )
    return pd.DataFrame(rows, columns=["kpi", "scenario", "value", "diff", "diff_pct", "better"])


def differences_by_scenario(summaries: list[PlanSummary]) -> dict[str, dict[str, dict[str, float | None]]]:
    """``{scenario: {kpi: {"diff": ..., "diff_pct": ...}}}`` against the first, for JSON output."""
    long = differences_frame(summaries)
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for row in long.itertuples(index=False):
        if row.diff is None or (isinstance(row.diff, float) and np.isnan(row.diff)):
            continue
        out.setdefault(row.scenario, {})[row.kpi] = {
            "diff": float(row.diff),
            "diff_pct": None if row.diff_pct is None or np.isnan(row.diff_pct) else float(row.diff_pct),
        }
    return out
