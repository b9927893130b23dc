"""The readmission domain end to end: discharges (Diabetes 130 format) to a plan, by scenario."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.diabetes130 import DEV_DATA_PATH
from optalloc.domains import get_domain
from optalloc.pipeline import prepare, solve_prepared
from optalloc.scenario import load_scenario

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def discharges(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every encounter of 600 randomly chosen patients, in the published format."""
    raw = pd.read_csv(DEV_DATA_PATH, dtype=str, keep_default_na=False)
    keep = np.random.default_rng(1).choice(raw["patient_nbr"].unique(), 600, replace=False)
    path = tmp_path_factory.mktemp("readmission") / "discharges.csv"
    raw[raw["patient_nbr"].isin(keep)].to_csv(path, index=False)
    return path


def _scenario(folder: Path, discharges: Path, extra: str = "", name: str = "small") -> Path:
    base = (REPO / "scenarios" / "readmission" / "baseline.toml").read_text()
    text = base.replace('source = "vendored"', f'source = "file"\npath = "{discharges}"')
    text = text.replace("nurse_hours = 30000", "nurse_hours = 300").replace("budget = 1500000", "budget = 15000")
    text = text.replace("pharmacist_hours = 6000", "pharmacist_hours = 60").replace(
        "clinic_hours = 2500", "clinic_hours = 25"
    )
    path = folder / f"{name}.toml"
    path.write_text(text.replace('name = "readmission_baseline"', f'name = "{name}"') + extra)
    return path


def test_discharges_become_one_row_per_patient_with_risk_and_a_plan(tmp_path: Path, discharges: Path) -> None:
    prepared = prepare(_scenario(tmp_path, discharges))
    cohort = prepared.cohort
    assert len(cohort) == cohort["patient_id"].nunique() <= 600
    assert cohort["patient_id"].str.match(r"^p[0-9a-f]{16}$").all()  # pseudonyms only
    assert {"readmitted_30d", "age", "number_inpatient", "lace"} <= set(cohort.columns)
    assert np.all((prepared.risk > 0) & (prepared.risk < 1))
    outcome = solve_prepared(prepared)
    assert outcome.result.status.has_plan
    kpis = outcome.result.patients_per_setting(prepared.problem)
    assert sum(kpis.values()) == len(cohort)
    pharmacist = prepared.problem.settings.index("pharmacist")
    eligible = prepared.problem.allowed[:, pharmacist]
    assert np.array_equal(eligible, cohort["num_medications"].to_numpy() >= 10)


def test_eligibility_may_name_the_predicted_risk(tmp_path: Path, discharges: Path) -> None:
    path = _scenario(tmp_path, discharges, name="r")
    text = path.read_text().replace(
        "staff_hours_per_visit = { nurse_hours = 1.0 }",
        'staff_hours_per_visit = { nurse_hours = 1.0 }\neligibility = "risk >= 0.15"',
        1,
    )
    path.write_text(text)
    prepared = prepare(load_scenario(path))
    phone = prepared.problem.settings.index("phone")
    assert 0 < prepared.problem.allowed[:, phone].sum() < len(prepared.cohort)
    assert np.array_equal(prepared.problem.allowed[:, phone], prepared.risk >= 0.15)


@pytest.mark.parametrize("what_if", ["high_risk_segments.toml", "equity_floor.toml"])
def test_the_segment_what_ifs_plan_by_segment(tmp_path: Path, discharges: Path, what_if: str) -> None:
    """The shipped what-ifs that read the baseline's segments: eligibility by segment, and an
    equity floor for the lowest-risk segment, on a small file of discharges."""
    _scenario(tmp_path, discharges, name="baseline")
    text = (REPO / "scenarios" / "readmission" / what_if).read_text()
    path = tmp_path / what_if
    path.write_text(text)
    prepared = prepare(load_scenario(path))
    cohort = prepared.cohort
    assert sorted(cohort["segment_risk_rank"].unique()) == [1, 2, 3, 4, 5]
    # Segments are named in the domain's words, never by a raw column or code.
    parts = [part.strip() for name in prepared.segmentation.profiles["name"] for part in name.split(",")]
    assert not [part for part in parts if "_" in part or part.isdigit()], parts
    outcome = solve_prepared(prepared)
    assert outcome.result.status.has_plan
    chosen = np.asarray(prepared.problem.settings)[outcome.result.assignment]
    rank = cohort["segment_risk_rank"].to_numpy()
    if what_if == "high_risk_segments.toml":
        clinic = prepared.problem.settings.index("clinic")
        assert np.array_equal(prepared.problem.allowed[:, clinic], rank <= 2)
        assert set(rank[np.isin(chosen, ["clinic", "transitional"])]) <= {1, 2}
    else:
        assert (chosen[rank == 5] == "phone").mean() >= 0.10 - 1e-9


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('domain = "readmission"', 'domain = "oncology"'), "cohort.domain 'oncology' is not a known kind of cohort"),
        (('domain = "readmission"', 'domain = "transfusion"'), "does not fit the transfusion domain"),
    ],
)
def test_an_unknown_domain_or_a_source_it_cannot_read_is_refused(tmp_path: Path, change, message) -> None:
    text = (REPO / "scenarios" / "readmission" / "baseline.toml").read_text().replace(*change)
    path = tmp_path / "bad.toml"
    path.write_text(text)
    result = runner.invoke(app, ["solve", str(path), "--no-record"])
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")


