"""The synthetic cohort: schema, determinism, planted types, eligibility, and its CLI."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from optalloc.cli import cohort as cohort_cli
from optalloc.cohort.schema import COHORT_COLUMNS, validate_cohort
from optalloc.cohort.synth import (
    PATIENT_TYPES,
    TYPE_COLUMN,
    home_transfusion_eligible,
    synthesize_cohort,
)

# The command group alone, so these tests do not depend on other command groups importing.
app = typer.Typer()
cohort_cli.register(app)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return synthesize_cohort(4000, seed=3)


def test_columns_are_the_schema_plus_true_type(cohort: pd.DataFrame) -> None:
    assert list(cohort.columns) == [c.name for c in COHORT_COLUMNS] + [TYPE_COLUMN]
    validated = validate_cohort(cohort.drop(columns=TYPE_COLUMN))
    assert len(validated) == 4000
    assert cohort["patient_id"].iloc[0] == "SYN000001"
    assert cohort["patient_id"].is_unique


def test_deterministic_per_seed_and_different_across_seeds() -> None:
    a = synthesize_cohort(500, seed=11)
    b = synthesize_cohort(500, seed=11)
    c = synthesize_cohort(500, seed=12)
    pd.testing.assert_frame_equal(a, b)
    assert not a.drop(columns="patient_id").equals(c.drop(columns="patient_id"))


def test_planted_types_have_their_shares(cohort: pd.DataFrame) -> None:
    shares = cohort[TYPE_COLUMN].value_counts(normalize=True)
    assert set(shares.index) == {kind.name for kind in PATIENT_TYPES}
    for kind in PATIENT_TYPES:
        assert shares[kind.name] == pytest.approx(kind.share, abs=0.01)
    # Small cohorts still contain every type.
    assert synthesize_cohort(5, seed=0)[TYPE_COLUMN].nunique() == 5


def test_types_differ_where_the_clinic_says_they_do(cohort: pd.DataFrame) -> None:
    by_type = cohort.groupby(TYPE_COLUMN)
    age = by_type["age"].mean()
    assert age["young_haemoglobinopathy"] < 40 < 70 < age["elderly_mds"]
    assert by_type["distance_km"].median()["rural_remote"] > 3 * cohort["distance_km"].median()
    assert by_type["comorbidity_count"].mean().idxmax() == "ckd_anaemia"
    haemo = cohort.loc[cohort[TYPE_COLUMN] == "young_haemoglobinopathy", "diagnosis"]
    assert haemo.isin(["thalassaemia", "sickle_cell_disease"]).all()


def test_readmission_prevalence_and_signal(cohort: pd.DataFrame) -> None:
    prevalence = cohort["readmitted_30d"].mean()
    assert 0.10 <= prevalence <= 0.20
    frail = cohort["frailty"] >= 6
    assert cohort.loc[frail, "readmitted_30d"].mean() > 1.5 * cohort.loc[~frail, "readmitted_30d"].mean()


def test_eligibility_share_and_rule(cohort: pd.DataFrame) -> None:
    eligible = home_transfusion_eligible(cohort)
    assert 0.30 <= eligible.mean() <= 0.50
    assert (cohort.loc[eligible, "transfusions_per_28d"] >= 2).all()
    assert (cohort.loc[eligible, "distance_km"] <= 50).all()
    assert not cohort.loc[eligible, "prior_reaction"].any()
    assert eligible[cohort[TYPE_COLUMN] == "rural_remote"].mean() < 0.1


def test_bad_size_is_refused() -> None:
    with pytest.raises(ValueError, match="n_patients"):
        synthesize_cohort(0)


@pytest.mark.parametrize("name", ["cohort.csv", "cohort.parquet"])
def test_cli_synth_writes_the_table(tmp_path, name: str) -> None:
    target = tmp_path / name
    result = CliRunner().invoke(app, ["cohort", "synth", "--patients", "300", "--seed", "4", "--out", str(target)])
    assert result.exit_code == 0, result.output
    assert "eligible" in result.output
    table = pd.read_csv(target) if name.endswith(".csv") else pd.read_parquet(target)
    assert len(table) == 300
    expected = synthesize_cohort(300, seed=4)
    np.testing.assert_allclose(table["distance_km"], expected["distance_km"])
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_synth_bad_extension_exits_nonzero(tmp_path) -> None:
    result = CliRunner().invoke(app, ["cohort", "synth", "--out", str(tmp_path / "cohort.xlsx")])
    assert result.exit_code == 2
    assert "unknown table format" in result.output
    assert not (tmp_path / "cohort.xlsx").exists()
