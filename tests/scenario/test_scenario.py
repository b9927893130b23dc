"""Scenario files: extends, validation errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from optalloc.errors import ScenarioError
from optalloc.scenario import load_scenario, with_overrides
from tests.helpers.files import SCENARIOS, write_scenario


def test_every_shipped_scenario_validates() -> None:
    names = {load_scenario(p).name for p in SCENARIOS.glob("*.toml")}
    assert {"baseline", "more_home_nurses", "budget_cut", "community_centre"} <= names


def test_extends_overrides_only_what_changes() -> None:
    base = load_scenario(SCENARIOS / "baseline.toml").scenario
    more = load_scenario(SCENARIOS / "more_home_nurses.toml").scenario
    assert more.resources["home_nurse_hours"] > base.resources["home_nurse_hours"]
    assert more.resources["day_unit_nurse_hours"] == base.resources["day_unit_nurse_hours"]
    assert more.settings["home"].eligibility == base.settings["home"].eligibility
    centre = load_scenario(SCENARIOS / "community_centre.toml").scenario
    assert list(centre.settings) == ["clinic", "home", "community"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('extends = "baseline.toml"\nname = "x"\nbudgett = 5\n', "budgett"),
        ('extends = "baseline.toml"\nname = "x"\n[resources]\nhome_nurse_hours = -5\n', "resources.home_nurse_hours"),
        (
            'extends = "baseline.toml"\nname = "x"\n[[equity]]\ngroup = "age > 70"\nsetting = "moon"\nmin_share = 0.1\n',
            "moon",
        ),
        ('extends = "baseline.toml"\nname = "x"\n[pins]\nSYN000001 = "spa"\n', "spa"),
        (
            'extends = "baseline.toml"\nname = "x"\n[settings.home]\nstaff_hours_per_visit = { nurse_hourz = 1 }\n',
            "nurse_hourz",
        ),
        ('extends = "baseline.toml"\nname = "x"\n[settings.home]\ndefault = true\n', "default"),
        ('extends = "baseline.toml"\nname = "x"\n[resources]\nbudget = 5\n', "top-level"),
        ('extends = "missing.toml"\nname = "x"\n', "missing.toml"),
        ('name = "x"\n[settings\n', "not valid TOML"),
    ],
)
def test_bad_scenarios_name_the_file_and_field(tmp_path: Path, text: str, expected: str) -> None:
    path = write_scenario(tmp_path, text, name="bad.toml")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    message = str(info.value)
    assert expected in message
    assert str(tmp_path) in message


def test_extends_cycle_is_reported(tmp_path: Path) -> None:
    (tmp_path / "a.toml").write_text('extends = "b.toml"\nname = "a"\n')
    (tmp_path / "b.toml").write_text('extends = "a.toml"\nname = "b"\n')
    with pytest.raises(ScenarioError, match="cycle"):
        load_scenario(tmp_path / "a.toml")


def test_overrides_take_dotted_paths_and_revalidate() -> None:
    loaded = load_scenario(SCENARIOS / "baseline.toml")
    changed = with_overrides(loaded, {"resources.home_nurse_hours": 4000.0, "budget": 1.0})
    assert changed.scenario.resources["home_nurse_hours"] == 4000.0
    assert changed.scenario.budget == 1.0
    assert changed.text_hash != loaded.text_hash
    with pytest.raises(ScenarioError, match="home_nurse_hours"):
        with_overrides(loaded, {"resources.home_nurse_hours": -1.0})
