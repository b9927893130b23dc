"""A hospital table with its own column names, codes and units, mapped to a cohort and planned."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.synth import synthesize_cohort
from tests.helpers.files import write_scenario

runner = CliRunner()

MAPPING = """
domain = "transfusion"
[columns]
patient_id = "MRN"
age = "Age (years)"
sex = "Gender"
diagnosis = "Primary diagnosis"
transfusions_per_28d = "Transfusions / 4 weeks"
units_per_visit = "Units per visit"
haemoglobin_g_dl = "Hb (g/L)"
distance_km = "Distance (km)"
frailty = "CFS"
comorbidity_count = "Comorbidities"
prior_reaction = "Previous reaction"
admissions_past_year = "Admissions 12m"
ed_visits_past_year = "ED visits 12m"
readmitted_30d = "Readmitted <30d"
[codes.sex]
Female = "F"
Male = "M"
[codes.prior_reaction]
Y = "true"
N = "false"
[units]
haemoglobin_g_dl = 0.1
"""
THEIRS = {
    "patient_id": "MRN",
    "age": "Age (years)",
    "sex": "Gender",
    "diagnosis": "Primary diagnosis",
    "transfusions_per_28d": "Transfusions / 4 weeks",
    "units_per_visit": "Units per visit",
    "haemoglobin_g_dl": "Hb (g/L)",
    "distance_km": "Distance (km)",
    "frailty": "CFS",
    "comorbidity_count": "Comorbidities",
    "prior_reaction": "Previous reaction",
    "admissions_past_year": "Admissions 12m",
    "ed_visits_past_year": "ED visits 12m",
    "readmitted_30d": "Readmitted <30d",
}


def hospital_table(folder: Path, n: int = 300) -> Path:
    """The built-in cohort as another hospital exports it: its names, codes and g/L."""
    cohort = synthesize_cohort(n, seed=5).drop(columns=["true_type"])
    cohort["patient_id"] = [f"MRN-{k:06d}" for k in range(n)]
    cohort["sex"] = cohort["sex"].map({"F": "Female", "M": "Male"})
    cohort["prior_reaction"] = cohort["prior_reaction"].map({True: "Y", False: "N"})
    cohort["haemoglobin_g_dl"] = (cohort["haemoglobin_g_dl"] * 10).round(1)
    path = folder / "export.csv"
    cohort.rename(columns=THEIRS).to_csv(path, index=False)
    return path


def test_a_mapped_table_becomes_a_cohort_and_a_plan(tmp_path: Path) -> None:
    table = hospital_table(tmp_path)
    mapping = tmp_path / "map.toml"
    mapping.write_text(MAPPING)
    result = runner.invoke(app, ["cohort", "import", str(table), "--name", "west", "--mapping", str(mapping)])
    assert result.exit_code == 0, result.output
    assert "imported 300 patients as transfusion cohort 'west'" in result.output
    scenario = write_scenario(
        tmp_path, 'extends = "baseline.toml"\nname = "west"\n[cohort]\nsource = "workspace"\ntable = "west"\n', "w.toml"
    )
    solved = runner.invoke(app, ["solve", str(scenario), "--json", "--no-record"])
    assert solved.exit_code == 0, solved.output
    payload = json.loads(solved.stdout)
    assert payload["patients"] == 300 and payload["status"] == "OPTIMAL"
    from optalloc.workspace import Workspace

    stored = Workspace().load_cohort("west")
    original = synthesize_cohort(300, seed=5)
    assert stored["haemoglobin_g_dl"].round(2).tolist() == original["haemoglobin_g_dl"].round(2).tolist()
    assert not stored["patient_id"].str.startswith("MRN").any()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda m, t: (m.replace('"CFS"', '"Frailty"'), t), "maps to column(s) 'Frailty', which"),
        (
            lambda m, t: (m.replace('frailty = "CFS"\n', ""), t),
            'no column for frailty (required by the transfusion domain). Add frailty = "<your column>"',
        ),
        (
            lambda m, t: (m, t.assign(Gender=t["Gender"].where(t.index != 6, "Unknown"))),
            "row 7, column sex: the code 'Unknown' is not in [codes.sex]",
        ),
        (
            lambda m, t: (m, t.assign(**{"Hb (g/L)": t["Hb (g/L)"].astype(str).where(t.index != 2, "high")})),
            "row 3, column haemoglobin_g_dl: 'high' is not a number",
        ),
        (lambda m, t: (m.replace("haemoglobin_g_dl = 0.1", "haemoglobin_g_dl = 1.0"), t), "haemoglobin_g_dl"),
        (lambda m, t: (m.replace("[units]", "[unit]"), t), "unknown section(s) unit"),
    ],
)
def test_mapping_problems_are_named_and_nothing_is_stored(tmp_path: Path, edit, message) -> None:
    table_path = hospital_table(tmp_path)
    text, table = edit(MAPPING, pd.read_csv(table_path, dtype={"MRN": str}))
    table.to_csv(table_path, index=False)
    mapping = tmp_path / "map.toml"
    mapping.write_text(text)
    result = runner.invoke(app, ["cohort", "import", str(table_path), "--name", "west", "--mapping", str(mapping)])
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")
    assert "west" not in runner.invoke(app, ["cohort", "list"]).output


STAYS_MAPPING = """
domain = "readmission"
[columns]
patient_id = "Hospital number"
age = "Age"
gender = "Sex"
length_of_stay = "LOS (days)"
acute_admission = "Emergency admission"
inpatient_visits_365d = "Admissions 12m"
er_visits_365d = "ED 12m"
er_visits_182d = "ED 6m"
diagnosis_codes = "Diagnoses"
readmitted_30d = "Back within 30 days"
"""


def test_a_mapped_stays_export_becomes_a_readmission_plan(tmp_path: Path) -> None:
    """A hospital's discharge export (other names) -> stays in the workspace -> readmission plan and report."""
    from sqlalchemy import create_engine

    from optalloc.cohort.omop import read_omop
    from optalloc.report import ReportOptions, build_report
    from tests.helpers.omop_cdm import build_cdm

    url = f"sqlite:///{tmp_path / 'cdm.db'}"
    build_cdm(create_engine(url), random_persons=200, seed=1)
    stays = read_omop(url).stays
    stays["patient_id"] = stays["patient_id"].map({p: f"H{k:05d}" for k, p in enumerate(stays["patient_id"].unique())})
    export = stays.rename(columns=tomllib.loads(STAYS_MAPPING)["columns"])
    export.to_csv(tmp_path / "discharges.csv", index=False)
    (tmp_path / "map.toml").write_text(STAYS_MAPPING)
    result = runner.invoke(
        app,
        [
            "cohort",
            "import",
            str(tmp_path / "discharges.csv"),
            "--name",
            "stays",
            "--mapping",
            str(tmp_path / "map.toml"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert f"imported {len(stays)} stays as readmission cohort 'stays'" in result.output

    base = (Path(__file__).resolve().parents[2] / "scenarios" / "readmission" / "baseline.toml").read_text()
    text = base.replace('source = "vendored"', 'source = "workspace"\ntable = "stays"')
    text = text.replace('eligibility = "num_medications >= 10"', 'eligibility = "charlson >= 1"')
    text = text.replace(
        'eligibility = "number_inpatient >= 1 or number_emergency >= 1 or time_in_hospital >= 7"',
        'eligibility = "inpatient_visits_365d >= 1 or length_of_stay >= 5"',
    )
    for big, small in (("30000", "60"), ("6000", "20"), ("2500", "10"), ("1500000", "8000")):
        text = text.replace(f"= {big}\n", f"= {small}\n")
    scenario = tmp_path / "stays.toml"
    scenario.write_text(text)
    solved = runner.invoke(app, ["solve", str(scenario), "--json", "--no-record"])
    assert solved.exit_code == 0, solved.output
    payload = json.loads(solved.stdout)
    assert payload["patients"] == stays["patient_id"].nunique()
    report, _ = build_report([scenario], ReportOptions())
    assert {"segments", "risk", "equity"} <= {section.key for section in report.sections}


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--domain", "readmission"], "--domain goes with --mapping"),
        (["--mapping", "map.toml", "--url", "sqlite://"], "--mapping reads a file"),
        (["--mapping", "map.toml", "--domain", "oncology"], "a mapping can target transfusion or readmission"),
    ],
)
def test_mapping_options_out_of_place_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, extra, message
) -> None:
    monkeypatch.chdir(tmp_path)
    table = hospital_table(tmp_path)
    (tmp_path / "map.toml").write_text(MAPPING.replace('domain = "transfusion"\n', ""))
    result = runner.invoke(app, ["cohort", "import", str(table), "--name", "west", *extra])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
