"""HiGHS through highspy, with the model passed as column-wise arrays in one call.

The constraint matrix (assignment rows, then limit rows) is assembled with numpy/scipy as CSC
and handed to ``Highs.passModel``; nothing loops over patients in Python. Duals come from the
LP relaxation, solved first on the same model (integrality off), then integrality is switched
on for the MIP, which also starts from ``options.hint`` when given. On large models (more than
``LP_DUALS_MAX_COLUMNS`` columns) the same LP prices come from the Lagrangian dual instead.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse

from optalloc.allocation.backends.base import Adapter, SolveOptions
from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.quiet import native_stdout_silenced
from optalloc.allocation.result import Run, SolverReport
from optalloc.allocation.structure import (
    LP_DUALS_MAX_COLUMNS,
    MatrixForm,
    matrix_form,
    objective_grid,
)


def _highspy():
    import highspy

    return highspy


def build_matrix(problem: AllocationProblem, mf: MatrixForm) -> sparse.csc_matrix:
    """``[assignment rows; limit rows]`` in CSC: ``sum_s x[i,s] = 1`` then ``lower <= A x <= upper``."""
    return sparse.vstack([mf.assignment_matrix(problem.n_patients), mf.coupling], format="csc")


def pass_model(h, problem: AllocationProblem, mf: MatrixForm, integral: bool) -> None:
    """Hand the whole model to HiGHS in a single ``passModel`` (maximisation)."""
    a = build_matrix(problem, mf)
    n_rows = problem.n_patients + len(problem.limits)
    row_lower = np.concatenate([np.ones(problem.n_patients), mf.lower])
    row_upper = np.concatenate([np.ones(problem.n_patients), mf.upper])
    inf = _highspy().kHighsInf
    row_lower[~np.isfinite(row_lower)] = -inf
    row_upper[~np.isfinite(row_upper)] = inf
    integrality = np.full(mf.n_columns, 1 if integral else 0, dtype=np.int32)
    h.passModel(
        int(mf.n_columns),
        int(n_rows),
        int(a.nnz),
        1,
        -1,
        0.0,
        mf.benefit,
        np.zeros(mf.n_columns),
        np.ones(mf.n_columns),
        row_lower,
        row_upper,
        a.indptr.astype(np.int32),
        a.indices.astype(np.int32),
        a.data.astype(np.float64),
        integrality,
    )


def new_highs(options: SolveOptions, time_limit: float):
    """A silent HiGHS instance with the shared options mapped to HiGHS names."""
    h = _highspy().Highs()
    h.setOptionValue("output_flag", bool(options.verbose))
    h.setOptionValue("time_limit", float(max(time_limit, 0.01)))
    # ``threads`` is not set: HiGHS fixes its global scheduler at the first run in a process
    # and then refuses to run any instance asking for a different count (the decomposition's
    # master and repair MIPs would clash). HiGHS 1.12's MIP search is serial anyway.
    h.setOptionValue("random_seed", int(options.seed))
    h.setOptionValue("mip_rel_gap", float(options.relative_gap))
    return h


class HighsBackend(Adapter):
    """Exact MIP with HiGHS branch-and-cut; duals from the LP relaxation.

    Parameters
    ----------
    duals : bool
        Solve the LP relaxation first to report dual prices. The decomposition turns this off
        for its small repair problems, where the prices are not needed.
    diagnose : bool
        Explain an infeasible instance (elastic LP); off for the decomposition's repair MIPs,
        whose infeasibility only means "free more patients".
    """

    name = "highs"
    description = "HiGHS MIP via highspy (arrays, one passModel call); LP-relaxation duals"

    def __init__(self, duals: bool = True, diagnose: bool = True) -> None:
        self.duals = duals
        self.diagnose = diagnose

    @classmethod
    def is_available(cls) -> bool:
        try:
            _highspy()
        except ImportError:
            return False
        return True

    def build(self, problem: AllocationProblem, options: SolveOptions) -> HighsModel:
        mf = matrix_form(problem)
        h = new_highs(options, options.time_limit)
        step = objective_grid(problem)
        if step is not None:  # objectives are multiples of step: closer than that is optimal
            h.setOptionValue("mip_abs_gap", 0.999 * step)
        simplex_duals = self.duals and mf.n_columns <= LP_DUALS_MAX_COLUMNS
        pass_model(h, problem, mf, integral=not simplex_duals)
        return HighsModel(h, mf, simplex_duals)

    def run(self, model: HighsModel, problem: AllocationProblem, options: SolveOptions, build_seconds: float) -> Run:
        hs = _highspy()
        h, mf = model.highs, model.mf
        t1 = time.perf_counter()
        duals: dict[str, float] = {}
        lp_bound = None
        if self.duals and not model.simplex_duals:
            from optalloc.allocation.lagrangian import lagrangian_prices

            duals, lp_bound = lagrangian_prices(problem, options.seed, 0.25 * options.time_limit)
            h.setOptionValue("time_limit", float(max(options.time_limit - (time.perf_counter() - t1), 0.01)))
        if model.simplex_duals:
            run_with_watchdog(h, options.time_limit)
            status = h.getModelStatus()
            if status == hs.HighsModelStatus.kInfeasible:
                return Run(infeasible=True, explain=self.diagnose)
            if status == hs.HighsModelStatus.kOptimal:
                row_dual = np.asarray(h.getSolution().row_dual)[problem.n_patients :]
                # HiGHS reports d(objective)/d(row bound) for the sense of the model (max), i.e.
                # exactly the gain per unit increase of the binding bound.
                duals = {lim.name: float(row_dual[k]) for k, lim in enumerate(problem.limits)}
                lp_bound = float(h.getInfo().objective_function_value)
            h.changeColsIntegrality(
                mf.n_columns, np.arange(mf.n_columns, dtype=np.int32), np.ones(mf.n_columns, dtype=np.uint8)
            )
            h.setOptionValue("time_limit", float(max(options.time_limit - (time.perf_counter() - t1), 0.01)))
        if options.hint is not None:
            h.setSolution(_solution(mf, options.hint))
        run_with_watchdog(h, options.time_limit - (time.perf_counter() - t1))
        return self._outcome(model, problem, duals, lp_bound)

    def _outcome(
        self, model: HighsModel, problem: AllocationProblem, duals: dict[str, float], lp_bound: float | None
    ) -> Run:
        """The MIP's end in solver-neutral terms: infeasible, no plan (with its bound), or a plan."""
        hs, h = _highspy(), model.highs
        status = h.getModelStatus()
        info = h.getInfo()
        if status == hs.HighsModelStatus.kInfeasible:
            return Run(infeasible=True, explain=self.diagnose)
        bound = float(info.mip_dual_bound) if np.isfinite(info.mip_dual_bound) else lp_bound
        if lp_bound is not None and bound is not None:
            bound = min(bound, lp_bound)
        if info.primal_solution_status != 2:  # kSolutionStatusFeasible
            message = f"HiGHS stopped ({h.modelStatusToString(status)}) before finding a plan"
            return Run(bound=bound, duals=duals, message=message)
        values = np.asarray(h.getSolution().col_value)
        return Run(
            assignment=model.mf.assignment_from_columns(values, problem.n_patients),
            bound=bound,
            duals=duals,
            proven=status == hs.HighsModelStatus.kOptimal,
            report=SolverReport(nodes=int(info.mip_node_count), lp_bound=lp_bound),
        )


@dataclass(frozen=True)
class HighsModel:
    """A HiGHS instance holding the model, its matrix form, and whether the LP relaxation is
    solved first by simplex for the duals (small models) or priced by the Lagrangian (large)."""

    highs: Any
    mf: MatrixForm
    simplex_duals: bool


def run_with_watchdog(h, time_limit: float) -> None:
    """``h.solve()`` with a timer that cancels it a little after ``time_limit``.

    On large models HiGHS 1.12's MIP can stay in a phase that does not look at ``time_limit``
    for minutes (seen at 100k patients); the user-interrupt callback still stops it.
    """
    import threading

    h.HandleUserInterrupt = True
    timer = threading.Timer(max(time_limit, 0.0) * 1.05 + 2.0, h.cancelSolve)
    timer.daemon = True
    timer.start()
    try:
        with native_stdout_silenced():
            h.solve()
    finally:
        timer.cancel()


def _solution(mf: MatrixForm, hint: np.ndarray):
    sol = _highspy().HighsSolution()
    sol.col_value = mf.columns_of(np.asarray(hint, dtype=np.int64))
    sol.value_valid = True
    return sol
