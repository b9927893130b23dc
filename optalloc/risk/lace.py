"""The LACE index (van Walraven et al. 2010, CMAJ 182:551) as a baseline risk score.

LACE = L + A + C + E, 0 to 19 points:

* **L**ength of stay in days: <1 -> 0, 1 -> 1, 2 -> 2, 3 -> 3, 4-6 -> 4, 7-13 -> 5, >=14 -> 7;
* **A**cute (emergent) admission -> 3;
* **C**harlson comorbidity index: 0..3 -> same points, >=4 -> 5;
* **E**mergency department visits in the previous six months: 0..3 -> same, >=4 -> 4.

It is the score clinicians already use, so any model must beat it clearly to be worth its
complexity. Which columns of a table give L, A, C and E is the domain's business (Diabetes 130:
:func:`optalloc.domains.encounters.lace_from_encounters`; stays: :mod:`optalloc.domains.stays`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data


def length_of_stay_points(days: ArrayLike) -> np.ndarray:
    """L points from the length of stay in (whole or fractional) days."""
    los = np.asarray(days, dtype=float)
    bins = np.array([1, 2, 3, 4, 7, 14])  # left edges of 1, 2, 3, 4-6, 7-13, >=14
    points = np.array([0, 1, 2, 3, 4, 5, 7])
    return points[np.searchsorted(bins, los, side="right")]


def charlson_points(charlson: ArrayLike) -> np.ndarray:
    """C points: the Charlson index itself up to 3, then 5 for 4 or more."""
    score = np.asarray(charlson, dtype=float)
    return np.where(score >= 4, 5, np.clip(score, 0, 3)).astype(int)


def ed_points(visits: ArrayLike) -> np.ndarray:
    """E points: ED visits in the previous six months, capped at 4."""
    return np.clip(np.asarray(visits, dtype=float), 0, 4).astype(int)


def lace_score(length_of_stay: ArrayLike, acute: ArrayLike, charlson: ArrayLike, ed_visits: ArrayLike) -> np.ndarray:
    """The LACE index of each patient (0..19)."""
    return (
        length_of_stay_points(length_of_stay)
        + 3 * np.asarray(acute, dtype=bool).astype(int)
        + charlson_points(charlson)
        + ed_points(ed_visits)
    )


class LaceClassifier(ClassifierMixin, BaseEstimator):
    """Turn the LACE points into a probability by a one-variable logistic regression.

    The ranking is LACE's own; the logistic map only makes its Brier score and calibration
    comparable with the learned models, fitted on training folds like any other model.

    Parameters
    ----------
    column : str or int
        The LACE points: a column name of a DataFrame ``X`` (the features the risk stage
        builds), or a column position of an array.
    """

    def __init__(self, column: str | int = "lace") -> None:
        self.column = column

    def _selected(self, X: pd.DataFrame | np.ndarray) -> pd.DataFrame | np.ndarray:
        """The frame's LACE column (refused clearly when absent), or the whole array."""
        if not isinstance(self.column, str):
            return X
        if not hasattr(X, "columns") or self.column not in X.columns:
            raise ValueError(
                f"LaceClassifier reads the LACE points from the column {self.column!r}, which X lacks; "
                "pass the risk features' DataFrame, or column=<position> for an array."
            )
        return X[[self.column]]

    def _points(self, data: np.ndarray) -> np.ndarray:
        """The points of validated data (already one column when selected by name)."""
        return data if isinstance(self.column, str) else data[:, [self.column]]

    def fit(self, X: pd.DataFrame | np.ndarray, y: ArrayLike) -> LaceClassifier:
        if y is None:
            raise ValueError("LaceClassifier requires y to be passed, but the target y is None.")
        data, target = validate_data(self, self._selected(X), y)  # finite, non-empty, dense, 2-D
        check_classification_targets(target)
        self.logistic_ = LogisticRegression().fit(self._points(data), target)
        self.classes_ = self.logistic_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "logistic_")
        return self.logistic_.predict_proba(self._points(validate_data(self, self._selected(X), reset=False)))

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
