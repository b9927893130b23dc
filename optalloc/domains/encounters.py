"""Model features for Diabetes 130 encounters: diagnoses, comorbidity, medication, utilisation
and the patient's own history; the readmission domain's design of such a table.

They live with the domain, not in :mod:`optalloc.risk`, which fits and validates whatever design
it is given: the columns below are Diabetes 130's.

History features use the patient's **earlier** encounters only (``encounter_order`` strictly
below the current one): at discharge the outcome of an earlier stay is known — its readmission,
if any, happened at or before this admission — while anything from a later stay is the future.
A feature built from all of a patient's rows (e.g. "number of encounters in the file") would leak
the label, because a patient readmitted within 30 days necessarily has another encounter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from optalloc.cohort.diabetes130 import DIAGNOSIS_CODE_COLUMNS, INTEGER_COLUMNS, MEDICATION_COLUMNS
from optalloc.domains.kinds import DIABETES
from optalloc.errors import CohortError
from optalloc.risk.charlson import ICD9_GROUPS, charlson_index, icd9_groups
from optalloc.risk.lace import lace_score
from optalloc.risk.persistence import frame_sha256
from optalloc.risk.training import Design

#: Admission types counted as acute in LACE: Emergency, Urgent, Trauma Center.
ACUTE_ADMISSION_TYPES: tuple[int, ...] = (1, 2, 7)

DIAGNOSIS_COLUMNS: tuple[str, ...] = DIAGNOSIS_CODE_COLUMNS
UTILISATION_FEATURES: tuple[str, ...] = (*INTEGER_COLUMNS, "visits_past_year")
MEDICATION_FEATURES: tuple[str, ...] = (
    "n_medications_used",
    "n_dose_up",
    "n_dose_down",
    "n_dose_changed",
    "medication_changed",
    "on_diabetes_medication",
)
COMORBIDITY_FEATURES: tuple[str, ...] = (
    "charlson",
    "lace",
    *(f"n_dx_{group}" for group in ICD9_GROUPS if group != "missing"),
)
HISTORY_FEATURES: tuple[str, ...] = (
    "prior_encounters",
    "prior_readmissions_30d",
    "prior_readmissions_any",
    "prior_readmission_30d_rate",
    "previous_readmitted_30d",
    "previous_readmitted_any",
    "prior_days_in_hospital",
    "prior_max_charlson",
    "prior_emergency_admissions",
    "prior_max_number_inpatient",
    "time_since_previous",
)
DEMOGRAPHIC_FEATURES: tuple[str, ...] = ("age_years",)
NUMERIC_FEATURES: tuple[str, ...] = (
    DEMOGRAPHIC_FEATURES + UTILISATION_FEATURES + MEDICATION_FEATURES + COMORBIDITY_FEATURES + HISTORY_FEATURES
)
CATEGORICAL_FEATURES: tuple[str, ...] = (
    "race",
    "gender",
    "admission_type",
    "discharge_disposition",
    "admission_source",
    "medical_specialty",
    "payer_code",
    "max_glu_serum",
    "A1Cresult",
    "insulin",
    "metformin",
    "diag_1_group",
    "diag_2_group",
    "diag_3_group",
    "previous_discharge_disposition",
)
FEATURES: tuple[str, ...] = NUMERIC_FEATURES + CATEGORICAL_FEATURES
# Raw columns the feature builder reads: a table lacking one cannot be scored.
RAW_COLUMNS: tuple[str, ...] = (
    "patient_id",
    "encounter_order",
    "race",
    "gender",
    "age",
    "admission_type_id",
    "discharge_disposition_id",
    "admission_source_id",
    "medical_specialty",
    "payer_code",
    "max_glu_serum",
    "A1Cresult",
    "change",
    "diabetesMed",
    *DIAGNOSIS_COLUMNS,
    *UTILISATION_FEATURES[:-1],
    *MEDICATION_COLUMNS,
)
# Codes that are not information but its absence: grouped as "unknown" so a model does not
# learn separate effects for "NULL", "Not Mapped" and "Not Available".
_UNKNOWN_CODES = {
    "admission_type_id": {5, 6, 8},
    "discharge_disposition_id": {18, 25, 26},
    "admission_source_id": {9, 15, 17, 20, 21},
}


def lace_from_encounters(encounters: pd.DataFrame, charlson: ArrayLike) -> pd.Series:
    """LACE for Diabetes 130 encounters given their Charlson index. "Acute" is admission type
    Emergency, Urgent or Trauma Center, and the only ED count available covers the previous
    *year* (``number_emergency``), so E is slightly overstated against the published six months."""
    score = lace_score(
        encounters["time_in_hospital"].to_numpy(dtype=float),
        encounters["admission_type_id"].isin(ACUTE_ADMISSION_TYPES).to_numpy(),
        charlson,
        encounters["number_emergency"].to_numpy(dtype=float),
    )
    return pd.Series(score, index=encounters.index, name="lace")


def _age_years(bands: pd.Series) -> np.ndarray:
    """``"[70-80)"`` -> 75: the band midpoint, so trees and linear models see an order."""
    low = pd.to_numeric(bands.astype("string").str.extract(r"\[(\d+)-", expand=False), errors="coerce")
    return (low + 5).to_numpy(dtype=float)


def _coded(frame: pd.DataFrame, column: str) -> pd.Series:
    codes = frame[column].astype("int64")
    text = codes.astype(str)
    return text.where(~codes.isin(_UNKNOWN_CODES[column]), "unknown")


def _history(frame: pd.DataFrame, charlson: pd.Series) -> pd.DataFrame:
    """Per-encounter summaries of the same patient's earlier encounters (none -> 0)."""
    ordered = frame.assign(_charlson=charlson.to_numpy()).sort_values(["patient_id", "encounter_order"], kind="stable")
    by_patient = ordered.groupby("patient_id", sort=False)
    readmit_30 = ordered["readmitted"].eq("<30").astype(float)
    readmit_any = ordered["readmitted"].isin(["<30", ">30"]).astype(float)
    emergency = ordered["admission_type_id"].isin([1, 2, 7]).astype(float)

    def prior_sum(values: pd.Series) -> pd.Series:
        # cumulative sum up to and including this row, minus this row: earlier rows only
        return values.groupby(ordered["patient_id"], sort=False).cumsum() - values

    def prior_max(values: pd.Series) -> pd.Series:
        shifted = values.groupby(ordered["patient_id"], sort=False).shift(1)
        return shifted.groupby(ordered["patient_id"], sort=False).cummax().fillna(0.0)

    history = pd.DataFrame(index=ordered.index)
    history["prior_encounters"] = by_patient.cumcount().astype(float)
    history["prior_readmissions_30d"] = prior_sum(readmit_30)
    history["prior_readmissions_any"] = prior_sum(readmit_any)
    history["prior_readmission_30d_rate"] = (
        history["prior_readmissions_30d"] / history["prior_encounters"].where(history["prior_encounters"] > 0)
    ).fillna(0.0)
    history["previous_readmitted_30d"] = readmit_30.groupby(ordered["patient_id"], sort=False).shift(1).fillna(0.0)
    history["previous_readmitted_any"] = readmit_any.groupby(ordered["patient_id"], sort=False).shift(1).fillna(0.0)
    history["prior_days_in_hospital"] = prior_sum(ordered["time_in_hospital"].astype(float))
    history["prior_max_charlson"] = prior_max(ordered["_charlson"].astype(float))
    history["prior_emergency_admissions"] = prior_sum(emergency)
    history["prior_max_number_inpatient"] = prior_max(ordered["number_inpatient"].astype(float))
    # Encounter ranks are spread evenly over the study period, so the rank gap to the previous
    # encounter, as a fraction of the table, stands in for the time since the last admission.
    gap = ordered["encounter_order"].groupby(ordered["patient_id"], sort=False).diff()
    history["time_since_previous"] = (gap / max(len(ordered), 1)).fillna(1.0)
    previous = _coded(ordered, "discharge_disposition_id").groupby(ordered["patient_id"], sort=False).shift(1)
    history["previous_discharge_disposition"] = previous.fillna("none").astype(str)
    return history.loc[frame.index]


