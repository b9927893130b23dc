"""Distributions in scenario files: expected values, draws, pairing, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from optalloc.errors import ScenarioError
from optalloc.scenario import load_scenario, with_overrides
from optalloc.scenario.draws import draw, draw_paired
from optalloc.scenario.uncertain import draw_values, split_distributions
from tests.helpers.files import SCENARIOS, write_scenario
from tests.helpers.studio import UNCERTAIN


def test_distribution_stands_at_its_mean_and_is_kept() -> None:
    loaded = load_scenario(UNCERTAIN / "baseline.toml")
    assert loaded.scenario.settings["home"].effect == pytest.approx((0.10 + 0.20 + 0.35) / 3)
    # A normal truncated at 0 four standard deviations away keeps its mean.
    assert loaded.scenario.resources["home_nurse_hours"] == pytest.approx(12000, rel=1e-6)
    assert set(loaded.distributions) == {"settings.home.effect", "resources.home_nurse_hours"}
    assert loaded.raw["settings"]["home"]["effect"]["dist"] == "triangular"


def test_point_scenarios_have_no_distributions() -> None:
    assert load_scenario(SCENARIOS / "baseline.toml").distributions == {}


def test_draws_are_reproducible_and_in_range() -> None:
    loaded = load_scenario(UNCERTAIN / "baseline.toml")
    a = draw(loaded, np.random.default_rng(7))
    b = draw(loaded, np.random.default_rng(7))
    assert a.scenario == b.scenario and a.distributions == {}
    effects = [draw(loaded, np.random.default_rng(k)).scenario.settings["home"].effect for k in range(50)]
    assert min(effects) >= 0.10 and max(effects) <= 0.35 and len(set(effects)) == 50


def test_paired_draws_share_values_across_scenarios() -> None:
    base = load_scenario(UNCERTAIN / "baseline.toml")
    more = load_scenario(UNCERTAIN / "more_home_nurses.toml")
    for k in range(5):
        assert (
            draw_values(base.distributions, 3, k)["settings.home.effect"]
            == draw_values(more.distributions, 3, k)["settings.home.effect"]
        )
    assert draw_paired(base, 3, 0).scenario != draw_paired(base, 3, 1).scenario
    # Hours are drawn at the same quantile: scaled means, scaled sds -> exactly double.
    assert draw_values(more.distributions, 3, 2)["resources.home_nurse_hours"] == pytest.approx(
        2 * draw_values(base.distributions, 3, 2)["resources.home_nurse_hours"]
    )


def test_overrides_replace_or_reshape_a_distribution() -> None:
    loaded = load_scenario(UNCERTAIN / "baseline.toml")
    fixed = with_overrides(loaded, {"settings.home.effect": 0.3})
    assert fixed.scenario.settings["home"].effect == 0.3
    assert set(fixed.distributions) == {"resources.home_nurse_hours"}
    shifted = with_overrides(loaded, {"settings.home.effect.mode": 0.3})
    assert shifted.scenario.settings["home"].effect == pytest.approx(0.25)


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('{ dist = "gamma", shape = 2 }', "unknown distribution"),
        ('{ dist = "triangular", low = 0.3, mode = 0.2, high = 0.35 }', "low <= mode <= high"),
        ('{ dist = "uniform", low = 0.1 }', "missing high"),
        ('{ dist = "normal", mean = 0.2, sd = 0.1, scale = 3 }', "unknown scale"),
        ('{ dist = "lognormal", median = "a", sigma = 0.1 }', "finite number"),
    ],
)
def test_bad_distributions_name_file_and_field(tmp_path: Path, table: str, expected: str) -> None:
    path = write_scenario(tmp_path, f'extends = "baseline.toml"\nname = "x"\n[settings.home]\neffect = {table}\n')
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert expected in str(info.value)
    assert "settings.home.effect" in str(info.value) and str(tmp_path) in str(info.value)


@pytest.mark.parametrize(
    "table", ['{ dist = "triangular", low = 0.1, mode = 0.3, high = 1.5 }', '{ dist = "normal", mean = 0.2, sd = 0.3 }']
)
def test_a_distribution_reaching_outside_the_field_is_refused_on_load(tmp_path: Path, table: str) -> None:
    """An effect above 1 (or an untruncated wide normal) would fail only in some draws, later."""
    path = write_scenario(tmp_path, f'extends = "baseline.toml"\nname = "x"\n[settings.home]\neffect = {table}\n')
    with pytest.raises(ScenarioError, match=r"field 'settings.home.effect': the distribution can draw"):
        load_scenario(path)
    bounded = table.replace(" }", ", low = 0.0, high = 0.9 }") if "normal" in table else None
    if bounded:
        path = write_scenario(tmp_path, f'extends = "baseline.toml"\nname = "x"\n[settings.home]\neffect = {bounded}\n')
        assert "settings.home.effect" in load_scenario(path).distributions


def test_counts_cannot_be_uncertain(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        'extends = "baseline.toml"\nname = "x"\n[cohort]\npatients = { dist = "uniform", low = 1, high = 5 }\n',
    )
    with pytest.raises(ScenarioError, match=r"cohort\.patients"):
        load_scenario(path)


def test_normal_capacity_is_truncated_at_zero() -> None:
    point, found = split_distributions(
        {"resources": {"h": {"dist": "normal", "mean": 10.0, "sd": 100.0}}}, Path("x.toml")
    )
    dist = found["resources.h"]
    assert dist.ppf(1e-9) >= 0.0 and point["resources"]["h"] > 10.0
