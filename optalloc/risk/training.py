"""From a table's model inputs to compared, chosen and fitted risk models (library API behind
the CLI).

Which kind of table a file is, and how it is read, is asked of the domains
(:func:`optalloc.domains.load_table`); the domains build their designs, but for the transfusion cohort's, built here for now:

* **diabetes130** — the Diabetes 130 encounter format (one row per encounter, several per
  patient), featurised by :mod:`optalloc.domains.encounters`;
* **readmission** — a stays table, featurised by :mod:`optalloc.domains.stays`;
* **transfusion** — the project's cohort (:mod:`optalloc.cohort.schema`, one row per patient),
  whose feature columns are used as they are. ``true_type`` is never read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from optalloc.cohort import schema
from optalloc.errors import CohortError
from optalloc.risk.drift import build_profile
from optalloc.risk.models import MODEL_NAMES, make_model
from optalloc.risk.persistence import TrainedRiskModel, frame_sha256
from optalloc.risk.validation import (
    CrossValidated,
    cross_validate,
    grouped_splits,
    point_metrics,
    summarize_cv,
)

TRANSFUSION = "transfusion"
TRANSFUSION_LABEL = "readmitted_30d"


@dataclass
class Design:
    """Model inputs of one table.

    Attributes
    ----------
    X : pandas.DataFrame
        Feature table (columns ``numeric + categorical``).
    y : ndarray or None
        0/1 label, if the table carries it.
    groups : ndarray
        Patient pseudonym of each row (the unit of every split and bootstrap).
    domain : str
        ``"diabetes130"`` or ``"transfusion"``.
    numeric, categorical : list of str
        Feature columns by kind.
    sha256 : str
        Content hash of the source table, recorded with a trained model.
    n_excluded : int
        Rows dropped on loading (deaths/hospice in the Diabetes 130 data).
    order : ndarray or None
        Time order of the rows (``encounter_order``) where the source has one; lets the
        training-data profile measure how much each feature drifts by itself.
    """

    X: pd.DataFrame
    y: np.ndarray | None
    groups: np.ndarray
    domain: str
    numeric: list[str]
    categorical: list[str]
    sha256: str
    n_excluded: int = 0
    order: np.ndarray | None = None

    @property
    def n_rows(self) -> int:
        return len(self.X)

    @property
    def n_patients(self) -> int:
        return int(len(np.unique(self.groups)))


def patient_digests(patients: np.ndarray, salt: str | None = None) -> dict[str, object]:
    """Salted, truncated (32-bit) SHA-256 digests of the distinct patient pseudonyms."""
    import hashlib
    import secrets

    salt = salt or secrets.token_hex(8)
    digests = sorted({hashlib.sha256(f"{salt}:{p}".encode()).hexdigest()[:8] for p in pd.unique(patients)})
    return {"salt": salt, "digests": digests}


def shared_patients(patients: np.ndarray, recorded: dict[str, object] | None) -> int | None:
    """How many distinct ``patients`` are among a model's training patients (None if unknown)."""
    if not recorded or "salt" not in recorded:
        return None
    known = set(recorded.get("digests", []))  # type: ignore[call-overload]
    mine: Any = patient_digests(patients, str(recorded["salt"]))["digests"]
    return sum(1 for d in mine if d in known)


def transfusion_design(cohort: pd.DataFrame, source: str = "cohort", require_label: bool = True) -> Design:
    """Validate a transfusion cohort (one row per patient) and take its feature columns."""
    if require_label and TRANSFUSION_LABEL not in cohort.columns:
        raise CohortError(
            f"{source}: column {TRANSFUSION_LABEL!r} is missing, so there is no outcome to learn "
            "or evaluate. Add the observed 30-day readmission (true/false) for every patient."
        )
    checked = schema.validate_cohort(cohort.drop(columns=["true_type"], errors="ignore"), source)
    X = checked[list(schema.FEATURE_COLUMNS)].copy()
    for column in schema.NUMERIC_FEATURES:
        X[column] = X[column].astype(float)
    y = checked[TRANSFUSION_LABEL].to_numpy(dtype=int) if TRANSFUSION_LABEL in checked else None
    return Design(
        X=X,
        y=y,
        groups=checked["patient_id"].to_numpy(),
        domain=TRANSFUSION,
        numeric=list(schema.NUMERIC_FEATURES),
        categorical=list(schema.CATEGORICAL_FEATURES),
        sha256=frame_sha256(X if y is None else X.assign(_y=y)),
    )


