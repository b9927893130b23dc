"""Non-finite and absurd numbers are refused when a scenario is loaded, naming the field."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.errors import ScenarioError
from optalloc.scenario import load_scenario
from tests.helpers.files import write_scenario

runner = CliRunner()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("budget = inf", "budget"),
        ("budget = nan", "budget"),
        ("budget = 1e300", "budget"),
        ("horizon_weeks = inf", "horizon_weeks"),
        ("horizon_weeks = 100000", "horizon_weeks"),
        ("[settings.home]\ncost_per_visit = inf", "settings.home.cost_per_visit"),
        ("[settings.home]\ncost_per_visit = 1e308", "settings.home.cost_per_visit"),
        ("[settings.home]\nstaff_hours_per_visit = { home_nurse_hours = inf }", "settings.home.staff_hours_per_visit"),
        ("[cohort]\npatients = 100000000000", "cohort.patients"),
        ("[resources]\nhome_nurse_hours = inf", "resources.home_nurse_hours"),
        ("[solver]\ntime_limit = inf", "solver.time_limit"),
        ("[objective]\nreadmission_weight = 1e300", "objective.readmission_weight"),
    ],
)
def test_absurd_numbers_are_refused_naming_the_field(tmp_path: Path, text: str, field: str) -> None:
    prefix, _, rest = text.partition("\n")
    body = 'extends = "baseline.toml"\nname = "absurd"\n'
    body += f"{prefix}\n{rest}\n" if prefix.startswith("[") else f"{prefix}\n"
    path = write_scenario(tmp_path, body)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    assert field in str(caught.value) and str(path) in str(caught.value)
    result = runner.invoke(app, ["solve", str(path)])
    assert result.exit_code == 2 and field in result.output


def test_cohort_synth_refuses_an_absurd_size(tmp_path: Path) -> None:
    result = runner.invoke(app, ["cohort", "synth", "--patients", "100000000000", "--out", str(tmp_path / "c.csv")])
    assert result.exit_code == 2 and "--patients must be between 1 and 10,000,000" in result.output
    assert not (tmp_path / "c.csv").exists()
