"""What a segmentation score should be read against: the supervised ceiling and its baselines.

An ARI of 0.6 is poor where the planted types are almost given away by one column and good
where they overlap so much that nothing can do better. :func:`supervised_ceiling` measures
what is achievable: the cross-validated ARI of a classifier *trained on the true types* (the
best of a multinomial logistic regression and gradient-boosted trees by default, each predicting every
patient from a model that never saw them). :func:`single_column_ari` checks that no one
column gives the types away, and :func:`kmeans_told_k` is the baseline every method must beat:
k-means told the true number of types, on the standardised numeric columns.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import adjusted_rand_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.tree import DecisionTreeClassifier

from optalloc.cohort.synth_overlap import overlap_domain
from optalloc.segments.features import CohortFeatures

# Feature lists of the readmission-domain overlap cohorts: the generator's own columns, in its order.
READMISSION_NUMERIC: tuple[str, ...] = tuple(c.name for c in overlap_domain("readmission").latent)
READMISSION_CATEGORICAL: tuple[str, ...] = tuple(c.name for c in overlap_domain("readmission").categories)


def supervised_ceiling(
    frame: pd.DataFrame,
    truth: Sequence[object] | np.ndarray,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    folds: int = 5,
    seed: int = 0,
    models: Sequence[str] = ("logistic", "boosted_trees"),
) -> dict[str, float]:
    """Cross-validated ARI of classifiers trained on the true types; ``"ceiling"`` is the best.

    Parameters
    ----------
    frame
        The cohort (features as :class:`~optalloc.segments.features.CohortFeatures` encodes them).
    truth
        True type per row.
    numeric, categorical
        Feature columns (default: the transfusion schema's).
    folds, seed
        Stratified folds and their shuffling seed (and the trees' seed).
    models
        Classifiers to try: ``"logistic"`` and/or ``"boosted_trees"``.
    """
    # Fixed encoding (categories unbalanced, as when the ceilings in benchmarks/RESULTS.md were
    # first measured): the ceiling must not move when the clustering's encoding changes.
    X = CohortFeatures(numeric=numeric, categorical=categorical, balance_categories=False).fit_transform(frame)
    y = pd.factorize(np.asarray(truth))[0]
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    known = {
        "logistic": LogisticRegression(max_iter=2000, C=1.0),
        "boosted_trees": HistGradientBoostingClassifier(max_iter=200, early_stopping=True, random_state=seed),
    }
    scores = {name: float(adjusted_rand_score(y, cross_val_predict(known[name], X, y, cv=split))) for name in models}
    scores["ceiling"] = max(scores.values())
    return scores


def single_column_ari(
    frame: pd.DataFrame,
    truth: Sequence[object] | np.ndarray,
    columns: Sequence[str],
    folds: int = 3,
    seed: int = 0,
) -> pd.Series:
    """Cross-validated ARI of a classification tree (depth 6) that sees one column at a time."""
    y = pd.factorize(np.asarray(truth))[0]
    split = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out = {}
    for column in columns:
        values = frame[[column]]
        if not pd.api.types.is_numeric_dtype(values[column]) or pd.api.types.is_bool_dtype(values[column]):
            values = pd.get_dummies(values[column].astype(str), dtype=float)
        model = DecisionTreeClassifier(max_depth=6, min_samples_leaf=20, random_state=seed)
        out[column] = float(adjusted_rand_score(y, cross_val_predict(model, values.to_numpy(float), y, cv=split)))
    return pd.Series(out, name="ari").sort_values(ascending=False)


def kmeans_told_k(frame: pd.DataFrame, numeric: Sequence[str], k: int, seed: int = 0) -> np.ndarray:
    """Labels of k-means told ``k``, on the standardised numeric (and flag) columns, 10 starts."""
    values = frame[list(numeric)].to_numpy(dtype=float)
    scale = values.std(axis=0)
    values = (values - values.mean(axis=0)) / np.where(scale > 0, scale, 1.0)
    return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(values)
