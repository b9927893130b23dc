"""The last step of the consensus: a tied mixed-type mixture re-draws the segments' boundaries
from every patient, starting from the ensemble's segment probabilities."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import adjusted_rand_score

from optalloc.cohort.synth import TYPE_COLUMN
from optalloc.cohort.synth_overlap import synthesize_overlap
from optalloc.segments import ConsensusClustering
from optalloc.segments.benchmark import READMISSION_CATEGORICAL, READMISSION_NUMERIC
from optalloc.segments.features import CohortFeatures
from optalloc.segments.mixture import MixedMixture

QUICK = {"n_clusters": 5, "n_base": 6, "sample_size": 400, "n_null": 0, "mixture_criteria": False}


def _overlapping(seed: int) -> tuple[np.ndarray, np.ndarray, list[list[int]]]:
    cohort = synthesize_overlap(3000, seed=seed, domain="readmission")
    encoder = CohortFeatures(numeric=READMISSION_NUMERIC, categorical=READMISSION_CATEGORICAL)
    X = encoder.fit_transform(cohort)
    return X, cohort[TYPE_COLUMN].to_numpy(), encoder.blocks()[1]


@pytest.mark.parametrize("seed", [0, 1])
def test_refining_on_every_patient_recovers_overlapping_types_better(seed: int) -> None:
    X, truth, blocks = _overlapping(seed)
    voted = ConsensusClustering(random_state=seed, categorical_blocks=blocks, refine_steps=0, **QUICK).fit(X)
    refined = ConsensusClustering(random_state=seed, categorical_blocks=blocks, **QUICK).fit(X)
    assert voted.refiner_ is None and refined.refiner_ is not None
    before, after = adjusted_rand_score(truth, voted.labels_), adjusted_rand_score(truth, refined.labels_)
    assert after > before + 0.02, (before, after)
    # Segments stay numbered by size, and predicting the fitted rows gives the fitted labels.
    sizes = np.bincount(refined.labels_)
    assert list(sizes) == sorted(sizes, reverse=True)
    np.testing.assert_array_equal(refined.predict(X), refined.labels_)
    proba = refined.predict_proba(X[:50])
    assert proba.shape == (50, 5) and np.allclose(proba.sum(axis=1), 1.0)


def test_tied_mixture_counts_correlated_columns_once() -> None:
    """Two groups apart along a direction against the columns' shared within-group correlation:
    one shared covariance separates them; independent columns blur them."""
    rng = np.random.default_rng(3)
    n = 1500
    group = rng.integers(0, 2, n)
    cov = np.array([[1.0, 0.95], [0.95, 1.0]])
    X = rng.multivariate_normal([0.0, 0.0], cov, n) + np.outer(group, [0.6, -0.6])
    tied = MixedMixture(2, covariance_type="tied", n_init=3, random_state=0).fit(X)
    diag = MixedMixture(2, covariance_type="diag", n_init=3, random_state=0).fit(X)
    assert adjusted_rand_score(group, tied.labels_) > 0.8
    assert adjusted_rand_score(group, tied.labels_) > adjusted_rand_score(group, diag.labels_) + 0.3
    np.testing.assert_allclose(tied.covariance_, tied.covariance_.T)
    # Weights, means and one covariance: 1 + 2 * 2 + 3 free parameters.
    assert tied.n_parameters() == 8 and diag.n_parameters() == 9


def test_mixture_started_from_given_memberships_takes_exactly_its_steps() -> None:
    rng = np.random.default_rng(4)
    X = np.vstack([rng.normal(0, 1, (200, 3)), rng.normal(3, 1, (200, 3))])
    start = np.repeat(np.eye(2), 200, axis=0)
    fitted = MixedMixture(2, covariance_type="tied", max_iter=1, tol=-np.inf).fit(X, responsibilities=start)
    assert fitted.n_iter_ == 1
    np.testing.assert_allclose(fitted.means_, [X[:200].mean(axis=0), X[200:].mean(axis=0)])
    with pytest.raises(ValueError, match="shape"):
        MixedMixture(2).fit(X, responsibilities=start[:, :1])
    with pytest.raises(ValueError, match="covariance_type"):
        MixedMixture(2, covariance_type="full").fit(X)


def test_tied_covariance_holds_far_from_the_origin() -> None:
    """The pooled scatter is formed from centred columns: columns recorded around 1e8 give the
    same groups and covariance as around 0 (sums of squares would cancel to noise there)."""
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (500, 3)), rng.normal(3, 1, (500, 3))])
    near = MixedMixture(2, covariance_type="tied", random_state=0).fit(X)
    far = MixedMixture(2, covariance_type="tied", random_state=0).fit(X + 1e8)
    np.testing.assert_array_equal(near.labels_, far.labels_)
    np.testing.assert_allclose(near.covariance_, far.covariance_, atol=1e-3)
