"""Cohort loading: validation errors name file, column and row; ids are pseudonymised; workspace."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from optalloc.cohort.load import load_cohort_file, load_cohort_sql
from optalloc.cohort.synth import synthesize_cohort
from optalloc.errors import CohortError, OptallocError
from optalloc.io import write_table
from optalloc.privacy import is_pseudonym, pseudonymize, suppress_small_counts
from optalloc.workspace import Workspace


@pytest.fixture
def raw() -> pd.DataFrame:
    return synthesize_cohort(50, seed=1)


def test_round_trip_csv_and_parquet(tmp_path: Path, raw: pd.DataFrame) -> None:
    for name in ("c.csv", "c.parquet"):
        path = write_table(raw, tmp_path / name)
        cohort = load_cohort_file(path)
        assert len(cohort) == 50
        assert cohort["patient_id"].map(is_pseudonym).all()
        assert not cohort["patient_id"].isin(raw["patient_id"]).any()
        assert cohort["prior_reaction"].dtype == bool


def test_pseudonyms_are_keyed_and_stable(monkeypatch: pytest.MonkeyPatch) -> None:
    first = pseudonymize(["123", "456"])
    assert list(pseudonymize(["123", "456"])) == list(first)
    assert not set(pseudonymize(first)) & set(first)  # nothing passes through because it looks hashed
    monkeypatch.setenv("OPTALLOC_PSEUDONYM_KEY", "another-key")
    assert pseudonymize(["123"])[0] != first[0]


def test_key_file_created_when_no_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OPTALLOC_PSEUDONYM_KEY")
    monkeypatch.setenv("OPTALLOC_WORKSPACE", str(tmp_path / "ws"))
    one = pseudonymize(["1"])[0]
    assert (tmp_path / "ws" / "pseudonym.key").exists()
    assert pseudonymize(["1"])[0] == one


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda f: f.drop(columns=["distance_km"]), "missing required column(s) distance_km"),
        (
            lambda f: f.assign(age=f["age"].astype(object).where(f.index != 4, "old")),
            "'age' must be a number but row 5",
        ),
        (lambda f: f.assign(diagnosis=f["diagnosis"].where(f.index != 2, "flu")), "unknown value 'flu' at row 3"),
        (lambda f: f.assign(frailty=f["frailty"].where(f.index != 0, 12)), "'frailty' at row 1"),
        (lambda f: f.assign(prior_reaction=f["prior_reaction"].astype(object).where(f.index != 6, "maybe")), "row 7"),
        (
            lambda f: f.assign(units_per_visit=f["units_per_visit"].astype(float).where(f.index != 1, 1.5)),
            "whole number",
        ),
        (lambda f: f.assign(haemoglobin_g_dl=f["haemoglobin_g_dl"].where(f.index != 9, None)), "empty at row 10"),
        (lambda f: f.drop(columns=["patient_id"]), "no patient identifier"),
        (lambda f: f.iloc[:0], "no rows"),
    ],
)
def test_bad_cohort_files_name_the_problem(tmp_path: Path, raw: pd.DataFrame, mutate, expected: str) -> None:
    path = tmp_path / "bad.csv"
    mutate(raw).to_csv(path, index=False)
    with pytest.raises(CohortError) as info:
        load_cohort_file(path)
    assert expected in str(info.value)
    assert str(path) in str(info.value)


def test_duplicate_patient_and_corrupt_file(tmp_path: Path, raw: pd.DataFrame) -> None:
    path = tmp_path / "dup.csv"
    pd.concat([raw, raw.iloc[[0]]]).to_csv(path, index=False)
    with pytest.raises(CohortError, match="row 51 repeats the identifier 'SYN000001' of row 1"):
        load_cohort_file(path)
    corrupt = tmp_path / "broken.parquet"
    corrupt.write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(OptallocError, match="corrupt"):
        load_cohort_file(corrupt)
    with pytest.raises(OptallocError, match="unknown table format"):
        load_cohort_file(tmp_path / "cohort.xlsx")


def test_mrn_column_becomes_pseudonymous_patient_id(tmp_path: Path, raw: pd.DataFrame) -> None:
    path = tmp_path / "mrn.csv"
    raw.rename(columns={"patient_id": "mrn"}).to_csv(path, index=False)
    cohort = load_cohort_file(path)
    assert "mrn" not in cohort.columns and cohort["patient_id"].map(is_pseudonym).all()


def test_workspace_and_sql_round_trip(tmp_path: Path, raw: pd.DataFrame) -> None:
    url = f"sqlite:///{tmp_path / 'ws.db'}"
    ws = Workspace(url)
    cohort = load_cohort_file(write_table(raw, tmp_path / "c.csv"))
    ws.save_cohort("north", cohort)
    assert ws.cohort_names() == ["north"]
    back = ws.load_cohort("north")
    pd.testing.assert_frame_equal(back, cohort, check_dtype=False)
    via_sql = load_cohort_sql("SELECT * FROM cohort__north", url)
    # a SQL source is foreign: its ids are hashed, even ids that look like pseudonyms
    assert list(via_sql["patient_id"]) == list(pseudonymize(cohort["patient_id"]))
    with pytest.raises(OptallocError, match="no cohort named 'south'"):
        ws.load_cohort("south")
    with pytest.raises(OptallocError, match="not allowed"):
        ws.save_cohort("drop table;", cohort)


def test_small_counts_are_suppressed() -> None:
    frame = pd.DataFrame({"segment": [1, 2, 3], "patients": [0, 5, 40]})
    shared = suppress_small_counts(frame, ["patients"])
    assert shared["patients"].tolist() == [0, "<11", 40]
    # a rate next to a hidden count would give it back, so it goes too
    frame["rate"] = [0.0, 0.4, 0.25]
    shared = suppress_small_counts(frame, ["patients"], derived=["rate"])
    assert shared["rate"].tolist() == [0.0, None, 0.25]


def test_identifiers_keep_leading_zeros_and_match_other_sources(tmp_path: Path, raw: pd.DataFrame) -> None:
    """An MRN ``00123`` is pseudonymised as written, as SQL or a scenario pin would give it."""
    frame = raw.copy()
    frame["patient_id"] = [f"{i:05d}" for i in range(len(frame))]
    path = tmp_path / "zeros.csv"
    frame.to_csv(path, index=False)
    cohort = load_cohort_file(path)
    assert list(cohort["patient_id"]) == list(pseudonymize([f"{i:05d}" for i in range(len(frame))]))


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_an_in_memory_workspace_keeps_what_it_saved(url: str, tmp_path: Path, raw: pd.DataFrame) -> None:
    """One connection for the life of an in-memory database (no pool would give each call a new,
    empty one)."""
    ws = Workspace(url)
    cohort = load_cohort_file(write_table(raw, tmp_path / "c.csv"))
    ws.save_cohort("north", cohort)
    assert ws.cohort_names() == ["north"]
    assert len(ws.load_cohort("north")) == len(cohort)
