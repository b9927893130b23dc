"""Rules, profiles and the priority score on hand-made data with answers computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optalloc.cohort.synth import synthesize_cohort
from optalloc.domains.transfusion import DECLARATION
from optalloc.segments import PriorityWeights, priority_order, priority_score, segment_profiles
from optalloc.segments.priority import priority_components, rank_normalise
from optalloc.segments.rules import Condition, describe_segments, rules_frame, score_rule


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    n = 600
    return pd.DataFrame(
        {
            "age": rng.integers(20, 95, n),
            "distance_km": np.round(rng.uniform(0, 120, n), 1),
            "diagnosis": rng.choice(["thalassaemia", "ckd_anaemia", "other_anaemia"], n),
            "prior_reaction": rng.random(n) < 0.2,
        }
    )


def test_rule_recovers_a_planted_conjunction(frame: pd.DataFrame) -> None:
    labels = ((frame["age"] >= 60) & (frame["distance_km"] < 30)).astype(int).to_numpy()
    rules = describe_segments(
        frame, labels, numeric=["age", "distance_km", "prior_reaction"], categorical=["diagnosis"], holdout=0.0
    )
    rule = rules[1]
    assert len(rule.conditions) <= 3
    assert rule.coverage >= 0.9 and rule.precision >= 0.9
    assert {c.column for c in rule.conditions} == {"age", "distance_km"}


def test_rules_never_exceed_three_conditions(frame: pd.DataFrame) -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, len(frame))  # no structure: the search must still stop at 3
    for rule in describe_segments(frame, labels, numeric=["age", "distance_km"], categorical=["diagnosis"]):
        assert len(rule.conditions) <= 3
    with pytest.raises(ValueError, match="max_conditions"):
        describe_segments(frame, labels, max_conditions=4)


def test_coverage_and_precision_by_hand() -> None:
    tiny = pd.DataFrame({"age": [70, 72, 80, 50, 66, 40], "diagnosis": ["a", "a", "b", "a", "a", "b"]})
    labels = np.array([1, 1, 1, 0, 0, 0])
    rule = score_rule(tiny, labels, 1, (Condition("age", ">=", 65.0), Condition("diagnosis", "==", "a")))
    # The rule matches rows 0, 1, 4: two of segment 1's three patients, two of three matched in it.
    assert rule.matched == 3
    assert rule.coverage == pytest.approx(2 / 3)
    assert rule.precision == pytest.approx(2 / 3)
    assert rule.expression == "age >= 65 and diagnosis == 'a'"
    assert rule.words == "age at least 65 and diagnosis is a"


def test_expressions_evaluate_to_the_same_mask(frame: pd.DataFrame) -> None:
    labels = ((frame["diagnosis"] == "thalassaemia") & ~frame["prior_reaction"]).astype(int).to_numpy().copy()
    labels[(frame["distance_km"] > 90).to_numpy()] = 2
    rules = describe_segments(
        frame, labels, numeric=["age", "distance_km", "prior_reaction"], categorical=["diagnosis"]
    )
    table = rules_frame(rules)
    for rule, expression in zip(rules, table["expression"]):
        np.testing.assert_array_equal(frame.eval(expression).to_numpy(), rule.mask(frame))
        np.testing.assert_array_equal(frame.query(expression).index, frame.index[rule.mask(frame)])
    assert {"segment", "expression", "words", "coverage", "precision"} <= set(table.columns)
    assert "diagnosis == 'thalassaemia'" in table.loc[1, "expression"]
    assert "prior_reaction == False" in table.loc[1, "expression"]


def test_profiles_sizes_rates_and_small_count_suppression() -> None:
    cohort = synthesize_cohort(200, seed=5)
    labels = np.r_[np.zeros(195, dtype=int), np.ones(5, dtype=int)]
    profile = segment_profiles(cohort, labels)
    assert list(profile["n"]) == [195, 5]
    assert profile.loc[0, "readmission_rate"] == pytest.approx(cohort["readmitted_30d"].iloc[:195].mean())
    assert profile.loc[1, "mean_age"] == pytest.approx(cohort["age"].iloc[195:].mean())
    shared = segment_profiles(cohort, labels, shareable=True)
    assert shared.loc[1, "n"] == "<11"
    assert shared.loc[1, "readmission_rate"] is None and shared.loc[1, "share"] is None
    assert shared.loc[0, "n"] == 195


TRANSFUSION = DECLARATION.priority


def test_priority_score_is_monotone_in_every_component() -> None:
    cohort = synthesize_cohort(300, seed=6)
    rng = np.random.default_rng(0)
    risk, benefit = rng.random(300), rng.random(300)
    base = priority_score(cohort, risk, benefit, inputs=TRANSFUSION)
    assert base.min() >= 0 and base.max() <= 1
    i = 17
    higher_risk = risk.copy()
    higher_risk[i] = 0.999
    assert priority_score(cohort, higher_risk, benefit, inputs=TRANSFUSION)[i] >= base[i]
    higher_benefit = benefit.copy()
    higher_benefit[i] = 5.0
    assert priority_score(cohort, risk, higher_benefit, inputs=TRANSFUSION)[i] >= base[i]
    farther = cohort.copy()
    farther.loc[i, "distance_km"] = 900.0
    assert priority_score(farther, risk, benefit, inputs=TRANSFUSION)[i] >= base[i]
    needier = cohort.copy()
    needier.loc[i, "transfusions_per_28d"] = 8.0
    assert priority_score(needier, risk, benefit, inputs=TRANSFUSION)[i] > base[i]


def test_priority_weights_select_components_and_validate() -> None:
    cohort = synthesize_cohort(50, seed=7)
    risk = np.linspace(0, 1, 50)
    only_risk = priority_score(
        cohort, risk, np.zeros(50), PriorityWeights(risk=1, benefit=0, burden=0, need=0), inputs=TRANSFUSION
    )
    np.testing.assert_allclose(only_risk, rank_normalise(risk))
    assert priority_order(only_risk)[0] == 49
    assert list(priority_order(np.array([0.5, 0.9, 0.5]))) == [1, 0, 2]  # ties keep input order
    with pytest.raises(ValueError, match="non-negative"):
        PriorityWeights(risk=-1)
    with pytest.raises(ValueError, match="one value per patient"):
        priority_score(cohort, risk[:10], np.zeros(50), inputs=TRANSFUSION)


def test_transfusion_priority_inputs_give_the_figures_of_the_former_formulas() -> None:
    """The declared expressions reproduce, bit for bit, what priority.py computed by name."""
    cohort = synthesize_cohort(400, seed=8)
    components = priority_components(cohort, np.zeros(400), np.zeros(400), TRANSFUSION)
    visits = cohort["transfusions_per_28d"].to_numpy(dtype=float)
    units = cohort["units_per_visit"].to_numpy(dtype=float)
    burden = visits * (2.0 * cohort["distance_km"].to_numpy(dtype=float) + 60.0 * units)
    deficit = np.clip(9.0 - cohort["haemoglobin_g_dl"].to_numpy(dtype=float), 0.0, None)
    assert np.array_equal(components["burden"].to_numpy(), burden)
    assert np.array_equal(components["need"].to_numpy(), visits * units * (1.0 + 0.1 * deficit))


def test_priority_without_declared_inputs_is_risk_and_benefit_alone() -> None:
    cohort = synthesize_cohort(60, seed=9)
    rng = np.random.default_rng(1)
    risk, benefit = rng.random(60), rng.random(60)
    score = priority_score(cohort, risk, benefit, PriorityWeights(risk=1, benefit=3, burden=5, need=5), inputs={})
    np.testing.assert_allclose(score, (rank_normalise(risk) + 3 * rank_normalise(benefit)) / 4)
    with pytest.raises(ValueError, match="all zero"):
        priority_score(cohort, risk, benefit, PriorityWeights(risk=0, benefit=0, burden=1, need=0), inputs={})
    with pytest.raises(ValueError, match="'urgency' is not a priority input"):
        priority_components(cohort, risk, benefit, {"urgency": "age"})


def test_rules_are_written_in_the_words_the_domain_declares(frame: pd.DataFrame) -> None:
    labels = ((frame["diagnosis"] == "ckd_anaemia") & (frame["distance_km"] < 30)).astype(int).to_numpy()
    plain = describe_segments(frame, labels, numeric=["distance_km"], categorical=["diagnosis"], holdout=0.0)[1]
    worded = describe_segments(
        frame, labels, numeric=["distance_km"], categorical=["diagnosis"], holdout=0.0, words=DECLARATION.words
    )[1]
    assert plain.conditions == worded.conditions  # words change the text, never the rule
    assert "distance km below" in plain.words and "ckd anaemia" in plain.words
    assert "distance to the unit (km) below" in worded.words and "diagnosis is CKD anaemia" in worded.words
