"""LACE points by hand; patient-grouped folds; metrics; out-of-fold predictions never see their label."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optalloc.risk.lace import charlson_points, ed_points, lace_score, length_of_stay_points
from optalloc.risk.models import make_model
from optalloc.risk.validation import (
    bootstrap_metrics,
    calibration_slope_intercept,
    cross_validate,
    grouped_splits,
    point_metrics,
)


def test_lace_components_by_hand() -> None:
    assert length_of_stay_points([0.5, 1, 2, 3, 4, 6, 7, 13, 14, 30]).tolist() == [0, 1, 2, 3, 4, 4, 5, 5, 7, 7]
    assert charlson_points([0, 1, 2, 3, 4, 9]).tolist() == [0, 1, 2, 3, 5, 5]
    assert ed_points([0, 1, 3, 4, 12]).tolist() == [0, 1, 3, 4, 4]
    # 5 days (4) + acute (3) + Charlson 2 (2) + 1 ED visit (1) = 10
    # 14 days (7) + acute (3) + Charlson 5 (5) + 6 ED visits (4) = 19, the maximum
    # 1 day (1) + elective (0) + Charlson 0 (0) + no ED visit (0) = 1
    assert lace_score([5, 14, 1], [True, True, False], [2, 5, 0], [1, 6, 0]).tolist() == [10, 19, 1]


def _toy(n_patients: int = 300, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    visits = rng.integers(1, 5, n_patients)
    groups = np.repeat([f"p{i}" for i in range(n_patients)], visits)
    x = rng.normal(size=len(groups))
    y = (rng.random(len(groups)) < 1 / (1 + np.exp(-(x * 1.5 - 1.5)))).astype(int)
    return pd.DataFrame({"x": x, "c": rng.choice(["a", "b"], len(groups))}), y, groups


def test_grouped_folds_never_split_a_patient() -> None:
    _, y, groups = _toy()
    splits = grouped_splits(y, groups, n_splits=5, random_state=3)
    assert len(splits) == 5
    seen = np.zeros(len(y), dtype=int)
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        seen[test] += 1
        assert abs(y[test].mean() - y.mean()) < 0.08  # stratified by outcome
    assert (seen == 1).all()


def test_metrics_on_known_predictions() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0.02, 0.6, 20000)
    y = (rng.random(20000) < p).astype(int)
    slope, intercept = calibration_slope_intercept(y, p)
    assert slope == pytest.approx(1.0, abs=0.1) and intercept == pytest.approx(0.0, abs=0.05)
    too_extreme = 1 / (1 + np.exp(-2 * np.log(p / (1 - p))))
    assert calibration_slope_intercept(y, too_extreme)[0] == pytest.approx(0.5, abs=0.06)
    m = point_metrics(y, p, flagged=p >= np.quantile(p, 0.9))
    assert m["prevalence"] == pytest.approx(y.mean())
    assert m["auprc"] > m["prevalence"] and 0.6 < m["auroc"] < 0.8
    assert m["flagged_fraction"] == pytest.approx(0.1, abs=0.01)
    assert 0 < m["precision"] <= 1 and 0 < m["recall"] <= 1


def test_patient_bootstrap_interval_contains_estimate() -> None:
    _, y, groups = _toy()
    p = np.clip(y * 0.3 + 0.2, 0, 1)
    table = bootstrap_metrics(y, p, groups, n_boot=30, random_state=0)
    assert (table["low"] <= table["estimate"] + 1e-12).all()
    assert (table["estimate"] <= table["high"] + 1e-12).all()


def test_out_of_fold_prediction_ignores_own_label() -> None:
    X, y, groups = _toy(150)
    splits = grouped_splits(y, groups, n_splits=3, random_state=0)
    model = make_model("lr", ["x"], ["c"], random_state=0)
    base = cross_validate(model, X, y, groups, splits).probability
    patient = groups[splits[0][1][0]]
    rows = groups == patient
    flipped = y.copy()
    flipped[rows] = 1 - flipped[rows]
    again = cross_validate(model, X, flipped, groups, splits).probability
    np.testing.assert_allclose(again[rows], base[rows])  # own label never scores them
    assert not np.allclose(again[~rows], base[~rows])  # but it does train the other folds
