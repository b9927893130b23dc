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


@pytest.fixture(scope="session")
def postgres_url() -> object:
    """A real PostgreSQL server for the session (required in CI, skipped elsewhere if absent)."""
    import os

    from tests.postgres_cluster import find_bin, postgres_cluster

    if find_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries are missing in CI; .ci/run must install postgresql")
        pytest.skip("PostgreSQL binaries not installed")
    with postgres_cluster() as url:
        yield url
