"""Estimates follow the documented formulas; the problem carries every scenario limit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optalloc.allocation.build import build_problem
from optalloc.cohort.load import prepare_cohort
from optalloc.cohort.synth import synthesize_cohort
from optalloc.domains.transfusion import DECLARATION as TRANSFUSION
from optalloc.errors import ScenarioError
from optalloc.estimates import estimate as estimate_with
from optalloc.scenario import load_scenario
from tests.helpers.files import SCENARIOS, write_scenario


def estimate(cohort, risk, loaded):
    """The estimates of a transfusion scenario (its quantities left to the transfusion domain)."""
    return estimate_with(cohort, risk, loaded, TRANSFUSION.quantities)


@pytest.fixture
def cohort() -> pd.DataFrame:
    return prepare_cohort(synthesize_cohort(300, seed=3), source="test")


def test_estimates_match_formulas_for_one_patient(cohort: pd.DataFrame) -> None:
    loaded = load_scenario(SCENARIOS / "baseline.toml")
    risk = np.linspace(0.05, 0.4, len(cohort))
    est = estimate(cohort, risk, loaded)
    home = loaded.scenario.settings["home"]
    i, j = 7, est.settings.index("home")
    row = cohort.iloc[i]
    visits = row.transfusions_per_28d * 52 / 4
    hours = visits * (2.5 + 0.75 * row.units_per_visit + 0.05 * row.distance_km)
    assert est.usage["home_nurse_hours"][i, j] == pytest.approx(hours)
    assert est.usage["transport_boxes"][i, j] == pytest.approx(0.2)
    assert est.cost[i, j] == pytest.approx(visits * (420 + 1.2 * row.distance_km) + 150)
    assert est.readmissions_avoided[i, j] == pytest.approx(risk[i] * home.effect)
    travel = visits * 2 * row.distance_km / 40
    assert est.travel_hours_saved[i, j] == pytest.approx(travel)
    assert est.benefit[i, j] == pytest.approx(risk[i] * 0.25 + 0.002 * travel)
    clinic = est.settings.index("clinic")
    assert np.all(est.benefit[:, clinic] == 0)
    expected_eligible = cohort.eval(home.eligibility).to_numpy()
    assert np.array_equal(est.eligible[:, j], expected_eligible)
    long = est.long_table()
    assert len(long) == len(cohort) * 2 and "home_nurse_hours" in long.columns


def test_problem_holds_every_limit_family(cohort: pd.DataFrame) -> None:
    loaded = load_scenario(SCENARIOS / "equity_frail.toml")
    est = estimate(cohort, np.full(len(cohort), 0.2), loaded)
    problem = build_problem(loaded, est, cohort)
    kinds = {limit.name: limit.kind for limit in problem.limits}
    assert kinds["budget"] == "budget"
    assert kinds["home_nurse_hours"] == "resource"
    assert kinds["home_patients"] == "places"
    assert kinds["frail_elderly_at_home"] == "equity"
    equity = next(limit for limit in problem.limits if limit.kind == "equity")
    group = cohort.eval("age >= 75 and frailty >= 5").to_numpy()
    share = loaded.scenario.equity[0].min_share
    assert equity.lower == np.ceil(share * group.sum())
    assert problem.allowed[:, problem.default_setting].all()
    everyone_at_clinic = np.zeros(problem.n_patients, dtype=int)
    assert "frail_elderly_at_home" in problem.violations(everyone_at_clinic) or group.sum() < 20


def test_pins_fix_a_patient(tmp_path: Path, cohort: pd.DataFrame) -> None:
    path = write_scenario(tmp_path, 'extends = "baseline.toml"\nname = "p"\n[pins]\nSYN000004 = "home"\n')
    loaded = load_scenario(path)
    est = estimate(cohort, np.full(len(cohort), 0.2), loaded)
    problem = build_problem(loaded, est, cohort)
    i = int(
        np.flatnonzero(
            cohort["patient_id"].to_numpy()
            == prepare_cohort(synthesize_cohort(300, seed=3), source="t")["patient_id"].iloc[3]
        )[0]
    )
    assert problem.allowed[i].tolist() == [False, True]


def test_unknown_pinned_patient_and_bad_expression(tmp_path: Path, cohort: pd.DataFrame) -> None:
    path = write_scenario(tmp_path, 'extends = "baseline.toml"\nname = "p"\n[pins]\nNOBODY = "home"\n')
    loaded = load_scenario(path)
    est = estimate(cohort, np.full(len(cohort), 0.2), loaded)
    assert "NOBODY" not in str(loaded.raw)  # pseudonymised as soon as read
    with pytest.raises(ScenarioError, match="field 'pins'") as caught:
        build_problem(loaded, est, cohort)
    assert "NOBODY" not in str(caught.value)
    path = write_scenario(
        tmp_path, 'extends = "baseline.toml"\nname = "e"\n[settings.home]\neligibility = "distnce_km < 5"\n', "e.toml"
    )
    with pytest.raises(ScenarioError, match=r"settings\.home\.eligibility.*distnce_km"):
        estimate(cohort, np.full(len(cohort), 0.2), load_scenario(path))


def test_quantities_and_effects_as_expressions(tmp_path: Path) -> None:
    """[quantities] and an effect per patient come from the scenario; the stated defaults give
    exactly the built-in transfusion estimates."""
    cohort = prepare_cohort(synthesize_cohort(300, seed=4), source="t")
    risk = np.linspace(0.05, 0.5, 300)
    stated = estimate(cohort, risk, load_scenario(write_scenario(tmp_path, 'extends = "baseline.toml"\nname = "a"\n')))
    doubled = estimate(
        cohort,
        risk,
        load_scenario(
            write_scenario(
                tmp_path,
                'extends = "baseline.toml"\nname = "b"\n[quantities]\nvisits = "transfusions_per_28d * horizon_weeks / 2"\n'
                '[settings.home]\neffect = "where(frailty >= 6, 0.35, 0.2)"\n',
                "b.toml",
            )
        ),
    )
    home = stated.settings.index("home")
    per_visit = stated.usage["day_unit_nurse_hours"][:, 0]
    assert np.allclose(doubled.usage["day_unit_nurse_hours"][:, 0], 2 * per_visit)
    frail = cohort["frailty"].to_numpy() >= 6
    assert np.allclose(doubled.readmissions_avoided[frail, home], 0.35 * risk[frail])
    assert np.allclose(doubled.readmissions_avoided[~frail, home], 0.2 * risk[~frail])

    too_big = write_scenario(
        tmp_path, 'extends = "baseline.toml"\nname = "c"\n[settings.home]\neffect = "risk * 5"\n', "c.toml"
    )
    with pytest.raises(ScenarioError, match=r"settings\.home\.effect.*An effect is a relative risk reduction"):
        estimate(cohort, risk, load_scenario(too_big))
    negative = write_scenario(
        tmp_path, 'extends = "baseline.toml"\nname = "d"\n[quantities]\ndistance_km = "distance_km - 1000"\n', "d.toml"
    )
    with pytest.raises(ScenarioError, match=r"quantities\.distance_km.*must not be negative"):
        estimate(cohort, risk, load_scenario(negative))
    hostile = write_scenario(
        tmp_path, 'extends = "baseline.toml"\nname = "e"\n[quantities]\nvisits = "__import__(\'os\')"\n', "e.toml"
    )
    with pytest.raises(ScenarioError, match=r"quantities\.visits"):
        load_scenario(hostile)


def test_quantities_a_scenario_leaves_out_are_its_domains(tmp_path: Path) -> None:
    """No dataset's column names in the scenario model: unstated quantities come from the domain."""
    from optalloc.domains.base import ONE_EPISODE

    path = tmp_path / "bare.toml"
    path.write_text(
        'name = "bare"\n[cohort]\nsource = "synthetic"\npatients = 50\n'
        "[settings.clinic]\ndefault = true\ncost_per_visit = 1.0\n[settings.home]\ncost_per_visit = 1.0\n"
    )
    loaded = load_scenario(path)
    assert loaded.scenario.quantities.stated() == {"visits": None, "units_per_visit": None, "distance_km": None}
    cohort = prepare_cohort(synthesize_cohort(50, seed=2), source="t")
    transfusion = estimate_with(cohort, np.full(50, 0.2), loaded, TRANSFUSION.quantities)
    visits = cohort["transfusions_per_28d"].to_numpy(float) * loaded.scenario.horizon_weeks / 4
    assert np.allclose(transfusion.cost[:, 0], visits)
    episode = estimate_with(cohort, np.full(50, 0.2), loaded, ONE_EPISODE)
    assert np.allclose(episode.cost, 1.0)
