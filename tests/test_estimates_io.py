"""Precomputed estimates: read back exactly what ``Estimates.long_table`` writes; clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optalloc.allocation.build import build_problem
from optalloc.cohort.load import prepare_cohort
from optalloc.cohort.synth import synthesize_cohort
from optalloc.domains.transfusion import DECLARATION as TRANSFUSION
from optalloc.errors import OptallocError, ScenarioError
from optalloc.estimates import estimate as estimate_with
from optalloc.estimates_io import read_estimates
from optalloc.io import write_table
from optalloc.privacy import pseudonymize
from optalloc.scenario import load_scenario
from tests.helpers.files import SCENARIOS


def estimate(cohort, risk, loaded):
    """The estimates of a transfusion scenario (its quantities left to the transfusion domain)."""
    return estimate_with(cohort, risk, loaded, TRANSFUSION.quantities)


def _long_table(tmp_path: Path):
    loaded = load_scenario(SCENARIOS / "baseline.toml")
    cohort = prepare_cohort(synthesize_cohort(80, seed=2), source="t")
    est = estimate(cohort, np.linspace(0.1, 0.3, 80), loaded)
    return loaded, est, est.long_table()


def test_round_trip(tmp_path: Path) -> None:
    loaded, est, long = _long_table(tmp_path)
    back = read_estimates(write_table(long, tmp_path / "est.parquet"), loaded)
    # a table from outside is pseudonymised on reading, whatever its ids look like
    assert list(back.patient_ids) == list(pseudonymize(est.patient_ids))
    np.testing.assert_allclose(back.benefit, est.benefit)
    np.testing.assert_allclose(back.usage["home_nurse_hours"], est.usage["home_nurse_hours"])
    assert np.array_equal(back.eligible, est.eligible)
    problem = build_problem(loaded, back, None)
    assert problem.n_patients == 80


def test_eligible_written_as_yes_no(tmp_path: Path) -> None:
    """ "no" must mean not allowed (a plain astype(bool) would read every text as True)."""
    loaded, est, long = _long_table(tmp_path)
    long["eligible"] = np.where(long["eligible"], "yes", "no")
    back = read_estimates(write_table(long, tmp_path / "yn.csv"), loaded)
    assert np.array_equal(back.eligible, est.eligible) and not back.eligible.all()


def test_missing_rows_mean_not_allowed(tmp_path: Path) -> None:
    loaded, _, long = _long_table(tmp_path)
    long = long[long["eligible"]].drop(columns=["eligible"])
    back = read_estimates(write_table(long, tmp_path / "e.csv"), loaded)
    assert back.eligible[:, 0].all() and not back.eligible[:, 1].all()


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda f: f.drop(columns=["home_nurse_hours"]), "missing column(s) home_nurse_hours"),
        (lambda f: f.assign(setting=f["setting"].where(f.index != 3, "spa")), "row 4 names the setting 'spa'"),
        (lambda f: f.assign(cost=f["cost"].astype(object).where(f.index != 5, "cheap")), "row 6"),
        (lambda f: f[f["setting"] != "clinic"], "no row for the default setting"),
        (lambda f: f.iloc[list(range(len(f))) + [0]], "repeats"),
        (lambda f: f.assign(eligible=f["eligible"].astype(object).where(f.index != 2, "maybe")), "row 3"),
        (
            lambda f: f.assign(
                readmissions_avoided=f["readmissions_avoided"].astype(object).where(f.index != 6, "n/a")
            ),
            "row 7",
        ),
        (lambda f: f.assign(benefit=f["benefit"].where(f.index != 4, np.inf)), "'benefit' row 5"),
        (lambda f: f.assign(benefit=f["benefit"].where(f.index != 4, 1e308)), "'benefit' row 5"),
        (lambda f: f.assign(cost=f["cost"].where(f.index != 1, -5.0)), "'cost' row 2"),
        (
            lambda f: f.assign(home_nurse_hours=f["home_nurse_hours"].where(f.index != 0, -1.0)),
            "'home_nurse_hours' row 1",
        ),
    ],
)
def test_bad_estimates(tmp_path: Path, mutate, expected: str) -> None:
    loaded, _, long = _long_table(tmp_path)
    path = tmp_path / "bad.csv"
    mutate(long).to_csv(path, index=False)
    with pytest.raises(OptallocError) as info:
        read_estimates(path, loaded)
    assert expected in str(info.value) and str(path) in str(info.value)


def test_equity_needs_a_cohort(tmp_path: Path) -> None:
    loaded = load_scenario(SCENARIOS / "equity_frail.toml")
    _, _, long = _long_table(tmp_path)
    est = read_estimates(write_table(long, tmp_path / "e.csv"), loaded)
    with pytest.raises(ScenarioError, match="equity"):
        build_problem(loaded, est, None)


def test_a_resource_used_only_in_the_estimates_table_is_accepted(tmp_path: Path) -> None:
    """Bringing your own estimates needs no fake use of a resource on some setting."""
    import json

    from typer.testing import CliRunner

    from optalloc.cli import app
    from tests.helpers.files import write_scenario

    scenario = write_scenario(
        tmp_path,
        'extends = "baseline.toml"\nname = "own"\n[resources]\nsocial_worker_hours = 40\n',
        "own.toml",
    )
    _, _, long = _long_table(tmp_path)
    long["social_worker_hours"] = np.where(long["setting"] == "home", 1.0, 0.0)
    table = write_table(long, tmp_path / "own.csv")
    result = CliRunner().invoke(app, ["solve", str(scenario), "--estimates", str(table), "--json", "--no-record"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["resources"]["social_worker_hours"]["use"] <= 40 + 1e-6
    assert payload["patients_per_setting"]["home"] <= 40  # one hour each: the table's use binds

    # without the table, optalloc would estimate no use of it: refused, naming the resource
    plain = CliRunner().invoke(app, ["solve", str(scenario), "--no-record"])
    assert plain.exit_code == 2
    assert "resources.social_worker_hours is declared but no setting uses it" in plain.output.replace("\n", " ")


def test_parquet_and_csv_of_one_table_read_alike(tmp_path: Path) -> None:
    """A Parquet table's ids and settings are coded by Arrow, a CSV's by pandas: the same
    patients in the same order, the same matrices, whether rows are in order or shuffled."""
    loaded, _, long = _long_table(tmp_path)
    long["patient_id"] = long["patient_id"].where(long.index % 3 != 0, " " + long["patient_id"])  # spaces
    for table in (long, long.sample(frac=1.0, random_state=3)):
        parquet = read_estimates(write_table(table, tmp_path / "e.parquet"), loaded)
        csv = read_estimates(write_table(table, tmp_path / "e.csv"), loaded)
        assert list(parquet.patient_ids) == list(csv.patient_ids) and len(parquet.patient_ids) == 80
        assert np.array_equal(parquet.benefit, csv.benefit) and np.array_equal(parquet.eligible, csv.eligible)
        np.testing.assert_array_equal(parquet.usage["home_nurse_hours"], csv.usage["home_nurse_hours"])
