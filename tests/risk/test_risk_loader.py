"""Diabetes 130 loader: exclusions, missing values, pseudonyms, and errors that say where."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from optalloc.cohort.diabetes130 import DEV_DATA_PATH, IDS_MAPPING_PATH, load_diabetes130, read_code_tables
from optalloc.errors import CohortError
from optalloc.privacy import is_pseudonym


@pytest.fixture(scope="module")
def raw_head() -> pd.DataFrame:
    """The first 40 published rows, as text (exactly as a user would hold them)."""
    return pd.read_csv(DEV_DATA_PATH, dtype=str, keep_default_na=False, nrows=40)


def _write(frame: pd.DataFrame, folder: Path, name: str = "enc.csv") -> Path:
    path = folder / name
    frame.to_csv(path, index=False)
    return path


def test_vendored_files_and_code_tables() -> None:
    assert DEV_DATA_PATH.exists() and IDS_MAPPING_PATH.exists()
    assert (DEV_DATA_PATH.parent / "ATTRIBUTION.md").read_text().count("CC BY 4.0") >= 1
    tables = read_code_tables()
    assert tables["admission_type_id"][1] == "Emergency"
    assert tables["discharge_disposition_id"][11] == "Expired"
    assert 26 in tables["admission_source_id"]


def test_exclusions_counted_missing_and_pseudonyms(raw_head: pd.DataFrame, tmp_path: Path) -> None:
    frame = raw_head.copy()
    frame["discharge_disposition_id"] = "1"
    frame.loc[[0, 1, 2], "discharge_disposition_id"] = ["11", "19", "20"]
    frame.loc[3, "discharge_disposition_id"] = "21"
    frame.loc[5, "race"] = "?"
    data = load_diabetes130(_write(frame, tmp_path))
    assert data.n_excluded == 4
    assert data.n_encounters == len(frame) - 4
    enc = data.encounters
    assert "patient_nbr" not in enc.columns and "encounter_id" not in enc.columns
    assert enc["patient_id"].map(is_pseudonym).all()
    real_ids = set(frame["patient_nbr"])
    assert not real_ids & set(enc["patient_id"])
    # "?" is missing; the word "None" (no test done) stays a value, not a missing one
    kept_race = enc.set_index("encounter_order")["race"]
    assert kept_race.isna().sum() == (frame.loc[4:, "race"] == "?").sum()
    assert (enc["max_glu_serum"] == "None").any()
    assert enc["encounter_order"].is_monotonic_increasing
    assert enc["readmitted_30d"].sum() == (frame.loc[4:, "readmitted"] == "<30").sum()
    # same key, same pseudonym; the same patient keeps one pseudonym across rows
    again = load_diabetes130(_write(frame, tmp_path, "again.csv"))
    assert list(again.encounters["patient_id"]) == list(enc["patient_id"])


def test_missing_column_names_file_and_column(raw_head: pd.DataFrame, tmp_path: Path) -> None:
    path = _write(raw_head.drop(columns=["A1Cresult"]), tmp_path)
    with pytest.raises(CohortError, match=r"enc\.csv: missing column\(s\) A1Cresult"):
        load_diabetes130(path)


def test_unknown_admission_type_names_row(raw_head: pd.DataFrame, tmp_path: Path) -> None:
    frame = raw_head.copy()
    frame.loc[6, "admission_type_id"] = "42"
    with pytest.raises(CohortError) as info:
        load_diabetes130(_write(frame, tmp_path))
    message = str(info.value)
    assert "admission_type_id" in message and "row 7" in message and "'42'" in message
    assert "enc.csv" in message and "IDs_mapping.csv" in message


def test_unknown_readmitted_value(raw_head: pd.DataFrame, tmp_path: Path) -> None:
    frame = raw_head.copy()
    frame.loc[2, "readmitted"] = "<60"
    with pytest.raises(CohortError, match=r"'readmitted' at row 3 holds '<60'"):
        load_diabetes130(_write(frame, tmp_path))


@pytest.mark.parametrize("age", ["75", "?", "[70-80", "[80-70)", "[110-120)", "[70-75)"])
def test_age_outside_the_band_coding(raw_head: pd.DataFrame, tmp_path: Path, age: str) -> None:
    frame = raw_head.copy()
    frame.loc[1, "age"] = age
    with pytest.raises(CohortError, match=r"'age' at row 2 .*ten-year band"):
        load_diabetes130(_write(frame, tmp_path))


@pytest.mark.parametrize("code", ["XYZ", "4280.1", "250,83", "V4511.2"])
def test_impossible_diagnosis_code(raw_head: pd.DataFrame, tmp_path: Path, code: str) -> None:
    frame = raw_head.copy()
    frame.loc[3, "diag_2"] = code
    with pytest.raises(CohortError, match=r"'diag_2' at row 4 .*not an ICD-9-CM code"):
        load_diabetes130(_write(frame, tmp_path))


def test_non_numeric_count_and_missing_file(raw_head: pd.DataFrame, tmp_path: Path) -> None:
    frame = raw_head.copy()
    frame.loc[0, "number_inpatient"] = "two"
    with pytest.raises(CohortError, match=r"'number_inpatient'.*row 1"):
        load_diabetes130(_write(frame, tmp_path))
    with pytest.raises(CohortError, match="no such file"):
        load_diabetes130(tmp_path / "absent.csv")


def test_parquet_copy_reads_question_marks_as_missing(raw_head: pd.DataFrame, tmp_path: Path) -> None:
    """The same rows as Parquet (where "?" survives as text) load exactly as from CSV."""
    frame = raw_head.copy()
    frame.loc[5, "race"] = "?"
    from_csv = load_diabetes130(_write(frame, tmp_path)).encounters
    parquet = tmp_path / "enc.parquet"
    frame.to_parquet(parquet, index=False)
    from_parquet = load_diabetes130(parquet).encounters
    assert from_parquet["race"].isna().sum() == from_csv["race"].isna().sum() > 0
    pd.testing.assert_frame_equal(from_parquet.reset_index(drop=True), from_csv.reset_index(drop=True))
