"""The one interface every solver backend implements, and the options they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import sparse

from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult


@dataclass(frozen=True)
class SolveOptions:
    """Options every backend honours (each maps them to its own parameter names).

    ``hint`` is a feasible or near-feasible assignment (setting index per patient) a backend
    may start from; ``relative_gap`` is the gap at which a solve may stop and call the plan
    optimal.
    """

    time_limit: float = 60.0
    threads: int = 2
    relative_gap: float = 1e-6
    seed: int = 0
    hint: np.ndarray | None = None
    verbose: bool = False


class Backend(ABC):
    """A solver behind the common interface; builds its own model from the problem arrays."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @classmethod
    def is_available(cls) -> bool:
        """True if the backend's library imports on this machine."""
        return True

    @abstractmethod
    def solve(self, problem: AllocationProblem, options: SolveOptions) -> AllocationResult:
        """Build the model from ``problem``, solve it and translate the outcome."""


@dataclass(frozen=True)
class MatrixForm:
    """The problem as sparse arrays over the allowed (patient, setting) pairs only.

    Columns are the allowed pairs in patient-major order (``np.nonzero(allowed)``), so a
    patient's columns are contiguous; forbidden pairs never become variables, which is how
    ``x[i, s] = 0 where not allowed`` is stated without rows. ``coupling`` holds the limit
    rows ``lower_k <= coupling[k] @ x <= upper_k``.
    """

    patient: np.ndarray
    setting: np.ndarray
    benefit: np.ndarray
    coupling: sparse.csr_matrix
    lower: np.ndarray
    upper: np.ndarray

    @property
    def n_columns(self) -> int:
        return int(self.patient.shape[0])

    def assignment_matrix(self, n_patients: int) -> sparse.csr_matrix:
        """The rows ``sum_s x[i, s] = 1``: one 1 per column, in the row of its patient."""
        ones = np.ones(self.n_columns)
        return sparse.csr_matrix(
            (ones, (self.patient, np.arange(self.n_columns))), shape=(n_patients, self.n_columns)
        )

    def assignment_from_columns(self, values: np.ndarray, n_patients: int) -> np.ndarray:
        """Setting index per patient from column values (the largest value of each patient).

        Robust to solver round-off: a value of 0.9999999 still selects its column.
        """
        order = np.lexsort((-values, self.patient))
        first = np.ones(order.shape[0], dtype=bool)
        first[1:] = self.patient[order[1:]] != self.patient[order[:-1]]
        chosen = order[first]
        assignment = np.empty(n_patients, dtype=np.int64)
        assignment[self.patient[chosen]] = self.setting[chosen]
        return assignment

    def columns_of(self, assignment: np.ndarray) -> np.ndarray:
        """0/1 column vector of an assignment (for solution hints)."""
        return (assignment[self.patient] == self.setting).astype(np.float64)


def matrix_form(problem: AllocationProblem) -> MatrixForm:
    """Build :class:`MatrixForm` with numpy only (no Python loop over patients).

    Zero coefficients are dropped, so a limit that only concerns the home setting costs one
    non-zero per home-eligible patient.
    """
    patient, setting = np.nonzero(problem.allowed)
    k_rows = len(problem.limits)
    data, rows, cols = [], [], []
    for k, limit in enumerate(problem.limits):
        values = np.asarray(limit.coef, dtype=np.float64)[patient, setting]
        nz = np.flatnonzero(values)
        data.append(values[nz])
        cols.append(nz)
        rows.append(np.full(nz.shape[0], k, dtype=np.int64))
    if k_rows:
        coupling = sparse.csr_matrix(
            (np.concatenate(data), (np.concatenate(rows), np.concatenate(cols))),
            shape=(k_rows, patient.shape[0]),
        )
    else:
        coupling = sparse.csr_matrix((0, patient.shape[0]))
    return MatrixForm(
        patient=patient.astype(np.int64),
        setting=setting.astype(np.int64),
        benefit=np.asarray(problem.benefit, dtype=np.float64)[patient, setting],
        coupling=coupling,
        lower=np.array([lim.lower for lim in problem.limits], dtype=np.float64),
        upper=np.array([lim.upper for lim in problem.limits], dtype=np.float64),
    )


