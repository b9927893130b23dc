"""Readmission risk: features, models, patient-grouped validation and persistence.

Entry points for the rest of the pipeline:

* :func:`cohort_risk` — out-of-fold calibrated 30-day readmission probabilities for a transfusion
  cohort, so every patient is scored by a model that never saw their own label;
* :func:`predict_cohort` — calibrated probabilities of a saved (or in-memory) trained model for
  any table carrying the model's columns;
* :func:`load_model` / :func:`save_model` — model files that refuse to load when corrupt or
  written by other library versions.

Importing ``optalloc.risk`` (or one of its light modules, such as ``optalloc.risk.charlson``)
loads nothing else: the names below are imported on first use (PEP 562), so a stage that only
needs the ICD-9 grouping does not pull in the training stack.
"""

from __future__ import annotations

from optalloc.lazy import exports

_EXPORTS = {
    "CohortRisk": "optalloc.risk.cohort",
    "cohort_risk": "optalloc.risk.cohort",
    "predict_cohort": "optalloc.risk.cohort",
    "train_cohort_model": "optalloc.risk.cohort",
    "TrainedRiskModel": "optalloc.risk.persistence",
    "load_model": "optalloc.risk.persistence",
    "save_model": "optalloc.risk.persistence",
}
__all__ = sorted(_EXPORTS)

__getattr__ = exports(__name__, _EXPORTS)
