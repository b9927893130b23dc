"""The overlapping benchmark cohorts: schema, determinism, controlled overlap, no give-away column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from optalloc.cohort.schema import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from optalloc.cohort.synth import TYPE_COLUMN
from optalloc.cohort.synth_overlap import synthesize_overlap
from optalloc.segments.benchmark import (
    READMISSION_CATEGORICAL,
    READMISSION_NUMERIC,
    single_column_ari,
    supervised_ceiling,
)


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return synthesize_overlap(2000, seed=4)


def test_same_seed_same_cohort_and_schema(cohort: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(cohort, synthesize_overlap(2000, seed=4))
    assert not cohort.equals(synthesize_overlap(2000, seed=5))
    assert set(NUMERIC_FEATURES + CATEGORICAL_FEATURES) <= set(cohort.columns)
    assert cohort[TYPE_COLUMN].nunique() == 5
    readmission = synthesize_overlap(500, seed=0, domain="readmission")
    assert set(READMISSION_NUMERIC + READMISSION_CATEGORICAL) <= set(readmission.columns)
    assert set(readmission["age"].unique()) <= set(np.arange(0.0, 100.0, 10.0))
    with pytest.raises(ValueError, match="domain"):
        synthesize_overlap(100, domain="oncology")


def test_every_diagnosis_is_common_in_several_types(cohort: pd.DataFrame) -> None:
    shares = pd.crosstab(cohort["diagnosis"], cohort[TYPE_COLUMN], normalize="columns")
    # Each diagnosis makes up at least 5 % of at least two types: none names a type.
    assert ((shares >= 0.05).sum(axis=1) >= 2).all()


def test_overlap_is_controlled_and_no_single_column_gives_the_type_away(cohort: pd.DataFrame) -> None:
    ceiling = supervised_ceiling(cohort, cohort[TYPE_COLUMN], folds=3, models=("logistic",))["ceiling"]
    assert 0.65 <= ceiling <= 0.9
    single = single_column_ari(cohort, cohort[TYPE_COLUMN], list(NUMERIC_FEATURES + CATEGORICAL_FEATURES))
    assert single.max() < 0.4 * ceiling
    blurred = synthesize_overlap(2000, seed=4, separation=0.5)
    assert supervised_ceiling(blurred, blurred[TYPE_COLUMN], folds=3, models=("logistic",))["ceiling"] < ceiling - 0.2
