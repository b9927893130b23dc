"""Risk of a large cohort from models cross-validated on a sample of its patients."""

from __future__ import annotations

import numpy as np

from optalloc.cohort.load import prepare_cohort
from optalloc.cohort.synth import synthesize_cohort
from optalloc.risk.cohort import cohort_risk


def test_a_sampled_fit_scores_everyone_and_keeps_out_of_fold_risk_inside_the_sample() -> None:
    cohort = prepare_cohort(synthesize_cohort(3000, seed=3), source="synthetic")
    full = cohort_risk(cohort, seed=0, n_splits=3, sample=None)
    sampled = cohort_risk(cohort, seed=0, n_splits=3, sample=1500)
    again = cohort_risk(cohort, seed=0, n_splits=3, sample=1500)
    assert sampled.probability.shape == (3000,)
    assert np.isfinite(sampled.probability).all()
    assert np.array_equal(sampled.probability, again.probability)  # seeded
    assert not np.allclose(sampled.probability, full.probability)  # it did sample
    # the same risk ordering, near enough to rank patients by
    ranks = np.corrcoef(np.argsort(np.argsort(full.probability)), np.argsort(np.argsort(sampled.probability)))[0, 1]
    assert ranks > 0.9
    assert abs(sampled.probability.mean() - full.probability.mean()) < 0.02
