"""NaN or infinite numbers never reach a solver: refused before solving, with one paragraph
naming the number, the setting and the patient (or the limit), exit code 2, nothing recorded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc import pipeline
from optalloc.allocation.problem import AllocationProblem, Limit
from optalloc.cli import app
from optalloc.errors import NonFiniteError
from optalloc.workspace import Workspace
from tests.helpers.files import SCENARIOS
from tests.helpers.studio import fixed_risk, small_file

runner = CliRunner()


def _problem(benefit: np.ndarray | None = None, **limit: object) -> AllocationProblem:
    n = 4
    hours = np.tile([0.0, 2.0], (n, 1))
    return AllocationProblem(
        patient_ids=np.array([f"p{k:016x}" for k in range(n)]),
        settings=("clinic", "home"),
        benefit=np.tile([0.0, 1.0], (n, 1)) if benefit is None else benefit,
        allowed=np.ones((n, 2), dtype=bool),
        limits=(Limit(**{"name": "home_nurse_hours", "coef": hours, "upper": 4.0, "origin": "resources.x", **limit}),),
        name="tiny",
    )


def test_a_finite_problem_builds() -> None:
    assert _problem().n_patients == 4
    assert _problem(lower=1.0, upper=np.inf).limits[0].upper == np.inf  # no upper bound: allowed


def test_nan_benefit_names_patient_setting_and_count() -> None:
    benefit = np.tile([0.0, 1.0], (4, 1))
    benefit[2, 1] = np.nan
    benefit[3, 1] = np.inf
    with pytest.raises(NonFiniteError) as info:
        _problem(benefit)
    error = info.value
    assert (error.patient, error.setting, error.count) == ("p0000000000000002", "home", 2)
    assert np.isnan(error.value) and "benefit" in error.what
    assert "patient p0000000000000002 in setting 'home' is nan (2 such numbers in all)" in str(error)
    assert "nothing was solved" in str(error) and "estimates table" in str(error)


def test_infinite_use_of_a_limit_names_the_limit() -> None:
    hours = np.tile([0.0, 2.0], (4, 1))
    hours[1, 0] = -np.inf
    with pytest.raises(
        NonFiniteError, match=r"home_nurse_hours coefficient .*'resources.x'.* patient p0+1 in setting 'clinic' is -inf"
    ):
        _problem(coef=hours)


@pytest.mark.parametrize(
    ("bounds", "expected"),
    [
        ({"upper": np.nan}, "the upper bound of limit 'home_nurse_hours' (scenario field 'resources.x') is nan"),
        ({"upper": -np.inf}, "the upper bound"),
        ({"lower": np.inf}, "the lower bound"),
        ({"upper": np.inf}, "the capacity of limit 'home_nurse_hours'"),  # a capacity limiting nothing
    ],
)
def test_bad_bounds_are_refused(bounds: dict, expected: str) -> None:
    with pytest.raises(NonFiniteError) as info:
        _problem(**bounds)
    assert expected in str(info.value) and info.value.patient is None


def test_cli_refuses_a_risk_model_that_returns_nan(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A NaN probability makes that patient's benefit NaN in every setting: exit 2, one
    paragraph naming the patient, nothing recorded."""
    seen: list[str] = []

    def nan_for_one(loaded: object, cohort: pd.DataFrame, context: object = None) -> tuple[np.ndarray, None]:
        risk, _ = fixed_risk(loaded, cohort)
        risk[7] = np.nan
        seen.append(str(cohort["patient_id"].iloc[7]))
        return risk, None

    monkeypatch.setattr(pipeline, "score_risk", nan_for_one)
    scenario = small_file(tmp_path, SCENARIOS / "baseline.toml", "tiny", patients=60)
    result = runner.invoke(app, ["solve", str(scenario), "--solver", "highs"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stdout == ""
    assert f"patient {seen[0]} in setting 'clinic' is nan (2 such numbers in all)" in " ".join(result.output.split())
    assert Workspace().list_runs() == []


@pytest.mark.parametrize(("column", "cell"), [("home_nurse_hours", ""), ("benefit", "inf"), ("cost", "nan")])
def test_cli_refuses_an_estimates_csv_with_a_non_finite_cell(tmp_path: Path, column: str, cell: str) -> None:
    scenario = SCENARIOS / "baseline.toml"
    ids = [f"MRN{k:03d}" for k in range(6)]
    table = pd.DataFrame(
        {
            "patient_id": np.repeat(ids, 2),
            "setting": ["clinic", "home"] * 6,
            "benefit": [0.0, 0.5] * 6,
            "cost": [100.0, 120.0] * 6,
            **{name: [1.0, 2.0] * 6 for name in ("day_unit_nurse_hours", "haematologist_hours", "home_nurse_hours")},
            "transport_boxes": [0.0, 0.2] * 6,
        }
    ).astype({column: object})
    table.loc[5, column] = cell  # row 6 of the file: MRN002 at home
    path = tmp_path / "est.csv"
    table.to_csv(path, index=False)
    for command in (
        ["solve", str(scenario), "--estimates", str(path)],
        ["solve", str(scenario), "--estimates", str(path), "--json"],
    ):
        result = runner.invoke(app, command)
        assert result.exit_code == 2, result.output
        text = " ".join(result.output.split())
        assert "Traceback" not in text and result.stdout == ""
        assert f"column {column!r}" in text and "row 6" in text and str(path) in text
    assert Workspace().list_runs() == []
