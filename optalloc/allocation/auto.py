"""The one entry point for solving: :func:`solve`, and the ``auto`` policy that picks a backend.

Kept apart from the registry so that the policy (which backend for which problem, and the
decomposition warm start of the exact solvers) reads in one place and never edits a backend's
result in place: it returns a new one.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from optalloc.allocation.algorithms.colgen import ColumnGenerationBackend
from optalloc.allocation.algorithms.decomposition import DecompositionBackend
from optalloc.allocation.backends.base import SolveOptions
from optalloc.allocation.backends.cbc import CbcBackend
from optalloc.allocation.backends.highs import HighsBackend
from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.registry import get_backend
from optalloc.allocation.result import AllocationResult, Status, relative_gap
from optalloc.allocation.structure import better_plan, knapsack_structure
from optalloc.errors import OptallocError

#: Up to this many patients ``auto`` solves the MIP exactly (CBC, started from the
#: decomposition's plan); above it the decomposition alone, whose certified gap shrinks as
#: the cohort grows (about as many patients as limits are fractional in the LP).
AUTO_EXACT_MAX_PATIENTS = 5_000

#: From this many patients ``auto`` sends a problem whose every limit is one setting's capacity
#: (the generalized assignment form) to column generation: below it branch-and-cut proves the
#: optimum in a second (OR-Library gap1-gap12, 15-60 patients), above it the LP bound is too
#: weak for the MIP searches (gapd, 100-200 patients; benchmarks/RESULTS.md).
AUTO_COLGEN_MIN_PATIENTS = 80

#: The longest ``auto`` lets the decomposition run to warm-start an exact solver.
WARM_START_SECONDS = 1.0


def choose_backend(problem: AllocationProblem) -> str:
    """What ``auto`` runs: exact CBC (else HiGHS) for small cohorts, the decomposition above.

    CBC closes the last 1e-5 of gap on these models faster than HiGHS 1.12 in our runs
    (benchmarks/RESULTS.md); both start from the decomposition's plan. Tightly capacitated
    problems of the generalized assignment form go to column generation instead.
    """
    if problem.n_patients <= AUTO_EXACT_MAX_PATIENTS:
        if (
            problem.n_patients >= AUTO_COLGEN_MIN_PATIENTS
            and ColumnGenerationBackend.is_available()
            and knapsack_structure(problem) is not None
        ):
            return "colgen"
        if CbcBackend.is_available():
            return "cbc"
        if HighsBackend.is_available():
            return "highs"
    return "decomp"


def _options(options: SolveOptions | Mapping[str, object] | None) -> SolveOptions:
    if options is None:
        return SolveOptions()
    if isinstance(options, SolveOptions):
        return options
    unknown = set(options) - {f.name for f in dataclasses.fields(SolveOptions)}
    if unknown:
        raise OptallocError(
            f"Unknown solver option(s) {sorted(unknown)}; valid ones are "
            f"{[f.name for f in dataclasses.fields(SolveOptions)]}."
        )
    return SolveOptions(**options)  # type: ignore[arg-type]


def _check_options(problem: AllocationProblem, options: SolveOptions) -> None:
    """Refuse options no backend can honour, before any backend reads them."""
    if not options.time_limit > 0:
        raise OptallocError(f"The time limit must be above 0 seconds. Got {options.time_limit!r} instead.")
    if options.threads < 1:
        raise OptallocError(f"threads must be at least 1. Got {options.threads!r} instead.")
    if options.hint is not None:
        hint = np.asarray(options.hint)
        if (
            hint.shape != (problem.n_patients,)
            or not np.issubdtype(hint.dtype, np.integer)
            or (hint.size and (hint.min() < 0 or hint.max() >= problem.n_settings))
        ):
            raise OptallocError(
                f"The starting plan (hint) must give one setting index in 0..{problem.n_settings - 1} "
                f"for each of the {problem.n_patients} patients; got an array of shape {hint.shape} "
                f"and type {hint.dtype}. Pass the assignment of a plan of this same problem."
            )


def solve(
    problem: AllocationProblem, solver: str = "auto", options: SolveOptions | Mapping[str, object] | None = None
) -> AllocationResult:
    """Solve ``problem`` with the named backend (``auto``: see :func:`choose_backend`).

    With ``auto`` on a small cohort the exact solver starts from the better of ``options.hint``
    and the decomposition's plan, so a time-limited exact solve is never worse than either.
    """
    opts = _options(options)
    _check_options(problem, opts)
    name = choose_backend(problem) if solver == "auto" else solver
    backend = get_backend(name)
    if solver == "auto" and name in ("cbc", "highs") and problem.limits:
        # a second is enough for a hint: on the transfusion scenarios (5,000 patients) the
        # decomposition is within 1e-4 of the optimum after 0.5 s, and a longer warm start only
        # delays the exact solve (community_centre: 4.9 s in all with 5 s allowed, 2.4 s with 1 s)
        warm = DecompositionBackend(polish=False).solve(
            problem, dataclasses.replace(opts, time_limit=min(WARM_START_SECONDS, 0.2 * opts.time_limit))
        )
        if warm.status == Status.INFEASIBLE:
            return _with_requested(warm, solver)
        hint = better_plan(problem, opts.hint, warm.assignment)
        opts = dataclasses.replace(opts, hint=hint, time_limit=max(1.0, opts.time_limit - warm.seconds))
        result = keep_better(problem, backend.solve(problem, opts), hint, warm.bound, opts.relative_gap)
    else:
        result = backend.solve(problem, opts)
    return _with_requested(result, solver)


def _with_requested(result: AllocationResult, solver: str) -> AllocationResult:
    if result.report.requested_solver is not None:
        return result
    return dataclasses.replace(result, report=dataclasses.replace(result.report, requested_solver=solver))


def keep_better(
    problem: AllocationProblem,
    result: AllocationResult,
    hint: np.ndarray | None,
    other_bound: float | None,
    relative_gap_target: float,
) -> AllocationResult:
    """Never report less than the warm start: a new result with its plan if better, and the
    tighter of the two bounds."""
    if not result.status.has_plan:
        return result
    assignment, objective, report = result.assignment, result.objective, result.report
    if hint is not None:
        value = problem.objective_value(hint)
        if objective is None or value > objective:
            assignment, objective = np.asarray(hint, dtype=np.int64), value
            report = dataclasses.replace(report, plan_from="warm start")
    bound = result.bound
    if other_bound is not None and bound is not None:
        bound = max(min(bound, other_bound), objective if objective is not None else -np.inf)
    status = result.status
    gap = relative_gap(objective, bound)
    if gap is not None and gap <= relative_gap_target:
        status = Status.OPTIMAL
    return dataclasses.replace(
        result, status=status, assignment=assignment, objective=objective, bound=bound, report=report
    )