def check_raw_columns(frame: pd.DataFrame, source: str = "encounters") -> None:
    """Raise :class:`CohortError` if ``frame`` lacks a column the feature builder reads."""
    missing = [c for c in RAW_COLUMNS if c not in frame.columns]
    if missing:
        raise CohortError(
            f"{source}: missing column(s) {', '.join(missing)} needed to compute the Diabetes 130 "
            "risk features. Load the table with optalloc.cohort.diabetes130.load_diabetes130, "
            "which produces them, and try again."
        )


def encounter_features(frame: pd.DataFrame, source: str = "encounters") -> pd.DataFrame:
    """Build the model feature table (:data:`FEATURES`) from loaded encounters.

    Parameters
    ----------
    frame : pandas.DataFrame
        As returned by :func:`optalloc.cohort.diabetes130.load_diabetes130` (``encounters``).
        ``readmitted`` is read only from *earlier* encounters of the same patient; if absent
        (new patients to score) the readmission-history features are zero.
    source : str
        Name used in error messages.

    Returns
    -------
    pandas.DataFrame
        Same index and row order as ``frame``; numeric columns as float, categorical as str.
    """
    check_raw_columns(frame, source)
    data = frame.copy()
    if "readmitted" not in data.columns:
        data["readmitted"] = "NO"
    features = pd.DataFrame(index=data.index)
    features["age_years"] = _age_years(data["age"])

    for column in UTILISATION_FEATURES[:-1]:
        features[column] = data[column].astype(float)
    features["visits_past_year"] = (
        data["number_outpatient"] + data["number_emergency"] + data["number_inpatient"]
    ).astype(float)

    meds = data[list(MEDICATION_COLUMNS)].astype(str)
    features["n_medications_used"] = meds.ne("No").sum(axis=1).astype(float)
    features["n_dose_up"] = meds.eq("Up").sum(axis=1).astype(float)
    features["n_dose_down"] = meds.eq("Down").sum(axis=1).astype(float)
    features["n_dose_changed"] = features["n_dose_up"] + features["n_dose_down"]
    features["medication_changed"] = data["change"].astype(str).eq("Ch").astype(float)
    features["on_diabetes_medication"] = data["diabetesMed"].astype(str).eq("Yes").astype(float)

    diagnoses = data[list(DIAGNOSIS_COLUMNS)].astype(object).where(data[list(DIAGNOSIS_COLUMNS)].notna(), None)
    charlson = charlson_index(diagnoses)
    features["charlson"] = charlson.astype(float)
    features["lace"] = lace_from_encounters(data, charlson).astype(float)
    groups = {}
    for column in DIAGNOSIS_COLUMNS:
        groups[column] = pd.Series(icd9_groups(diagnoses[column]), index=diagnoses.index)
    for group in ICD9_GROUPS:
        if group == "missing":
            continue
        features[f"n_dx_{group}"] = sum(groups[c].eq(group) for c in DIAGNOSIS_COLUMNS).astype(float)

    history = _history(data, charlson)
    for column in HISTORY_FEATURES:
        features[column] = history[column].astype(float)

    def text(column: str) -> pd.Series:
        return data[column].astype("string").fillna("missing").astype(str)

    features["race"] = text("race")
    features["gender"] = text("gender")
    features["admission_type"] = _coded(data, "admission_type_id")
    features["discharge_disposition"] = _coded(data, "discharge_disposition_id")
    features["admission_source"] = _coded(data, "admission_source_id")
    # Rare specialties are pooled by the model's encoder (fitted on training data), not here:
    # pooling by counts in the table being scored would change the levels between tables.
    features["medical_specialty"] = text("medical_specialty")
    features["payer_code"] = text("payer_code")
    features["max_glu_serum"] = text("max_glu_serum")
    features["A1Cresult"] = text("A1Cresult")
    features["insulin"] = text("insulin")
    features["metformin"] = text("metformin")
    for column in DIAGNOSIS_COLUMNS:
        features[f"{column}_group"] = groups[column].astype(str)
    features["previous_discharge_disposition"] = history["previous_discharge_disposition"]
    return features[list(FEATURES)]


def diabetes_design(
    encounters: pd.DataFrame, source: str = "encounters", sha256: str | None = None, n_excluded: int = 0
) -> Design:
    """Featurise loaded Diabetes 130 encounters (:func:`optalloc.cohort.diabetes130.load_diabetes130`)."""
    X = encounter_features(encounters, source)
    y = encounters["readmitted_30d"].to_numpy(dtype=int) if "readmitted_30d" in encounters else None
    return Design(
        X=X,
        y=y,
        groups=encounters["patient_id"].to_numpy(),
        domain=DIABETES,
        numeric=list(NUMERIC_FEATURES),
        categorical=list(CATEGORICAL_FEATURES),
        sha256=sha256 or frame_sha256(encounters),
        n_excluded=n_excluded,
        order=encounters["encounter_order"].to_numpy() if "encounter_order" in encounters else None,
    )
