"""Readmission risk of a cohort: out-of-fold probabilities, a model fitted on a whole cohort,
and scoring any table with a trained model (the entry points ``optalloc.risk`` re-exports)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from optalloc.errors import CohortError
from optalloc.risk.models import make_model
from optalloc.risk.persistence import TrainedRiskModel, load_model
from optalloc.risk.training import (
    TRANSFUSION,
    Design,
    compare_models,
    fit_model,
    transfusion_design,
)

COHORT_MODELS: tuple[str, ...] = ("lr", "hgb")
# A cohort of a few thousand patients needs far fewer boosting rounds than 80,000 encounters;
# these keep 5 outer x 4 inner fits of both models within a few seconds.
COHORT_HGB_PARAMS: dict[str, object] = {
    "max_iter": 80,
    "learning_rate": 0.1,
    "min_samples_leaf": 30,
    "max_leaf_nodes": 8,
}
#: Above this many patients the models are cross-validated, and the chosen one fitted, on a
#: seeded sample of this many patients; the fitted model then scores everyone else. Out-of-fold
#: fitting on a million patients took about 150 s; 50,000 patients (some 8,500 readmissions at
#: the synthetic cohort's 17 %) are ample for a dozen features (benchmarks/RESULTS.md, "risk on
#: a sample", compares the probabilities with the all-patient fit).
RISK_SAMPLE_PATIENTS = 50_000
METRIC_COLUMNS: tuple[str, ...] = (
    "auroc",
    "auprc",
    "prevalence",
    "brier",
    "calibration_slope",
    "calibration_intercept",
)


@dataclass
class CohortRisk:
    """Out-of-fold risk of every patient in a cohort.

    Attributes
    ----------
    probability : ndarray
        Calibrated probability of 30-day readmission of the chosen model, one per cohort row,
        in row order; each predicted by a model fitted on the other folds' patients only.
    metrics : pandas.DataFrame
        One row per model (column ``model``): ``auroc``, ``auprc``, ``prevalence``, ``brier``,
        ``calibration_slope``, ``calibration_intercept``, plus the top-10 % operating point's
        ``precision``, ``recall`` and ``f1``.
    chosen : str
        Model whose probabilities are returned: the lowest out-of-fold Brier score.
    """

    probability: np.ndarray
    metrics: pd.DataFrame
    chosen: str


def cohort_risk(
    cohort: pd.DataFrame, seed: int = 0, n_splits: int = 5, sample: int | None = RISK_SAMPLE_PATIENTS
) -> CohortRisk:
    """Cross-validated, calibrated readmission risk for a transfusion cohort.

    Logistic regression and gradient boosting are each fitted ``n_splits`` times (folds by
    patient, stratified by outcome), with calibration chosen inside each training part; the
    model with the lower out-of-fold Brier score supplies the probabilities. Only the columns
    in :data:`optalloc.cohort.schema.FEATURE_COLUMNS` are read as features (never
    ``true_type``); ``readmitted_30d`` is the label.

    Parameters
    ----------
    cohort : pandas.DataFrame
        One row per patient with the schema's columns and ``readmitted_30d``.
    seed : int
        Seed of the folds and the learners.
    n_splits : int
        Outer folds (reduced automatically if there are too few positives).
    sample : int or None
        Cross-validate on a seeded sample of this many patients when the cohort is larger
        (None: always every patient); the chosen model fitted on the sample scores the rest.

    Returns
    -------
    CohortRisk

    Raises
    ------
    CohortError
        Missing columns or label, invalid values, or an outcome with a single class.
    """
    full = transfusion_design(cohort, "cohort")
    assert full.y is not None
    sampled = _sample_rows(full.n_rows, sample, seed)
    design = full if sampled is None else _rows_of(full, sampled)
    assert design.y is not None
    if np.unique(design.y).size < 2:
        raise CohortError(
            "cohort: 'readmitted_30d' holds only one value, so no risk model can be fitted. "
            "A cohort needs both readmitted and not-readmitted patients."
        )
    # Small tables gain nothing from threads; on a shared machine threads only contend.
    with threadpool_limits(limits=1):
        comparison = compare_models(
            design,
            COHORT_MODELS,
            seed=seed,
            n_splits=n_splits,
            n_boot=0,
            params={"hgb": COHORT_HGB_PARAMS},
        )
    table = comparison.table.reset_index()
    keep = ["model", *METRIC_COLUMNS, "precision", "recall", "f1"]
    metrics = table[[c for c in keep if c in table.columns]].copy()
    probability = comparison.results[comparison.chosen].probability.copy()
    if sampled is not None:
        # the sample keeps its out-of-fold probabilities; the chosen model, fitted on the whole
        # sample, scores the patients outside it (none of whom it saw)
        params = COHORT_HGB_PARAMS if comparison.chosen == "hgb" else None
        model = make_model(comparison.chosen, design.numeric, design.categorical, seed, params=params)
        with threadpool_limits(limits=1):
            model.fit(design.X, design.y, groups=design.groups)
        everyone = np.empty(full.n_rows)
        outside = np.ones(full.n_rows, dtype=bool)
        outside[sampled] = False
        everyone[sampled] = probability
        everyone[outside] = model.predict_proba(full.X.loc[outside])[:, 1]
        probability = everyone
    return CohortRisk(probability=probability, metrics=metrics, chosen=comparison.chosen)


def _sample_rows(n_rows: int, sample: int | None, seed: int) -> np.ndarray | None:
    """Sorted row numbers of a seeded sample of ``sample`` patients, or None to use all."""
    if sample is None or n_rows <= sample:
        return None
    return np.sort(np.random.default_rng(seed).choice(n_rows, sample, replace=False))


def _rows_of(design: Design, rows: np.ndarray) -> Design:
    """The design restricted to ``rows`` (one row per patient in a transfusion cohort)."""
    return dataclasses.replace(
        design,
        X=design.X.iloc[rows].reset_index(drop=True),
        y=None if design.y is None else design.y[rows],
        groups=design.groups[rows],
    )


def train_cohort_model(cohort: pd.DataFrame, model: str = "lr", seed: int = 0) -> TrainedRiskModel:
    """Fit one calibrated model on a whole transfusion cohort (to save and score new cohorts)."""
    design = transfusion_design(cohort, "cohort")
    params = COHORT_HGB_PARAMS if model == "hgb" else None
    with threadpool_limits(limits=1):
        return fit_model(design, model, seed, params=params)


def predict_cohort(model_path_or_obj: TrainedRiskModel | str | Path, frame: pd.DataFrame) -> np.ndarray:
    """Calibrated probability of each row of ``frame`` under a trained model.

    Parameters
    ----------
    model_path_or_obj : TrainedRiskModel or path
        A model from :func:`train_cohort_model` / ``optalloc risk train`` or the file it was
        saved to (loaded with all integrity and version checks).
    frame : pandas.DataFrame
        For a transfusion model: a cohort with the model's feature columns (the label is not
        needed). For a Diabetes 130 or stays model: the table's features, as the domain builds
        them (``optalloc.domains.load_table(path)[1].X``).

    Returns
    -------
    ndarray
        One probability per row of ``frame``, in row order.

    Raises
    ------
    CohortError
        ``frame`` lacks a column the model needs (the message lists them).
    ModelFileError
        The model file is corrupt or was written by other library versions.
    """
    model = model_path_or_obj if isinstance(model_path_or_obj, TrainedRiskModel) else load_model(model_path_or_obj)
    X = _model_inputs(model, frame)
    return model.estimator.predict_proba(X)[:, 1]


def _model_inputs(model: TrainedRiskModel, frame: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in model.features if c not in frame.columns]
    if missing:
        raise CohortError(
            f"table to score: missing column(s) {', '.join(missing)} that the {model.name} model "
            f"({model.domain}) was trained on. Add them, or score the table with a model trained "
            "on the columns it has."
        )
    X = frame[list(model.features)].copy()
    if model.domain == TRANSFUSION:
        from optalloc.cohort import schema

        for column in schema.NUMERIC_FEATURES:
            if column in X:  # text here is an error naming the row, not a NaN for the model to choke on
                X[column] = schema.numbers(X[column], "table to score", column).astype(float)
        for column in schema.CATEGORICAL_FEATURES:
            if column in X:
                X[column] = X[column].astype(str)
    return X
