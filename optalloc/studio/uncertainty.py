"""Monte Carlo over uncertain effects and capacities, paired across scenarios.

For every draw ``k`` and scenario ``s``, the scenario's distributions are drawn from the
uniforms of ``(seed, k, path)`` (:mod:`optalloc.scenario.uncertain`), so two scenarios that
share an uncertain value see the same value in the same draw: "B beats A in 80% of draws"
compares like with like. Each drawn scenario is solved (what a planner who knew the numbers
would do), and the plan made for the expected values is evaluated under the same draw: its
realised benefit and any drawn capacity it breaks, with the excess.

Every draw is solved warm-started from the expected-value plan, whatever worker runs it, so a
parallel run returns exactly what the serial run returns.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optalloc.allocation.result import Status
from optalloc.allocation.summary import PlanSummary
from optalloc.errors import OptallocError
from optalloc.pipeline import Prepared
from optalloc.scenario.uncertain import draw_values
from optalloc.studio.parallel import Execution, Runner, chunks
from optalloc.studio.points import SolveSettings, plan_totals, solve_built, solve_variant, variant

OUTCOMES = ("benefit", "readmissions_avoided", "cost", "travel_hours_saved")
QUANTILES = {"p5": 5.0, "p50": 50.0, "p95": 95.0}


def _expected_value_task(
    shared: list[Prepared], task: tuple[int, SolveSettings]
) -> tuple[PlanSummary, np.ndarray | None]:
    index, settings = task
    return solve_variant(shared[index], {}, settings, None)


def _draw_task(
    shared: list[Prepared], task: tuple[list[int], list[np.ndarray | None], int, SolveSettings]
) -> list[list[dict]]:
    """For each draw index in the task, one record per scenario."""
    indices, ev_plans, seed, settings = task
    out = []
    for k in indices:
        row = []
        for prepared, ev_plan in zip(shared, ev_plans, strict=True):
            values = draw_values(prepared.loaded.distributions, seed, k)
            problem, estimates = variant(prepared, values)
            summary, _ = solve_built(prepared.loaded, problem, estimates, settings, ev_plan)
            record = {
                "draw": k,
                "status": summary.status.value,
                "patients": dict(summary.patients_per_setting),
                **{name: summary.figure(name) for name in OUTCOMES},
                "values": values,
            }
            if ev_plan is not None:
                totals = plan_totals(problem, estimates, ev_plan)
                record["ev_plan_benefit"] = totals["benefit"]
                record["ev_plan_breaks"] = {
                    name: excess for name, excess in problem.violations(ev_plan).items() if name != "allowed"
                }
            row.append(record)
        out.append(row)
    return out


@dataclass
class UncertaintyResult:
    """Per-draw records (``draws[s][k]``) and their summaries."""

    scenarios: list[str]
    seed: int
    expected_value: list[PlanSummary]
    draws: list[list[dict[str, Any]]]

    def frame(self) -> pd.DataFrame:
        """One row per scenario and draw (the CSV the command writes)."""
        rows = []
        for name, records in zip(self.scenarios, self.draws, strict=True):
            for record in records:
                row = {"scenario": name, "draw": record["draw"], "status": record["status"]}
                row.update({o: record[o] for o in OUTCOMES})
                row.update({f"patients:{s}": n for s, n in record["patients"].items()})
                row.update({f"value:{p}": v for p, v in record["values"].items()})
                row["ev_plan_benefit"] = record.get("ev_plan_benefit")
                # no expected-value plan (that solve failed): nothing to call feasible
                row["ev_plan_feasible"] = (not record["ev_plan_breaks"]) if "ev_plan_breaks" in record else None
                rows.append(row)
        return pd.DataFrame(rows)

    def summary(self) -> dict[str, Any]:
        """Distribution of each outcome, paired comparison with the first scenario, and how the
        expected-value plan fares under the draws."""
        first = np.array([r["benefit"] for r in self.draws[0]], dtype=float)
        out: dict[str, Any] = {"seed": self.seed, "draws": len(self.draws[0]), "scenarios": []}
        for name, ev, records in zip(self.scenarios, self.expected_value, self.draws, strict=True):
            metrics = {o: _describe([r[o] for r in records]) for o in OUTCOMES}
            for setting in records[0]["patients"] if records else []:
                metrics[f"patients:{setting}"] = _describe([r["patients"][setting] for r in records])
            benefit = np.array([r["benefit"] for r in records], dtype=float)
            diff = benefit - first
            item: dict[str, Any] = {
                "scenario": name,
                "solved": int(sum(Status(r["status"]).has_plan for r in records)),
                "outcomes": metrics,
                "p_beats_first": float(np.mean(diff > 1e-9 * np.maximum(1.0, np.abs(first))))
                if name != self.scenarios[0]
                else None,
                "mean_gain_over_first": float(np.nanmean(diff)) if name != self.scenarios[0] else None,
                "expected_value_plan": _ev_summary(ev, records),
            }
            out["scenarios"].append(item)
        return out


def _describe(values: list[float]) -> dict[str, float]:
    array = np.asarray(values, dtype=float)
    finite = array[np.isfinite(array)]
    if finite.size == 0:
        return {"mean": float("nan"), **{k: float("nan") for k in QUANTILES}}
    return {"mean": float(finite.mean()), **{k: float(np.percentile(finite, q)) for k, q in QUANTILES.items()}}


def _ev_summary(ev: PlanSummary, records: list[dict[str, Any]]) -> dict[str, Any]:
    records = [r for r in records if "ev_plan_breaks" in r]  # draws where there was a plan to test
    broken = [r["ev_plan_breaks"] for r in records]
    limits = sorted({name for b in broken for name in b})
    per_limit = {}
    for name in limits:
        excess = np.array([b.get(name, 0.0) for b in broken])
        hit = excess > 0
        per_limit[name] = {
            "p_broken": float(hit.mean()),
            "mean_excess_when_broken": float(excess[hit].mean()),
            "max_excess": float(excess.max()),
        }
    realised = [r.get("ev_plan_benefit", float("nan")) for r in records]
    # Only where the plan keeps every drawn limit is its benefit achievable, so only there is
    # the gap to the draw's own optimum a shortfall (the value of knowing the numbers first).
    regret = [
        r["benefit"] - r.get("ev_plan_benefit", float("nan")) for r, b in zip(records, broken, strict=True) if not b
    ]
    return {
        "status": ev.status.value,
        "benefit_at_expected_values": ev.benefit,
        "realised_benefit": _describe(realised),
        "mean_shortfall_vs_drawn_optimum": _describe(regret)["mean"],
        # None, not 0%, when the expected values gave no plan: "never breaks" would be false comfort
        "p_breaks_any_limit": float(np.mean([bool(b) for b in broken])) if broken else None,
        "breaks": per_limit,
    }


def run_uncertainty(
    prepared: list[Prepared],
    draws: int = 200,
    seed: int = 0,
    solver: str = "auto",
    execution: Execution | None = None,
    time_limit: float | None = None,
    relative_gap: float | None = None,
    on_done: Callable[[int], None] | None = None,
) -> UncertaintyResult:
    """Solve the expected-value plans, then ``draws`` paired draws of every scenario.

    ``on_done(n)`` is called with the number of scenario solves just finished.
    """
    if draws < 1:
        raise OptallocError(f"--draws {draws}: give at least 1 draw (200 is a good start).")
    if not any(p.loaded.distributions for p in prepared):
        names = ", ".join(str(p.loaded.path) for p in prepared)
        raise OptallocError(
            f"{names}: no value in these scenarios is a distribution, so every draw would be the "
            'same. Write an uncertain value as a table, e.g. effect = {dist = "triangular", '
            "low = 0.1, mode = 0.2, high = 0.35} (see scenarios/uncertainty/)."
        )
    patients = sum(p.problem.n_patients for p in prepared)
    execution = (execution or Execution()).for_work(patients, draws + 1)
    settings = SolveSettings(solver, execution.solver_threads(), time_limit, relative_gap)
    with Runner(prepared, execution) as runner:
        ev_tasks = [(i, settings) for i in range(len(prepared))]
        ev = runner.map(_expected_value_task, ev_tasks, on_done=(lambda i: on_done(1)) if on_done else None)
        ev_summaries = [summary for summary, _ in ev]
        ev_plans = [None if a is None else a.astype(np.int64) for _, a in ev]
        groups = chunks(list(range(draws)), max(1, 4 * execution.n_workers()))
        tasks = [(group, ev_plans, seed, settings) for group in groups]
        sizes = [len(g) * len(prepared) for g in groups]
        outputs = runner.map(_draw_task, tasks, on_done=(lambda i: on_done(sizes[i])) if on_done else None)
    per_scenario: list[list[dict[str, Any]]] = [[] for _ in prepared]
    for block in outputs:
        for row in block:
            for s, record in enumerate(row):
                per_scenario[s].append(record)
    return UncertaintyResult([p.loaded.name for p in prepared], seed, ev_summaries, per_scenario)
