"""Risk models: one scikit-learn Pipeline per learner, calibrated when that helps.

Every model is ``preprocess -> classifier`` in a :class:`~sklearn.pipeline.Pipeline`, so it can
be cloned, cross-validated and pickled as one object and never sees a test row while its
scalers or encoders are fitted. :class:`CalibratedRiskModel` wraps any of them and chooses
isotonic, sigmoid or no calibration by the Brier score of patient-grouped inner folds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler
from sklearn.tree import DecisionTreeClassifier
from sklearn.utils import Tags, _safe_indexing
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_consistent_length, check_is_fitted, column_or_1d, validate_data

MODEL_NAMES: tuple[str, ...] = ("lr", "tree", "rf", "hgb")
MODEL_LABELS: dict[str, str] = {
    "lr": "logistic regression",
    "tree": "decision tree",
    "rf": "random forest",
    "hgb": "gradient boosting",
    "lace": "LACE index",
}
CALIBRATION_METHODS: tuple[str, ...] = ("auto", "isotonic", "sigmoid", "none")
_EPS = 1e-6


def _one_hot(min_frequency: int) -> OneHotEncoder:
    return OneHotEncoder(handle_unknown="infrequent_if_exist", min_frequency=min_frequency, sparse_output=False)


def _ordinal(min_frequency: int) -> OrdinalEncoder:
    # Unknown and rare levels share one code, so a level never seen in training is harmless.
    return OrdinalEncoder(
        handle_unknown="use_encoded_value",
        unknown_value=-1,
        encoded_missing_value=-1,
        min_frequency=min_frequency,
        max_categories=250,
    )


def make_estimator(
    name: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    random_state: int | None = 0,
    min_frequency: int = 20,
    params: dict[str, object] | None = None,
) -> Pipeline:
    """An unfitted ``preprocess -> classifier`` Pipeline for one of :data:`MODEL_NAMES`.

    Parameters
    ----------
    name : {"lr", "tree", "rf", "hgb"}
        Learner. Hyper-parameters are fixed, chosen once by patient-grouped CV on the
        developer data; they favour stability (large leaves, shrinkage) over the last 0.001 AUROC.
    numeric, categorical : sequence of str
        Feature columns of the input frame.
    random_state : int or None
        Seed for every random choice of the learner.
    min_frequency : int
        Categorical levels rarer than this are pooled into one "infrequent" level.
    params : dict, optional
        Classifier parameters overriding the defaults (e.g. ``{"max_iter": 100}`` for a
        quicker gradient boosting on a small cohort).
    """
    numeric, categorical = list(numeric), list(categorical)
    if name == "lr":
        pre = ColumnTransformer([("num", StandardScaler(), numeric), ("cat", _one_hot(min_frequency), categorical)])
        clf = LogisticRegression(C=0.1, max_iter=2000)
    elif name in {"tree", "rf", "hgb"}:
        pre = ColumnTransformer([("num", "passthrough", numeric), ("cat", _ordinal(min_frequency), categorical)])
        if name == "tree":
            clf = DecisionTreeClassifier(max_depth=8, min_samples_leaf=0.005, random_state=random_state)
        elif name == "rf":
            clf = RandomForestClassifier(
                n_estimators=150,
                min_samples_leaf=50,
                max_features="sqrt",
                max_samples=0.3,
                n_jobs=None,
                random_state=random_state,
            )
        else:
            is_cat = [False] * len(numeric) + [True] * len(categorical)
            clf = HistGradientBoostingClassifier(
                learning_rate=0.08,
                max_iter=150,
                max_leaf_nodes=15,
                min_samples_leaf=100,
                l2_regularization=1.0,
                categorical_features=is_cat or None,
                early_stopping=False,
                random_state=random_state,
            )
    else:
        raise ValueError(
            f"The 'name' parameter of make_estimator must be one of {', '.join(MODEL_NAMES)}. Got {name!r} instead."
        )
    if params:
        clf.set_params(**params)
    return Pipeline([("preprocess", pre), ("classifier", clf)])


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, _EPS, 1 - _EPS)
    return np.log(q / (1 - q))


def _fit_calibrator(method: str, scores: np.ndarray, y: np.ndarray) -> object:
    if method == "isotonic":
        return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, y)
    return LogisticRegression(C=1e6).fit(_logit(scores).reshape(-1, 1), y)


def _apply_calibrator(calibrator: object, scores: np.ndarray) -> np.ndarray:
    if isinstance(calibrator, IsotonicRegression):
        return np.clip(calibrator.predict(scores), 0.0, 1.0)
    return calibrator.predict_proba(_logit(scores).reshape(-1, 1))[:, 1]  # type: ignore[attr-defined]


class CalibratedRiskModel(ClassifierMixin, BaseEstimator):
    """A classifier with probability calibration chosen by patient-grouped inner folds.

    ``fit`` predicts each training row out of fold (``cv`` folds by patient), then picks the
    calibration (``"none"``, ``"sigmoid"`` or ``"isotonic"``) with the lowest Brier score when the
    calibrators are themselves cross-fitted on those predictions, fits it on all of them and
    refits the base estimator on all rows. This is what
    ``CalibratedClassifierCV(ensemble=False)`` computes; doing it by hand lets the same
    out-of-fold predictions serve both the choice and the fit (``cv`` + 1 fits instead of
    2 ``cv`` + 1) and keeps the folds grouped by patient.

    Parameters
    ----------
    estimator : classifier
        Unfitted base model (usually from :func:`make_estimator`).
    method : {"auto", "isotonic", "sigmoid", "none"}
        ``"auto"`` chooses by Brier score as above.
    cv : int
        Inner folds (by patient).
    random_state : int or None
        Seed of the inner fold assignment.

    Attributes
    ----------
    estimator_ : classifier
        Base model fitted on all rows.
    method_ : str
        Calibration used.
    calibrator_ : object or None
        Fitted calibrator mapping base probabilities to calibrated ones.
    brier_by_method_ : dict
        Inner cross-fitted Brier score of each candidate method.
    score_quantiles_ : ndarray
        Percentiles 0..100 of calibrated out-of-fold training predictions; operating
        thresholds (e.g. "top 10 % risk") are read from them, never from test rows.
    """

    def __init__(
        self,
        estimator: BaseEstimator | None = None,
        method: str = "auto",
        cv: int = 3,
        random_state: int | None = 0,
    ) -> None:
        self.estimator = estimator
        self.method = method
        self.cv = cv
        self.random_state = random_state

    def _splits(self, y: np.ndarray, groups: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        from optalloc.risk.validation import grouped_splits

        return grouped_splits(y, groups, self.cv, self.random_state)

    def fit(self, X: pd.DataFrame, y: ArrayLike, groups: ArrayLike | None = None) -> CalibratedRiskModel:
        """Fit base model and calibration; ``groups`` (patient ids) keep a patient in one fold."""
        if self.method not in CALIBRATION_METHODS:
            raise ValueError(
                f"The 'method' parameter of CalibratedRiskModel must be one of "
                f"{', '.join(CALIBRATION_METHODS)}. Got {self.method!r} instead."
            )
        X, target = self._checked(X, y)
        group_ids = np.arange(len(target)) if groups is None else np.asarray(groups)
        base = self.estimator if self.estimator is not None else LogisticRegression()
        if self.method == "none":
            # No calibration asked for: skip the inner folds (quick experiments). The operating
            # quantiles then come from in-sample predictions, optimistic for flexible models.
            self.estimator_ = clone(base).fit(X, target)
            self.method_, self.calibrator_, self.brier_by_method_ = "none", None, {}
            self.score_quantiles_ = np.percentile(self.estimator_.predict_proba(X)[:, 1], np.arange(101))
            return self
        oof = np.full(len(target), np.nan)
        splits = self._splits(target, group_ids)
        for train, test in splits:
            model = clone(base).fit(_safe_indexing(X, train), target[train])
            oof[test] = model.predict_proba(_safe_indexing(X, test))[:, 1]
        self.brier_by_method_ = self._compare_methods(oof, target, splits)
        if self.method == "auto":
            self.method_ = min(self.brier_by_method_, key=lambda name: self.brier_by_method_[name])
        else:
            self.method_ = self.method
        self.calibrator_ = None if self.method_ == "none" else _fit_calibrator(self.method_, oof, target)
        calibrated = oof if self.calibrator_ is None else _apply_calibrator(self.calibrator_, oof)
        self.score_quantiles_ = np.percentile(calibrated, np.arange(101))
        self.estimator_ = clone(base).fit(X, target)
        return self

    @staticmethod
    def _compare_methods(
        oof: np.ndarray, y: np.ndarray, splits: list[tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, float]:
        """Brier of each method with calibrators fitted on other folds' predictions only."""
        scores = {"none": float(np.mean((oof - y) ** 2))}
        for method in ("sigmoid", "isotonic"):
            calibrated = np.empty_like(oof)
            for train, test in splits:
                calibrator = _fit_calibrator(method, oof[train], y[train])
                calibrated[test] = _apply_calibrator(calibrator, oof[test])
            scores[method] = float(np.mean((calibrated - y) ** 2))
        return scores

    def _checked(self, X: pd.DataFrame | np.ndarray, y: ArrayLike) -> tuple[pd.DataFrame | np.ndarray, np.ndarray]:
        """``X`` and ``y`` as scikit-learn checks them, ``y`` coded 0/1 with ``classes_`` set.

        A DataFrame (the risk features, mixed types) goes to the base pipeline as it is, only
        its column names and count recorded; an array is checked to be finite and dense.
        """
        if y is None:
            raise ValueError("CalibratedRiskModel requires y to be passed, but the target y is None.")
        if isinstance(X, pd.DataFrame):
            validate_data(self, X, skip_check_array=True)
            y = column_or_1d(y)
            check_consistent_length(X, y)
        else:
            X, y = validate_data(self, X, y)
        check_classification_targets(y)
        kind = type_of_target(y)
        if kind != "binary":
            raise ValueError(
                f"Only binary classification is supported. The type of the target is {kind}: "
                "CalibratedRiskModel predicts a binary outcome (readmitted or not), so give it both outcomes."
            )
        self.classes_, target = np.unique(y, return_inverse=True)
        if len(target) < 2 * max(2, self.cv) and self.method != "none":
            raise ValueError(
                f"CalibratedRiskModel needs at least {2 * max(2, self.cv)} samples for its {self.cv} inner "
                f"folds; got n_samples={len(target)}."
            )
        return X, target

    def __sklearn_tags__(self) -> Tags:
        tags = super().__sklearn_tags__()
        if tags.classifier_tags is not None:
            tags.classifier_tags.multi_class = False  # a readmission is binary
        return tags

    def predict_proba(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        check_is_fitted(self, "estimator_")
        if not isinstance(X, pd.DataFrame):  # a frame's columns are the base pipeline's to check, by name
            X = validate_data(self, X, reset=False)
        raw = self.estimator_.predict_proba(X)[:, 1]
        p = raw if self.calibrator_ is None else _apply_calibrator(self.calibrator_, raw)
        return np.column_stack([1 - p, p])

    def predict(self, X: pd.DataFrame | np.ndarray) -> np.ndarray:
        proba = self.predict_proba(X)
        return self.classes_[(proba[:, 1] >= 0.5).astype(int)]

    def threshold_for_top(self, fraction: float) -> float:
        """Probability above which the ``fraction`` riskiest training patients fall."""
        check_is_fitted(self, "score_quantiles_")
        return float(np.interp(100 * (1 - fraction), np.arange(101), self.score_quantiles_))


def make_model(
    name: str,
    numeric: Sequence[str],
    categorical: Sequence[str],
    random_state: int | None = 0,
    calibration: str = "auto",
    inner_cv: int = 3,
    params: dict[str, object] | None = None,
) -> CalibratedRiskModel:
    """A calibrated risk model by name; ``"lace"`` gives the LACE baseline (column ``lace``)."""
    if name == "lace":
        from optalloc.risk.lace import LaceClassifier

        base: BaseEstimator = LaceClassifier()
    else:
        base = make_estimator(name, numeric, categorical, random_state=random_state, params=params)
    return CalibratedRiskModel(base, method=calibration, cv=inner_cv, random_state=random_state)
