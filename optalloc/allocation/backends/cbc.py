"""CBC through PuLP, with rows built from the sparse matrix rather than ``lpSum`` per patient.

PuLP needs one Python object per variable, so this backend suits small and medium instances
(up to some tens of thousands of patients). Each row is made with one ``LpAffineExpression``
over the row's non-zeros (taken from CSR slices), which is several times faster to build than
the textbook ``lpSum(coef[i][s] * x[i, s] for ...)``. CBC's best bound is not exposed by PuLP,
so it is read from CBC's log; duals come from a second, LP-only CBC run.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optalloc.allocation.backends.base import Adapter, SolveOptions
from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import Run, SolverReport
from optalloc.allocation.structure import (
    LP_DUALS_MAX_COLUMNS,
    MatrixForm,
    matrix_form,
    objective_grid,
)
from optalloc.allocation.tempfiles import link_pulp_children, solver_tempdir


def _pulp():
    import pulp

    link_pulp_children()  # CBC children die with optalloc

    return pulp


def build_pulp_model(problem: AllocationProblem, mf: MatrixForm):
    """``min -benefit @ x`` s.t. assignment rows and limit rows (ranges as two rows).

    Stated as minimisation so CBC's log (objective, lower bound) reads in one sense; the
    caller negates back.
    """
    pulp = _pulp()
    model = pulp.LpProblem(problem.name.replace(" ", "_").replace("/", "_") or "allocation", pulp.LpMinimize)
    x = [pulp.LpVariable(f"x{j}", lowBound=0, upBound=1, cat=pulp.LpBinary) for j in range(mf.n_columns)]
    model.setObjective(pulp.LpAffineExpression(zip(x, (-mf.benefit).tolist())))
    starts = np.flatnonzero(np.r_[True, mf.patient[1:] != mf.patient[:-1]])
    ends = np.r_[starts[1:], mf.n_columns]
    for i, (a, b) in enumerate(zip(starts.tolist(), ends.tolist())):
        model.addConstraint(
            pulp.LpConstraint(
                pulp.LpAffineExpression((x[j], 1.0) for j in range(a, b)), pulp.LpConstraintEQ, f"assign{i}", 1.0
            )
        )
    coupling = mf.coupling.tocsr()
    for k, limit in enumerate(problem.limits):
        sl = slice(coupling.indptr[k], coupling.indptr[k + 1])
        expr = pulp.LpAffineExpression(zip((x[j] for j in coupling.indices[sl].tolist()), coupling.data[sl].tolist()))
        if np.isfinite(limit.upper) and np.isfinite(limit.lower) and limit.upper == limit.lower:
            model.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintEQ, f"L{k}eq", limit.upper))
            continue
        if np.isfinite(limit.upper):
            model.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintLE, f"L{k}up", limit.upper))
        if np.isfinite(limit.lower):
            model.addConstraint(pulp.LpConstraint(expr, pulp.LpConstraintGE, f"L{k}lo", limit.lower))
    return model, x


_BOUND = re.compile(r"^(Lower bound|Objective value|Gap):\s*([-+0-9.eE]+)", re.M)


def parse_cbc_log(text: str) -> dict[str, float]:
    """Objective, lower bound and gap from the summary CBC prints at the end of a solve.

    CBC prints about eight significant digits, so ``Lower bound`` is returned lowered by half a
    unit of its last printed digit: the rounded figure alone may sit above the true bound.
    """
    found: dict[str, float] = {}
    for key, value in _BOUND.findall(text):
        try:
            number = float(value)
        except ValueError:
            continue
        if key == "Lower bound":
            mantissa = value.lower().split("e")[0]
            digits = len(mantissa.split(".")[1]) if "." in mantissa else 0
            exponent = int(value.lower().split("e")[1]) if "e" in value.lower() else 0
            number -= 0.5 * 10.0 ** (exponent - digits)
        found[key] = number
    return found


@dataclass(frozen=True)
class CbcModel:
    """The PuLP model, its binary variables in matrix-form column order, and the matrix form."""

    pulp_model: Any
    variables: list[Any]
    mf: MatrixForm


class CbcBackend(Adapter):
    """CBC branch-and-cut through PuLP's bundled binary."""

    name = "cbc"
    description = "CBC MIP via PuLP (bundled binary); LP-relaxation duals"

    @classmethod
    def is_available(cls) -> bool:
        try:
            return bool(_pulp().PULP_CBC_CMD().available())
        except Exception:
            return False

    def build(self, problem: AllocationProblem, options: SolveOptions) -> CbcModel:
        mf = matrix_form(problem)
        model, x = build_pulp_model(problem, mf)
        return CbcModel(model, x, mf)

    def run(self, model: CbcModel, problem: AllocationProblem, options: SolveOptions, build_seconds: float) -> Run:
        pulp = _pulp()
        mf, x = model.mf, model.variables
        t1 = time.perf_counter()
        if mf.n_columns > LP_DUALS_MAX_COLUMNS:
            from optalloc.allocation.lagrangian import lagrangian_prices

            duals = lagrangian_prices(problem, options.seed, 0.25 * options.time_limit)[0]
        else:
            duals = self._lp_duals(problem, model.pulp_model, options)  # type: ignore[assignment]
        if duals is None:
            return Run(infeasible=True)
        warm = options.hint is not None
        if warm:
            values = mf.columns_of(np.asarray(options.hint, dtype=np.int64))
            for var, v in zip(x, values.tolist()):
                var.setInitialValue(v)
        remaining = max(1.0, options.time_limit - (time.perf_counter() - t1))
        with solver_tempdir() as tmp:
            log_path = os.path.join(tmp, "cbc.log")
            step = objective_grid(problem)
            solver = pulp.PULP_CBC_CMD(
                msg=False,
                timeLimit=remaining,
                gapRel=options.relative_gap,
                gapAbs=0.999 * step if step is not None else None,
                threads=max(1, options.threads),
                warmStart=warm,
                logPath=log_path,
                options=[f"randomSeed {options.seed + 1}"],
            )
            solver.tmpDir = str(tmp)  # model and solution files stay in the private folder
            pulp_status = model.pulp_model.solve(solver)
            log = Path(log_path).read_text() if os.path.exists(log_path) else ""
        summary = parse_cbc_log(log)
        if pulp_status == pulp.LpStatusInfeasible or "Result - Problem proven infeasible" in log:
            return Run(infeasible=True)
        values = np.array([v.varValue if v.varValue is not None else 0.0 for v in x])
        has_plan = model.pulp_model.sol_status in (pulp.LpSolutionOptimal, pulp.LpSolutionIntegerFeasible)
        lower = summary.get("Lower bound")
        report = SolverReport(log_summary=summary)
        if not has_plan:
            bound = -lower if lower is not None else None
            return Run(bound=bound, duals=duals, report=report, message="CBC stopped before finding a plan")
        assignment = mf.assignment_from_columns(values, problem.n_patients)
        objective = problem.objective_value(assignment)
        optimal = "Result - Optimal solution found" in log
        if lower is not None:
            bound = -lower
        elif optimal:
            # CBC stopped because (bound - objective) <= gapRel * |objective| (or gapAbs, below
            # the objective grid step): either way this is a valid bound.
            step = objective_grid(problem) or 0.0
            bound = objective + max(options.relative_gap * max(1.0, abs(objective)), 0.999 * step)
        else:
            bound = None
        return Run(assignment=assignment, bound=bound, duals=duals, proven=optimal, report=report)

    @staticmethod
    def _lp_duals(problem: AllocationProblem, model, options: SolveOptions) -> dict[str, float] | None:
        """Row prices of the LP relaxation (None if even the relaxation is infeasible).

        The model minimises ``-benefit``, so CBC's price ``pi = d(-objective)/d(rhs)``; the gain
        per unit of the binding bound is ``-pi``, taken from whichever side binds.
        """
        pulp = _pulp()
        with solver_tempdir() as tmp:
            relaxation = pulp.PULP_CBC_CMD(msg=False, mip=False, timeLimit=max(1.0, options.time_limit))
            relaxation.tmpDir = str(tmp)
            status = model.solve(relaxation)
        if status == pulp.LpStatusInfeasible:
            return None
        duals: dict[str, float] = {}
        for k, limit in enumerate(problem.limits):
            value = 0.0
            for side in ("eq", "up", "lo"):
                con = model.constraints.get(f"L{k}{side}")
                if con is not None and con.pi is not None and abs(con.pi) > abs(value):
                    value = -float(con.pi)
            duals[limit.name] = value
        return duals
