"""The plan as people act on it: one row per patient with why and what it costs.

``optalloc solve --out`` writes this table (and the web studio will offer the same download):
the setting, its benefit, cost and readmissions avoided, the patient's use of each resource
there, the patient's readmission risk and segment (where the cohort has one), and the runner-up:
the other allowed setting with the highest benefit net of the resources it would use, priced at
the limits' marginal values (as ``optalloc explain`` shows for one patient).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optalloc.pipeline import Outcome


def plan_table(outcome: Outcome) -> pd.DataFrame:
    """One row per patient of a solved scenario (raises if the solve found no plan)."""
    prepared, result = outcome.prepared, outcome.result
    problem, estimates = prepared.problem, prepared.estimates
    base = result.plan(problem)
    assignment = np.asarray(result.assignment, dtype=np.int64)
    rows = np.arange(problem.n_patients)
    settings = np.asarray(problem.settings, dtype=object)
    table = base.assign(
        benefit=problem.benefit[rows, assignment],
        cost=estimates.cost[rows, assignment],
        readmissions_avoided=estimates.readmissions_avoided[rows, assignment],
    )
    for name, use in estimates.usage.items():
        table[f"use:{name}"] = use[rows, assignment]
    risk = np.asarray(prepared.risk, dtype=float)
    if risk.shape == (problem.n_patients,) and np.isfinite(risk).any():
        table["risk"] = risk
    if "segment" in prepared.cohort.columns and len(prepared.cohort) == problem.n_patients:
        table["segment"] = prepared.cohort["segment"].to_numpy()
    prices = np.array([result.duals.get(limit.name, 0.0) for limit in problem.limits], dtype=float)
    priced = problem.benefit.astype(float).copy()
    for k, limit in enumerate(problem.limits):
        if prices[k]:
            priced -= prices[k] * np.asarray(limit.coef, dtype=float)
    priced = np.where(problem.allowed, priced, -np.inf)
    priced[rows, assignment] = -np.inf
    runner = priced.argmax(axis=1)
    has_runner = np.isfinite(priced[rows, runner])
    table["runner_up"] = np.where(has_runner, settings[runner], None)
    return table
