"""OR-Tools CP-SAT on an integer rescaling of the problem, with honest bounds.

CP-SAT only takes integers. Each row (and the objective) is multiplied by the smallest power
of ten up to 1e6 that makes it integral; rows that no such factor makes integral are scaled to
a 1e6 resolution and rounded *conservatively* (use rounded up and an upper bound rounded down,
use rounded down and a lower bound rounded up), so every CP-SAT plan keeps the original limits.

The bound needs the same care. A rounded objective moves each patient's benefit by at most
half a unit, so the CP-SAT bound plus the largest per-patient rounding gain is a valid bound of
the original objective *over the CP-SAT feasible set*. When a row had to be rounded that set is
smaller than the original one, and its bound says nothing about the original optimum; then
only the LP bound from the Lagrangian dual (always valid) is reported. Either way the reported
bound is the smaller of the valid ones.

CP-SAT is weak at proving these optima (it needs many workers to match an LP-based solver),
so the registered ``cpsat`` backend (``algorithms/warm_cpsat.py``) starts it from the better of
``options.hint`` and the decomposition's plan; the adapter reports the better of its hint and
its own plan, with the objective recomputed in the original units.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from optalloc.allocation.backends.base import Adapter, SolveOptions
from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import Run, SolverReport
from optalloc.allocation.structure import (
    MatrixForm,
    integer_scale,
    matrix_form,
    tighten_bound,
)


@dataclass(frozen=True)
class Prior:
    """What an earlier solve of the same problem hands CP-SAT: a starting plan, the LP bound
    and the limits' marginal values, and the seconds it already spent of the time limit.

    ``repair_hint`` asks CP-SAT to repair an infeasible hint (set when the caller supplied one).
    """

    hint: np.ndarray | None = None
    lp_bound: float | None = None
    duals: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    repair_hint: bool = False


@dataclass(frozen=True)
class CpSatModel:
    """The CP-SAT model, its Boolean variables in matrix-form column order, and what reading
    its bound back needs: whether every limit row scaled to integers exactly, the objective's
    integer scale and the most the rounding of benefits can add."""

    cp_model: Any
    variables: list[Any]
    mf: MatrixForm
    exact_rows: bool
    objective_scale: float
    rounding_margin: float


class CpSatBackend(Adapter):
    """CP-SAT with LP relaxation (``linearization_level=2``), hint and a valid bound.

    The adapter alone starts from ``options.hint``; ``algorithms/warm_cpsat.py`` (registered as
    ``cpsat``) first runs the decomposition and passes its plan, bound and prices as a
    :class:`Prior`.
    """

    name = "cpsat"
    description = "OR-Tools CP-SAT on an integer rescaling"

    @classmethod
    def is_available(cls) -> bool:
        try:
            from ortools.sat.python import cp_model  # noqa: F401
        except ImportError:
            return False
        return True

    def __init__(self, prior: Prior | None = None) -> None:
        self.prior = prior

    def _prior(self, options: SolveOptions) -> Prior:
        return self.prior if self.prior is not None else Prior(hint=options.hint, repair_hint=options.hint is not None)

    def build(self, problem: AllocationProblem, options: SolveOptions) -> CpSatModel:
        from ortools.sat.python import cp_model

        hint = self._prior(options).hint
        mf = matrix_form(problem)
        model = cp_model.CpModel()
        x = [model.new_bool_var(f"x{j}") for j in range(mf.n_columns)]
        starts = np.flatnonzero(np.r_[True, mf.patient[1:] != mf.patient[:-1]])
        ends = np.r_[starts[1:], mf.n_columns]
        for a, b in zip(starts.tolist(), ends.tolist()):
            model.add_exactly_one(x[a:b])
        exact_rows = True
        coupling = mf.coupling.tocsr()
        for k, limit in enumerate(problem.limits):
            sl = slice(coupling.indptr[k], coupling.indptr[k + 1])
            cols, coef = coupling.indices[sl], coupling.data[sl]
            bounds = np.array([limit.lower, limit.upper])
            factor, exact = integer_scale(np.r_[coef, bounds])
            exact_rows &= exact
            sides = [("both", np.round(coef * factor))] if exact else []
            if not exact:
                if np.isfinite(limit.upper):
                    sides.append(("up", np.ceil(coef * factor - 1e-9)))
                if np.isfinite(limit.lower):
                    sides.append(("lo", np.floor(coef * factor + 1e-9)))
            for side, icoef in sides:
                lo = (
                    -cp_model.INT_MAX
                    if not np.isfinite(limit.lower) or side == "up"
                    else (int(round(limit.lower * factor)) if exact else int(np.ceil(limit.lower * factor - 1e-9)))
                )
                hi = (
                    cp_model.INT_MAX
                    if not np.isfinite(limit.upper) or side == "lo"
                    else (int(round(limit.upper * factor)) if exact else int(np.floor(limit.upper * factor + 1e-9)))
                )
                expr = cp_model.LinearExpr.weighted_sum([x[j] for j in cols.tolist()], icoef.astype(np.int64).tolist())
                model.add_linear_constraint(expr, lo, hi)
        b_factor, _ = integer_scale(mf.benefit)
        b_int = np.round(mf.benefit * b_factor)
        model.maximize(cp_model.LinearExpr.weighted_sum(x, b_int.astype(np.int64).tolist()))
        # largest gain of rounding per patient: sum_i max_s (benefit*factor - rounded)
        rounding = mf.benefit * b_factor - b_int
        per_patient = np.full(problem.n_patients, -np.inf)
        np.maximum.at(per_patient, mf.patient, rounding)
        rounding_margin = float(np.maximum(per_patient, 0).sum()) if exact_rows else 0.0
        if hint is not None:
            values = mf.columns_of(np.asarray(hint, dtype=np.int64))
            for var, v in zip(x, values.astype(int).tolist()):
                model.add_hint(var, v)
        return CpSatModel(model, x, mf, bool(exact_rows), b_factor, rounding_margin)

    def run(self, model: CpSatModel, problem: AllocationProblem, options: SolveOptions, build_seconds: float) -> Run:
        from ortools.sat.python import cp_model

        prior = self._prior(options)
        lp_bound, duals, hint, pre_seconds = prior.lp_bound, prior.duals, prior.hint, prior.seconds
        x, mf = model.variables, model.mf
        solver = cp_model.CpSolver()
        params = solver.parameters
        params.max_time_in_seconds = max(0.1, options.time_limit - pre_seconds - build_seconds)
        params.num_workers = max(1, options.threads)
        params.linearization_level = 2
        params.relative_gap_limit = options.relative_gap
        params.random_seed = options.seed
        params.log_search_progress = bool(options.verbose)
        if prior.repair_hint:
            params.repair_hint = True
        code = solver.solve(model.cp_model)

        report = SolverReport(
            exact_integer_model=model.exact_rows,
            objective_scale=model.objective_scale,
            lp_bound=lp_bound,
            pre_seconds=pre_seconds,
            backend_status=solver.status_name(code),
        )
        if code == cp_model.INFEASIBLE and model.exact_rows:
            return Run(infeasible=True, seconds_before=pre_seconds)
        candidates = []
        if code in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            values = np.array([solver.boolean_value(v) for v in x], dtype=float)
            plan = mf.assignment_from_columns(values, problem.n_patients)
            if problem.is_feasible(plan):
                candidates.append((problem.objective_value(plan), "cpsat", plan))
                report = replace(report, cpsat_objective=candidates[-1][0])
        if hint is not None and problem.is_feasible(np.asarray(hint)):
            hint = np.asarray(hint, dtype=np.int64)
            candidates.append((problem.objective_value(hint), "hint", hint))
            report = replace(report, hint_objective=candidates[-1][0])

        valid_bounds = [b for b in (lp_bound,) if b is not None]
        if model.exact_rows and code in (cp_model.OPTIMAL, cp_model.FEASIBLE, cp_model.UNKNOWN):
            cp_bound = (solver.best_objective_bound + model.rounding_margin) / model.objective_scale
            valid_bounds.append(cp_bound)
            report = replace(report, cpsat_bound=cp_bound)
        bound = tighten_bound(problem, min(valid_bounds)) if valid_bounds else None
        if not candidates:
            message = "CP-SAT stopped before finding a plan"
            return Run(bound=bound, duals=duals, report=report, message=message, seconds_before=pre_seconds)
        _, origin, plan = max(candidates, key=lambda c: c[0])
        report = replace(report, plan_from=origin)
        return Run(assignment=plan, bound=bound, duals=duals, report=report, seconds_before=pre_seconds)