@dataclass
class Comparison:
    """Cross-validated comparison of several models on one design.

    Attributes
    ----------
    results : dict
        Model name -> out-of-fold predictions.
    table : pandas.DataFrame
        One row per model: point estimates and 95 % bootstrap bounds (``<metric>_low``,
        ``<metric>_high``) plus ``fit_seconds`` (sum over folds).
    chosen : str
        Model with the lowest out-of-fold Brier score (a proper score: it rewards
        discrimination and calibration together, which is what the estimates stage consumes).
    """

    results: dict[str, CrossValidated]
    table: pd.DataFrame
    chosen: str


def compare_models(
    design: Design,
    names: Sequence[str] = MODEL_NAMES,
    seed: int = 0,
    n_splits: int = 5,
    n_boot: int = 200,
    on_fold: Callable[[], None] | None = None,
    params: dict[str, dict[str, object]] | None = None,
) -> Comparison:
    """Patient-grouped CV of each model; ``n_boot=0`` skips the bootstrap intervals."""
    if design.y is None:
        raise CohortError("The table has no outcome column, so models cannot be compared on it.")
    splits = grouped_splits(design.y, design.groups, n_splits, seed)
    results, rows = {}, []
    for name in names:
        model = make_model(name, design.numeric, design.categorical, seed, params=(params or {}).get(name))
        result = cross_validate(model, design.X, design.y, design.groups, splits, on_fold=on_fold)
        results[name] = result
        if n_boot > 0:
            summary = summarize_cv(result, design.y, design.groups, n_boot, seed)
            row = dict(summary["estimate"])
            row.update({f"{k}_low": v for k, v in summary["low"].items()})
            row.update({f"{k}_high": v for k, v in summary["high"].items()})
        else:
            row = point_metrics(design.y, result.probability, result.probability >= result.threshold)
        row.update(model=name, fit_seconds=result.fit_seconds)
        rows.append(row)
    table = pd.DataFrame(rows).set_index("model")
    learned = [n for n in names if n != "lace"] or list(names)
    chosen = str(table.loc[learned, "brier"].idxmin())
    return Comparison(results, table, chosen)


def fit_model(
    design: Design,
    name: str,
    seed: int = 0,
    metadata: dict[str, object] | None = None,
    params: dict[str, object] | None = None,
) -> TrainedRiskModel:
    """Fit one model on every row of ``design`` and wrap it with what it needs to score."""
    if design.y is None:
        raise CohortError("The table has no outcome column, so a model cannot be trained on it.")
    start = time.perf_counter()
    estimator = make_model(name, design.numeric, design.categorical, seed, params=params)
    estimator.fit(design.X, design.y, groups=design.groups)
    info: dict[str, object] = {
        "training_data_sha256": design.sha256,
        "n_rows": design.n_rows,
        "n_patients": design.n_patients,
        "prevalence": float(np.mean(design.y)),
        "seed": seed,
        "calibration": estimator.method_,
        "fit_seconds": time.perf_counter() - start,
    }
    # what tracking compares new periods with: bin shares only, no rows or identifiers
    info["reference_profile"] = build_profile(design.X, list(design.numeric), design.order)
    # who trained it, as salted 32-bit digests of the pseudonyms: enough for 'risk evaluate' to
    # warn when it is scored on its own patients, not enough to list them
    info["training_patients"] = patient_digests(design.groups)
    info.update(metadata or {})
    return TrainedRiskModel(
        estimator=estimator,
        name=name,
        domain=design.domain,
        features=list(design.numeric) + list(design.categorical),
        metadata=info,
    )
