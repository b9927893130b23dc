"""Fixtures every test package shares: a fixed pseudonym key and a throwaway workspace per test,
a real PostgreSQL server per session, and a fast fixed risk (fast_risk) for tests that are not about risk."""

from __future__ import annotations

from pathlib import Path

import pytest

from optalloc import pipeline
from tests.helpers.studio import fixed_risk


@pytest.fixture(autouse=True)
def _isolated_workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTALLOC_PSEUDONYM_KEY", "test-key")
    monkeypatch.setenv("OPTALLOC_WORKSPACE", str(tmp_path / "workspace"))
    monkeypatch.delenv("OPTALLOC_DATABASE_URL", raising=False)


@pytest.fixture(scope="session")
def postgres_url() -> object:
    """A real PostgreSQL server for the session (required in CI, skipped elsewhere if absent)."""
    import os

    from tests.helpers.postgres_cluster import find_bin, postgres_cluster

    if find_bin() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL binaries are missing in CI; .ci/run must install postgresql")
        pytest.skip("PostgreSQL binaries not installed")
    with postgres_cluster() as url:
        yield url


@pytest.fixture
def fast_risk(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "score_risk", fixed_risk)
