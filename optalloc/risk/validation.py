"""Patient-grouped validation: discrimination, calibration, an operating point, bootstrap CIs.

Encounters of one patient are correlated (and a later encounter can reveal an earlier label), so
every split and every bootstrap resample is by patient: folds come from
:class:`~sklearn.model_selection.StratifiedGroupKFold` and the bootstrap draws patients, not rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, clone
from sklearn.metrics import average_precision_score, roc_auc_score

_EPS = 1e-6
TOP_FRACTION = 0.10


def calibration_slope_intercept(
    y: ArrayLike, p: ArrayLike, sample_weight: ArrayLike | None = None
) -> tuple[float, float]:
    """Calibration slope and intercept by logistic recalibration on ``logit(p)``.

    Slope ``b`` from ``logit P(y=1) = a + b logit(p)`` (1 is ideal: below 1 the predictions are
    too extreme). Intercept ``a'`` from ``logit P(y=1) = a' + logit(p)`` with the slope fixed at 1
    (calibration-in-the-large, Van Calster et al. 2016; 0 is ideal: positive means risks are
    underestimated on average). Fitted by Newton's method, which converges in a few steps.
    """
    target = np.asarray(y, dtype=float)
    weight = np.ones_like(target) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    q = np.clip(np.asarray(p, dtype=float), _EPS, 1 - _EPS)
    z = np.log(q / (1 - q))
    if np.unique(target[weight > 0]).size < 2:
        return float("nan"), float("nan")
    design = np.column_stack([np.ones_like(z), z])
    beta = np.array([0.0, 1.0])
    for _ in range(50):
        mu = 1 / (1 + np.exp(-np.clip(design @ beta, -35, 35)))
        grad = design.T @ (weight * (target - mu))
        hess = (design * (weight * mu * (1 - mu))[:, None]).T @ design
        step = np.linalg.solve(hess + 1e-9 * np.eye(2), grad)
        beta += step
        if np.max(np.abs(step)) < 1e-8:
            break
    slope = float(beta[1])
    a = 0.0
    for _ in range(50):
        mu = 1 / (1 + np.exp(-np.clip(a + z, -35, 35)))
        step = np.sum(weight * (target - mu)) / max(np.sum(weight * mu * (1 - mu)), 1e-12)
        a += step
        if abs(step) < 1e-10:
            break
    return slope, float(a)


def point_metrics(
    y: ArrayLike,
    p: ArrayLike,
    flagged: ArrayLike | None = None,
    sample_weight: ArrayLike | None = None,
) -> dict[str, float]:
    """AUROC, AUPRC (with the prevalence it must beat), Brier, calibration, and P/R/F1 of the
    boolean ``flagged`` (rows at or above an operating threshold chosen on training data;
    omitted if ``None``)."""
    target = np.asarray(y, dtype=int)
    prob = np.asarray(p, dtype=float)
    w = np.ones(len(target)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    two_classes = np.unique(target[w > 0]).size == 2
    slope, intercept = calibration_slope_intercept(target, prob, w)
    result = {
        "auroc": float(roc_auc_score(target, prob, sample_weight=w)) if two_classes else float("nan"),
        "auprc": float(average_precision_score(target, prob, sample_weight=w)) if two_classes else float("nan"),
        "prevalence": float(np.average(target, weights=w)),
        "brier": float(np.average((prob - target) ** 2, weights=w)),
        "calibration_slope": slope,
        "calibration_intercept": intercept,
    }
    if flagged is not None:
        flagged = np.asarray(flagged, dtype=bool)
        tp = float(np.sum(w * (flagged & (target == 1))))
        fp = float(np.sum(w * (flagged & (target == 0))))
        fn = float(np.sum(w * (~flagged & (target == 1))))
        precision = tp / (tp + fp) if tp + fp > 0 else float("nan")
        recall = tp / (tp + fn) if tp + fn > 0 else float("nan")
        f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else float("nan")
        result.update(
            flagged_fraction=float(np.average(flagged, weights=w)),
            precision=precision,
            recall=recall,
            f1=f1,
        )
    return result


def bootstrap_metrics(
    y: ArrayLike,
    p: ArrayLike,
    groups: ArrayLike,
    flagged: ArrayLike | None = None,
    n_boot: int = 200,
    random_state: int | None = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Point estimates with patient-level percentile bootstrap intervals.

    Each replicate draws patients with replacement and weights every encounter by how many
    times its patient was drawn, which is the same as concatenating the drawn patients' rows
    but needs no copying.

    Returns
    -------
    pandas.DataFrame
        Index: metric names; columns ``estimate``, ``low``, ``high``.
    """
    target = np.asarray(y, dtype=int)
    prob = np.asarray(p, dtype=float)
    _, patient = np.unique(np.asarray(groups), return_inverse=True)
    n_patients = patient.max() + 1
    estimate = point_metrics(target, prob, flagged)
    rng = np.random.default_rng(random_state)
    draws = []
    for _ in range(n_boot):
        counts = rng.multinomial(n_patients, np.full(n_patients, 1 / n_patients))
        draws.append(point_metrics(target, prob, flagged, sample_weight=counts[patient]))
    table = pd.DataFrame(draws)
    alpha = (1 - level) / 2
    return pd.DataFrame(
        {
            "estimate": pd.Series(estimate),
            "low": table.quantile(alpha),
            "high": table.quantile(1 - alpha),
        }
    ).loc[list(estimate)]


