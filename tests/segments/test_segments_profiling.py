"""Profiles and names read the domain's description (``Profiling``, ``never_use``) passed down,
so the segmentation names no dataset's columns of its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optalloc.domains.diabetes130 import PROFILING as DIABETES_PROFILING
from optalloc.domains.transfusion import DECLARATION
from optalloc.errors import CohortError
from optalloc.segments import CohortFeatures, segment_cohort, segment_profiles
from optalloc.segments.profile import Profiling, propose_name
from optalloc.segments.rules import Condition, Rule


def _rule(*conditions: Condition) -> Rule:
    return Rule(segment=0, conditions=tuple(conditions), coverage=1.0, precision=1.0, matched=1, size=1)


def test_names_come_from_the_profiling_passed_in_and_are_generic_without_it() -> None:
    rule = _rule(Condition("distance_km", ">=", 60.0), Condition("age", "<", 46.0))
    assert propose_name(rule) == "High distance_km, low age"
    assert propose_name(rule, DECLARATION.profile) == "Remote, younger"
    counted = _rule(Condition("prior_visits", "<", 1.0), Condition("diagnosis", "==", "circulatory"))
    assert propose_name(counted, DIABETES_PROFILING) == "No prior-year visits, circulatory diagnosis"
    assert propose_name(_rule(Condition("insulin", "==", "No")), DIABETES_PROFILING) == "No insulin"


def test_profiles_share_and_top_columns_are_the_declared_ones() -> None:
    cohort = pd.DataFrame(
        {
            "size_cm": [1.0, 2.0, 3.0, 4.0],
            "colour": ["red", "red", "blue", "blue"],
            "flag": [True, False, True, True],
            "readmitted_30d": [True, False, False, False],
        }
    )
    labels = np.array([0, 0, 1, 1])
    plain = segment_profiles(cohort, labels)
    assert list(plain.columns) == ["segment", "name", "n", "share", "mean_size_cm", "readmitted", "readmission_rate"]
    profiling = Profiling(
        means=("size_cm",), shares={"red": ("colour", "red"), "flagged": ("flag", None)}, top=("colour",)
    )
    profile = segment_profiles(cohort, labels, profiling=profiling)
    assert list(profile["share_red"]) == [1.0, 0.0]
    assert list(profile["share_flagged"]) == [0.5, 1.0]
    assert list(profile["top_colour"]) == ["red", "blue"] and list(profile["top_colour_share"]) == [1.0, 1.0]


def test_a_domains_never_use_columns_are_refused_as_features_and_rule_columns() -> None:
    rng = np.random.default_rng(0)
    cohort = pd.DataFrame(
        {"patient_id": [f"p{i}" for i in range(40)], "x": rng.random(40), "planted": rng.integers(0, 2, 40)}
    )
    CohortFeatures(numeric=["x", "planted"], categorical=[]).fit(cohort)  # not the domain's to forbid: allowed
    with pytest.raises(CohortError, match="planted"):
        CohortFeatures(numeric=["x", "planted"], categorical=[], never_use=("planted",)).fit(cohort)
    with pytest.raises(CohortError, match="planted"):
        segment_cohort(cohort, k=2, numeric=["x"], categorical=[], rule_numeric=["planted"], never_use=["planted"])


def test_a_column_bounded_on_both_sides_is_named_by_its_range() -> None:
    rule = _rule(Condition("age", ">=", 45.0), Condition("bmi", ">=", 25.0), Condition("bmi", "<", 30.0))
    assert propose_name(rule, DECLARATION.profile) == "Older, bmi 25 to under 30"
    with_words = Rule(
        segment=0,
        conditions=(Condition("age", ">=", 45.0), Condition("age", "<", 65.0)),
        coverage=1.0,
        precision=1.0,
        matched=1,
        size=1,
        vocabulary={"age": "age (years)"},
    )
    assert propose_name(with_words, DECLARATION.profile) == "Age (years) 45 to under 65"
