"""Target language and sizing by parallel bracketing."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optalloc.allocation.result import Status
from optalloc.allocation.summary import LimitUse, PlanSummary
from optalloc.cli import app
from optalloc.errors import OptallocError
from optalloc.studio.parallel import Execution
from optalloc.studio.points import SolveSettings, solve_variant
from optalloc.studio.size import run_size
from optalloc.studio.sweep import Vary, run_sweep
from optalloc.studio.target import parse_target
from tests.helpers.files import SCENARIOS
from tests.helpers.studio import small_file, small_prepared

pytestmark = pytest.mark.usefixtures("fast_risk")
SETTINGS, LIMITS = ("clinic", "home"), ("home_nurse_hours", "budget")


def _limit(name: str, use: float) -> LimitUse:
    return LimitUse(name, f"resources.{name}", "resource", "", -np.inf, 2_000.0, use, 2_000.0 - use, False, 0.0)


KPIS = PlanSummary(
    scenario="s",
    file="s.toml",
    status=Status.OPTIMAL,
    solver="highs",
    objective=3.0,
    bound=3.0,
    seconds=0.1,
    objective_unit="QALY-weeks",
    patients=100,
    patients_per_setting={"clinic": 60, "home": 40},
    eligible={"clinic": 100, "home": 50},
    outcomes={"readmissions_avoided": 2.0, "travel_hours_saved": 1.0, "cost": 10.0},
    limits=(_limit("home_nurse_hours", 900.0), _limit("budget", 10.0)),
)


@pytest.mark.parametrize(
    ("text", "holds"),
    [
        ("share_served(home) >= 0.8", True),
        ("share_served(home) >= 81%", False),
        ("patients(home) >= 40 and readmissions_avoided > 1.5", True),
        ("patients(home) > 40", False),
        ("use(home_nurse_hours) <= 1_000 and cost < 1e2", True),
        ("benefit >= 4 or patients(home) == 40", True),
        ("readmissions_avoided / cost > 0.1", True),
    ],
)
def test_targets_evaluate_over_key_figures(text: str, holds: bool) -> None:
    assert parse_target(text, SETTINGS, LIMITS).holds(KPIS) is holds


def test_a_plan_less_solve_never_meets_a_target() -> None:
    assert not parse_target("cost >= 0", SETTINGS, LIMITS).holds(replace(KPIS, status=Status.INFEASIBLE))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("patients(spa) >= 3", "names no setting"),
        ("use(nurses) <= 3", "names no limit"),
        ("__import__('os').system('x') >= 1", "cannot read"),
        ("happiness >= 3", "unknown metric"),
        ("patients >= 3", "unknown metric"),
        ("benefit >= 3 or", "cannot read"),
        ("benefit + 3", "not a condition"),
    ],
)
def test_bad_targets_are_refused_with_an_example(text: str, message: str) -> None:
    with pytest.raises(OptallocError, match=message):
        parse_target(text, SETTINGS, LIMITS)


def test_sizing_finds_the_minimum_a_fine_sweep_finds() -> None:
    prepared = small_prepared(**{"cohort.patients": 200})
    now, _ = solve_variant(prepared, {}, SolveSettings("highs", 1), None)
    goal = round(0.8 * now.benefit, 4)
    target = parse_target(f"benefit >= {goal}", prepared.problem.settings, [])
    result = run_size(prepared, "home_nurse_hours", target, "highs", Execution(workers=1), rel_tol=5e-3)
    assert result.level is not None and result.bracket[1] == result.level
    assert result.bracket[1] - result.bracket[0] <= 5e-3 * result.level
    assert result.around.set_index("level").loc[result.level, "meets_target"]
    # A fine sweep over the 3% below the answer: the first level meeting the target is within 1%.
    fine = run_sweep(
        prepared,
        [Vary("resources.home_nurse_hours", 0.97 * result.level, result.level, 4)],
        "highs",
        Execution(workers=1),
    )
    meets = fine["objective"].to_numpy() >= goal
    first = float(fine["resources.home_nurse_hours"][np.argmax(meets)])
    assert meets[-1] and first >= result.level * 0.99


def test_sizing_errors_name_what_to_change() -> None:
    prepared = small_prepared()
    target = parse_target("patients(home) >= 100000", prepared.problem.settings, [])
    with pytest.raises(OptallocError, match="not met even at"):
        run_size(prepared, "transport_boxes", target, "highs", Execution(workers=1), max_growth=1)
    with pytest.raises(OptallocError, match="need 0 <= --low < --high"):
        run_size(prepared, "home_nurse_hours", target, "highs", Execution(workers=1), low=10.0, high=5.0)
    with pytest.raises(OptallocError, match="size 'budget' or one of"):
        run_size(prepared, "settings.home.effect", target, "highs", Execution(workers=1))
    with pytest.raises(OptallocError, match="--tol must be above 0"):  # would bisect forever
        run_size(prepared, "home_nurse_hours", target, "highs", Execution(workers=1), rel_tol=0.0)


def test_size_cli_json(tmp_path: Path) -> None:
    scenario = small_file(tmp_path, SCENARIOS / "baseline.toml", "tiny")
    result = CliRunner().invoke(
        app,
        [
            "size",
            str(scenario),
            "--target",
            "share_served(home) >= 20%",
            "--resource",
            "home_nurse_hours",
            "--solver",
            "highs",
            "--workers",
            "1",
            "--tol",
            "0.05",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["path"] == "resources.home_nurse_hours" and 0 < payload["level"] < payload["current_level"]
    assert any(row["level"] == payload["level"] and row["meets_target"] for row in payload["around"])
