"""Sizing: the smallest level of one resource (or the budget) at which a target holds.

More of a resource never lowers the optimal benefit, and targets over what the plan achieves
(patients at home, readmissions avoided) grow with it, so the level that first meets the target
is found by bracketing: each round solves ``k`` levels evenly spaced inside the bracket
(``k`` = the number of workers, so the round runs in parallel; ``k = 1`` is bisection) and
shrinks it to the gap between the highest failing and the lowest passing level. The bracket
shrinks by ``k + 1`` per round until it is narrower than ``rel_tol`` of the answer.

Each level is solved warm-started from the plan of the highest failing level found so far:
that plan keeps every limit at any higher level, so the solver starts from a feasible plan.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optalloc.allocation.result import Status
from optalloc.allocation.summary import PlanSummary
from optalloc.errors import OptallocError
from optalloc.pipeline import Prepared
from optalloc.studio.parallel import Execution, Runner
from optalloc.studio.points import SolveSettings, is_limit_only, solve_variant
from optalloc.studio.sweep import resolve_path
from optalloc.studio.target import Target

AROUND = (-0.05, -0.02, -0.01, 0.0, 0.01, 0.02, 0.05)


@dataclass
class SizeResult:
    """The minimal level, the bracket that proves it, and every level solved on the way."""

    path: str
    target: str
    level: float | None
    bracket: tuple[float, float]
    current: float
    evaluations: list[dict[str, Any]] = field(default_factory=list)
    around: pd.DataFrame | None = None

    def lower_levels_meeting(self) -> list[float]:
        """Levels below the answer that met the target anyway (in the search or the table
        around it): the target is then not monotone in this resource, and the answer is only
        the edge of the bracket found, not the smallest level that works."""
        if self.level is None:
            return []
        rows = list(self.evaluations) + ([] if self.around is None else self.around.to_dict(orient="records"))
        return sorted(
            {float(r["level"]) for r in rows if r.get("meets_target") and float(r["level"]) < self.level - 1e-9}
        )

    def summary(self) -> dict[str, Any]:
        return {
            "lower_levels_meeting": self.lower_levels_meeting(),
            "path": self.path,
            "target": self.target,
            "level": self.level,
            "current_level": self.current,
            "bracket": list(self.bracket),
            "solves": len(self.evaluations),
            "around": [] if self.around is None else self.around.to_dict(orient="records"),
        }


def _level_task(
    prepared: Prepared, task: tuple[str, float, np.ndarray | None, SolveSettings]
) -> tuple[PlanSummary, np.ndarray | None]:
    path, level, hint, settings = task
    return solve_variant(prepared, {path: level}, settings, hint)


def current_level(prepared: Prepared, path: str) -> float:
    """The level the scenario states now (the upper bound of that limit)."""
    if path == "budget":
        if prepared.loaded.scenario.budget is None:
            raise OptallocError(
                f"{prepared.loaded.path}: --resource budget needs a budget in the scenario "
                "(a top-level 'budget = ...'); add one, or size a resource instead."
            )
        return float(prepared.loaded.scenario.budget)
    return float(prepared.loaded.scenario.resources[path.split(".", 1)[1]])


def resource_path(prepared: Prepared, resource: str) -> str:
    """``budget`` or ``resources.NAME`` for a resource given by name or path; anything else is refused."""
    path = resolve_path(prepared.loaded, resource, "--resource")
    if path != "budget" and not (path.startswith("resources.") and is_limit_only(prepared.problem, {path: 0.0})):
        names = ", ".join(prepared.loaded.scenario.resources)
        raise OptallocError(f"--resource {resource!r}: size 'budget' or one of the scenario's resources ({names}).")
    current_level(prepared, path)
    return path


class _Search:
    """Bookkeeping of solved levels: which pass, which plan to warm-start from."""

    def __init__(
        self,
        prepared: Prepared,
        path: str,
        target: Target,
        runner: Runner,
        settings: SolveSettings,
        on_done: Callable[[int], None] | None,
    ) -> None:
        self.prepared, self.path, self.target, self.runner = prepared, path, target, runner
        self.settings, self.on_done = settings, on_done
        self.evaluations: list[dict[str, Any]] = []
        self.fail_plan: tuple[float, np.ndarray | None] = (-np.inf, None)

    def evaluate(self, levels: list[float]) -> list[bool]:
        hint = self.fail_plan[1]
        tasks = [(self.path, float(level), hint, self.settings) for level in levels]
        outputs = self.runner.map(_level_task, tasks, on_done=(lambda i: self.on_done(1)) if self.on_done else None)  # type: ignore[misc]
        passes = []
        for level, (summary, assignment) in zip(levels, outputs, strict=True):
            ok = self.target.holds(summary)
            if not summary.has_plan and summary.status != Status.INFEASIBLE:
                raise OptallocError(
                    f"sizing: the solve at {self.path} = {level:g} ended {summary.status.value} (no plan, "
                    "not proven infeasible); raise --time-limit or the scenario's solver.time_limit."
                )
            self.evaluations.append(
                {
                    "level": float(level),
                    "meets_target": ok,
                    **self.target.values(summary),
                    "benefit": summary.benefit,
                    "status": summary.status.value,
                    "patients": dict(summary.patients_per_setting),
                }
            )
            if not ok and assignment is not None and level > self.fail_plan[0]:
                self.fail_plan = (float(level), assignment.astype(np.int64))
            passes.append(ok)
        return passes


def run_size(
    prepared: Prepared,
    resource: str,
    target: Target,
    solver: str = "auto",
    execution: Execution | None = None,
    low: float = 0.0,
    high: float | None = None,
    rel_tol: float = 1e-3,
    time_limit: float | None = None,
    relative_gap: float | None = None,
    max_growth: int = 12,
    on_done: Callable[[int], None] | None = None,
) -> SizeResult:
    """Find the smallest level in ``[low, high]`` (``high`` grows by doubling if needed) at which
    ``target`` holds, to within ``rel_tol`` of that level; then solve the levels around it."""
    execution = (execution or Execution()).for_work(prepared.problem.n_patients, 20)
    path = resource_path(prepared, resource)
    now = current_level(prepared, path)
    k = execution.n_workers()
    settings = SolveSettings(solver, execution.solver_threads(), time_limit, relative_gap)
    lo = float(low)
    hi = float(high) if high is not None else max(now, 2.0 * lo, 1.0)
    if lo < 0 or hi <= lo:
        raise OptallocError(f"sizing: need 0 <= --low < --high (got low {lo:g}, high {hi:g}).")
    if not rel_tol > 0:  # the bisection would never narrow enough to stop
        raise OptallocError(f"sizing: --tol must be above 0 (got {rel_tol:g}); 0.001 stops within 0.1%.")
    with Runner(prepared, execution) as runner:
        search = _Search(prepared, path, target, runner, settings, on_done)
        low_ok, high_ok = search.evaluate([lo, hi])
        if low_ok:
            return _finish(search, path, target, lo, (lo, lo), now)
        growth = 0
        while not high_ok:
            # Double the level until the target holds: k doublings per round, in parallel.
            if growth >= max_growth:
                raise OptallocError(
                    f"sizing: the target {target.text!r} is not met even at {path} = {hi:g}. Check "
                    "that the target can be reached by adding this resource (another limit may bind), "
                    "or give a larger --high."
                )
            levels = [hi * 2.0 ** (j + 1) for j in range(k)]
            passed = search.evaluate(levels)
            growth += k
            if any(passed):
                first = passed.index(True)
                lo, hi, high_ok = (levels[first - 1] if first else hi), levels[first], True
            else:
                lo = hi = levels[-1]
        while hi - lo > rel_tol * max(abs(hi), 1e-9):
            levels = [lo + (hi - lo) * (j + 1) / (k + 1) for j in range(k)]
            passed_round = search.evaluate(levels)
            failing = [lv for lv, ok in zip(levels, passed_round, strict=True) if not ok]
            passing = [lv for lv, ok in zip(levels, passed_round, strict=True) if ok]
            if passing:
                hi = min(passing)
            below = [lv for lv in failing if lv < hi]
            if below:
                lo = max(below)
        return _finish(search, path, target, hi, (lo, hi), now)


def _finish(
    search: _Search, path: str, target: Target, level: float, bracket: tuple[float, float], now: float
) -> SizeResult:
    """Solve the levels around the answer (in parallel) for the table a planner reads."""
    levels = sorted({max(0.0, level * (1.0 + d)) for d in AROUND})
    start = len(search.evaluations)
    search.evaluate(levels)
    around = pd.DataFrame(search.evaluations[start:]).sort_values("level").reset_index(drop=True)
    around.insert(1, "vs_answer_pct", 100.0 * (around["level"] / level - 1.0) if level else 0.0)
    return SizeResult(path, target.text, level, bracket, now, search.evaluations[:start], around)
