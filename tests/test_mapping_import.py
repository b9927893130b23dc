"""A hospital table with its own column names, codes and units, mapped to a cohort and planned."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.synth import synthesize_cohort
from tests.conftest import write_scenario

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
