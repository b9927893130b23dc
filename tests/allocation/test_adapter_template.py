"""A newcomer adds a solver by writing one adapter module and one registry line.

The adapter below wraps SciPy's ``milp`` (a real MIP solver) in the two methods the template
asks for, ``build`` and ``run``; everything else (status, bound rounding, the result) comes from
the shared finishing step. Registered with one line, it is reachable by name like the others.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pytest
from scipy import optimize, sparse

from optalloc.allocation import registry
from optalloc.allocation.auto import solve
from optalloc.allocation.backends.base import Adapter, SolveOptions
from optalloc.allocation.instances.synthetic import synthetic_problem
from optalloc.allocation.problem import AllocationProblem, Limit
from optalloc.allocation.result import Run, Status
from optalloc.allocation.structure import MatrixForm, matrix_form


class ScipyMilpAdapter(Adapter):
    """SciPy's ``milp`` over the matrix form: one row per patient, then the limit rows."""

    name = "scipy"
    description = "SciPy milp (a test adapter)"

    def build(self, problem: AllocationProblem, options: SolveOptions) -> tuple[MatrixForm, Any]:
        mf = matrix_form(problem)
        rows = sparse.vstack([mf.assignment_matrix(problem.n_patients), mf.coupling], format="csr")
        lower = np.concatenate([np.ones(problem.n_patients), mf.lower])
        upper = np.concatenate([np.ones(problem.n_patients), mf.upper])
        return mf, optimize.LinearConstraint(rows, lower, upper)

    def run(self, model: Any, problem: AllocationProblem, options: SolveOptions, build_seconds: float) -> Run:
        mf, constraints = model
        found = optimize.milp(
            -mf.benefit,
            constraints=constraints,
            integrality=np.ones(mf.n_columns),
            bounds=optimize.Bounds(0, 1),
            options={"time_limit": options.time_limit, "mip_rel_gap": options.relative_gap},
        )
        if found.status == 2:
            return Run(infeasible=True)
        if found.x is None:
            return Run(message=found.message)
        bound = -float(found.mip_dual_bound) if np.isfinite(found.mip_dual_bound) else None
        return Run(assignment=mf.assignment_from_columns(found.x, problem.n_patients), bound=bound)


@pytest.fixture
def with_scipy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(registry.BACKENDS, "scipy", ScipyMilpAdapter)  # the one registry line


def test_an_adapter_of_two_methods_solves_to_the_same_optimum(with_scipy) -> None:
    problem = synthetic_problem(120, n_settings=4, seed=3)
    options = SolveOptions(time_limit=30)
    ours, reference = solve(problem, "scipy", options), solve(problem, "highs", options)
    assert ours.status == Status.OPTIMAL and problem.is_feasible(ours.assignment)
    assert ours.objective == pytest.approx(reference.objective, rel=1e-6)
    assert ours.bound >= ours.objective  # the finishing step keeps the bound above the plan
    assert ours.report.requested_solver == "scipy"


def test_an_infeasible_problem_is_diagnosed_for_the_new_adapter_too(with_scipy) -> None:
    problem = synthetic_problem(60, n_settings=3, seed=1)
    too_many = Limit("all_home", np.ones(problem.benefit.shape), lower=1e9)  # more patients than exist
    impossible = replace(problem, limits=(*problem.limits, too_many))
    result = solve(impossible, "scipy", SolveOptions(time_limit=10))
    assert result.status == Status.INFEASIBLE and "all_home" in result.message
