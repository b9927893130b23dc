"""Consensus clustering: recovers planted types, is deterministic, never builds an n x n matrix."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.metrics import adjusted_rand_score

from optalloc.cohort.synth import TYPE_COLUMN, synthesize_cohort
from optalloc.errors import CohortError
from optalloc.segments import CohortFeatures, ConsensusClustering, segment_cohort
from optalloc.segments.selection import choose_k, consensus_index, proportion_ambiguous

FAST = {"n_base": 6, "sample_size": 600}


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return synthesize_cohort(2000, seed=1)


def test_recovers_planted_types_and_chooses_their_number(cohort: pd.DataFrame) -> None:
    result = segment_cohort(cohort, k="auto", seed=0, sample_size=1000, n_base=10)
    assert result.k == 5
    assert adjusted_rand_score(cohort[TYPE_COLUMN], result.labels) >= 0.85
    assert result.k_table["chosen"].sum() == 1
    assert list(result.k_table["k"]) == list(range(2, 9))
    assert result.k_table["reason"].str.len().gt(0).all()


def test_features_ignore_identifiers_outcome_and_planted_type(cohort: pd.DataFrame) -> None:
    encoder = CohortFeatures().fit(cohort)
    shuffled = cohort.assign(
        true_type=cohort[TYPE_COLUMN].sample(frac=1.0, random_state=0).to_numpy(),
        readmitted_30d=~cohort["readmitted_30d"],
        patient_id=cohort["patient_id"].str.lower(),
    )
    np.testing.assert_array_equal(encoder.transform(cohort), encoder.transform(shuffled))
    assert not any(n.startswith(("true_type", "readmitted", "patient_id")) for n in encoder.feature_names_out_)
    with pytest.raises(CohortError, match="readmitted_30d"):
        CohortFeatures(numeric=["age", "readmitted_30d"]).fit(cohort)


def test_deterministic_per_seed_and_seed_matters(cohort: pd.DataFrame) -> None:
    X = CohortFeatures().fit_transform(cohort)
    a = ConsensusClustering(n_clusters=5, random_state=3, **FAST).fit(X)
    b = clone(a).fit(X)
    np.testing.assert_array_equal(a.labels_, b.labels_)
    np.testing.assert_array_equal(a.consensus_, b.consensus_)
    c = ConsensusClustering(n_clusters=5, random_state=4, **FAST).fit(X)
    assert not np.array_equal(a.sample_indices_, c.sample_indices_)
    # Labels are numbered by decreasing size.
    counts = np.bincount(a.labels_)
    assert list(counts) == sorted(counts, reverse=True)


def test_co_association_is_built_on_the_sample_only() -> None:
    n, m = 8000, 400
    X = CohortFeatures().fit_transform(synthesize_cohort(n, seed=2))
    tracemalloc.start()
    model = ConsensusClustering(n_clusters=4, n_base=4, sample_size=m, random_state=0).fit(X)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert model.consensus_.shape == (m, m)
    assert model.labels_.shape == (n,)
    # An n x n float32 matrix alone would take 256 MB; the whole fit stays far below.
    assert peak < 0.1 * 4 * n * n


def test_predict_assigns_sampled_patients_to_their_consensus_segment(cohort: pd.DataFrame) -> None:
    X = CohortFeatures().fit_transform(cohort)
    model = ConsensusClustering(n_clusters=5, random_state=0, **FAST).fit(X)
    agreement = (model.predict(X[model.sample_indices_]) == model.sample_labels_).mean()
    assert agreement > 0.95


def test_bad_parameters_are_refused() -> None:
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="n_clusters"):
        ConsensusClustering(n_clusters="many").fit(X)
    with pytest.raises(ValueError, match="k_range"):
        ConsensusClustering(k_range=(1, 4)).fit(X)
    with pytest.raises(ValueError, match="cannot form"):
        ConsensusClustering(n_clusters=60).fit(X)


def test_pac_and_consensus_index_on_hand_made_matrices() -> None:
    crisp = np.array([[1, 1, 0, 0], [1, 1, 0, 0], [0, 0, 1, 1], [0, 0, 1, 1]], dtype=np.float32)
    assert proportion_ambiguous(crisp) == 0.0
    assert consensus_index(crisp, np.array([0, 0, 1, 1])) == 1.0
    fuzzy = crisp.copy()
    fuzzy[0, 2] = fuzzy[2, 0] = 0.5  # one ambiguous pair of six
    assert proportion_ambiguous(fuzzy) == pytest.approx(1 / 6)


def test_choose_k_prefers_the_finest_stable_peak_and_skips_outlier_splits() -> None:
    # Nested structure as in the synthetic cohort: the coarse split (k=2) is the most stable,
    # k=5 is stable too and a silhouette peak; k=6 halves a group (stable, not a peak); k=7
    # splits off outliers; k=3 is unstable.
    table = pd.DataFrame(
        {
            "k": [2, 3, 4, 5, 6, 7],
            "pac": [0.05, 0.35, 0.28, 0.13, 0.16, 0.10],
            "silhouette": [0.28, 0.19, 0.20, 0.23, 0.22, 0.25],
            "min_segment_share": [0.2, 0.2, 0.15, 0.15, 0.1, 0.001],
        }
    )
    k, explained = choose_k(table)
    assert k == 5
    reason = dict(zip(explained["k"], explained["reason"]))
    assert reason[5].startswith("chosen")
    assert "less stable" in reason[3]
    assert "not a peak" in reason[6]
    assert "outliers" in reason[7]
    assert "more structure" in reason[2]
    # Where nothing is a stable peak, the best-separated stable k is taken.
    flat = table.assign(silhouette=[0.1, 0.2, 0.3, 0.4, 0.5, 0.6], min_segment_share=0.2, pac=0.5)
    assert choose_k(flat)[0] == 7
