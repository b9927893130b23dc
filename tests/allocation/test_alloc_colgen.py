"""Column generation: the knapsack pricing against enumeration, which problems qualify, valid
bounds and plans on OR-Library instances, and what ``auto`` picks."""

from __future__ import annotations

import itertools
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from optalloc.allocation.algorithms.colgen import ColumnGenerationBackend, price
from optalloc.allocation.auto import choose_backend, solve
from optalloc.allocation.backends.base import SolveOptions
from optalloc.allocation.instances.gap import BEST_KNOWN, PUBLISHED_OPTIMA, read_gap_file
from optalloc.allocation.instances.synthetic import synthetic_problem
from optalloc.allocation.problem import AllocationProblem, Limit
from optalloc.allocation.structure import knapsack_structure
from optalloc.errors import OptallocError

DATA = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "gap-orlib"
needs_data = pytest.mark.skipif(not DATA.is_dir(), reason="OR-Library GAP files not present")


def brute_force(profit: np.ndarray, weight: np.ndarray, capacity: int) -> float:
    best = 0.0
    n = profit.size
    for r in range(1, n + 1):
        for subset in itertools.combinations(range(n), r):
            idx = list(subset)
            if weight[idx].sum() <= capacity and np.isfinite(profit[idx]).all():
                best = max(best, float(profit[idx].sum()))
    return best


@pytest.mark.parametrize("seed", range(6))
def test_pricing_matches_enumeration(seed: int) -> None:
    rng = np.random.default_rng(seed)
    m, n = 3, 9
    profit = rng.normal(1.0, 2.0, size=(m, n))
    profit[rng.random((m, n)) < 0.1] = -np.inf  # patients not allowed there
    weight = rng.integers(0, 8, size=(m, n))
    capacity = rng.integers(0, 20, size=m)
    value, chosen = price(profit, weight, capacity, per_setting=3)
    for s in range(m):
        assert value[s] == pytest.approx(brute_force(profit[s], weight[s], int(capacity[s])))
        best_set = chosen[s][0]
        assert profit[s, best_set].sum() == pytest.approx(value[s]) or (value[s] == 0 and best_set.size == 0)
        for extra in chosen[s]:  # every extra column fits too
            assert weight[s, extra].sum() <= capacity[s]
            assert np.isfinite(profit[s, extra]).all()


def gap_like(n: int = 12, m: int = 3, seed: int = 0) -> AllocationProblem:
    rng = np.random.default_rng(seed)
    benefit = rng.integers(1, 30, size=(n, m)).astype(float)
    limits = []
    for s in range(m):
        coef = np.zeros((n, m))
        coef[:, s] = rng.integers(1, 10, size=n)
        limits.append(Limit(f"cap_{s}", coef, upper=float(coef[:, s].sum() * 0.45), kind="capacity"))
    return AllocationProblem(
        np.arange(n).astype(str), tuple(f"s{s}" for s in range(m)), benefit, np.ones((n, m), dtype=bool), tuple(limits)
    )


def test_structure_detection_and_clear_refusal() -> None:
    assert knapsack_structure(gap_like()) is not None
    healthcare = synthetic_problem(50, n_settings=4, seed=0, decimals=2)  # budget and floors
    assert knapsack_structure(healthcare) is None
    with pytest.raises(OptallocError, match=r"capacity .* on a single setting"):
        ColumnGenerationBackend().solve(healthcare, SolveOptions(time_limit=2))
    # a floor on a setting is not a capacity either
    problem = gap_like()
    limits = (replace(problem.limits[0], lower=1.0),) + problem.limits[1:]
    assert knapsack_structure(replace(problem, limits=limits)) is None


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_small_instances_reach_the_exact_optimum(seed: int) -> None:
    problem = gap_like(seed=seed)
    exact = solve(problem, "cbc", SolveOptions(time_limit=10))
    for warm_share in (0.0, 0.3):
        result = ColumnGenerationBackend(warm_share=warm_share).solve(problem, SolveOptions(time_limit=5))
        assert problem.is_feasible(result.assignment)
        assert result.objective == pytest.approx(exact.objective)
        assert result.bound >= exact.objective - 1e-9  # a valid bound, never below the optimum


def test_pinned_patients_are_respected() -> None:
    problem = gap_like(seed=4)
    allowed = problem.allowed.copy()
    allowed[0] = [False, True, False]
    allowed[1, 1] = False
    pinned = replace(problem, allowed=allowed)
    result = ColumnGenerationBackend(warm_share=0.0).solve(pinned, SolveOptions(time_limit=5))
    assert result.assignment[0] == 1 and result.assignment[1] != 1
    exact = solve(pinned, "cbc", SolveOptions(time_limit=10))
    assert result.objective == pytest.approx(exact.objective)


@needs_data
def test_gap1_published_optima() -> None:
    problems = read_gap_file(DATA / "gap1.txt")
    for problem, optimum in zip(problems, PUBLISHED_OPTIMA["gap1"]):
        result = ColumnGenerationBackend(warm_share=0.0).solve(problem, SolveOptions(time_limit=3))
        assert problem.is_feasible(result.assignment)
        assert result.objective == pytest.approx(optimum)
        assert result.bound >= optimum - 1e-9


@needs_data
def test_hard_type_d_bound_is_valid_and_plan_close() -> None:
    """gapd-5 (20 x 100): the Dantzig-Wolfe bound beats the LP bound and stays below the best
    known cost; a short run is already within 1% of it."""
    problem = read_gap_file(DATA / "gapd.txt")[4]
    best_known = BEST_KNOWN["gapd"][4]
    result = ColumnGenerationBackend(warm_share=0.0).solve(problem, SolveOptions(time_limit=8))
    cost, lower = -result.objective, -result.bound
    assert problem.is_feasible(result.assignment)
    assert lower <= best_known <= cost
    assert cost <= best_known * 1.01
    assert lower >= 6170  # the LP relaxation gives about 6166
    assert result.report.root_converged is True


@needs_data
def test_auto_picks_colgen_for_capacitated_problems_only() -> None:
    assert choose_backend(read_gap_file(DATA / "gapd.txt")[4]) == "colgen"
    assert choose_backend(read_gap_file(DATA / "gap1.txt")[0]) == "cbc"  # 15 patients: exact MIP
    assert choose_backend(synthetic_problem(200, n_settings=5, seed=0)) == "cbc"


def test_fractional_and_non_binding_capacities_qualify() -> None:
    problem = gap_like()
    limits = list(problem.limits)
    limits[0] = replace(limits[0], upper=100 / 3)  # whole weights, fractional capacity
    limits[1] = replace(limits[1], upper=1e12)  # never binds
    structure = knapsack_structure(replace(problem, limits=tuple(limits)))
    assert structure is not None
    assert structure.capacity[0] == 33
    assert structure.capacity[1] == structure.weight[1].sum()


def test_large_benefit_units_and_a_proof_when_few_settings() -> None:
    """Benefits in large units (cents of a budget) must not be beaten by the master's artificial
    cover; with no more settings than the exact finish takes, the plan is proven optimal."""
    base = gap_like(seed=5)
    problem = replace(base, benefit=base.benefit * 1e8)
    exact = solve(problem, "cbc", SolveOptions(time_limit=10))
    result = ColumnGenerationBackend(warm_share=0.0).solve(problem, SolveOptions(time_limit=20))
    assert result.objective == pytest.approx(exact.objective)
    assert result.status.value == "OPTIMAL" and result.seconds < 10
