"""Every backend on hand-checkable instances, random instances with lower bounds, and an
infeasible one. Exact backends must prove the same optimum; the decomposition and CP-SAT must
reach it within their certified gap and never claim a bound below it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optalloc.allocation.auto import solve
from optalloc.allocation.backends.base import SolveOptions
from optalloc.allocation.instances.synthetic import synthetic_problem
from optalloc.allocation.problem import AllocationProblem, Limit
from optalloc.allocation.registry import available_backends, get_backend
from optalloc.allocation.result import Status
from optalloc.errors import OptallocError

# colgen only takes problems whose every limit is one setting's capacity (tests/allocation/test_alloc_colgen.py)
BACKENDS = [b for b in available_backends() if b != "colgen"]
EXACT = [b for b in ("cbc", "highs") if b in BACKENDS]
OPTS = SolveOptions(time_limit=10.0)


def tiny(min_clinic: float = -np.inf) -> AllocationProblem:
    """Three patients, clinic or home; two home places. Gains of home: 2, 1, 3.

    Optimum: patients 0 and 2 at home, 1 + 3 + 4 = 8; the third place would add 1, so the
    places' marginal value lies between 1 (one more) and 2 (one fewer).
    """
    benefit = np.array([[1.0, 3.0], [1.0, 2.0], [1.0, 4.0]])
    home = np.zeros((3, 2))
    home[:, 1] = 1.0
    clinic = np.zeros((3, 2))
    clinic[:, 0] = 1.0
    limits = [Limit("home_places", home, upper=2.0, kind="places", unit="patients")]
    if np.isfinite(min_clinic):
        limits.append(Limit("min_clinic", clinic, lower=min_clinic, kind="min_patients", unit="patients"))
    return AllocationProblem(
        np.array(["a", "b", "c"]),
        ("clinic", "home"),
        benefit,
        np.ones((3, 2), dtype=bool),
        tuple(limits),
        objective_unit="QALY",
    )


def with_binding_floor(problem: AllocationProblem) -> AllocationProblem:
    """Raise the minimum-patients row close to its setting's places so that the floor binds."""
    limits = list(problem.limits)
    k = next(i for i, lim in enumerate(limits) if lim.kind == "min_patients")
    setting = problem.settings[int(limits[k].coef[0].argmax())]
    cap = next(lim.upper for lim in limits if lim.name == f"places_{setting}")
    limits[k] = replace(limits[k], lower=float(np.floor(0.95 * cap)))
    return replace(problem, limits=tuple(limits))


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_optimum_and_price(backend: str) -> None:
    result = solve(tiny(), backend, OPTS)
    assert result.status.has_plan
    assert result.objective == pytest.approx(8.0)
    assert list(result.assignment) == [1, 0, 1]
    assert result.bound >= 8.0 - 1e-9
    assert 1.0 - 1e-6 <= result.duals["home_places"] <= 2.0 + 1e-6
    assert result.gap is not None and result.gap <= 1e-3


@pytest.mark.parametrize("backend", BACKENDS)
def test_tiny_lower_bound_has_negative_price(backend: str) -> None:
    # two patients must stay at the clinic: the smallest gains (b: 1, a: 2) -> 1 + 1 + 4 = 6
    result = solve(tiny(min_clinic=2), backend, OPTS)
    assert result.objective == pytest.approx(6.0)
    assert list(result.assignment) == [0, 0, 1]
    assert result.duals["min_clinic"] <= 1e-9


@pytest.mark.parametrize("backend", BACKENDS)
def test_pinned_patient_stays(backend: str) -> None:
    problem = tiny()
    allowed = problem.allowed.copy()
    allowed[2, 1] = False  # patient c may not go home
    result = solve(replace(problem, allowed=allowed), backend, OPTS)
    assert result.assignment[2] == 0
    assert result.objective == pytest.approx(3.0 + 2.0 + 1.0)


_SOLVED: dict[tuple[int, str], object] = {}


def solved(seed: int, backend: str):
    """Problem and result per (seed, backend), solved once for the whole module."""
    problem = with_binding_floor(synthetic_problem(200, n_settings=5, seed=seed, decimals=2))
    if (seed, backend) not in _SOLVED:
        _SOLVED[(seed, backend)] = solve(problem, backend, SolveOptions(time_limit=6.0))
    return problem, _SOLVED[(seed, backend)]


@pytest.fixture(scope="module", params=[0, 1])
def random_case(request):
    problem, reference = solved(request.param, EXACT[0])
    assert reference.status == Status.OPTIMAL
    return request.param, problem, reference


@pytest.mark.parametrize("backend", BACKENDS)
def test_random_instances_agree(backend: str, random_case) -> None:
    seed, problem, reference = random_case
    assert len(problem.limits) == 9 and any(np.isfinite(lim.lower) for lim in problem.limits)
    _, result = solved(seed, backend)
    assert result.status.has_plan
    assert problem.is_feasible(result.assignment)
    assert result.objective == pytest.approx(problem.objective_value(result.assignment))
    opt = reference.objective
    tol = 1e-6 * abs(opt)
    # nobody beats the proven optimum, and every bound is valid
    assert result.objective <= opt + tol
    assert result.bound >= opt - tol
    if backend in EXACT:
        assert result.status == Status.OPTIMAL
        assert result.objective == pytest.approx(opt, rel=1e-6)
    else:
        # certified and close; on 200 patients the LP bound alone is ~1e-4 above the optimum
        # (the decomposition's certified gap shrinks with the cohort, see the 20k test)
        assert result.gap <= 2e-3
        assert result.objective >= opt * (1 - 1e-3)
    # sign convention: upper-bound rows price >= 0, floors <= 0
    for lim in problem.limits:
        price = result.duals[lim.name]
        if not np.isfinite(lim.lower):
            assert price >= -1e-7
        if not np.isfinite(lim.upper):
            assert price <= 1e-7
    floor_name = next(lim.name for lim in problem.limits if lim.kind == "min_patients")
    assert result.duals[floor_name] < 0


