"""Per-segment profiles: size, key means and shares, readmission rate, and a plain-language name.

Profiles are what a programme lead reads to decide whom a service is for, so each segment gets
a short name proposed from its rule ("Thalassaemia, younger", "Remote, frequent transfusions")
rather than a number. With ``shareable=True`` the table can leave the hospital: counts below 11
read ``<11`` (:func:`optalloc.privacy.suppress_small_counts`) and the rates and means of such
small segments are blanked, since a rate times a known size gives the count back.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from optalloc.cohort.schema import DIAGNOSES
from optalloc.privacy import suppress_small_counts
from optalloc.segments.rules import Condition, Rule, Vocabulary, value_words

PROFILE_MEANS: tuple[str, ...] = (
    "age",
    "transfusions_per_28d",
    "units_per_visit",
    "haemoglobin_g_dl",
    "distance_km",
    "frailty",
    "comorbidity_count",
    "admissions_past_year",
    "ed_visits_past_year",
)
# Short phrases for a condition's direction: (at least threshold, below threshold).
NAME_WORDS: dict[str, tuple[str, str]] = {
    "age": ("older", "younger"),
    "distance_km": ("remote", "nearby"),
    "transfusions_per_28d": ("frequent transfusions", "occasional transfusions"),
    "units_per_visit": ("multi-unit visits", "single-unit visits"),
    "haemoglobin_g_dl": ("higher Hb", "low Hb"),
    "frailty": ("frail", "fit"),
    "comorbidity_count": ("multimorbid", "few comorbidities"),
    "admissions_past_year": ("frequent admissions", "few admissions"),
    "ed_visits_past_year": ("frequent ED visits", "few ED visits"),
    "prior_reaction": ("prior reaction", "no prior reaction"),
    "age_years": ("older", "younger"),
    "length_of_stay": ("long stay", "short stay"),
    "medications": ("many medications", "few medications"),
    "procedures": ("procedures", "no or few procedures"),
    "lab_tests": ("many lab tests", "few lab tests"),
    "diagnoses": ("many diagnoses", "few diagnoses"),
    "medication_change": ("medication changed", "medication unchanged"),
    "diabetes_medication": ("on diabetes medication", "no diabetes medication"),
}
# Counts named by their threshold: "no prior-year visits" (< 1), "under 3 prior-year visits",
# "prior-year visits" (>= 1), "3+ prior-year visits".
COUNT_WORDS: dict[str, str] = {
    "prior_visits": "prior-year visits",
    "prior_inpatient": "prior inpatient stays",
    "prior_emergency": "prior ED visits",
    "prior_outpatient": "prior outpatient visits",
}
# Category values whose bare value would not read as a name ("No" -> "no insulin").
CATEGORY_PHRASES: dict[tuple[str, str], str] = {
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
}


def _phrase(condition: Condition, vocabulary: Vocabulary) -> str:
    if isinstance(condition.value, str):
        if (condition.column, condition.value) in CATEGORY_PHRASES:
            return CATEGORY_PHRASES[condition.column, condition.value]
        if condition.column == "diagnosis" and condition.value not in DIAGNOSES:
            return f"{value_words(condition.value, vocabulary)} diagnosis"
        return value_words(condition.value, vocabulary)
    if condition.column in COUNT_WORDS and not isinstance(condition.value, bool | np.bool_):
        noun, value = COUNT_WORDS[condition.column], float(condition.value)
        if condition.op == ">=":
            return noun if value <= 1 else f"{value:g}+ {noun}"
        return f"no {noun}" if value <= 1 else f"under {value:g} {noun}"
    high, low = NAME_WORDS.get(condition.column, (f"high {condition.column}", f"low {condition.column}"))
    if isinstance(condition.value, bool | np.bool_):
        return high if condition.value else low
    return high if condition.op == ">=" else low


def propose_name(rule: Rule) -> str:
    """A short name from the rule's conditions, e.g. ``"Thalassaemia, younger"``."""
    phrases = list(dict.fromkeys(_phrase(c, rule.vocabulary) for c in rule.conditions))
    if not phrases:
        return f"Segment {rule.segment}"
    name = ", ".join(phrases)
    return name[0].upper() + name[1:]


def segment_profiles(
    cohort: pd.DataFrame,
    labels: np.ndarray,
    rules: Sequence[Rule] | None = None,
    shareable: bool = False,
    means: Sequence[str] = PROFILE_MEANS,
) -> pd.DataFrame:
    """One row per segment: size, share, means of key features, shares, readmission rate, name.

    Parameters
    ----------
    cohort
        The cohort the labels belong to.
    labels
        Segment per row.
    rules
        Rules from :func:`optalloc.segments.rules.describe_segments`, used to name segments.
    shareable
        Suppress counts below 11 and blank the statistics of those segments.
    means
        Numeric columns to average (those absent from ``cohort`` are skipped).
    """
    labels = np.asarray(labels)
    frame = cohort.assign(segment=labels)
    groups = frame.groupby("segment", sort=True)
    profile = pd.DataFrame({"n": groups.size()})
    profile["share"] = profile["n"] / len(frame)
    for column in means:
        if column in frame.columns:
            profile[f"mean_{column}"] = groups[column].mean()
    if "sex" in frame.columns:
        profile["share_male"] = groups["sex"].apply(lambda s: float((s.astype(str) == "M").mean()))
    if "prior_reaction" in frame.columns:
        profile["share_prior_reaction"] = groups["prior_reaction"].mean().astype(float)
    if "diagnosis" in frame.columns:
        top = groups["diagnosis"].agg(lambda s: s.astype(str).value_counts().index[0])
        profile["top_diagnosis"] = top
        profile["top_diagnosis_share"] = groups["diagnosis"].agg(
            lambda s: float(s.astype(str).value_counts(normalize=True).iloc[0])
        )
    if "readmitted_30d" in frame.columns:
        profile["readmitted"] = groups["readmitted_30d"].sum().astype(int)
        profile["readmission_rate"] = groups["readmitted_30d"].mean().astype(float)
    names = {r.segment: propose_name(r) for r in rules or ()}
    seen: dict[str, int] = {}
    ordered = []
    for segment in profile.index:
        name = names.get(int(segment), f"Segment {segment}")
        seen[name] = seen.get(name, 0) + 1
        ordered.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    profile.insert(0, "name", ordered)
    profile = profile.reset_index()
    if shareable:
        stats = [
            c
            for c in profile.columns
            if c.startswith(("mean_", "share")) or c in {"readmission_rate", "top_diagnosis", "top_diagnosis_share"}
        ]
        profile = suppress_small_counts(profile, ["n"], derived=stats)
        if "readmitted" in profile.columns:  # a few readmissions in a large segment: hide their rate
            profile = suppress_small_counts(profile, ["readmitted"], derived=["readmission_rate"])
    return profile
