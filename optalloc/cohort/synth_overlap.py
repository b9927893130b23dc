"""Harder synthetic cohorts: planted types that overlap to a controlled degree, in two domains.

The built-in cohort (:mod:`optalloc.cohort.synth`) almost gives each type away by one column
(one diagnosis, or the distance band), so any clustering recovers it. Real patient groups differ
by a little in many things at once. These cohorts plant ``n_types`` types that

* differ in a **mixture of numeric, count, flag and categorical columns**, each by a moderate
  amount (at most about one standard deviation, or a tilt of the category shares), so that no
  single column reveals the type; every category level appears in several types;
* **overlap to a controlled degree**: ``separation`` scales every difference between types
  (0: one population; 1: the default, where a classifier trained on the true types reaches a
  cross-validated ARI of roughly 0.75-0.8, see :func:`optalloc.segments.benchmark.supervised_ceiling`);
* have **correlated columns within a type**: a patient-level severity factor raises age,
  frailty, comorbidities and admissions together, as in real records, so a model that treats
  columns as independent within a group is not handed the right answer.

How a patient of type ``t`` is drawn. Every numeric, count and flag column ``c`` has a latent
normal score ``z_c = 1.6 * separation * offset[t, c] + a_c * u + sqrt(1 - a_c^2) * e_c`` with
``u`` the patient's severity and ``e_c`` independent noise (both standard normal). Then

* numeric: ``value = mean_c + sd_c * z_c``, clipped and rounded as the schema records it;
* count: ``value ~ Poisson(mean_c * exp(sd_c * z_c - sd_c^2 / 2))`` (over-dispersed counts);
* flag: ``value = z_c > Phi^-1(1 - p_c)`` (share ``p_c`` when the offset is 0);
* categorical: level ``l`` with probability ``softmax(log base_l + 1.6 * separation * tilt[t, l])``.

Two domains share this recipe:

``"transfusion"``
    The transfusion cohort's schema (:mod:`optalloc.cohort.schema`): a validated cohort plus
    ``true_type`` and ``readmitted_30d``, so it runs through the whole pipeline.
``"readmission"``
    The readmission (Diabetes 130) planner features of :mod:`optalloc.domains.diabetes130`: age
    band, admission, arrival, length of stay, medications, procedures, lab tests, diagnoses,
    prior-year visits, diagnosis group, insulin and the two medication flags.

Everything is drawn from one :class:`numpy.random.Generator` seeded by ``seed``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri

from optalloc.cohort.schema import COHORT_COLUMNS, DIAGNOSES, validate_cohort
from optalloc.cohort.synth import TYPE_COLUMN

DOMAINS: tuple[str, ...] = ("transfusion", "readmission")
# The designs below are written in a readable scale (offsets of at most 1.2 SD); multiplied by
# this, separation 1 gives a supervised ceiling near 0.78 (transfusion) and 0.75 (readmission)
# at 5,000 patients, the difficulty of the cohorts issue #15 describes.
DESIGN_SCALE = 1.6


@dataclass(frozen=True)
class LatentColumn:
    """A numeric, count or flag column drawn from a latent normal score (see the module docstring).

    ``offsets`` holds one shift per type in standard deviations of the score; ``severity`` is
    the loading ``a_c`` on the patient's severity factor.
    """

    name: str
    kind: str  # "numeric", "count" or "flag"
    mean: float  # numeric: mean; count: mean count; flag: share of True
    sd: float  # numeric: standard deviation; count: log-scale spread
    offsets: tuple[float, ...]
    severity: float = 0.0
    low: float | None = None
    high: float | None = None
    decimals: int | None = 0
    step: float | None = None  # round to a multiple of this (age bands of 10 years)


@dataclass(frozen=True)
class CategoryColumn:
    """A categorical column: base shares and one log-share tilt per type and level."""

    name: str
    levels: tuple[str, ...]
    base: tuple[float, ...]
    tilts: tuple[tuple[float, ...], ...]  # [type][level]


@dataclass(frozen=True)
class OverlapDomain:
    """Types, shares and columns of one domain."""

    types: tuple[str, ...]
    shares: tuple[float, ...]
    latent: tuple[LatentColumn, ...]
    categories: tuple[CategoryColumn, ...]


# Five transfusion types. Offsets are in standard deviations of the latent score; each type
# differs from the others in several columns by 0.5-1.2 SD, none by more.
_TRANSFUSION = OverlapDomain(
    types=("stable_dependent", "frail_multimorbid", "acute_unstable", "remote_maintenance", "oncology_course"),
    shares=(0.24, 0.22, 0.20, 0.18, 0.16),
    latent=(
        LatentColumn("age", "numeric", 64, 14, (-0.9, 0.8, 0.2, 0.4, -0.5), 0.5, 18, 99),
        LatentColumn("transfusions_per_28d", "numeric", 1.8, 0.7, (0.9, 0.3, -0.3, -0.5, -0.4), 0.0, 0.17, 6, 2),
        LatentColumn("units_per_visit", "numeric", 1.7, 0.7, (0.8, -0.6, 0.5, -0.3, -0.4), 0.0, 1, 4),
        LatentColumn("haemoglobin_g_dl", "numeric", 8.3, 0.9, (0.9, -0.2, -0.9, 0.3, -0.4), -0.2, 5, 12.5, 1),
        LatentColumn("distance_km", "count", 20, 0.8, (-0.2, -0.4, -0.5, 1.2, 0.2), 0.0, 0, 600),
        LatentColumn("frailty", "numeric", 4.0, 1.6, (-0.9, 0.9, 0.4, 0.0, -0.2), 0.6, 1, 9),
        LatentColumn("comorbidity_count", "count", 3.0, 0.6, (-0.8, 1.0, 0.5, -0.1, -0.5), 0.5, 0, 30),
        LatentColumn("prior_reaction", "flag", 0.07, 1.0, (0.7, -0.2, 0.3, -0.3, -0.2)),
        LatentColumn("admissions_past_year", "count", 1.2, 0.7, (-0.6, 0.4, 1.0, -0.6, 0.2), 0.5, 0, 60),
        LatentColumn("ed_visits_past_year", "count", 1.6, 0.7, (-0.3, 0.0, 1.0, -0.8, 0.6), 0.4, 0, 100),
    ),
    categories=(
        CategoryColumn(
            "diagnosis",
            DIAGNOSES,  # MDS, thalassaemia, sickle cell, CKD, chemotherapy, other
            (0.28, 0.12, 0.08, 0.18, 0.2, 0.14),
            (
                (-0.7, 1.2, 1.1, -0.6, -0.6, 0.0),
                (0.8, -0.8, -0.8, 0.8, -0.5, 0.2),
                (-0.2, -0.2, 0.8, 0.7, 0.4, -0.2),
                (0.6, 0.3, -0.3, -0.2, -0.4, 0.6),
                (-0.1, -0.8, -0.8, -0.6, 1.1, 0.3),
            ),
        ),
        CategoryColumn("sex", ("F", "M"), (0.5, 0.5), ((0.1, -0.1), (-0.2, 0.2), (0.0, 0.0), (-0.1, 0.1), (0.1, -0.1))),
    ),
)

# Five readmission (Diabetes 130 planner) types.
_READMISSION = OverlapDomain(
    types=("elective_surgical", "frequent_flyer", "frail_elderly_medical", "young_insulin", "short_stay_observation"),
    shares=(0.2, 0.18, 0.24, 0.16, 0.22),
    latent=(
        LatentColumn("age", "numeric", 62, 15, (0.0, -0.2, 0.9, -1.1, 0.1), 0.4, 0, 90, 0, 10.0),
        LatentColumn("length_of_stay", "count", 4.4, 0.5, (0.3, 0.5, 0.7, -0.2, -1.0), 0.4, 1, 14),
        LatentColumn("medications", "count", 16, 0.4, (0.6, 0.7, 0.3, -0.3, -0.9), 0.4, 1, 80),
        LatentColumn("procedures", "count", 1.3, 0.7, (1.2, -0.3, -0.4, -0.3, 0.0), 0.0, 0, 6),
        LatentColumn("lab_tests", "count", 43, 0.35, (-0.6, 0.5, 0.6, 0.2, -0.5), 0.3, 1, 130),
        LatentColumn("diagnoses", "count", 7.4, 0.25, (-0.1, 0.6, 0.9, -0.8, -0.4), 0.5, 1, 16),
        LatentColumn("prior_inpatient", "count", 0.5, 0.9, (-0.5, 1.2, 0.3, 0.2, -0.4), 0.4),
        LatentColumn("prior_emergency", "count", 0.2, 0.9, (-0.4, 1.1, 0.0, 0.6, -0.2), 0.3),
        LatentColumn("prior_outpatient", "count", 0.35, 0.9, (0.3, 0.7, -0.2, 0.0, -0.4), 0.2),
        LatentColumn("medication_change", "flag", 0.45, 1.0, (0.0, 0.5, 0.2, 0.9, -0.8)),
        LatentColumn("diabetes_medication", "flag", 0.77, 1.0, (-0.2, 0.4, 0.0, 1.2, -0.5)),
    ),
    categories=(
        CategoryColumn(
            "admission",
            ("emergency", "urgent", "elective", "unknown"),
            (0.55, 0.18, 0.18, 0.09),
            (
                (-0.8, -0.2, 1.4, 0.0),
                (0.5, 0.4, -1.0, 0.0),
                (0.4, 0.0, -0.6, 0.3),
                (0.3, 0.5, -0.5, -0.2),
                (-0.1, 0.1, 0.2, 0.6),
            ),
        ),
        CategoryColumn(
            "arrival",
            ("emergency_room", "referral", "transfer", "unknown"),
            (0.55, 0.3, 0.08, 0.07),
            (
                (-0.9, 1.0, 0.0, 0.0),
                (0.6, -0.6, 0.0, 0.0),
                (0.2, -0.4, 1.0, 0.0),
                (0.4, 0.0, -0.5, 0.0),
                (0.0, 0.3, -0.4, 0.6),
            ),
        ),
        CategoryColumn(
            "diagnosis",
            ("circulatory", "respiratory", "digestive", "diabetes", "injury", "musculoskeletal", "other"),
            (0.3, 0.14, 0.09, 0.09, 0.07, 0.06, 0.25),
            (
                (0.3, -0.7, 0.3, -0.6, 0.5, 1.2, 0.0),
                (0.3, 0.6, -0.2, 0.4, -0.3, -0.6, 0.0),
                (0.6, 0.4, 0.0, -0.6, 0.2, 0.0, -0.2),
                (-0.8, -0.3, 0.0, 1.4, 0.0, -0.4, 0.2),
                (0.0, 0.0, 0.5, -0.2, 0.5, 0.0, 0.3),
            ),
        ),
        CategoryColumn(
            "insulin",
            ("No", "Steady", "Up", "Down"),
            (0.47, 0.3, 0.12, 0.11),
            (
                (0.3, 0.0, -0.4, -0.4),
                (-0.2, 0.0, 0.4, 0.3),
                (0.0, 0.3, -0.2, -0.2),
                (-1.0, 0.2, 0.9, 0.8),
                (0.5, -0.1, -0.6, -0.4),
            ),
        ),
    ),
)

_DOMAINS = {"transfusion": _TRANSFUSION, "readmission": _READMISSION}


def overlap_domain(domain: str) -> OverlapDomain:
    """The type design of ``domain`` (``"transfusion"`` or ``"readmission"``)."""
    if domain not in _DOMAINS:
        raise ValueError(f"domain must be one of {', '.join(DOMAINS)}. Got {domain!r} instead.")
    return _DOMAINS[domain]


def _draw_latent(column: LatentColumn, score: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    if column.kind == "flag":
        return score > ndtri(1.0 - column.mean)
    if column.kind == "count":
        values = rng.poisson(column.mean * np.exp(column.sd * score - column.sd**2 / 2.0)).astype(float)
    else:
        values = column.mean + column.sd * score
    if column.step:
        values = np.floor(values / column.step) * column.step
    values = np.clip(values, column.low if column.low is not None else -np.inf, column.high or np.inf)
    if column.decimals is not None:
        values = np.round(values, column.decimals)
    return values.astype(int) if column.decimals == 0 and column.kind != "numeric" else values


def synthesize_overlap(
    n_patients: int = 5000,
    seed: int = 0,
    *,
    domain: str = "transfusion",
    separation: float = 1.0,
) -> pd.DataFrame:
    """A cohort whose ``true_type`` groups overlap; see the module docstring for the recipe.

    Parameters
    ----------
    n_patients
        Rows; type sizes follow the design's shares up to rounding.
    seed
        Seed of every random draw.
    domain
        ``"transfusion"`` (validated transfusion cohort) or ``"readmission"`` (Diabetes 130
        planner features).
    separation
        Scale of every difference between types: 0 is one population, larger is easier.
    """
    design = overlap_domain(domain)
    if int(n_patients) < len(design.types):
        raise ValueError(f"n_patients must be at least {len(design.types)}. Got {n_patients!r} instead.")
    if not separation >= 0:
        raise ValueError(f"separation must be a non-negative number. Got {separation!r} instead.")
    n = int(n_patients)
    rng = np.random.default_rng(seed)
    shares = np.asarray(design.shares) / np.sum(design.shares)
    counts = np.floor(shares * n).astype(int)
    counts[np.argsort(-(shares * n - counts), kind="stable")[: n - counts.sum()]] += 1
    types = np.repeat(np.arange(len(design.types)), counts)
    types = types[rng.permutation(n)]
    severity = rng.standard_normal(n)
    frame = pd.DataFrame(index=range(n))
    for column in design.latent:
        offsets = np.asarray(column.offsets)[types]
        noise = rng.standard_normal(n)
        score = (
            DESIGN_SCALE * separation * offsets + column.severity * severity + np.sqrt(1.0 - column.severity**2) * noise
        )
        frame[column.name] = _draw_latent(column, score, rng)
    for category in design.categories:
        logits = (
            np.log(np.asarray(category.base))[None, :] + DESIGN_SCALE * separation * np.asarray(category.tilts)[types]
        )
        probs = np.exp(logits - logits.max(axis=1, keepdims=True))
        probs /= probs.sum(axis=1, keepdims=True)
        picks = (rng.random(n)[:, None] > np.cumsum(probs, axis=1)).sum(axis=1)
        frame[category.name] = np.asarray(category.levels, dtype=object)[np.minimum(picks, len(category.levels) - 1)]
    frame[TYPE_COLUMN] = np.asarray(design.types, dtype=object)[types]
    # The outcome rises with severity and with the types' admission burden (for profiles only).
    burden = frame[design.latent[-1].name if domain == "transfusion" else "prior_inpatient"].to_numpy(dtype=float)
    logit = -2.0 + 0.5 * severity + 0.25 * np.log1p(burden)
    frame["readmitted_30d"] = rng.random(n) < 1.0 / (1.0 + np.exp(-logit))
    width = max(6, len(str(n)))
    frame.insert(0, "patient_id", [f"OVL{i:0{width}d}" for i in range(1, n + 1)])
    if domain == "transfusion":
        frame["units_per_visit"] = frame["units_per_visit"].round().astype(int)
        for name in ("age", "frailty"):
            frame[name] = frame[name].round().astype(int)
        frame["distance_km"] = frame["distance_km"].astype(float) + np.round(rng.random(n), 1)
        ordered = [c.name for c in COHORT_COLUMNS] + [TYPE_COLUMN]
        frame = validate_cohort(frame[ordered], source="overlap cohort")
    else:
        frame["age_years"] = frame["age"] + 5.0
        frame["prior_visits"] = frame["prior_inpatient"] + frame["prior_emergency"] + frame["prior_outpatient"]
    frame[TYPE_COLUMN] = frame[TYPE_COLUMN].astype(str)
    return frame
