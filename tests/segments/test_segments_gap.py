"""The principal-component gap statistic that checks the consensus gain's choice of k."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer
from sklearn.metrics import adjusted_rand_score

from optalloc.segments import CohortFeatures, ConsensusClustering
from optalloc.segments.selection import choose_k_by_gain, gap_choice, pca_references


def test_gap_choice_is_the_first_local_maximum() -> None:
    assert gap_choice({1: (0.9, 0.01), 2: (1.0, 0.01), 3: (1.2, 0.01), 4: (1.1, 0.01), 5: (1.3, 0.01)}) == 3
    assert gap_choice({1: (1.0, 0.01), 2: (0.9, 0.01), 3: (1.5, 0.01)}) == 1
    assert gap_choice({1: (0.9, 0.01), 2: (1.0, 0.01), 3: (1.1, 0.01)}) is None  # still rising
    assert gap_choice({2: (1.0, 0.01), 3: (0.9, 0.01)}) is None  # no k = 1


def test_references_keep_correlated_columns_elongated() -> None:
    rng = np.random.default_rng(0)
    base = rng.standard_normal(500)
    sample = np.column_stack([base, base + 0.2 * rng.standard_normal(500), rng.standard_normal(500)])
    references = pca_references(sample, 3, np.random.RandomState(0))
    for reference in references:
        assert reference.shape == sample.shape
        assert np.corrcoef(reference[:, 0], reference[:, 1])[0, 1] > 0.9
        assert abs(np.corrcoef(reference[:, 0], reference[:, 2])[0, 1]) < 0.2


def _table(gap_pca: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "k": [2, 3, 4],
            "pac": [0.2, 0.3, 0.35],
            "consensus_index": [0.9, 0.85, 0.7],
            "consensus_null": [0.6, 0.45, 0.4],
            "consensus_gain": [0.3, 0.4, 0.3],
            "silhouette": [0.3, 0.2, 0.1],
            "min_segment_share": [0.3, 0.2, 0.1],
            "gap_pca": gap_pca,
            "gap_pca_se": [0.01, 0.01, 0.01],
        }
    )


def test_a_smaller_k_from_the_gap_replaces_the_gain_choice_when_its_gain_is_clear() -> None:
    chosen, table, verdict = choose_k_by_gain(_table([1.5, 1.4, 1.45]), gap_at_one=(1.0, 0.01))
    assert chosen == 2
    assert "gap statistic" in table.loc[table["chosen"], "reason"].iloc[0]
    assert verdict.startswith("Clear groups")
    # Without the gap columns the largest gain decides.
    assert choose_k_by_gain(_table([1.5, 1.4, 1.45]).drop(columns=["gap_pca", "gap_pca_se"]))[0] == 3
    # A gap peak whose consensus gain is not clear does not override.
    weak = _table([1.5, 1.4, 1.45]).assign(consensus_gain=[0.15, 0.4, 0.3])
    assert choose_k_by_gain(weak, gap_at_one=(1.0, 0.01))[0] == 3


def test_a_gap_peak_at_one_says_there_are_no_clear_groups() -> None:
    chosen, _, verdict = choose_k_by_gain(_table([1.0, 1.1, 1.2]), gap_at_one=(1.2, 0.01))
    assert chosen == 3
    assert verdict.startswith("No clear groups")


def test_breast_cancer_table_gets_two_segments() -> None:
    data = load_breast_cancer(as_frame=True)
    frame = data.frame.drop(columns=["target"])
    X = CohortFeatures(numeric=list(frame.columns), categorical=[]).fit_transform(frame)
    model = ConsensusClustering(n_base=9, n_null=2, mixture_criteria=False, random_state=0).fit(X)
    assert model.n_clusters_ == 2
    assert adjusted_rand_score(data.target, model.labels_) > 0.6
