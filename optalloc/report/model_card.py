"""The risk model card: how well the readmission risk behind the plan was checked, in the terms
of TRIPOD+AI (Collins et al., BMJ 2024), the reporting guideline for prediction models.

The card only reports what the data can support: ROC and calibration from out-of-fold (or,
for a saved model, external) predictions against the outcome the cohort records; metrics with
95 % patient-bootstrap intervals; the LACE index as the clinical baseline when the records
hold its inputs; performance by subgroup; and the TRIPOD+AI items that apply to an allocation
tool (data source, outcome, predictors, sample size, missing data, model building, validation
design, subgroups, intended use). Without an observed outcome it says so and shows no curves.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score, roc_curve

from optalloc.pipeline import SEGMENT_COLUMNS, Prepared, domain_of
from optalloc.report.equity import group_order
from optalloc.risk.validation import bootstrap_metrics

OUTCOME = "readmitted_30d"
METRIC_LABELS = {
    "auroc": "AUROC (discrimination)",
    "auprc": "AUPRC (precision-recall area)",
    "prevalence": "Observed readmission rate",
    "brier": "Brier score (lower is better)",
    "calibration_slope": "Calibration slope (1 is ideal)",
    "calibration_intercept": "Calibration intercept (0 is ideal)",
}
ROC_POINTS = 200


@dataclass
class ModelCard:
    """What the report shows of the risk model; ``reason`` says why curves are absent if they are."""

    items: list[tuple[str, str]]
    baseline: str
    reason: str | None = None
    metrics: pd.DataFrame = field(default_factory=pd.DataFrame)
    models: pd.DataFrame | None = None
    roc: pd.DataFrame = field(default_factory=pd.DataFrame)
    auroc: float = float("nan")
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    subgroups: pd.DataFrame = field(default_factory=pd.DataFrame)


def roc_points(y: np.ndarray, p: np.ndarray) -> pd.DataFrame:
    """The ROC curve thinned to at most ``ROC_POINTS`` points (enough to draw, small to embed)."""
    fpr, tpr, _ = roc_curve(y, p)
    keep = np.unique(np.linspace(0, len(fpr) - 1, min(len(fpr), ROC_POINTS)).round().astype(int))
    return pd.DataFrame({"fpr": fpr[keep], "tpr": tpr[keep]})


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Mean predicted and observed rate (in %) per tenth of predicted risk, with its size."""
    order = np.argsort(p, kind="stable")
    rows = []
    for part in np.array_split(order, bins):
        if part.size:
            rows.append(
                {
                    "predicted": 100 * float(p[part].mean()),
                    "observed": 100 * float(y[part].mean()),
                    "patients": part.size,
                }
            )
    return pd.DataFrame(rows)


def subgroup_performance(y: np.ndarray, p: np.ndarray, groups: dict[str, pd.Series]) -> pd.DataFrame:
    """Patients, readmissions, observed and predicted rate (%) and AUROC for each subgroup."""
    rows = []
    for dimension, values in groups.items():
        labels = values.to_numpy()
        for group in group_order(values):
            mask = labels == group
            yy, pp = y[mask], p[mask]
            rows.append(
                {
                    "dimension": dimension,
                    "group": str(group),
                    "patients": int(mask.sum()),
                    "readmissions": int(yy.sum()),
                    "observed_pct": 100 * float(yy.mean()),
                    "predicted_pct": 100 * float(pp.mean()),
                    "auroc": float(roc_auc_score(yy, pp)) if np.unique(yy).size == 2 else float("nan"),
                }
            )
    return pd.DataFrame(rows)


def _cohort_source(prepared: Prepared) -> str:
    spec = prepared.loaded.scenario.cohort
    n = len(prepared.cohort)
    if spec.source == "synthetic":
        return f"optalloc's built-in synthetic transfusion cohort ({n:,} patients, seed {spec.seed}); not real patients"
    if spec.source == "vendored":
        return f"the shipped UCI Diabetes 130 discharge records, developer part ({n:,} patients, first discharge each)"
    if spec.source == "file":
        return f"the patient file {spec.path} ({n:,} patients), pseudonymised on loading"
    return f"the workspace cohort {spec.table} ({n:,} patients), pseudonymised on import"


def lace_sentence(header: dict | None) -> str:
    baselines = ((header or {}).get("metadata") or {}).get("baselines") or {}
    lace = baselines.get("lace")
    if lace:
        return (
            f"LACE index (length of stay, acuity, Charlson comorbidity, emergency visits), cross-validated the "
            f"same way: AUROC {lace.get('auroc', float('nan')):.3f}, Brier {lace.get('brier', float('nan')):.4f}."
        )
    return (
        "LACE index: not computable for this cohort. LACE needs the length of stay and the acuity of the index "
        "admission, which these records do not hold; a model trained with 'optalloc risk train' on stay or "
        "Diabetes 130 records carries its LACE comparison."
    )


