"""What every solver adapter and algorithm shares: the problem's matrix form, integer scaling,
the knapsack (generalized assignment) structure, and the one finishing step that turns a plan
and a bound into an :class:`AllocationResult`.

Why a module of its own: adapters (HiGHS, CBC, CP-SAT) and algorithms (decomposition, column
generation) all need these pieces, and keeping them below both layers is what lets an adapter
never import another adapter or an algorithm.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import sparse

from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult, Run, SolverReport, Status
from optalloc.allocation.result import relative_gap as certified_gap


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
        return sparse.csr_matrix((ones, (self.patient, np.arange(self.n_columns))), shape=(n_patients, self.n_columns))

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
        limits.append(
            Limit(
                name=limit.name,
                coef=limit.coef[patients],
                upper=limit.upper - held,
                lower=limit.lower - held,
                kind=limit.kind,
                unit=limit.unit,
                origin=limit.origin,
            )
        )
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
    values = problem.allowed_benefits()
    if values.size == 0:
        return None
    for decimals in range(7):
        # a few values off the grid settle it without scaling them all (6M values take 0.1 s a
        # step); only a grid the first values fit is checked over every value
        if _on_grid(values[:GRID_SAMPLE], decimals) and _on_grid(values, decimals):
            return 10.0**-decimals
    return None


GRID_SAMPLE = 1024


def _on_grid(values: np.ndarray, decimals: int) -> bool:
    scaled = values * 10.0**decimals
    return bool(np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))))


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


def plan_result(
    problem: AllocationProblem,
    solver: str,
    assignment: np.ndarray,
    bound: float | None,
    seconds: float,
    build: float,
    duals: dict[str, float],
    relative_gap: float,
    report: SolverReport | None = None,
    proven: bool | None = None,
    message: str = "",
) -> AllocationResult:
    """The one finishing step of every backend that found a plan.

    The bound is rounded to the objective grid and never below the plan. The status is OPTIMAL
    when the solver itself proved it (``proven``), or, for solvers that prove nothing
    themselves (``proven=None``), once the certified gap is within ``relative_gap``; a plan that
    breaks a limit by round-off is never more than FEASIBLE, and the message says by how much.
    """
    objective = problem.objective_value(assignment)
    bound = tighten_bound(problem, bound)
    if bound is not None:
        bound = max(bound, objective)
    if proven is None:
        gap = certified_gap(objective, bound)
        proven = gap is not None and gap <= relative_gap
    status = Status.OPTIMAL if proven else Status.FEASIBLE
    broken = problem.violations(assignment)
    if broken:
        status, message = Status.FEASIBLE, f"{solver} plan breaks limits by round-off: {broken}"
    return AllocationResult(
        status, solver, objective, bound, assignment, seconds, build, duals, message, report or SolverReport()
    )


def finalise(
    problem: AllocationProblem, solver: str, run: Run, build: float, seconds: float, relative_gap: float
) -> AllocationResult:
    """The result of an adapter's :class:`~optalloc.allocation.backends.base.Run`: the
    infeasibility diagnosis, the bound of a run without a plan, or :func:`plan_result`."""
    seconds += run.seconds_before
    if run.infeasible:
        return infeasible_result(problem, solver, build, seconds, run.explain)
    if run.assignment is None:
        return no_plan_result(solver, run.bound, seconds, build, run.duals, run.message, run.report)
    return plan_result(
        problem,
        solver,
        run.assignment,
        run.bound,
        seconds,
        build,
        run.duals,
        relative_gap,
        run.report,
        proven=run.proven,
        message=run.message,
    )


def no_plan_result(
    solver: str,
    bound: float | None,
    seconds: float,
    build: float,
    duals: dict[str, float],
    message: str,
    report: SolverReport | None = None,
) -> AllocationResult:
    """The result of a backend that stopped (time limit) before any plan: its bound, if any,
    still stands."""
    return AllocationResult(
        Status.NO_SOLUTION, solver, None, bound, None, seconds, build, duals, message, report or SolverReport()
    )


def infeasible_result(
    problem: AllocationProblem, solver: str, build: float, seconds: float, explain: bool = True, diagnosis=None
) -> AllocationResult:
    """An INFEASIBLE result whose message is the diagnosis (which limits clash, what to relax),
    never a solver trace. ``explain=False`` skips the diagnosis (for internal sub-problems);
    a ``diagnosis`` already made is reused."""
    if not explain:
        return AllocationResult(
            Status.INFEASIBLE, solver, None, None, None, seconds, build, message="the limits cannot all hold"
        )
    if diagnosis is None:
        from optalloc.allocation.diagnose import diagnose

        diagnosis = diagnose(problem)
    return AllocationResult(
        Status.INFEASIBLE,
        solver,
        None,
        None,
        None,
        seconds,
        build,
        message=diagnosis.message,
        report=SolverReport(diagnosis=diagnosis),
    )


MAX_SCALE = 1e6


def integer_scale(values: np.ndarray, resolution: float = MAX_SCALE) -> tuple[float, bool]:
    """The factor that makes ``values`` integers, and whether the scaling is exact.

    Tries 1, 10, ..., ``resolution``; if none is exact, returns ``resolution / max|value|``
    (about ``resolution`` distinct levels across the range) and ``False``.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return 1.0, True
    top = float(np.abs(values).max())
    factor = 1.0
    while factor <= resolution:
        scaled = values * factor
        if top * factor < 2**50 and np.all(np.abs(scaled - np.round(scaled)) <= 1e-9 * np.maximum(1.0, np.abs(scaled))):
            return factor, True
        factor *= 10.0
    return (resolution / top if top > 0 else 1.0), False


