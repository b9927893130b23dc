"""A synthetic cohort of regularly transfused outpatients, with planted patient types.

The cohort stands for the population a hospital would screen when sizing a home-transfusion
programme: adults who come to a day unit for red-cell transfusions. Five latent types are planted
(column ``true_type``, which the pipeline never reads; it exists only to score segmentation).
Each type has its own joint distribution, separable in several features at once but with the
overlap real clinics show:

``young_haemoglobinopathy`` (18 %)
    Thalassaemia (70 %) or sickle cell disease (30 %) on a chronic transfusion programme.
    Age ~ Normal(30, 9) clipped to 18-65: these patients are transfusion dependent from
    childhood. Visits every 1-3 weeks (rate mean 2.3 per 28 days, CV 0.25), 2-3 units each
    (adult thalassaemia regimens give 2-4 units every 2-5 weeks, often split over two days),
    pre-transfusion Hb ~ Normal(9.6, 0.7): guidelines aim to keep
    it at 9-10.5 g/dL. Fit (frailty 1-3), few comorbidities (iron-overload complications), more
    prior reactions (alloimmunisation, ~12 %), and for sickle cell one more ED visit a year
    on average (painful crises).
``elderly_mds`` (28 %)
    Transfusion-dependent lower-risk myelodysplastic syndrome (92 %) or other marrow failure.
    Age ~ Normal(78, 6): MDS is diagnosed at a median age above 70. Visits about every
    10-14 days (rate ~ Gamma with mean 2.6 per 28 days), 1-2 units (older patients are
    given single units to avoid circulatory overload), Hb ~ Normal(7.8, 0.6), frailty 4-7,
    several comorbidities (Poisson mean 4), male predominance (60 %).
``ckd_anaemia`` (18 %)
    Anaemia of chronic kidney disease, treated first with erythropoiesis-stimulating agents,
    so transfusions are occasional (mean 0.8 per 28 days, one unit). Age ~ Normal(66, 10),
    Hb ~ Normal(8.7, 0.6), many comorbidities (diabetes, hypertension, heart failure; Poisson
    mean 7), the most admissions and ED visits, and homes near the hospital or dialysis unit
    (median 9 km).
``chemo_short_course`` (20 %)
    Chemotherapy-induced anaemia during a course of treatment: age ~ Normal(57, 10), one or two
    transfusions per 3-4 week cycle (mean 1.5 per 28 days), Hb ~ Normal(7.7, 0.6), few
    comorbidities (Poisson mean 1.5), moderate frailty and frequent ED visits (febrile
    neutropenia; Poisson mean 3).
``rural_remote`` (16 %)
    Older patients (MDS 45 %, other anaemia 35 %, chemotherapy or CKD 10 % each) who live far
    from the unit: road distance ~ LogNormal with median 110 km and log-sd 0.4 (the other
    types: medians 9-16 km, log-sd 0.55). Visits ~ 2 per 28 days; fewer ED visits because the
    ED is far.

Transfusion visits are simulated as a Poisson count over 168 days (six 28-day periods) from
a patient-specific Gamma rate, so ``transfusions_per_28d`` takes the values a chart review
of half a year would give (multiples of 1/6).

Readmission within 30 days (``readmitted_30d``) follows a logistic model of the known
predictors - frailty, comorbidity count, admissions and ED visits in the past year, low
haemoglobin and age - plus an unobserved patient effect, calibrated to a prevalence of about
15 %, so that a risk model reaches an AUROC of roughly 0.7-0.75 (the range published
readmission scores reach).

Published home-transfusion programmes admit patients who are transfusion dependent (at least
2 transfusions in 28 days), live within about 50 km of the unit, have no previous transfusion
reaction and are clinically stable (here: Clinical Frailty Scale 6 or less).
:func:`home_transfusion_eligible` encodes that rule; about a third of the synthetic cohort
meets it (about 60 % of the young haemoglobinopathy and elderly MDS types, few of the
others).

Everything is drawn from one :class:`numpy.random.Generator` seeded by ``seed``, so a seed gives
the same cohort on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optalloc.cohort.schema import COHORT_COLUMNS, validate_cohort

TYPE_COLUMN = "true_type"
ELIGIBILITY_MIN_TRANSFUSIONS = 2.0
ELIGIBILITY_MAX_DISTANCE_KM = 50.0
ELIGIBILITY_MAX_FRAILTY = 6
_OBSERVATION_PERIODS = 6  # 28-day periods in the half-year chart review


@dataclass(frozen=True)
class PatientType:
    """Parameters of one planted type's joint distribution (see the module docstring)."""

    name: str
    share: float
    diagnoses: dict[str, float]
    age: tuple[float, float]
    age_clip: tuple[int, int]
    male_share: float
    visit_rate: tuple[float, float]  # mean and coefficient of variation of visits per 28 days
    units: dict[int, float]
    haemoglobin: tuple[float, float]
    distance_median_km: float
    distance_sigma: float
    frailty: tuple[float, float]
    comorbidity_mean: float
    prior_reaction: float
    admissions_mean: float
    ed_mean: float
    diagnosis_ed_extra: dict[str, float] = field(default_factory=dict)