def test_cpsat_bracket_cbc_optimum(random_case) -> None:
    """The acceptance rule: CP-SAT objective <= CBC optimum <= CP-SAT bound (rel. 1e-6)."""
    if "cpsat" not in BACKENDS or "cbc" not in BACKENDS:
        pytest.skip("needs cpsat and cbc")
    seed = random_case[0]
    _, cbc = solved(seed, "cbc")
    _, cp = solved(seed, "cpsat")
    assert cbc.status == Status.OPTIMAL
    tol = 1e-6 * abs(cbc.objective)
    assert cp.objective <= cbc.objective + tol <= cp.bound + 2 * tol


def test_cpsat_rounded_rows_keep_bound_valid() -> None:
    """Coefficients no power of ten makes integral: the plan stays feasible, the bound valid."""
    if "cpsat" not in BACKENDS:
        pytest.skip("needs cpsat")
    problem = synthetic_problem(100, n_settings=4, seed=3)
    exact = solve(problem, EXACT[0], SolveOptions(time_limit=30.0))
    cp = solve(problem, "cpsat", SolveOptions(time_limit=3.0))
    assert cp.report.exact_integer_model is False
    assert problem.is_feasible(cp.assignment)
    assert cp.bound >= exact.objective - 1e-6 * abs(exact.objective)


@pytest.mark.parametrize("backend", BACKENDS)
def test_infeasible_is_diagnosed(backend: str) -> None:
    problem = tiny(min_clinic=2)
    limits = (replace(problem.limits[0], lower=2.0), problem.limits[1])  # >= 2 home and >= 2 clinic of 3
    result = solve(replace(problem, limits=limits), backend, OPTS)
    assert result.status == Status.INFEASIBLE
    assert result.assignment is None and result.gap is None
    assert "home_places" in result.message and "min_clinic" in result.message
    assert "lower min_clinic from 2 to 1" in result.message


def test_auto_and_unknown_solver() -> None:
    result = solve(tiny(), "auto")
    assert result.objective == pytest.approx(8.0)
    assert result.report.requested_solver == "auto"
    with pytest.raises(OptallocError, match="must be one of"):
        get_backend("gurobi")
    with pytest.raises(OptallocError, match="Unknown solver option"):
        solve(tiny(), "highs", {"timelimit": 3})


def test_decomposition_large_cohort_certified() -> None:
    problem = synthetic_problem(20_000, seed=5)
    result = solve(problem, "decomp", SolveOptions(time_limit=30.0))
    assert result.status.has_plan and problem.is_feasible(result.assignment)
    assert result.gap <= 5e-4
    assert result.report.dual_converged and result.report.repair


def test_decomposition_never_returns_less_than_its_hint(monkeypatch) -> None:
    """If the repair MIP ends without a plan (or a worse one), a feasible hint is returned."""
    from optalloc.allocation.algorithms.decomposition import DecompositionBackend, Repair

    problem = with_binding_floor(synthetic_problem(200, n_settings=5, seed=0, decimals=2))
    _, exact = solved(0, EXACT[0])
    monkeypatch.setattr(DecompositionBackend, "_repair", lambda self, *args: Repair(None, -np.inf, None, ()))
    backend = DecompositionBackend(polish=False)
    without = backend.solve(problem, SolveOptions(time_limit=5))
    assert without.status == Status.NO_SOLUTION
    with_hint = backend.solve(problem, SolveOptions(time_limit=5, hint=exact.assignment))
    assert with_hint.objective == pytest.approx(exact.objective)
    assert with_hint.report.plan_from == "hint"
    assert with_hint.bound >= exact.objective - 1e-9


@pytest.mark.parametrize("hint", [np.array([1, 0]), np.array([0, 1, 2]), np.array([0.0, 1.0, 1.0])])
def test_a_hint_that_does_not_fit_is_refused_clearly(hint) -> None:
    with pytest.raises(OptallocError, match=r"starting plan .hint. must give one setting index"):
        solve(tiny(), "highs", SolveOptions(time_limit=5, hint=hint))
    with pytest.raises(OptallocError, match="time limit must be above 0"):
        solve(tiny(), "highs", SolveOptions(time_limit=0))


def test_problem_shapes_are_checked_with_a_clear_message() -> None:
    problem = tiny()
    with pytest.raises(ValueError, match="benefit has shape"):
        replace(problem, patient_ids=np.array(["a", "b"]))
    with pytest.raises(ValueError, match="allowed has shape"):
        replace(problem, allowed=np.ones((3, 3), dtype=bool))
    with pytest.raises(ValueError, match=r"has shape .* expected"):
        replace(problem, limits=(replace(problem.limits[0], coef=np.ones((2, 2))),))
    stranded = problem.allowed.copy()
    stranded[1] = False
    with pytest.raises(ValueError, match="patient b has no allowed setting"):
        replace(problem, allowed=stranded)
