"""Diabetes 130 encounters as one row per patient, in the terms a service planner acts on.

This is the readmission domain's dataset knowledge for segmentation (its columns, words and
sample sizes), kept here so that :mod:`optalloc.segments` stays generic: ``optalloc segment``
on a Diabetes 130 file and the readmission domain's profiles read it from this module.

The published file (Strack et al. 2014) has one row per inpatient encounter, coded admission
fields and three ICD-9 diagnoses. Segmentation needs one row per patient and a few features
whose values a planner can state in an eligibility rule, so :func:`planner_frame` keeps each
patient's first (or last) encounter and derives:

``age``
    Lower bound of the published ten-year band (``[70-80)`` -> 70), so that a rule
    ``age >= 70`` or ``age < 70`` is exact for the patients' true ages.
``age_years``
    Midpoint of the band (``[70-80)`` -> 75), for the profiles' mean age.
``admission``
    ``emergency`` (admission type 1 Emergency or 7 Trauma Center), ``urgent`` (2),
    ``elective`` (3) or ``unknown`` (4 Newborn, 5, 6, 8: not available/NULL/not mapped).
``arrival``
    Admission source grouped: ``emergency_room`` (7), ``referral`` (1-3: physician, clinic,
    HMO), ``transfer`` (4-6, 10, 18, 22, 25, 26: from another hospital or facility) or
    ``unknown`` (the rest).
``length_of_stay``, ``medications``, ``procedures``, ``lab_tests``, ``diagnoses``
    The published counts ``time_in_hospital`` (days), ``num_medications``,
    ``num_procedures``, ``num_lab_procedures``, ``number_diagnoses``.
``prior_inpatient``, ``prior_emergency``, ``prior_outpatient``, ``prior_visits``
    Visits in the year before the encounter (``number_inpatient`` etc.) and their sum.
``diagnosis``
    Group of the primary diagnosis ``diag_1`` (Strack et al., table 2): ``circulatory``,
    ``respiratory``, ``digestive``, ``diabetes``, ``injury``, ``musculoskeletal``,
    ``genitourinary``, ``neoplasms``, ``other`` or ``missing``.
``insulin``
    ``No``, ``Steady``, ``Up`` or ``Down`` (as published).
``medication_change``, ``diabetes_medication``
    Flags: any diabetes medication changed (``change == "Ch"``); any prescribed
    (``diabetesMed == "Yes"``).

Identifiers never appear: the loader already replaced ``patient_nbr`` by the keyed pseudonym
``patient_id`` and ``encounter_id`` by ``encounter_order``, and the frame keeps only
``patient_id`` of the two (for ``--out``). The outcome ``readmitted_30d`` is carried for the
profiles' readmission rate and is never a feature.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from optalloc.domains.kinds import DIABETES
from optalloc.domains.tables import TableKind
from optalloc.errors import CohortError
from optalloc.risk.charlson import icd9_groups as icd9_group  # Strack et al. group per code
from optalloc.segments.profile import Profiling

if TYPE_CHECKING:  # the training and clustering stacks load when a table is read or segmented
    from optalloc.risk.training import Design
    from optalloc.segments.api import ProgressCallback, SegmentationResult


DIABETES_ID_COLUMNS: frozenset[str] = frozenset({"encounter_id", "patient_nbr"})
#: Never a feature or a rule's column: the published identifiers (already pseudonymised by the
#: loader, refused here should they come back) and the published label.
NEVER_USE: tuple[str, ...] = (*sorted(DIABETES_ID_COLUMNS), "encounter_order", "readmitted")
# What segmentation clusters on (see the module docstring and benchmarks/RESULTS.md for why).
SEGMENT_NUMERIC: tuple[str, ...] = ("age", "prior_visits", "medication_change")
SEGMENT_CATEGORICAL: tuple[str, ...] = ("admission", "diagnosis", "insulin")
# Columns a rule may use: the clustering features plus a few more a planner can state.
RULE_NUMERIC: tuple[str, ...] = SEGMENT_NUMERIC + (
    "length_of_stay",
    "medications",
    "procedures",
    "lab_tests",
    "diagnoses",
    "prior_inpatient",
    "prior_emergency",
    "prior_outpatient",
    "diabetes_medication",
)
RULE_CATEGORICAL: tuple[str, ...] = SEGMENT_CATEGORICAL + ("arrival",)
PROFILE_MEANS: tuple[str, ...] = (
    "age_years",
    "length_of_stay",
    "medications",
    "procedures",
    "lab_tests",
    "prior_visits",
)

_ADMISSION = {1: "emergency", 7: "emergency", 2: "urgent", 3: "elective"}
_ARRIVAL = {
    7: "emergency_room",
    1: "referral",
    2: "referral",
    3: "referral",
    **dict.fromkeys((4, 5, 6, 10, 18, 22, 25, 26), "transfer"),
}
_COUNTS = {
    "time_in_hospital": "length_of_stay",
    "num_medications": "medications",
    "num_procedures": "procedures",
    "num_lab_procedures": "lab_tests",
    "number_diagnoses": "diagnoses",
    "number_inpatient": "prior_inpatient",
    "number_emergency": "prior_emergency",
    "number_outpatient": "prior_outpatient",
}


def looks_like_diabetes130(columns: object) -> bool:
    """True if a table has the Diabetes 130 identifiers ``encounter_id`` or ``patient_nbr``.

    Either suffices: such a file goes to the Diabetes 130 loader, which names any other missing
    column and pseudonymises the identifiers, so they cannot reach an output by another path.
    """
    return bool(DIABETES_ID_COLUMNS & {str(c) for c in columns})  # type: ignore[attr-defined]


def load_encounters(path: Path | None = None) -> tuple[pd.DataFrame, Design]:
    """A Diabetes 130 file (``None``: the shipped developer part), checked and pseudonymised by
    the project loader, and its model inputs (:mod:`optalloc.domains.encounters`)."""
    from optalloc.cohort.diabetes130 import load_diabetes130
    from optalloc.domains.encounters import diabetes_design

    data = load_diabetes130(path)
    return data.encounters, diabetes_design(data.encounters, data.source, data.sha256, data.n_excluded)


#: Diabetes 130 encounter files, told by their identifiers; the shipped table when none is given.
TABLE = TableKind(DIABETES, looks_like_diabetes130, load_encounters, shipped=True)


def planner_frame(encounters: pd.DataFrame, which: str = "first") -> pd.DataFrame:
    """One row per patient (their ``which`` encounter) with the planner features above.

    Parameters
    ----------
    encounters
        Loaded encounters (:func:`optalloc.cohort.diabetes130.load_diabetes130`): pseudonymised
        ``patient_id`` and ``encounter_order``, published clinical columns.
    which
        ``"first"`` or ``"last"`` encounter of each patient.
    """
    if which not in ("first", "last"):
        raise CohortError(f"which must be 'first' or 'last'. Got {which!r} instead.")
    leaked = sorted(DIABETES_ID_COLUMNS & set(encounters.columns))
    if leaked:
        raise CohortError(
            f"The encounter table still holds {', '.join(leaked)}; load it with "
            "optalloc.cohort.diabetes130.load_diabetes130, which pseudonymises identifiers."
        )
    ordered = encounters.sort_values("encounter_order", kind="stable")
    rows = ordered.drop_duplicates("patient_id", keep=which).reset_index(drop=True)
    low = pd.to_numeric(rows["age"].astype("string").str.extract(r"\[(\d+)-", expand=False), errors="coerce")
    frame = pd.DataFrame({"patient_id": rows["patient_id"].astype(str).to_numpy()})
    frame["age"] = low.to_numpy(dtype=float)
    frame["admission"] = rows["admission_type_id"].astype(int).map(_ADMISSION).fillna("unknown").to_numpy()
    frame["arrival"] = rows["admission_source_id"].astype(int).map(_ARRIVAL).fillna("unknown").to_numpy()
    for source, name in _COUNTS.items():
        frame[name] = rows[source].astype(int).to_numpy()
    frame["prior_visits"] = frame["prior_inpatient"] + frame["prior_emergency"] + frame["prior_outpatient"]
    frame["diagnosis"] = icd9_group(rows["diag_1"])
    frame["insulin"] = rows["insulin"].astype(str).to_numpy()
    frame["medication_change"] = (rows["change"].astype("string") == "Ch").fillna(False).to_numpy(dtype=bool)
    frame["diabetes_medication"] = (rows["diabetesMed"].astype("string") == "Yes").fillna(False).to_numpy(dtype=bool)
    if "readmitted_30d" in rows.columns:
        frame["readmitted_30d"] = rows["readmitted_30d"].to_numpy(dtype=bool)
    missing_age = frame["age"].isna()
    if missing_age.any():
        frame.loc[missing_age, "age"] = float(frame["age"].median())
    frame["age_years"] = frame["age"] + 5.0
    return frame


def load_planner_frame(path: Path | str | None = None, which: str = "first", key: bytes | None = None) -> pd.DataFrame:
    """Load a Diabetes 130 file with the project loader and return :func:`planner_frame`."""
    from optalloc.cohort.diabetes130 import load_diabetes130

    return planner_frame(load_diabetes130(path, key=key).encounters, which=which)


# Consensus settings for this data: without clearly separated groups, PAC and the k choice of a
# 1,000-patient sample with 20 runs vary from seed to seed (k=2 for one seed, 8 for the next);
# 2,000 patients and 40 runs per k make the choice and the segments reproducible (see
# benchmarks/RESULTS.md, "Segments (update)"). The co-association matrix is then 16 MB per k.
SAMPLE_SIZE = 2000
N_BASE = 40
# Admission type, diagnosis group and insulin are what a planner's rule names; weighting their
# indicators 1.5 (two patients differing in one are 2.1 standard deviations of age apart, not
# 1.4) makes segments follow them rather than cut the age bands at different places per seed:
# on the developer data the pairwise ARI across seeds rose from 0.65 to 0.9.
CATEGORY_WEIGHT = 1.5


#: The planner frame's columns and values in the words its rules use.
PLANNER_WORDS: dict[str, str] = {
    "age_years": "age (band midpoint)",
    "admission": "admission",
    "arrival": "arrived from",
    "diagnosis": "diagnosis",
    "length_of_stay": "days in hospital",
    "medications": "medications",
    "procedures": "procedures",
    "lab_tests": "lab tests",
    "diagnoses": "diagnoses",
    "prior_visits": "visits in the prior year",
    "prior_inpatient": "inpatient stays in the prior year",
    "prior_emergency": "ED visits in the prior year",
    "prior_outpatient": "outpatient visits in the prior year",
    "medication_change": "a diabetes medication change",
    "diabetes_medication": "a diabetes medication",
    "emergency_room": "the emergency room",
}


#: How its segments are profiled and named (``Declaration.profile`` of the readmission domain
#: too, whose stays-table columns ``age``, ``age_years`` and ``length_of_stay`` it also names).
PROFILING = Profiling(
    means=PROFILE_MEANS,
    names={
        "age": ("older", "younger"),
        "age_years": ("older", "younger"),
        "length_of_stay": ("long stay", "short stay"),
        "medications": ("many medications", "few medications"),
        "procedures": ("procedures", "no or few procedures"),
        "lab_tests": ("many lab tests", "few lab tests"),
        "diagnoses": ("many diagnoses", "few diagnoses"),
        "medication_change": ("medication changed", "medication unchanged"),
        "diabetes_medication": ("on diabetes medication", "no diabetes medication"),
    },
    counts={
        "prior_visits": "prior-year visits",
        "prior_inpatient": "prior inpatient stays",
        "prior_emergency": "prior ED visits",
        "prior_outpatient": "prior outpatient visits",
    },
    # category values whose bare value would not read as a name ("No" -> "no insulin")
    phrases={
        ("insulin", "No"): "no insulin",
        ("insulin", "Steady"): "steady insulin",
        ("insulin", "Up"): "insulin raised",
        ("insulin", "Down"): "insulin lowered",
        ("admission", "emergency"): "emergency admission",
        ("admission", "urgent"): "urgent admission",
        ("admission", "elective"): "elective admission",
        ("admission", "unknown"): "admission type unknown",
        ("arrival", "emergency_room"): "via the ED",
        ("arrival", "referral"): "referred",
        ("arrival", "transfer"): "transferred",
        ("arrival", "unknown"): "source unknown",
    },
    nouns={"diagnosis": "diagnosis"},  # "circulatory diagnosis"
    top=("diagnosis",),
    headers={
        "age_years": ("age", ".0f"),
        "length_of_stay": ("days", ".1f"),
        "medications": ("meds", ".1f"),
        "procedures": ("procs", ".1f"),
        "prior_visits": ("prior visits", ".2f"),
    },
)


def segment_diabetes(
    frame: pd.DataFrame,
    k: int | str = "auto",
    seed: int = 0,
    *,
    shareable: bool = False,
    progress: ProgressCallback | None = None,
    min_precision: float = 0.7,
) -> SegmentationResult:
    """:func:`~optalloc.segments.api.segment_cohort` of a :func:`planner_frame` with its settings.

    Clusters on ``SEGMENT_NUMERIC`` + ``SEGMENT_CATEGORICAL``; rules may also use the columns in
    ``RULE_NUMERIC``/``RULE_CATEGORICAL``; profiles average ``PROFILE_MEANS`` and are named in
    :data:`PROFILING`'s words.
    """
    from optalloc.segments.api import segment_cohort

    return segment_cohort(
        frame,
        k=k,
        seed=seed,
        sample_size=SAMPLE_SIZE,
        n_base=N_BASE,
        numeric=list(SEGMENT_NUMERIC),
        categorical=list(SEGMENT_CATEGORICAL),
        shareable=shareable,
        progress=progress,
        rule_numeric=list(RULE_NUMERIC),
        rule_categorical=list(RULE_CATEGORICAL),
        profile_means=list(PROFILE_MEANS),
        category_weight=CATEGORY_WEIGHT,
        min_precision=min_precision,
        words=PLANNER_WORDS,
        profiling=PROFILING,
        never_use=NEVER_USE,
    )