def model_card(prepared: Prepared, groups: dict[str, pd.Series], n_boot: int = 200, seed: int = 0) -> ModelCard:
    """The card for the risk behind ``prepared`` (the reference scenario's)."""
    spec = prepared.loaded.scenario.risk
    header = None
    if spec.model:
        from optalloc.risk.persistence import read_header

        header, _ = read_header(prepared.loaded.resolve(spec.model))
    cohort = prepared.cohort
    has_outcome = OUTCOME in cohort.columns and cohort[OUTCOME].notna().all()
    y = cohort[OUTCOME].to_numpy(dtype=int) if has_outcome else np.zeros(len(cohort), dtype=int)
    p = np.asarray(prepared.risk, dtype=float)
    items = _tripod_items(prepared, header, y if has_outcome else None, n_boot)
    baseline = lace_sentence(header)
    models = None
    if prepared.risk_metrics is not None:
        models = prepared.risk_metrics.copy()
    if not has_outcome or np.isnan(p).any() or np.unique(y).size < 2:
        reason = (
            "The cohort records no 30-day readmission outcome for every patient (or only one outcome), so the "
            "risk cannot be checked against it here: no curves or metrics are shown."
        )
        return ModelCard(items=items, baseline=baseline, reason=reason, models=models)
    metrics = bootstrap_metrics(y, p, cohort["patient_id"].to_numpy(), n_boot=n_boot, random_state=seed)
    metrics = metrics.rename(index=METRIC_LABELS)
    auroc = float(roc_auc_score(y, p))
    return ModelCard(
        items=items,
        baseline=baseline,
        metrics=metrics,
        models=models,
        roc=roc_points(y, p),
        auroc=auroc,
        calibration=calibration_bins(y, p),
        subgroups=subgroup_performance(y, p, groups),
    )


def _tripod_items(prepared: Prepared, header: dict | None, y: np.ndarray | None, n_boot: int) -> list[tuple[str, str]]:
    """The TRIPOD+AI items that apply, each in one sentence."""
    declaration = domain_of(prepared.loaded).declaration
    cohort = prepared.cohort
    events = f"{int(y.sum()):,} readmissions ({100 * y.mean():.1f} %)" if y is not None else "outcome not recorded"
    transfusion = prepared.loaded.scenario.cohort.domain == "transfusion"
    if header is None:
        # the segment columns of a scenario's [segments] come after the risk, never into it
        hidden = {"patient_id", OUTCOME, *declaration.never_use, *declaration.kept, *SEGMENT_COLUMNS}
        # the declared features, else (a feature builder decides) what the cohort carries
        predictors = ", ".join(declaration.risk_features or [c for c in cohort.columns if c not in hidden])
        building = (
            "Logistic regression and gradient boosting, each calibrated inside its training folds; the one with "
            "the lower out-of-fold Brier score supplies the probabilities."
            if transfusion
            else "Logistic regression, calibrated inside its training folds, fitted on every encounter (the "
            "patient's history included); the plan and this card use each patient's first discharge."
        )
        validation = (
            "Internal validation: 5-fold cross-validation with folds by patient (no patient in both parts), "
            "stratified by outcome; every probability comes from a model that never saw that patient. "
            f"Intervals: 95 % percentile bootstrap over patients ({n_boot} replicates)."
        )
        source = _cohort_source(prepared)
    else:
        meta = header.get("metadata") or {}
        predictors = ", ".join(header.get("features") or []) or "as stored in the model file"
        building = (
            f"Saved model '{header.get('name', '?')}' ({prepared.loaded.scenario.risk.model}), trained on "
            f"{meta.get('n_rows', '?')} rows of {meta.get('n_patients', '?')} patients; calibration "
            f"{meta.get('calibration', '?')}."
        )
        validation = (
            f"Development: {meta.get('cv_folds', '?')}-fold cross-validation by patient on its training data; "
            "here: an external check on this scenario's cohort (95 % patient bootstrap intervals)."
        )
        source = f"{_cohort_source(prepared)}; the model was trained on {meta.get('source', 'its own data')}"
    return [
        ("Data source", source + "."),
        ("Outcome", f"Readmission within 30 days of the last discharge (column {OUTCOME}), as recorded."),
        ("Sample size", f"{len(cohort):,} patients; {events}."),
        ("Predictors", predictors + "."),
        ("Missing data", "Rows with missing or out-of-range predictor values are refused on loading, not imputed."),
        ("Model building", building),
        ("Validation design", validation),
        ("Performance by subgroup", "Age band, sex, segment (and race where recorded): see the table below."),
        (
            "Intended use",
            "Ranking the expected benefit of care settings for capacity planning across a cohort; not for "
            "decisions about an individual patient's care.",
        ),
    ]
