"""One variant of a prepared scenario: its problem, its solve and its key figures.

A *variant* is a set of dotted-path overrides (``{"resources.home_nurse_hours": 4000}``).
When every override is the bound of an existing limit (a resource, the budget, a setting's
``max_patients``/``min_patients``), the prepared problem is reused with that ``Limit``'s bound
replaced (``dataclasses.replace``): no re-estimation, the arrays are shared. Any other
override re-estimates from the prepared cohort and risk (never recomputed), and a change to
the cohort or risk sections prepares from scratch with a worker-local cache.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from optalloc.allocation.backends.base import SolveOptions
from optalloc.allocation.problem import AllocationProblem, Limit
from optalloc.allocation.result import AllocationResult
from optalloc.allocation.summary import PlanSummary
from optalloc.errors import OptallocError
from optalloc.estimates import Estimates
from optalloc.pipeline import PipelineCache, Prepared, domain_of, scenario_options
from optalloc.scenario.loader import LoadedScenario, with_overrides

_WORKER_CACHE = PipelineCache()


#: Limits whose bounds a scenario states as numbers (equity shares scale coefficients instead).
BOUND_KINDS = ("resource", "budget", "places")


def limit_target(problem: AllocationProblem, path: str) -> tuple[str, str] | None:
    """``(limit name, "upper"|"lower")`` when ``path`` (``resources.home_nurse_hours``,
    ``settings.home.max_patients``, ``budget``) is the stated bound of a limit, else None.

    Each limit records the scenario field behind each of its sides, so the match is on that
    field, never on a rebuilt limit name.
    """
    for limit in problem.limits:
        if limit.kind not in BOUND_KINDS:
            continue
        for side in ("upper", "lower"):
            if np.isfinite(getattr(limit, side)) and limit.field(side) == path:
                return limit.name, side
    return None


def is_limit_only(problem: AllocationProblem, overrides: Mapping[str, Any]) -> bool:
    """True when every override moves the bound of a limit the problem already has."""
    return all(limit_target(problem, path) is not None for path in overrides)


def with_bounds(
    problem: AllocationProblem, loaded: LoadedScenario, overrides: Mapping[str, float]
) -> AllocationProblem:
    """The problem with the overridden limit bounds; coefficient arrays are shared, not copied."""
    changes: dict[str, dict[str, float]] = {}
    for path, value in overrides.items():
        target = limit_target(problem, path)
        if target is None:
            raise OptallocError(f"'{path}' is not the bound of a limit of scenario {loaded.name!r}.")
        if not np.isfinite(float(value)) or float(value) < 0:
            raise OptallocError(f"'{path}' = {value!r}: a limit must be a finite number >= 0.")
        changes.setdefault(target[0], {})[target[1]] = float(value)
    limits: list[Limit] = [
        dataclasses.replace(limit, **changes[limit.name]) if limit.name in changes else limit  # type: ignore[arg-type]
        for limit in problem.limits
    ]
    return dataclasses.replace(problem, limits=tuple(limits))


def variant(prepared: Prepared, overrides: Mapping[str, Any]) -> tuple[AllocationProblem, Estimates]:
    """Problem and estimates of ``prepared`` with ``overrides`` applied (see module docstring)."""
    if not overrides:
        return prepared.problem, prepared.estimates
    loaded = prepared.loaded
    if is_limit_only(prepared.problem, overrides):
        return with_bounds(prepared.problem, loaded, overrides), prepared.estimates
    from optalloc.allocation.build import build_problem
    from optalloc.estimates import estimate
    from optalloc.pipeline import prepare

    changed = with_overrides(loaded, overrides)
    if any(path.split(".")[0] in ("cohort", "risk") for path in overrides):
        again = prepare(changed, _WORKER_CACHE)
        return again.problem, again.estimates
    estimates = estimate(prepared.cohort, prepared.risk, changed, domain_of(changed).declaration.quantities)
    return build_problem(changed, estimates, prepared.cohort), estimates


@dataclass(frozen=True)
class SolveSettings:
    """How every solve of an analysis runs; ``None`` falls back to the scenario's ``[solver]``."""

    solver: str = "auto"
    threads: int = 1
    time_limit: float | None = None
    relative_gap: float | None = None
    seed: int = 0


