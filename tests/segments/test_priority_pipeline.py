"""The scenario's priority weights order the greedy current-practice plan, never the optimum."""

from __future__ import annotations

from pathlib import Path

import pytest

from optalloc.errors import ScenarioError
from optalloc.pipeline import PipelineCache, prepare, solve_prepared
from optalloc.scenario import load_scenario
from tests.helpers.files import write_scenario

SMALL = "[cohort]\npatients = 400\nseed = 9\n"


def test_priority_weights_change_greedy_not_the_optimum(tmp_path: Path) -> None:
    by_risk = write_scenario(
        tmp_path,
        f'extends = "baseline.toml"\nname = "r"\n{SMALL}'
        "[priority]\nrisk = 1.0\nbenefit = 0.0\nburden = 0.0\nneed = 0.0\n",
        "r.toml",
    )
    by_burden = write_scenario(
        tmp_path,
        f'extends = "baseline.toml"\nname = "b"\n{SMALL}'
        "[priority]\nrisk = 0.0\nbenefit = 0.0\nburden = 1.0\nneed = 0.0\n",
        "b.toml",
    )
    cache = PipelineCache()
    first = solve_prepared(prepare(by_risk, cache), solver="cbc")
    second = solve_prepared(prepare(by_burden, cache), solver="cbc")
    assert first.greedy.status.has_plan and second.greedy.status.has_plan
    assert (first.greedy.assignment != second.greedy.assignment).any()
    assert first.result.objective == pytest.approx(second.result.objective, rel=1e-6)
    for outcome in (first, second):
        assert outcome.result.objective >= outcome.greedy.objective - 1e-9


def test_all_zero_priority_weights_are_rejected(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        'extends = "baseline.toml"\nname = "z"\n[priority]\nrisk = 0\nbenefit = 0\nburden = 0\nneed = 0\n',
        "z.toml",
    )
    with pytest.raises(ScenarioError, match="priority"):
        load_scenario(path)


def test_a_time_limit_flag_keeps_the_scenarios_gap(tmp_path: Path) -> None:
    """``--time-limit`` overrides only the time: the scenario's relative_gap still applies."""
    from optalloc.pipeline import scenario_options

    path = write_scenario(
        tmp_path,
        f'extends = "baseline.toml"\nname = "g"\n{SMALL}[solver]\ntime_limit = 30\nrelative_gap = 0.01\n',
        "g.toml",
    )
    scenario = load_scenario(path).scenario
    assert scenario_options(scenario).time_limit == 30
    flagged = scenario_options(scenario, time_limit=5)
    assert (flagged.time_limit, flagged.relative_gap) == (5, 0.01)
    assert scenario_options(scenario, relative_gap=0.1).relative_gap == 0.1
