"""Greedy baseline, per-patient explanation with prices, and infeasibility diagnosis."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from optalloc.allocation.auto import solve
from optalloc.allocation.backends.base import SolveOptions
from optalloc.allocation.diagnose import check_feasible, diagnose
from optalloc.allocation.explain import explain_patient, marginal_value_sentences
from optalloc.allocation.greedy import greedy_allocation
from optalloc.allocation.instances.synthetic import synthetic_problem
from optalloc.allocation.problem import AllocationProblem, Limit
from optalloc.allocation.result import Status
from optalloc.errors import InfeasibleError, OptallocError


def three_settings() -> AllocationProblem:
    """Four patients; clinic (default), home (2 places), day unit (nurse hours 10)."""
    benefit = np.array([[1.0, 5.0, 2.0], [1.0, 4.0, 3.5], [1.0, 3.0, 2.5], [1.0, 1.5, 4.0]])
    places = np.zeros((4, 3))
    places[:, 1] = 1.0
    hours = np.zeros((4, 3))
    hours[:, 2] = [6.0, 6.0, 5.0, 5.0]
    return AllocationProblem(
        np.array(["p1", "p2", "p3", "p4"]),
        ("clinic", "home", "day_unit"),
        benefit,
        np.ones((4, 3), dtype=bool),
        (
            Limit("home_places", places, upper=2.0, kind="places", unit="patients"),
            Limit("nurse_hours", hours, upper=10.0, kind="resource", unit="hours"),
        ),
        objective_unit="QALY-weeks",
    )


def test_greedy_fills_settings_in_order_until_a_limit_binds() -> None:
    problem = three_settings()
    result = greedy_allocation(problem)
    # home by gain: p1 (4), p2 (3) fill the 2 places; day unit by gain: p4 (3), p3 (1.5) -> 10 h
    assert result.solver == "greedy" and result.status == Status.FEASIBLE
    assert list(result.assignment) == [1, 1, 2, 2]
    assert result.objective == pytest.approx(5 + 4 + 2.5 + 4)
    assert result.bound is None


def test_greedy_priority_vector_and_stop_at_first_break() -> None:
    problem = three_settings()
    # priority p3 > p4 > p2 > p1: home gets p3, p4 (gain 0.5 > 0) then day unit: p2 (6 h) then
    # p1 would need 12 h > 10: stop
    result = greedy_allocation(problem, priority=np.array([1.0, 2.0, 4.0, 3.0]))
    assert list(result.assignment) == [0, 2, 1, 1]
    with pytest.raises(ValueError, match="priority must have shape"):
        greedy_allocation(problem, priority=np.ones(3))


def test_greedy_reports_missed_floor() -> None:
    problem = three_settings()
    floor = np.zeros((4, 3))
    floor[:, 0] = 1.0
    problem = replace(problem, limits=problem.limits + (Limit("min_clinic", floor, lower=3.0),))
    result = greedy_allocation(problem)
    assert result.status == Status.INFEASIBLE and result.assignment is None
    assert "min_clinic" in result.message
    assert result.report.attempted_assignment is not None


def test_optimum_never_below_greedy() -> None:
    problem = synthetic_problem(400, seed=4, decimals=2)
    greedy = greedy_allocation(problem)
    best = solve(problem, "highs", SolveOptions(time_limit=10, hint=greedy.assignment))
    assert greedy.status == Status.FEASIBLE and problem.is_feasible(greedy.assignment)
    assert best.objective >= greedy.objective - 1e-9


def test_explain_patient_prices_and_runner_up() -> None:
    problem = three_settings()
    result = solve(problem, "highs", SolveOptions(time_limit=10))
    assert list(result.assignment) == [1, 1, 2, 2]  # optimum here equals greedy
    explanation = explain_patient(problem, result, "p2")
    table = explanation.table.set_index("setting")
    assert explanation.chosen == "home"
    price_home = result.duals["home_places"]
    price_hours = result.duals["nurse_hours"]
    assert table.loc["home", "resource_cost"] == pytest.approx(price_home)
    assert table.loc["day_unit", "resource_cost"] == pytest.approx(6.0 * price_hours)
    assert table.loc["day_unit", "reduced_benefit"] == pytest.approx(3.5 - 6.0 * price_hours)
    assert bool(table.loc["home", "chosen"]) and table["runner_up"].sum() == 1
    assert explanation.runner_up in ("clinic", "day_unit")
    # the chosen setting has the best reduced benefit (up to ties on the margin)
    assert table.loc["home", "reduced_benefit"] >= table["reduced_benefit"].max() - 1e-6
    assert "p2 goes to home" in explanation.summary()
    with pytest.raises(OptallocError, match="not in the problem"):
        explain_patient(problem, result, "nobody")


def test_marginal_value_sentences() -> None:
    problem = three_settings()
    result = solve(problem, "highs", SolveOptions(time_limit=10))
    result = replace(result, duals={"home_places": 0.5, "nurse_hours": 0.004})
    sentences = marginal_value_sentences(problem, result)
    assert "one more nurse_hours (hours) is worth 0.004 QALY-weeks" in sentences
    result = replace(result, duals={"home_places": 0.0, "nurse_hours": -0.25})
    sentences = marginal_value_sentences(problem, result)
    assert sentences[0].startswith("home_places (patients) does not bind")
    assert "one fewer required nurse_hours (hours) is worth 0.25 QALY-weeks" in sentences


def infeasible_problem() -> AllocationProblem:
    problem = three_settings()
    home_floor = problem.limits[0].coef
    hours = problem.limits[1].coef
    return replace(
        problem,
        limits=(
            problem.limits[0],
            problem.limits[1],
            Limit("min_patients_home", home_floor, lower=3.0, kind="min_patients", unit="patients"),
            Limit("budget", hours * 0.0 + 1.0, upper=100.0, kind="budget", unit="EUR"),  # irrelevant
        ),
    )


def test_diagnose_names_the_clash_and_the_smallest_fix() -> None:
    diagnosis = diagnose(infeasible_problem())
    assert not diagnosis.feasible
    assert set(diagnosis.conflict) == {("home_places", "upper"), ("min_patients_home", "lower")}
    fixes = {r.limit: r.needed for r in diagnosis.relaxations}
    assert fixes == {"home_places": 3.0, "min_patients_home": 2.0}
    assert "raise home_places from 2 to 3 patients" in diagnosis.message
    assert "lower min_patients_home from 3 to 2 patients" in diagnosis.message
    assert "budget" not in diagnosis.message and "\n" not in diagnosis.message
    with pytest.raises(InfeasibleError, match="infeasible"):
        check_feasible(infeasible_problem())


def test_diagnose_single_limit_and_feasible() -> None:
    problem = three_settings()
    assert diagnose(problem).feasible
    check_feasible(problem)
    floor = np.zeros((4, 3))
    floor[:, 2] = 1.0
    allowed = problem.allowed.copy()
    allowed[0, 2] = False
    single = replace(
        problem,
        allowed=allowed,
        limits=(Limit("min_day_unit", floor, lower=4.0, kind="min_patients", unit="patients"),),
    )
    diagnosis = diagnose(single)
    assert diagnosis.conflict == [("min_day_unit", "lower")]
    assert "cannot be met by any plan" in diagnosis.message
    assert "lower min_day_unit from 4 to 3 patients" in diagnosis.message


def test_diagnose_integer_only_conflict() -> None:
    """A fractional plan fits but whole patients do not: 2 patients, each uses 2 h, 3 h cap,
    and at least 1.5 patients at home -> LP feasible (1.5 patients), MIP infeasible."""
    hours = np.zeros((2, 2))
    hours[:, 1] = 2.0
    home = np.zeros((2, 2))
    home[:, 1] = 1.0
    problem = AllocationProblem(
        np.array(["a", "b"]),
        ("clinic", "home"),
        np.ones((2, 2)),
        np.ones((2, 2), bool),
        (
            Limit("hours", hours, upper=3.0, unit="hours"),
            Limit("min_home", home, lower=1.5, kind="min_patients", unit="patients"),
        ),
    )
    diagnosis = diagnose(problem)
    assert not diagnosis.feasible and diagnosis.integer_only
    assert "whole patients" in diagnosis.message


def test_explain_cli_with_prepared_scenario(monkeypatch, tmp_path) -> None:
    """``optalloc explain`` against the pipeline API (``prepare(path).problem`` and
    ``solve_prepared``), stubbed here so the test does not depend on the cohort and risk stages."""
    import json
    import sys
    import types

    from typer.testing import CliRunner

    from optalloc.cli import app

    fake = types.ModuleType("optalloc.pipeline")
    solver_spec = types.SimpleNamespace(time_limit=10.0, relative_gap=1e-6)
    fake.prepare = lambda path, cache=None: types.SimpleNamespace(
        problem=three_settings(), loaded=types.SimpleNamespace(scenario=types.SimpleNamespace(solver=solver_spec))
    )
    from optalloc.allocation.auto import solve
    from optalloc.allocation.backends.base import SolveOptions

    fake.solve_prepared = lambda prepared, solver, time_limit=None: types.SimpleNamespace(
        result=solve(prepared.problem, solver, SolveOptions(time_limit=time_limit or solver_spec.time_limit))
    )
    monkeypatch.setitem(sys.modules, "optalloc.pipeline", fake)
    scenario = tmp_path / "s.toml"
    scenario.write_text("")
    runner = CliRunner()
    done = runner.invoke(app, ["explain", str(scenario), "--patient", "p2", "--solver", "highs", "--json"])
    assert done.exit_code == 0, done.output
    payload = json.loads(done.stdout)
    assert payload["chosen"] == "home" and len(payload["settings"]) == 3
    assert any("nurse_hours" in s for s in payload["marginal_values"])
    done = runner.invoke(app, ["explain", str(scenario), "--patient", "p2", "--solver", "highs"])
    assert done.exit_code == 0 and "p2 goes to home" in done.stdout
    done = runner.invoke(app, ["explain", str(scenario), "--patient", "zz"])
    assert (
        done.exit_code == 2 and "no such patient" in done.output and "zz" not in done.output.replace(str(scenario), "")
    )
