"""A scenario's ``[segments]``: the cohort is segmented before the plan, and eligibility and
equity rules read ``segment`` and ``segment_risk_rank``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optalloc.errors import ScenarioError
from optalloc.pipeline import PipelineCache, prepare, segment_columns, solve_prepared
from optalloc.scenario import load_scenario
from tests.helpers.files import write_scenario

SMALL = "[cohort]\npatients = 600\nseed = 4\n"


def test_segment_columns_number_by_size_and_rank_by_mean_risk() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2])
    risk = np.array([0.1, 0.1, 0.1, 0.3, 0.5, 0.2])
    columns = segment_columns(labels, risk)
    np.testing.assert_array_equal(columns["segment"], labels)
    # Mean risk: segment 1 0.4 (rank 1), segment 2 0.2 (rank 2), segment 0 0.1 (rank 3).
    np.testing.assert_array_equal(columns["segment_risk_rank"], [3, 3, 3, 1, 1, 2])


def test_eligibility_by_segment_limits_a_setting_to_the_riskiest_segment(tmp_path: Path) -> None:
    base = write_scenario(tmp_path, f'extends = "baseline.toml"\nname = "s"\n{SMALL}[segments]\nk = 4\n', "s.toml")
    only_top = write_scenario(
        tmp_path,
        'extends = "s.toml"\nname = "top"\n[settings.home]\neligibility = "segment_risk_rank == 1"\n',
        "top.toml",
    )
    cache = PipelineCache()
    prepared = prepare(base, cache)
    cohort = prepared.cohort
    assert sorted(np.unique(cohort["segment"])) == [0, 1, 2, 3]
    sizes = np.bincount(cohort["segment"])
    assert list(sizes) == sorted(sizes, reverse=True)
    means = [prepared.risk[cohort["segment"] == s].mean() for s in range(4)]
    assert int(np.argmax(means)) == int(cohort.loc[cohort["segment_risk_rank"] == 1, "segment"].iloc[0])

    restricted = prepare(only_top, cache)
    assert len(cache.segmentations) == 1  # the same cohort, risk and [segments]: segmented once
    home = restricted.problem.settings.index("home")
    top = (restricted.cohort["segment_risk_rank"] == 1).to_numpy()
    assert not restricted.problem.allowed[~top, home].any()
    assert restricted.problem.allowed[top, home].any()
    outcome = solve_prepared(restricted, solver="cbc")
    assert set(restricted.cohort.loc[outcome.result.assignment == home, "segment_risk_rank"]) <= {1}


def test_an_equity_floor_on_a_segment_is_met(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        f'extends = "baseline.toml"\nname = "e"\n{SMALL}[segments]\nk = 3\n'
        '[[equity]]\ngroup = "segment_risk_rank == 3"\nsetting = "home"\nmin_share = 0.3\n',
        "e.toml",
    )
    prepared = prepare(path)
    outcome = solve_prepared(prepared, solver="cbc")
    assert outcome.result.status.has_plan
    group = (prepared.cohort["segment_risk_rank"] == 3).to_numpy()
    home = prepared.problem.settings.index("home")
    assert (outcome.result.assignment[group] == home).mean() >= 0.3 - 1e-9


def test_segment_columns_without_segments_are_a_clear_error(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        f'extends = "baseline.toml"\nname = "n"\n{SMALL}[settings.home]\neligibility = "segment == 0"\n',
        "n.toml",
    )
    with pytest.raises(ScenarioError, match=r"segment.*\[segments\]"):
        prepare(path)


@pytest.mark.parametrize("k", ["1", "16", '"many"'])
def test_a_bad_number_of_segments_is_refused_naming_the_field(tmp_path: Path, k: str) -> None:
    path = write_scenario(tmp_path, f'extends = "baseline.toml"\nname = "k"\n[segments]\nk = {k}\n', "k.toml")
    with pytest.raises(ScenarioError, match=r"segments\.k"):
        load_scenario(path)


def test_an_effect_may_differ_by_segment(tmp_path: Path) -> None:
    """A larger effect for the highest-risk segment, stated in the scenario."""
    path = write_scenario(
        tmp_path,
        f'extends = "baseline.toml"\nname = "fx"\n{SMALL}[segments]\nk = 3\n'
        '[settings.home]\neffect = "where(segment_risk_rank == 1, 0.4, 0.1)"\n',
        "fx.toml",
    )
    prepared = prepare(path)
    home = prepared.problem.settings.index("home")
    top = (prepared.cohort["segment_risk_rank"] == 1).to_numpy()
    avoided = prepared.estimates.readmissions_avoided[:, home]
    np.testing.assert_allclose(avoided[top], 0.4 * prepared.risk[top])
    np.testing.assert_allclose(avoided[~top], 0.1 * prepared.risk[~top])


def test_segments_need_patient_records(tmp_path: Path) -> None:
    from optalloc.cohort.load import prepare_cohort
    from optalloc.cohort.synth import synthesize_cohort
    from optalloc.domains.transfusion import DECLARATION
    from optalloc.estimates import estimate
    from optalloc.io import write_table
    from optalloc.pipeline import prepare_from_estimates

    path = write_scenario(tmp_path, f'extends = "baseline.toml"\nname = "s"\n{SMALL}[segments]\nk = 3\n', "s.toml")
    loaded = load_scenario(path)
    cohort = prepare_cohort(synthesize_cohort(60, seed=2), source="t")
    table = write_table(
        estimate(cohort, np.full(60, 0.2), loaded, DECLARATION.quantities).long_table(), tmp_path / "e.csv"
    )
    with pytest.raises(ScenarioError, match=r"\[segments\] needs patient records"):
        prepare_from_estimates(loaded, table)


def test_a_cohort_without_its_domains_segmentation_features_is_refused_by_name() -> None:
    from optalloc.domains import get_domain
    from optalloc.pipeline import segment_domain_cohort

    frame = pd.DataFrame({"patient_id": [f"p{k}" for k in range(30)], "shoe_size": range(30)})
    with pytest.raises(ScenarioError, match=r"baseline.toml: \[segments\]: the cohort holds none of the readmission"):
        segment_domain_cohort(get_domain("readmission"), frame, 3, 0, where="baseline.toml: [segments]")
