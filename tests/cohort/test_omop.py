"""OMOP CDM input: index stays, labels, features and identifiers from a CDM built from its DDL."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import create_engine
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.omop import read_omop
from optalloc.domains.stays import readmission_design
from optalloc.errors import CohortError
from optalloc.privacy import pseudonymize
from tests.helpers.omop_cdm import build_cdm

runner = CliRunner()


def _sqlite(tmp_path: Path, **options: object) -> str:
    url = f"sqlite:///{tmp_path / 'cdm.db'}"
    build_cdm(create_engine(url), **options)
    return url


def _by_person(stays: pd.DataFrame, person: int) -> pd.DataFrame:
    return stays[stays["patient_id"] == pseudonymize([str(person)])[0]].sort_values("admission_date")


@pytest.mark.parametrize("options", [{}, {"upper": True, "version": "5.3"}])
def test_index_stays_labels_and_counts(tmp_path: Path, options: dict) -> None:
    built = read_omop(_sqlite(tmp_path, **options))
    stays = built.stays
    assert len(stays) == 6 and built.n_deaths_excluded == 1  # person 3 died in hospital
    one = _by_person(stays, 1)
    assert one["readmitted_30d"].tolist() == [True, False]  # 15 days later, then none
    assert one["length_of_stay"].tolist() == [4, 2] and one["inpatient_visits_365d"].tolist() == [0, 1]
    assert one["diagnosis_codes"].iloc[0] == "ICD10CM:E11.9;ICD10CM:I50.9"
    assert one["age"].iloc[0] == 70 and one["gender"].iloc[0] == "Male" and one["race"].iloc[0] == "White"
    two = _by_person(stays, 2)
    assert two["readmitted_30d"].tolist() == [False, False]  # 35 days is outside the window
    assert two["acute_admission"].tolist() == [True, False]
    assert two["er_visits_365d"].tolist() == [1, 2] and two["er_visits_182d"].tolist() == [1, 2]
    assert two["diagnosis_codes"].iloc[0] == "ICD9CM:428.0"
    four = _by_person(stays, 4)
    assert four["readmitted_30d"].tolist() == [False, False]  # same-day start is a transfer
    assert "person_id" not in stays.columns
    assert not stays["patient_id"].isin(["1", "2", "3", "4"]).any()


def test_stays_feed_the_readmission_design(tmp_path: Path) -> None:
    stays = read_omop(_sqlite(tmp_path)).stays
    design = readmission_design(stays)
    first = _by_person(stays, 1).index[0]
    # E11.9 (diabetes, 1) + I50.9 (heart failure, 1); LACE: stay 4 days (4) + not acute + C 2 + E 0
    assert design.X.loc[first, "charlson"] == 2 and design.X.loc[first, "lace"] == 6
    assert design.X.loc[first, "n_dx_circulatory"] == 1 and design.domain == "readmission"


def test_missing_tables_and_bad_urls_are_clear(tmp_path: Path) -> None:
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    create_engine(empty).connect().close()
    with pytest.raises(CohortError, match="no OMOP table"):
        read_omop(empty)
    with pytest.raises(CohortError, match="could not be opened"):
        read_omop("nosuchdialect://user:secret@host/db")
    with pytest.raises(CohortError) as caught:
        read_omop("postgresql+psycopg://user:secret@127.0.0.1:1/db")
    assert "secret" not in str(caught.value) and "***" in str(caught.value)


def test_cli_import_then_risk_train_and_track(tmp_path: Path) -> None:
    url = _sqlite(tmp_path, random_persons=400, seed=1)
    stays_file = tmp_path / "stays.csv"
    result = runner.invoke(app, ["cohort", "import", "--omop", url, "--name", "stays", "--out", str(stays_file)])
    assert result.exit_code == 0, result.output
    assert "inpatient stays" in result.output and stays_file.exists()
    model = tmp_path / "risk.model"
    trained = runner.invoke(
        app,
        ["risk", "train", str(stays_file), "--model", "lr", "--folds", "2", "--bootstrap", "0", "--out", str(model)],
    )
    assert trained.exit_code == 0, trained.output
    assert "LACE" in trained.output
    tracked = runner.invoke(
        app, ["track", str(stays_file), "--model", str(model), "--period", "quarter", "--json", "--no-record"]
    )
    assert tracked.exit_code == 0, tracked.output
    payload = json.loads(tracked.stdout)
    assert payload["period_kind"] == "calendar quarter" and len(payload["periods"]) >= 4