@dataclass
class CrossValidated:
    """Out-of-fold predictions of one model.

    Attributes
    ----------
    probability : ndarray
        Each row predicted by the model of the fold that held its patient out.
    fold : ndarray
        Fold index of each row.
    threshold : ndarray
        Per-row operating threshold: the top-``TOP_FRACTION`` cut-off of the training folds
        that produced the row's prediction.
    fit_seconds : float
        Total fitting time over the folds.
    """

    probability: np.ndarray
    fold: np.ndarray
    threshold: np.ndarray
    fit_seconds: float


class PatientStratifiedKFold:
    """K folds by patient, balanced in patients with readmissions; a fast StratifiedGroupKFold.

    Patients are shuffled, ordered by their number of positive encounters (then by their number
    of encounters) and dealt to the folds in turn, so every fold gets the same share of
    readmitted patients and about the same number of rows, and no patient is ever split.
    scikit-learn's :class:`~sklearn.model_selection.StratifiedGroupKFold` does the same job with
    a Python loop over groups that takes about 6 s per call on 50,000 patients; this takes
    milliseconds, which matters because every inner calibration fit splits again.

    Parameters
    ----------
    n_splits : int
        Number of folds (at least 2).
    shuffle : bool
        Kept for the scikit-learn splitter signature; patients are always shuffled.
    random_state : int or None
        Seed of the shuffle.
    """

    def __init__(self, n_splits: int = 5, shuffle: bool = True, random_state: int | None = 0) -> None:
        self.n_splits = n_splits
        self.shuffle = shuffle
        self.random_state = random_state

    def get_n_splits(self, X: object = None, y: object = None, groups: object = None) -> int:
        return self.n_splits

    def split(self, X: object, y: ArrayLike, groups: ArrayLike):
        target = np.asarray(y, dtype=float)
        _, patient = np.unique(np.asarray(groups), return_inverse=True)
        n_patients = patient.max() + 1
        if self.n_splits < 2 or self.n_splits > n_patients:
            raise ValueError(
                f"Cannot make {self.n_splits} patient folds from {n_patients} patients: "
                "use between 2 and the number of patients."
            )
        positives = np.bincount(patient, weights=target, minlength=n_patients)
        rows = np.bincount(patient, minlength=n_patients)
        rng = np.random.default_rng(self.random_state)
        shuffled = rng.permutation(n_patients)
        order = shuffled[np.lexsort((-rows[shuffled], -positives[shuffled]))]
        fold_of_patient = np.empty(n_patients, dtype=int)
        fold_of_patient[order] = np.arange(n_patients) % self.n_splits
        fold = fold_of_patient[patient]
        indices = np.arange(len(target))
        for k in range(self.n_splits):
            yield indices[fold != k], indices[fold == k]