def test_solve_and_explain_a_discharge(tmp_path: Path, discharges: Path) -> None:
    path = _scenario(tmp_path, discharges)
    result = runner.invoke(app, ["solve", str(path), "--json", "--no-record", "--out", str(tmp_path / "plan.csv")])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["status"] in ("OPTIMAL", "FEASIBLE")
    plan = pd.read_csv(tmp_path / "plan.csv")
    patient = plan.loc[plan["setting"] != "usual", "patient_id"].iloc[0]
    explained = runner.invoke(app, ["explain", str(path), "--patient", patient])
    assert explained.exit_code == 0, explained.output
    assert patient in explained.output


def test_a_model_from_risk_train_scores_the_discharges(tmp_path: Path, discharges: Path) -> None:
    model = tmp_path / "lr.skops"
    trained = runner.invoke(
        app,
        ["risk", "train", str(discharges), "--model", "lr", "--out", str(model), "--folds", "2", "--bootstrap", "0"],
    )
    assert trained.exit_code == 0, trained.output
    path = _scenario(tmp_path, discharges, name="with_model")
    path.write_text(path.read_text().replace("seed = 0 ", f'model = "{model}" #', 1))
    fitted_here = prepare(_scenario(tmp_path, discharges, name="fitted_here"))
    prepared = prepare(load_scenario(path))
    assert prepared.risk_metrics is None  # scored, not fitted
    assert np.all((prepared.risk > 0) & (prepared.risk < 1))
    assert not np.allclose(prepared.risk, fitted_here.risk)
    assert solve_prepared(prepared).result.status.has_plan


def test_the_published_intervals_are_distributions_for_uncertainty() -> None:
    loaded = load_scenario(REPO / "scenarios" / "readmission" / "uncertain" / "baseline.toml")
    assert set(loaded.distributions) == {
        f"settings.{s}.effect" for s in ("phone", "pharmacist", "clinic", "transitional")
    }
    pharmacist = loaded.distributions["settings.pharmacist.effect"]
    assert pharmacist.ppf(0.0) == pytest.approx(0.05) and pharmacist.ppf(1.0) == pytest.approx(0.30)
    assert loaded.scenario.settings["pharmacist"].effect == pytest.approx((0.05 + 0.19 + 0.30) / 3)


def test_report_of_a_readmission_scenario(tmp_path: Path, discharges: Path) -> None:
    from optalloc.report import ReportOptions, build_report, render_html
    from optalloc.report.tables import DASH

    report, outcomes = build_report([_scenario(tmp_path, discharges)], ReportOptions(shareable=True))
    # The report shows the scenario's own five segments, those its plan and equity rules read.
    assert outcomes[0].prepared.segmentation is not None and outcomes[0].prepared.segmentation.k == 5
    keys = [section.key for section in report.sections]
    assert {"segments", "risk", "equity", "certificate"} <= set(keys)
    segments = next(section for section in report.sections if section.key == "segments")
    declared = set(get_domain("readmission").declaration.words.values())  # rules speak the domain's words
    assert any(any(words in row[3] for words in declared) for row in segments.tables[0].rows)
    assert len(segments.tables[0].rows) == 5
    risk = next(section for section in report.sections if section.key == "risk")
    assert dict(risk.items)["Data source"].startswith("the patient file")
    # The scenario's segment columns came after the risk: never listed as its predictors.
    assert "segment" not in dict(risk.items)["Predictors"]
    # The segments table shows the domain's age column (Diabetes 130: the band's midpoint).
    assert segments.tables[0].columns[-1] == "mean age"
    assert all(row[-1] not in ("", DASH) for row in segments.tables[0].rows)
    assert "first discharge" in dict(risk.items)["Model building"]
    html = render_html(report)
    assert "By age band." in html and "[70-80)" in html and "By segment." in html
