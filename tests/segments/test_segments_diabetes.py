"""Diabetes 130 segmentation: planner features by hand, format detection, the CLI on a sample."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from optalloc.cli import segment as segment_cli
from optalloc.cohort.diabetes130 import DEV_DATA_PATH
from optalloc.cohort.synth import synthesize_cohort
from optalloc.domains.diabetes130 import icd9_group, looks_like_diabetes130, planner_frame
from optalloc.errors import CohortError
from optalloc.segments import segment_cohort
from optalloc.segments.rules import candidate_conditions

app = typer.Typer()
segment_cli.register(app)
app.command("noop", hidden=True)(lambda: None)

ROWS = 3000


@pytest.fixture(scope="module")
def sample_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 3,000 encounters of the vendored developer file, header included."""
    path = tmp_path_factory.mktemp("diabetes") / "diabetic_sample.csv"
    with gzip.open(DEV_DATA_PATH, "rt", encoding="utf-8") as source, open(path, "w", encoding="utf-8") as target:
        for number, line in enumerate(source):
            if number > ROWS:
                break
            target.write(line)
    return path


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"OPTALLOC_PSEUDONYM_KEY": "test-key", "OPTALLOC_WORKSPACE": str(tmp_path / "ws"), "COLUMNS": "200"}


def _encounters() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "patient_id": ["pa", "pa", "pb"],
            "encounter_order": [2, 1, 3],
            "age": ["[70-80)", "[60-70)", "[0-10)"],
            "admission_type_id": [1, 3, 6],
            "admission_source_id": [7, 1, 4],
            "time_in_hospital": [5, 2, 1],
            "num_medications": [20, 8, 3],
            "num_procedures": [1, 0, 0],
            "num_lab_procedures": [40, 30, 10],
            "number_diagnoses": [9, 5, 2],
            "number_inpatient": [1, 0, 0],
            "number_emergency": [2, 0, 0],
            "number_outpatient": [0, 0, 3],
            "diag_1": ["428", "250.83", None],
            "insulin": ["Up", "No", "Steady"],
            "change": ["Ch", "No", "No"],
            "diabetesMed": ["Yes", "No", "Yes"],
            "readmitted_30d": [True, False, False],
        }
    )


def test_planner_frame_by_hand() -> None:
    first = planner_frame(_encounters(), which="first").set_index("patient_id")
    assert list(first.index) == ["pa", "pb"]
    pa = first.loc["pa"]  # encounter_order 1: the second row
    assert (pa["age"], pa["age_years"], pa["admission"], pa["arrival"]) == (60, 65, "elective", "referral")
    assert (pa["diagnosis"], pa["insulin"], pa["medication_change"]) == ("diabetes", "No", False)
    pb = first.loc["pb"]
    assert (pb["admission"], pb["arrival"], pb["diagnosis"], pb["prior_visits"]) == (
        "unknown",
        "transfer",
        "missing",
        3,
    )
    last = planner_frame(_encounters(), which="last").set_index("patient_id").loc["pa"]
    assert (last["admission"], last["arrival"], last["diagnosis"]) == ("emergency", "emergency_room", "circulatory")
    assert (last["prior_visits"], last["length_of_stay"], last["medication_change"]) == (3, 5, True)
    assert not {"encounter_id", "patient_nbr", "encounter_order"} & set(first.columns)
    with pytest.raises(CohortError, match="patient_nbr"):
        planner_frame(_encounters().assign(patient_nbr=1))


def test_icd9_groups() -> None:
    codes = pd.Series(["428", "250.83", "V45", "E888", "820", "715", "599", "162", "486", "535", None, "38"])
    expected = [
        "circulatory",
        "diabetes",
        "other",
        "other",
        "injury",
        "musculoskeletal",
        "genitourinary",
        "neoplasms",
        "respiratory",
        "digestive",
        "missing",
        "other",
    ]
    assert list(icd9_group(codes)) == expected


def test_format_detection() -> None:
    assert looks_like_diabetes130(["encounter_id", "patient_nbr", "race", "readmitted"])
    assert looks_like_diabetes130(["patient_nbr", "age"])  # the loader then names what is missing
    assert not looks_like_diabetes130(synthesize_cohort(20, seed=0).columns)


def test_rules_refuse_identifiers_and_outcome() -> None:
    cohort = synthesize_cohort(200, seed=3)
    with pytest.raises(CohortError, match="readmitted_30d"):
        segment_cohort(cohort, k=2, n_base=3, sample_size=100, rule_numeric=["age", "readmitted_30d"])


def test_integer_thresholds_are_observed_values() -> None:
    frame = pd.DataFrame({"age": np.repeat([40.0, 60.0, 70.0], [10, 10, 10])})
    values = {c.value for c in candidate_conditions(frame, ["age"], [])}
    assert values <= {60.0, 70.0}


def test_cli_segments_a_diabetes_file_by_patient(sample_file: Path, tmp_path: Path, env: dict[str, str]) -> None:
    target = tmp_path / "segments.csv"
    argv = ["segment", str(sample_file), "--k", "4", "--json", "--out", str(target)]
    result = CliRunner().invoke(app, argv, env=env)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    raw = pd.read_csv(sample_file, na_values=["?"], keep_default_na=False)
    assert payload["data_format"] == "diabetes130"
    assert payload["n_patients"] == raw["patient_nbr"].nunique() - _dead_only(raw)
    assert payload["k"] == 4 and len(payload["segments"]) == 4
    for segment in payload["segments"]:
        assert segment["rule"]["expression"] and 0 <= segment["rule"]["precision"] <= 1
    written = pd.read_csv(target, dtype=str)
    assert list(written.columns) == ["patient_id", "segment"]
    assert written["patient_id"].str.fullmatch(r"p[0-9a-f]{16}").all()
    assert written["patient_id"].is_unique and len(written) == payload["n_patients"]
    # No real identifier anywhere in what the command wrote.
    text = result.stdout + target.read_text()
    assert "patient_nbr" not in text and "encounter_id" not in text
    identifiers = set(raw["patient_nbr"].astype(str)) | set(raw["encounter_id"].astype(str))
    assert not identifiers & set(written["patient_id"])
    assert not any(f'"{value}"' in result.stdout for value in identifiers)


def _dead_only(raw: pd.DataFrame) -> int:
    """Patients all of whose encounters the loader drops (death or hospice)."""
    dead = raw["discharge_disposition_id"].isin([11, 19, 20, 21])
    return int(
        raw.loc[dead, "patient_nbr"].nunique()
        - raw.loc[~dead & raw["patient_nbr"].isin(raw.loc[dead, "patient_nbr"]), "patient_nbr"].nunique()
    )


def test_cli_incomplete_diabetes_file_names_the_missing_columns(tmp_path: Path, env: dict[str, str]) -> None:
    bad = tmp_path / "encounters.csv"
    pd.DataFrame({"encounter_id": [1], "patient_nbr": [2], "age": ["[70-80)"]}).to_csv(bad, index=False)
    result = CliRunner().invoke(app, ["segment", str(bad)], env=env)
    assert result.exit_code == 2
    assert "missing column" in result.output and "Traceback" not in result.output


def test_cli_table_output_for_diabetes(sample_file: Path, env: dict[str, str]) -> None:
    result = CliRunner().invoke(app, ["segment", str(sample_file), "--k", "3"], env=env)
    assert result.exit_code == 0, result.output
    text = " ".join(result.stdout.split())  # titles wrap at the terminal width
    assert "Diabetes 130" in text and "prior" in text  # headers may be cut at 80 columns
    assert "precision" in text
