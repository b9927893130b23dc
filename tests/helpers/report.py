"""Small scenarios for the report and studio tests (600 patients: a report in a few seconds)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.files import write_scenario

SMALL = """
extends = "baseline.toml"
name = "{name}"
[cohort]
patients = 600
seed = 7
[resources]
home_nurse_hours = {hours}
transport_boxes = 5
"""


def small_scenarios(folder: Path, hours: tuple[int, ...] = (1500, 3000)) -> list[Path]:
    """One small scenario per home-nurse budget, named ``h<hours>``."""
    folder.mkdir(parents=True, exist_ok=True)
    return [write_scenario(folder, SMALL.format(name=f"h{h}", hours=h), f"h{h}.toml") for h in hours]
