"""cohort_risk / predict_cohort on a small transfusion cohort built here from the schema."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optalloc.cohort import schema
from optalloc.errors import CohortError
from optalloc.risk import CohortRisk, cohort_risk, predict_cohort, save_model, train_cohort_model


def make_cohort(n: int = 500, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "patient_id": [f"p{i:016x}" for i in range(n)],
            "age": rng.integers(18, 95, n),
            "sex": rng.choice(schema.SEXES, n),
            "diagnosis": rng.choice(schema.DIAGNOSES, n),
            "transfusions_per_28d": rng.uniform(0, 6, n),
            "units_per_visit": rng.integers(1, 5, n),
            "haemoglobin_g_dl": rng.uniform(5, 12, n),
            "distance_km": rng.gamma(2, 15, n),
            "frailty": rng.integers(1, 10, n),
            "comorbidity_count": rng.poisson(2, n),
            "prior_reaction": rng.random(n) < 0.1,
            "admissions_past_year": rng.poisson(1, n),
            "ed_visits_past_year": rng.poisson(1.5, n),
        }
    )
    logit = -2.0 + 0.5 * frame["admissions_past_year"] + 0.3 * (frame["frailty"] - 5)
    frame["readmitted_30d"] = rng.random(n) < 1 / (1 + np.exp(-logit))
    frame["true_type"] = rng.choice(["a", "b"], n)
    return frame


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return make_cohort(400)


@pytest.fixture(scope="module")
def risk(cohort: pd.DataFrame) -> CohortRisk:
    return cohort_risk(cohort, seed=0, n_splits=3)


def test_cohort_risk_shape_and_metrics(cohort: pd.DataFrame, risk: CohortRisk) -> None:
    assert risk.probability.shape == (len(cohort),)
    assert np.isfinite(risk.probability).all()
    assert ((risk.probability >= 0) & (risk.probability <= 1)).all()
    assert set(risk.metrics["model"]) == {"lr", "hgb"}
    for column in ("auroc", "auprc", "prevalence", "brier", "calibration_slope", "calibration_intercept"):
        assert column in risk.metrics.columns
    assert risk.chosen in {"lr", "hgb"}
    assert risk.metrics["auroc"].max() > 0.65  # the planted signal is found out of fold
    assert risk.metrics["prevalence"].iloc[0] == pytest.approx(cohort["readmitted_30d"].mean())


def test_cohort_risk_ignores_true_type_and_is_reproducible(cohort: pd.DataFrame, risk: CohortRisk) -> None:
    scrambled = cohort.assign(true_type=np.nan)
    again = cohort_risk(scrambled, seed=0, n_splits=3)
    np.testing.assert_allclose(again.probability, risk.probability)


def test_cohort_risk_needs_label(cohort: pd.DataFrame) -> None:
    with pytest.raises(CohortError, match="readmitted_30d"):
        cohort_risk(cohort.drop(columns=["readmitted_30d"]))


def test_predict_cohort_from_object_and_file(cohort: pd.DataFrame, tmp_path: Path) -> None:
    model = train_cohort_model(cohort, "lr", seed=0)
    new = make_cohort(50, seed=1).drop(columns=["readmitted_30d", "true_type"])
    direct = predict_cohort(model, new)
    assert direct.shape == (50,) and ((direct > 0) & (direct < 1)).all()
    path = save_model(model, tmp_path / "cohort.model")
    np.testing.assert_allclose(predict_cohort(path, new), direct)
    with pytest.raises(CohortError, match="frailty"):
        predict_cohort(model, new.drop(columns=["frailty"]))
    garbled = new.assign(age=new["age"].astype(object).where(new.index != 4, "old"))
    with pytest.raises(CohortError, match="'age' must be a number but row 5"):
        predict_cohort(model, garbled)


def test_synthesised_cohort_if_available() -> None:
    synth = pytest.importorskip("optalloc.cohort.synth")
    if not hasattr(synth, "synthesize_cohort"):
        pytest.skip("synthesiser not available yet")
    cohort = synth.synthesize_cohort(300, seed=0)
    result = cohort_risk(cohort, seed=0, n_splits=2)
    assert result.probability.shape == (len(cohort),)