PATIENT_TYPES: tuple[PatientType, ...] = (
    PatientType(
        name="young_haemoglobinopathy",
        share=0.18,
        diagnoses={"thalassaemia": 0.7, "sickle_cell_disease": 0.3},
        age=(30, 9),
        age_clip=(18, 65),
        male_share=0.5,
        visit_rate=(2.3, 0.25),
        units={2: 0.6, 3: 0.4},
        haemoglobin=(9.6, 0.7),
        distance_median_km=15,
        distance_sigma=0.55,
        frailty=(1.8, 0.7),
        comorbidity_mean=1.0,
        prior_reaction=0.12,
        admissions_mean=0.5,
        ed_mean=0.6,
        diagnosis_ed_extra={"sickle_cell_disease": 1.0},
    ),
    PatientType(
        name="elderly_mds",
        share=0.28,
        diagnoses={"myelodysplastic_syndrome": 0.92, "other_anaemia": 0.08},
        age=(78, 6),
        age_clip=(55, 99),
        male_share=0.6,
        visit_rate=(2.6, 0.25),
        units={1: 0.55, 2: 0.45},
        haemoglobin=(7.8, 0.6),
        distance_median_km=12,
        distance_sigma=0.55,
        frailty=(5.2, 0.9),
        comorbidity_mean=4.0,
        prior_reaction=0.06,
        admissions_mean=1.2,
        ed_mean=1.4,
    ),
    PatientType(
        name="ckd_anaemia",
        share=0.18,
        diagnoses={"ckd_anaemia": 0.95, "other_anaemia": 0.05},
        age=(66, 10),
        age_clip=(25, 95),
        male_share=0.55,
        visit_rate=(0.8, 0.4),
        units={1: 0.85, 2: 0.15},
        haemoglobin=(8.7, 0.6),
        distance_median_km=9,
        distance_sigma=0.55,
        frailty=(4.2, 1.0),
        comorbidity_mean=7.0,
        prior_reaction=0.05,
        admissions_mean=2.2,
        ed_mean=2.4,
    ),
    PatientType(
        name="chemo_short_course",
        share=0.20,
        diagnoses={"chemotherapy_anaemia": 0.95, "other_anaemia": 0.05},
        age=(57, 10),
        age_clip=(20, 92),
        male_share=0.5,
        visit_rate=(1.5, 0.35),
        units={1: 0.5, 2: 0.5},
        haemoglobin=(7.7, 0.6),
        distance_median_km=16,
        distance_sigma=0.55,
        frailty=(3.0, 0.9),
        comorbidity_mean=1.5,
        prior_reaction=0.04,
        admissions_mean=1.0,
        ed_mean=3.0,
    ),
    PatientType(
        name="rural_remote",
        share=0.16,
        diagnoses={
            "myelodysplastic_syndrome": 0.45,
            "other_anaemia": 0.35,
            "chemotherapy_anaemia": 0.1,
            "ckd_anaemia": 0.1,
        },
        age=(72, 9),
        age_clip=(30, 98),
        male_share=0.55,
        visit_rate=(2.0, 0.35),
        units={1: 0.5, 2: 0.5},
        haemoglobin=(8.0, 0.7),
        distance_median_km=110,
        distance_sigma=0.4,
        frailty=(4.0, 1.1),
        comorbidity_mean=3.0,
        prior_reaction=0.05,
        admissions_mean=0.9,
        ed_mean=0.6,
    ),
)