def solve_options(loaded: LoadedScenario, settings: SolveSettings, hint: np.ndarray | None) -> SolveOptions:
    """The scenario's solver settings, overridden by ``settings``, with a warm start."""
    return scenario_options(
        loaded.scenario,
        settings.time_limit,
        settings.relative_gap,
        threads=settings.threads,
        seed=settings.seed,
        hint=hint,
    )


def solve(problem: AllocationProblem, solver: str, options: SolveOptions) -> AllocationResult:
    """The backends' ``solve``, imported late so this module loads before a backend is chosen."""
    from optalloc.allocation.auto import solve as solve_problem

    return solve_problem(problem, solver=solver, options=options)


def first_hint(problem: AllocationProblem) -> np.ndarray | None:
    """The greedy current-practice plan as a starting point, when it keeps every limit."""
    from optalloc.allocation.greedy import greedy_allocation

    greedy = greedy_allocation(problem)
    return greedy.assignment if greedy.status.has_plan else None


def point_summary(
    loaded: LoadedScenario,
    problem: AllocationProblem,
    estimates: Estimates,
    result: AllocationResult,
    wall_seconds: float | None = None,
) -> PlanSummary:
    """The summary of one solved variant (everything the target language can name)."""
    return PlanSummary.of(
        problem,
        result,
        estimates.plan_totals(result.assignment),
        scenario=loaded.name,
        file=str(loaded.path),
        wall_seconds=wall_seconds,
    )


def plan_totals(problem: AllocationProblem, estimates: Estimates, assignment: np.ndarray | None) -> dict[str, float]:
    """Benefit plus :meth:`Estimates.plan_totals` of a plan (NaN without a plan)."""
    benefit = float("nan") if assignment is None else problem.objective_value(assignment)
    return {"benefit": benefit, **estimates.plan_totals(assignment)}


def solve_built(
    loaded: LoadedScenario,
    problem: AllocationProblem,
    estimates: Estimates,
    settings: SolveSettings,
    hint: np.ndarray | None,
) -> tuple[PlanSummary, np.ndarray | None]:
    """Solve a built variant (warm-started from ``hint``, else the greedy plan) and summarise it."""
    start = time.perf_counter()
    if hint is None:
        hint = first_hint(problem)
    result = solve(problem, settings.solver, solve_options(loaded, settings, hint))
    summary = point_summary(loaded, problem, estimates, result, wall_seconds=time.perf_counter() - start)
    assignment = None if result.assignment is None else result.assignment.astype(np.int16)
    return summary, assignment


def solve_variant(
    prepared: Prepared, overrides: Mapping[str, Any], settings: SolveSettings, hint: np.ndarray | None
) -> tuple[PlanSummary, np.ndarray | None]:
    """Build, solve and summarise one variant; returns its key figures and its plan."""
    problem, estimates = variant(prepared, overrides)
    return solve_built(prepared.loaded, problem, estimates, settings, hint)


def solve_chain(
    prepared: Prepared, chain: list[dict[str, Any]], settings: SolveSettings
) -> list[tuple[PlanSummary, np.ndarray | None]]:
    """Solve variants in order, each warm-started from the previous plan (sweeps go upward,
    so a plan for a tighter limit is feasible for the next, looser one)."""
    outputs = []
    hint: np.ndarray | None = None
    for overrides in chain:
        summary, assignment = solve_variant(prepared, overrides, settings, hint)
        outputs.append((summary, assignment))
        if assignment is not None:
            hint = assignment.astype(np.int64)
    return outputs
