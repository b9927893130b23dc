"""Key figures of solved scenarios, as plain dicts (for JSON) and a DataFrame (for tables).

Rendering is the CLI's job; this module only computes the numbers, once, so the Rich table and
the JSON always agree.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from optalloc.pipeline import Outcome


def _plan_totals(outcome: Outcome) -> dict[str, float]:
    result, estimates = outcome.result, outcome.prepared.estimates
    if result.assignment is None:
        return {"readmissions_avoided": float("nan"), "travel_hours_saved": float("nan"), "cost": float("nan")}
    rows = np.arange(len(result.assignment))
    return {
        "readmissions_avoided": float(estimates.readmissions_avoided[rows, result.assignment].sum()),
        "travel_hours_saved": float(estimates.travel_hours_saved[rows, result.assignment].sum()),
        "cost": float(estimates.cost[rows, result.assignment].sum()),
    }


def scenario_kpis(outcome: Outcome) -> dict[str, Any]:
    """Everything a planner compares across scenarios, for one solved scenario."""
    prepared, result = outcome.prepared, outcome.result
    problem = prepared.problem
    limits = result.limit_table(problem)
    resources = {
        row.limit: {
            "kind": row.kind, "unit": row.unit, "use": row.use, "lower": row.lower, "limit": row.upper,
            "slack": row.slack, "binding": bool(row.binding), "marginal_value": row.marginal_value,
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
        "status": result.status.value,
        "solver": result.solver,
        "objective": result.objective,
        "bound": result.bound,
        "gap": result.gap,
        "seconds": result.seconds,
        "objective_unit": problem.objective_unit,
        "patients": problem.n_patients,
        "patients_per_setting": result.patients_per_setting(problem),
        "outcomes": _plan_totals(outcome),
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
            column[f"limit: {limit}"] = (info["limit"] if np.isfinite(info["limit"]) else info["lower"]) if info else None
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
