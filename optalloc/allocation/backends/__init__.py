"""Solver backends by name, and :func:`solve`, which picks one when asked for ``auto``.

================  ==========================================================================
``highs``         HiGHS MIP from arrays; exact, best for small and medium cohorts
``cbc``           CBC through PuLP; exact, the reference the acceptance checks compare with
``cpsat``         OR-Tools CP-SAT on an integer rescaling, started from the decomposition
``decomp``        Lagrangian bound + repair MIP; certified gap, scales to millions of patients
``colgen``        Dantzig-Wolfe column generation + diving; one capacity row per setting (GAP)
================  ==========================================================================
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from optalloc.allocation.backends.base import Backend, SolveOptions, better_plan
from optalloc.allocation.backends.cbc import CbcBackend
from optalloc.allocation.backends.colgen import ColumnGenerationBackend, knapsack_structure
from optalloc.allocation.backends.cpsat import CpSatBackend
from optalloc.allocation.backends.decomposition import DecompositionBackend
from optalloc.allocation.backends.highs import HighsBackend
from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult, Status
from optalloc.errors import OptallocError

BACKENDS: dict[str, type[Backend]] = {
    "cbc": CbcBackend,
    "cpsat": CpSatBackend,
    "highs": HighsBackend,
    "decomp": DecompositionBackend,
    "colgen": ColumnGenerationBackend,
}

#: Up to this many patients ``auto`` solves the MIP exactly (CBC, started from the
#: decomposition's plan); above it the decomposition alone, whose certified gap shrinks as
#: the cohort grows (about as many patients as limits are fractional in the LP).
AUTO_EXACT_MAX_PATIENTS = 5_000

#: From this many patients ``auto`` sends a problem whose every limit is one setting's capacity
#: (the generalized assignment form) to column generation: below it branch-and-cut proves the
#: optimum in a second (OR-Library gap1-gap12, 15-60 patients), above it the LP bound is too
#: weak for the MIP searches (gapd, 100-200 patients; benchmarks/RESULTS.md).
AUTO_COLGEN_MIN_PATIENTS = 80


def available_backends() -> list[str]:
    """Names of the backends whose libraries import on this machine."""
    return [name for name, cls in BACKENDS.items() if cls.is_available()]


def get_backend(name: str) -> Backend:
    """A backend instance by name; the error lists the valid names."""
    if name not in BACKENDS:
        raise OptallocError(
            f"The solver must be one of {', '.join(['auto', *BACKENDS])}. Got {name!r} instead."
        )
    cls = BACKENDS[name]
    if not cls.is_available():
        raise OptallocError(
            f"The solver {name!r} is not available on this machine (its library does not import); "
            f"use one of {', '.join(available_backends())}."
        )
    return cls()


def choose_backend(problem: AllocationProblem) -> str:
    """What ``auto`` runs: exact CBC (else HiGHS) for small cohorts, the decomposition above.

    CBC closes the last 1e-5 of gap on these models faster than HiGHS 1.12 in our runs
    (benchmarks/RESULTS.md); both start from the decomposition's plan. Tightly capacitated
    problems of the generalized assignment form go to column generation instead.
    """
    if problem.n_patients <= AUTO_EXACT_MAX_PATIENTS:
        if (problem.n_patients >= AUTO_COLGEN_MIN_PATIENTS and ColumnGenerationBackend.is_available()
                and knapsack_structure(problem) is not None):
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
        raise OptallocError(f"Unknown solver option(s) {sorted(unknown)}; valid ones are "
                            f"{[f.name for f in dataclasses.fields(SolveOptions)]}.")
    return SolveOptions(**options)


def _check_options(problem: AllocationProblem, options: SolveOptions) -> None:
    """Refuse options no backend can honour, before any backend reads them."""
    if not options.time_limit > 0:
        raise OptallocError(f"The time limit must be above 0 seconds. Got {options.time_limit!r} instead.")
    if options.threads < 1:
        raise OptallocError(f"threads must be at least 1. Got {options.threads!r} instead.")
    if options.hint is not None:
        hint = np.asarray(options.hint)
        if hint.shape != (problem.n_patients,) or not np.issubdtype(hint.dtype, np.integer) \
                or (hint.size and (hint.min() < 0 or hint.max() >= problem.n_settings)):
            raise OptallocError(
                f"The starting plan (hint) must give one setting index in 0..{problem.n_settings - 1} "
                f"for each of the {problem.n_patients} patients; got an array of shape {hint.shape} "
                f"and type {hint.dtype}. Pass the assignment of a plan of this same problem.")


def solve(problem: AllocationProblem, solver: str = "auto",
          options: SolveOptions | Mapping[str, object] | None = None) -> AllocationResult:
    """Solve ``problem`` with the named backend (``auto``: see :func:`choose_backend`).

    With ``auto`` on a small cohort the exact solver starts from the better of ``options.hint``
    and the decomposition's plan, so a time-limited exact solve is never worse than either.
    """
    opts = _options(options)
    _check_options(problem, opts)
    name = choose_backend(problem) if solver == "auto" else solver
    backend = get_backend(name)
    if solver == "auto" and name in ("cbc", "highs") and problem.limits:
        warm = DecompositionBackend(polish=False).solve(
            problem, dataclasses.replace(opts, time_limit=min(5.0, 0.2 * opts.time_limit)))
        if warm.status == Status.INFEASIBLE:
            warm.extra["requested_solver"] = solver
            return warm
        hint = better_plan(problem, opts.hint, warm.assignment)
        opts = dataclasses.replace(opts, hint=hint, time_limit=max(1.0, opts.time_limit - warm.seconds))
        result = backend.solve(problem, opts)
        _keep_better(problem, result, hint, warm.bound, opts.relative_gap)
    else:
        result = backend.solve(problem, opts)
    result.extra.setdefault("requested_solver", solver)
    return result


def _keep_better(problem: AllocationProblem, result: AllocationResult, hint: np.ndarray | None,
                 other_bound: float | None, relative_gap: float) -> None:
    """Never report less than the warm start: keep its plan if better, and the tighter bound."""
    if not result.status.has_plan:
        return
    if hint is not None:
        value = problem.objective_value(hint)
        if value > result.objective:
            result.assignment, result.objective = np.asarray(hint, dtype=np.int64), value
            result.extra["plan_from"] = "warm start"
    if other_bound is not None and result.bound is not None:
        result.bound = max(min(result.bound, other_bound), result.objective)
    if result.gap is not None and result.gap <= relative_gap:
        result.status = Status.OPTIMAL


__all__ = ["BACKENDS", "Backend", "SolveOptions", "available_backends", "choose_backend",
           "get_backend", "solve"]
