"""Key figures of solved scenarios, as plain dicts (for JSON) and a DataFrame (for tables).

Rendering is the CLI's job; this module only computes the numbers, once, so the Rich table and
the JSON always agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optalloc.pipeline import Outcome


def scenario_kpis(outcome: Outcome) -> dict[str, Any]:
    """Everything a planner compares across scenarios, for one solved scenario."""
    prepared, result = outcome.prepared, outcome.result
    problem = prepared.problem
    limits = result.limit_table(problem)
    resources = {
        row.limit: {
            "kind": row.kind,
            "unit": row.unit,
            "use": row.use,
            "lower": row.lower,
            "limit": row.upper,
            "slack": row.slack,
            "binding": bool(row.binding),
            "marginal_value": row.marginal_value,
        }
        for row in limits.itertuples()
    }
    greedy: dict[str, Any] | None = None
    if outcome.greedy is not None:
        g_obj = outcome.greedy.objective if outcome.greedy.status.has_plan else None
        gain = (result.objective - g_obj) if (g_obj is not None and result.objective is not None) else None
        greedy = {
            "status": outcome.greedy.status.value,
            "objective": g_obj,
            "gain": gain,
            "gain_pct": (100.0 * gain / abs(g_obj)) if gain is not None and g_obj else None,
        }
    return {
        "scenario": prepared.loaded.scenario.name,
        "file": str(prepared.loaded.path),
        **result.certificate(),
        "objective_unit": problem.objective_unit,
        "patients": problem.n_patients,
        "patients_per_setting": result.patients_per_setting(problem),
        "outcomes": prepared.estimates.plan_totals(result.assignment),
        "resources": resources,
        "greedy": greedy,
        "message": result.message,
    }


def comparison_frame(kpis: list[dict[str, Any]]) -> pd.DataFrame:
    """KPIs as rows, scenarios as columns (a named index, as PyPSA's collections do)."""
    settings: list[str] = []
    limits: list[str] = []
    for item in kpis:
        settings += [s for s in item["patients_per_setting"] if s not in settings]
        limits += [r for r in item["resources"] if r not in limits]
    columns: dict[str, dict[str, Any]] = {}
    for item in kpis:
        column: dict[str, Any] = {}
        for setting in settings:
            column[f"patients: {setting}"] = item["patients_per_setting"].get(setting, 0)
        column["benefit"] = item["objective"]
        column["readmissions avoided"] = item["outcomes"]["readmissions_avoided"]
        column["travel hours saved"] = item["outcomes"]["travel_hours_saved"]
        column["cost"] = item["outcomes"]["cost"]
        for limit in limits:
            info = item["resources"].get(limit)
            column[f"use: {limit}"] = info["use"] if info else None
            column[f"limit: {limit}"] = _shown_limit(info) if info else None
            column[f"value of 1 more: {limit}"] = info["marginal_value"] if info else None
        greedy = item["greedy"] or {}
        column["greedy benefit"] = greedy.get("objective")
        column["gain over greedy %"] = greedy.get("gain_pct")
        column["status"] = item["status"]
        column["gap"] = item["gap"]
        column["seconds"] = item["seconds"]
        columns[item["scenario"]] = column
    frame = pd.DataFrame(columns)
    frame.index.name = "kpi"
    frame.columns.name = "scenario"
    return frame


def _shown_limit(info: dict[str, Any]) -> Any:
    """The upper limit, or the floor of a lower-bound-only limit (a recorded run stores an
    infinite bound as null, so both forms are read)."""
    upper = info.get("limit")
    if upper is not None and np.isfinite(float(upper)):
        return upper
    return info.get("lower")


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


def differences_frame(kpis: list[dict[str, Any]]) -> pd.DataFrame:
    """Long table: one row per key figure and scenario, with its value and its difference from
    the first scenario (absolute and percent; empty for the first scenario and for text)."""
    frame = comparison_frame(kpis)
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


def differences_by_scenario(kpis: list[dict[str, Any]]) -> dict[str, dict[str, dict[str, float | None]]]:
    """``{scenario: {kpi: {"diff": ..., "diff_pct": ...}}}`` against the first, for JSON output."""
    long = differences_frame(kpis)
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for row in long.itertuples(index=False):
        if row.diff is None or (isinstance(row.diff, float) and np.isnan(row.diff)):
            continue
        out.setdefault(row.scenario, {})[row.kpi] = {
            "diff": float(row.diff),
            "diff_pct": None if row.diff_pct is None or np.isnan(row.diff_pct) else float(row.diff_pct),
        }
    return out