def grouped_splits(
    y: ArrayLike, groups: ArrayLike, n_splits: int = 5, random_state: int | None = 0
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Stratified folds by patient; fewer folds if there are too few patients or positives."""
    target = np.asarray(y).astype(int)
    group_ids = np.asarray(groups)
    n_groups = len(np.unique(group_ids))
    k = int(min(n_splits, n_groups, max(int(np.bincount(target, minlength=2).min()), 2)))
    splitter = PatientStratifiedKFold(n_splits=k, shuffle=True, random_state=random_state)
    return list(splitter.split(None, target, group_ids))


def cross_validate(
    model: BaseEstimator,
    X: pd.DataFrame,
    y: ArrayLike,
    groups: ArrayLike,
    splits: list[tuple[np.ndarray, np.ndarray]],
    top_fraction: float = TOP_FRACTION,
    on_fold: Callable[[], None] | None = None,
) -> CrossValidated:
    """Fit a clone of ``model`` on each training part and predict the held-out patients.

    ``model`` must accept ``fit(X, y, groups=...)`` (as
    :class:`~optalloc.risk.models.CalibratedRiskModel` does) so its inner calibration folds stay
    grouped by patient too.
    """
    import time

    target = np.asarray(y).astype(int)
    group_ids = np.asarray(groups)
    prob = np.full(len(target), np.nan)
    fold = np.full(len(target), -1)
    threshold = np.full(len(target), np.nan)
    seconds = 0.0
    for k, (train, test) in enumerate(splits):
        start = time.perf_counter()
        fitted = clone(model).fit(X.iloc[train], target[train], groups=group_ids[train])
        seconds += time.perf_counter() - start
        prob[test] = fitted.predict_proba(X.iloc[test])[:, 1]
        fold[test] = k
        threshold[test] = fitted.threshold_for_top(top_fraction)
        if on_fold is not None:
            on_fold()
    return CrossValidated(prob, fold, threshold, seconds)


def summarize_cv(
    result: CrossValidated,
    y: ArrayLike,
    groups: ArrayLike,
    n_boot: int = 200,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Metrics with bootstrap CIs for pooled out-of-fold predictions.

    The operating point is applied per fold (each row against the threshold derived from its
    fold's training patients), so precision/recall/F1 never use a cut-off chosen on test rows.
    """
    flagged = result.probability >= result.threshold
    return bootstrap_metrics(y, result.probability, groups, flagged, n_boot, random_state)


def split_by_patient(
    frame: pd.DataFrame, share: float, seed: int, source: str, patient_columns: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows split so that every patient's encounters fall in one part: ``share`` of the
    patients (seeded) held back. The patient column is the first of ``patient_columns`` the
    table has (the identifier columns loaders know, passed in: this module names none of a
    dataset's); rows keep their order."""
    from optalloc.errors import CohortError

    column = next((c for c in patient_columns if c in frame.columns), None)
    if column is None:
        raise CohortError(f"{source}: no patient column ({' or '.join(patient_columns)}) to split by.")
    patients = pd.unique(frame[column].astype(str))
    if len(patients) < 2:
        raise CohortError(f"{source}: {len(patients)} patient(s) cannot be split in two parts.")
    rng = np.random.default_rng(seed)
    n_test = min(len(patients) - 1, max(1, int(round(share * len(patients)))))
    held = set(rng.choice(patients, size=n_test, replace=False))
    in_test = frame[column].astype(str).isin(held).to_numpy()
    return frame.loc[~in_test].reset_index(drop=True), frame.loc[in_test].reset_index(drop=True)
