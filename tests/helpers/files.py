"""Paths of the repository and its shipped scenarios, and a scenario file written beside them."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SCENARIOS = REPO / "scenarios" / "home_transfusion"


def write_scenario(folder: Path, text: str, name: str = "scenario.toml") -> Path:
    """Write a scenario file that extends the real baseline (copied beside it)."""
    (folder / "baseline.toml").write_text((SCENARIOS / "baseline.toml").read_text())
    path = folder / name
    path.write_text(text)
    return path
