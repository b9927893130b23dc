"""The workspace and the OMOP import against a real PostgreSQL server (a throwaway cluster)."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.synth import synthesize_cohort
from tests.helpers.files import write_scenario
from tests.helpers.omop_cdm import build_cdm

runner = CliRunner()


@pytest.fixture
def database(postgres_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh database on the session's server, as the workspace URL."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = postgres_url.replace("/optalloc?", f"/{name}?")
    monkeypatch.setenv("OPTALLOC_DATABASE_URL", url)
    return url


def test_cohorts_and_runs_in_postgres(database: str, tmp_path: Path) -> None:
    records = tmp_path / "c.csv"
    frame = synthesize_cohort(150, seed=5)
    frame["notes"] = "free text"
    frame.to_csv(records, index=False)
    assert runner.invoke(app, ["cohort", "import", str(records), "--name", "north"]).exit_code == 0
    listed = runner.invoke(app, ["cohort", "list"])
    assert "north" in listed.output and "150" in listed.output
    scenario = write_scenario(
        tmp_path,
        'extends = "baseline.toml"\nname = "pg"\n[cohort]\nsource = "workspace"\n'
        'table = "north"\n[[equity]]\ngroup = "age >= 75"\nsetting = "home"\n'
        "min_share = 0.01\n",
    )
    solved = runner.invoke(app, ["solve", str(scenario), "--json"])
    assert solved.exit_code == 0, solved.output
    assert json.loads(solved.stdout)["status"] in ("OPTIMAL", "FEASIBLE")
    runs = runner.invoke(app, ["runs", "list", "--json"])
    assert len(json.loads(runs.stdout)) == 1
    shown = runner.invoke(app, ["runs", "show", "1", "--rerun"])
    assert shown.exit_code == 0, shown.output
    assert runner.invoke(app, ["cohort", "delete", "north"]).exit_code == 0


def test_omop_cdm_in_postgres(database: str, tmp_path: Path) -> None:
    engine = create_engine(database)
    build_cdm(engine, schema="cdm", upper=False, random_persons=150, seed=2)
    engine.dispose()
    result = runner.invoke(
        app,
        [
            "cohort",
            "import",
            "--omop",
            database,
            "--schema",
            "cdm",
            "--name",
            "stays",
            "--out",
            str(tmp_path / "stays.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "inpatient stays" in result.output and (tmp_path / "stays.csv").exists()


def test_unreachable_server_names_the_url_without_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPTALLOC_DATABASE_URL", "postgresql+psycopg://planner:s3cret@127.0.0.1:1/optalloc")
    result = runner.invoke(app, ["cohort", "list"])
    assert result.exit_code == 2 and "s3cret" not in result.output and "127.0.0.1:1" in result.output