#: Above this many columns the LP relaxation's prices come from the Lagrangian dual (same
#: values, found in a fraction of the time dual simplex needs on 100k+ patients).
LP_DUALS_MAX_COLUMNS = 200_000


#: Largest knapsack table (patients x settings x capacity levels) the pricing may hold.
MAX_TABLE = 60_000_000


@dataclass(frozen=True)
class KnapsackStructure:
    """Each setting's capacity row as integers: ``weight[s, i]`` of patient ``i``, ``capacity[s]``.

    A setting without a row has zero weights and capacity zero (anything fits).
    """

    weight: np.ndarray
    capacity: np.ndarray


def knapsack_structure(problem: AllocationProblem) -> KnapsackStructure | None:
    """The per-setting capacities if every limit is one, else None (with no table too large)."""
    n, m = problem.n_patients, problem.n_settings
    weight = np.zeros((m, n), dtype=np.int64)
    capacity = np.zeros(m, dtype=np.int64)
    owner = np.full(m, -1)
    for k, limit in enumerate(problem.limits):
        coef = np.asarray(limit.coef, dtype=float)
        used = np.flatnonzero(np.abs(coef).sum(axis=0) > 0)
        if used.size == 0:
            if limit.upper < 0 or limit.lower > 0:
                return None
            continue
        if used.size != 1 or owner[used[0]] >= 0 or not np.isfinite(limit.upper):
            return None
        if np.isfinite(limit.lower) and limit.lower > 0:
            return None
        s = int(used[0])
        column = coef[:, s]
        if (column < 0).any():
            return None
        factor, exact = integer_scale(column)  # the capacity may be fractional
        if not exact:
            return None
        owner[s] = k
        weight[s] = np.round(column * factor).astype(np.int64)
        # a capacity above what all allowed patients weigh never binds: cap it (smaller DP)
        most = int(weight[s][problem.allowed[:, s]].sum())
        capacity[s] = min(int(np.floor(limit.upper * factor + 1e-9)), most)
    if (capacity < 0).any():
        return None
    if n * m * (int(capacity.max(initial=0)) + 1) > MAX_TABLE:
        return None
    return KnapsackStructure(weight, capacity)