# Logistic readmission model: log-odds per unit of each predictor (centred near the cohort
# mean) and an unobserved patient effect; the intercept sets the prevalence near 15 %.
_READMIT_INTERCEPT = -2.2
_READMIT_COEF = {
    "frailty": 0.30,
    "comorbidity_count": 0.10,
    "admissions_past_year": 0.30,
    "ed_visits_past_year": 0.12,
    "haemoglobin_g_dl": -0.25,
    "age": 0.012,
}
_READMIT_CENTRE = {
    "frailty": 4.0,
    "comorbidity_count": 3.5,
    "admissions_past_year": 1.2,
    "ed_visits_past_year": 1.6,
    "haemoglobin_g_dl": 8.3,
    "age": 65.0,
}
_READMIT_HIDDEN_SD = 1.3


def _choice(rng: np.random.Generator, options: dict, size: int) -> np.ndarray:
    keys = list(options)
    probs = np.asarray([options[k] for k in keys], dtype=float)
    return np.asarray(keys, dtype=object)[rng.choice(len(keys), size=size, p=probs / probs.sum())]


def _draw_type(kind: PatientType, size: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Draw ``size`` patients of one type, every column from its documented distribution."""
    diagnosis = _choice(rng, kind.diagnoses, size)
    age = np.clip(np.rint(rng.normal(*kind.age, size)), *kind.age_clip).astype(int)
    sex = np.where(rng.random(size) < kind.male_share, "M", "F")
    mean, cv = kind.visit_rate
    rate = rng.gamma(1.0 / cv**2, mean * cv**2, size)
    visits = rng.poisson(rate * _OBSERVATION_PERIODS)
    # Everyone in the cohort is a regular transfusion patient: at least one visit in 6 months.
    transfusions = np.round(np.maximum(visits, 1) / _OBSERVATION_PERIODS, 2)
    units = _choice(rng, kind.units, size).astype(int)
    haemoglobin = np.round(np.clip(rng.normal(*kind.haemoglobin, size), 5.0, 12.5), 1)
    distance = np.round(
        np.clip(rng.lognormal(np.log(kind.distance_median_km), kind.distance_sigma, size), 0.5, 600),
        1,
    )
    # Frailty rises with age within a type (about one CFS point per 15 years).
    frailty_mean = kind.frailty[0] + (age - kind.age[0]) / 15.0
    frailty = np.clip(np.rint(rng.normal(frailty_mean, kind.frailty[1])), 1, 9).astype(int)
    comorbidity = rng.poisson(kind.comorbidity_mean * np.exp(0.15 * (frailty - kind.frailty[0])))
    prior_reaction = rng.random(size) < kind.prior_reaction
    admissions = rng.poisson(kind.admissions_mean * np.exp(0.2 * (frailty - kind.frailty[0])))
    ed_mean = np.full(size, kind.ed_mean)
    for dx, extra in kind.diagnosis_ed_extra.items():
        ed_mean = ed_mean + extra * (diagnosis == dx)
    ed_visits = rng.poisson(ed_mean)
    return {
        "age": age,
        "sex": sex,
        "diagnosis": diagnosis,
        "transfusions_per_28d": transfusions,
        "units_per_visit": units,
        "haemoglobin_g_dl": haemoglobin,
        "distance_km": distance,
        "frailty": frailty,
        "comorbidity_count": np.minimum(comorbidity, 30),
        "prior_reaction": prior_reaction,
        "admissions_past_year": admissions,
        "ed_visits_past_year": ed_visits,
    }


def _readmission(frame: pd.DataFrame, rng: np.random.Generator) -> np.ndarray:
    """Draw ``readmitted_30d`` from the logistic model documented in the module docstring."""
    logit = np.full(len(frame), _READMIT_INTERCEPT)
    for column, coef in _READMIT_COEF.items():
        logit += coef * (frame[column].to_numpy(dtype=float) - _READMIT_CENTRE[column])
    logit += rng.normal(0.0, _READMIT_HIDDEN_SD, len(frame))
    return rng.random(len(frame)) < 1.0 / (1.0 + np.exp(-logit))


def synthesize_cohort(n_patients: int = 5000, seed: int = 0) -> pd.DataFrame:
    """Return a synthetic transfusion cohort with the schema's columns plus ``true_type``.

    Parameters
    ----------
    n_patients
        Number of patients (rows); type sizes follow the planted shares exactly up to rounding
        so that small cohorts still contain every type.
    seed
        Seed of the :class:`numpy.random.Generator`; the same seed gives the same cohort.

    Returns
    -------
    pandas.DataFrame
        One row per patient in random order, validated by
        :func:`optalloc.cohort.schema.validate_cohort`, with ``true_type`` appended last.
    """
    if int(n_patients) < 1:
        raise ValueError(f"n_patients must be a positive integer. Got {n_patients!r} instead.")
    n_patients = int(n_patients)
    rng = np.random.default_rng(seed)
    shares = np.asarray([kind.share for kind in PATIENT_TYPES])
    counts = np.floor(shares / shares.sum() * n_patients).astype(int)
    # Hand the rounding remainder to the largest fractional parts (deterministic).
    remainder = n_patients - counts.sum()
    order = np.argsort(-(shares / shares.sum() * n_patients - counts), kind="stable")
    counts[order[:remainder]] += 1
    parts = []
    for kind, count in zip(PATIENT_TYPES, counts):
        if count == 0:
            continue
        columns = _draw_type(kind, int(count), rng)
        columns[TYPE_COLUMN] = np.full(count, kind.name, dtype=object)
        parts.append(pd.DataFrame(columns))
    frame = pd.concat(parts, ignore_index=True)
    frame = frame.iloc[rng.permutation(n_patients)].reset_index(drop=True)
    frame["readmitted_30d"] = _readmission(frame, rng)
    width = max(6, len(str(n_patients)))
    frame["patient_id"] = [f"SYN{i:0{width}d}" for i in range(1, n_patients + 1)]
    ordered = [c.name for c in COHORT_COLUMNS] + [TYPE_COLUMN]
    frame = validate_cohort(frame[ordered], source="synthetic cohort")
    frame[TYPE_COLUMN] = frame[TYPE_COLUMN].astype(str)
    return frame


def home_transfusion_eligible(cohort: pd.DataFrame) -> pd.Series:
    """Published home-transfusion eligibility, one boolean per patient.

    Transfusion dependent (at least 2 transfusions per 28 days), living within 50 km of the
    unit, no previous transfusion reaction, and clinically stable (Clinical Frailty Scale 6
    or less, i.e. not severely frail).
    """
    return (
        (cohort["transfusions_per_28d"] >= ELIGIBILITY_MIN_TRANSFUSIONS)
        & (cohort["distance_km"] <= ELIGIBILITY_MAX_DISTANCE_KM)
        & ~cohort["prior_reaction"].astype(bool)
        & (cohort["frailty"] <= ELIGIBILITY_MAX_FRAILTY)
    ).rename("home_eligible")