def subproblem(problem: AllocationProblem, patients: np.ndarray, held_use: np.ndarray) -> AllocationProblem:
    """The problem restricted to ``patients``, the others held where they are.

    Limits keep their names; their bounds move by ``held_use`` (the held patients' use of each
    limit), so a plan of the subproblem joined with the held patients keeps every original limit.
    """
    from optalloc.allocation.problem import Limit

    limits = []
    for k, limit in enumerate(problem.limits):
        held = float(held_use[k])
        limits.append(Limit(name=limit.name, coef=limit.coef[patients], upper=limit.upper - held,
                            lower=limit.lower - held, kind=limit.kind, unit=limit.unit))
    return AllocationProblem(
        patient_ids=problem.patient_ids[patients],
        settings=problem.settings,
        benefit=problem.benefit[patients],
        allowed=problem.allowed[patients],
        limits=tuple(limits),
        default_setting=problem.default_setting,
        name=problem.name + "/sub",
        objective_unit=problem.objective_unit,
    )


def objective_grid(problem: AllocationProblem) -> float | None:
    """The step every plan's objective is a multiple of (1, 0.1, ..., 1e-6), if there is one."""
    values = problem.benefit[problem.allowed]
    if values.size == 0:
        return None
    for decimals in range(7):
        scaled = values * 10.0**decimals
        if np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return 10.0**-decimals
    return None


def tighten_bound(problem: AllocationProblem, bound: float | None) -> float | None:
    """Round a valid bound down to the objective grid when benefits have few decimals.

    Every plan's objective is then a multiple of the grid step, so the bound rounded down to
    the grid is still valid; this turns a solver's ``336.000336`` (objective plus its stopping
    gap) into the exact ``336``.
    """
    if bound is None or not np.isfinite(bound):
        return bound
    step = objective_grid(problem)
    if step is None:
        return bound
    steps = bound / step
    return float(np.floor(steps + 1e-9 * max(1.0, abs(steps))) * step)


def better_plan(problem: AllocationProblem, *plans: np.ndarray | None) -> np.ndarray | None:
    """The feasible plan with the highest objective among ``plans`` (None if none is feasible)."""
    best, best_value = None, -np.inf
    for plan in plans:
        if plan is None:
            continue
        plan = np.asarray(plan, dtype=np.int64)
        if plan.shape == (problem.n_patients,) and problem.is_feasible(plan):
            value = problem.objective_value(plan)
            if value > best_value:
                best, best_value = plan, value
    return best


def plan_result(problem: AllocationProblem, solver: str, assignment: np.ndarray, bound: float | None,
                seconds: float, build: float, duals: dict[str, float], relative_gap: float,
                extra: dict[str, object] | None = None) -> AllocationResult:
    """The result of a backend that found a plan: the bound rounded to the objective grid and
    never below the plan, and OPTIMAL once the certified gap is within ``relative_gap``."""
    from optalloc.allocation.result import Status

    objective = problem.objective_value(assignment)
    bound = tighten_bound(problem, bound)
    if bound is not None:
        bound = max(bound, objective)
    result = AllocationResult(Status.FEASIBLE, solver, objective, bound, assignment, seconds, build, duals,
                              extra=extra or {})
    if result.gap is not None and result.gap <= relative_gap:
        result.status = Status.OPTIMAL
    return result


def infeasible_result(problem: AllocationProblem, solver: str, build: float, seconds: float,
                      explain: bool = True, diagnosis=None) -> AllocationResult:
    """An INFEASIBLE result whose message is the diagnosis (which limits clash, what to relax),
    never a solver trace. ``explain=False`` skips the diagnosis (for internal sub-problems);
    a ``diagnosis`` already made is reused."""
    from optalloc.allocation.result import Status

    if not explain:
        return AllocationResult(Status.INFEASIBLE, solver, None, None, None, seconds, build,
                                message="the limits cannot all hold")
    if diagnosis is None:
        from optalloc.allocation.diagnose import diagnose

        diagnosis = diagnose(problem)
    return AllocationResult(Status.INFEASIBLE, solver, None, None, None, seconds, build,
                            message=diagnosis.message, extra={"diagnosis": diagnosis})
