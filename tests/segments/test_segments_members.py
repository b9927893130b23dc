"""Ensemble members and their weights: balanced categories, stability weights, Gower medoids."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score

from optalloc.cohort.synth_overlap import synthesize_overlap
from optalloc.segments import CohortFeatures, ConsensusClustering
from optalloc.segments.benchmark import READMISSION_CATEGORICAL, READMISSION_NUMERIC
from optalloc.segments.ensemble import CoAssociation, gower_distances


@pytest.fixture(scope="module")
def readmission() -> pd.DataFrame:
    return synthesize_overlap(1500, seed=3, domain="readmission")


def _encode(frame: pd.DataFrame, **options: object) -> tuple[np.ndarray, list[list[int]], CohortFeatures]:
    encoder = CohortFeatures(numeric=READMISSION_NUMERIC, categorical=READMISSION_CATEGORICAL, **options)  # type: ignore[arg-type]
    X = encoder.fit_transform(frame)
    return X, encoder.blocks()[1], encoder


def test_balanced_categories_weigh_like_one_numeric_column(readmission: pd.DataFrame) -> None:
    X, blocks, encoder = _encode(readmission)
    for column, block in zip(encoder.categorical_, blocks[len(encoder.boolean_) :], strict=True):
        values = X[:, block].astype(float)
        # expected squared distance between two random patients in this variable's indicators
        spread = 2.0 * values.var(axis=0).sum()
        assert spread == pytest.approx(2.0, rel=0.02), column
    plain, _, _ = _encode(readmission, balance_categories=False)
    assert np.array_equal(plain[:, : len(encoder.numeric_)], X[:, : len(encoder.numeric_)])
    assert not np.allclose(plain, X)


def test_two_level_categories_and_flags_are_not_balanced() -> None:
    frame = pd.DataFrame({"age": np.arange(40.0), "sex": ["F"] * 36 + ["M"] * 4, "flag": [True] * 3 + [False] * 37})
    X = CohortFeatures(numeric=["age", "flag"], categorical=["sex"]).fit_transform(frame)
    assert set(np.unique(X[:, 1:])) == {0.0, 1.0}


def test_stability_weights_favour_the_algorithm_that_repeats_itself(readmission: pd.DataFrame) -> None:
    X, blocks, _ = _encode(readmission)
    sample = X[:600].astype(float)
    votes = CoAssociation(
        sample, [5], 12, 0.8, 1.0, ("kmeans", "gmm", "agglomerative"), np.random.RandomState(0), blocks, "stability"
    )
    weights = votes.weights[5]
    by_algorithm = {a: weights[votes.algorithm_of_run == a] for a in ("kmeans", "gmm", "agglomerative")}
    for runs in by_algorithm.values():
        assert np.ptp(runs) == 0.0  # one weight per algorithm
    assert by_algorithm["kmeans"][0] > by_algorithm["gmm"][0]
    equal = CoAssociation(
        sample, [5], 12, 0.8, 1.0, ("kmeans", "gmm", "agglomerative"), np.random.RandomState(0), blocks
    )
    assert np.array_equal(equal.weights[5], np.ones(12))
    imposed = CoAssociation(
        sample, [5], 12, 0.8, 1.0, ("kmeans",), np.random.RandomState(1), blocks, "stability", votes.weights
    )
    assert np.array_equal(imposed.weights[5], weights)


def test_shuffled_copies_use_the_real_weights(readmission: pd.DataFrame) -> None:
    X, blocks, _ = _encode(readmission)
    tables = {
        mode: ConsensusClustering(
            n_clusters=5,
            n_base=6,
            sample_size=400,
            n_null=1,
            categorical_blocks=blocks,
            null_weights=mode,
            mixture_criteria=False,
        )
        .fit(X)
        .k_table_
        for mode in ("real", "own")
    }
    assert tables["real"]["consensus_index"].iloc[0] == tables["own"]["consensus_index"].iloc[0]
    assert tables["real"]["consensus_null"].iloc[0] != tables["own"]["consensus_null"].iloc[0]


def test_gower_distances_add_scaled_differences_and_mismatches() -> None:
    rng = np.random.default_rng(0)
    numeric = rng.standard_normal((300, 1)) * 5.0
    level = rng.integers(0, 3, 300)
    flag = rng.random(300) < 0.3
    X = np.hstack([numeric, np.eye(3)[level], flag[:, None].astype(float)])
    distance = gower_distances(X, [[1, 2, 3], [4]])
    assert distance.shape == (300, 300)
    assert np.allclose(distance, distance.T) and np.allclose(np.diag(distance), 0.0)
    expected = np.abs(numeric - numeric.T) / numeric.std()
    expected += level[:, None] != level[None, :]
    expected += flag[:, None] != flag[None, :]
    assert np.allclose(distance, expected)


def test_medoids_member_recovers_overlapping_types(readmission: pd.DataFrame) -> None:
    X, blocks, _ = _encode(readmission)
    settings = {
        "n_clusters": 5,
        "n_base": 8,
        "sample_size": 600,
        "algorithms": ("kmeans", "medoids"),
        "categorical_blocks": blocks,
        "n_null": 0,
        "mixture_criteria": False,
    }
    model = ConsensusClustering(**settings).fit(X)  # type: ignore[arg-type]
    again = ConsensusClustering(**settings).fit(X)  # type: ignore[arg-type]
    assert np.array_equal(model.labels_, again.labels_)
    assert adjusted_rand_score(readmission["true_type"], model.labels_) > 0.5
