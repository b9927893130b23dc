"""Shared test set-up: a fixed pseudonym key and a throwaway workspace per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios" / "home_transfusion"


@pytest.fixture(autouse=True)
def _isolated_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTALLOC_PSEUDONYM_KEY", "test-key")
    monkeypatch.setenv("OPTALLOC_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.delenv("OPTALLOC_DATABASE_URL", raising=False)


def write_scenario(folder: Path, text: str, name: str = "scenario.toml") -> Path:
    """Write a scenario file that extends the real baseline (copied beside it)."""
    (folder / "baseline.toml").write_text((SCENARIOS / "baseline.toml").read_text())
    path = folder / name
    path.write_text(text)
    return path
