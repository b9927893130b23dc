"""Runs recorded in the workspace database: compare's differences, runs list/show/--rerun."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

import optalloc
from optalloc.cli import app
from optalloc.studio.runs import differences
from optalloc.workspace import Workspace
from tests.helpers.files import SCENARIOS
from tests.helpers.studio import small_file

pytestmark = pytest.mark.usefixtures("fast_risk")
KEYS = {"scenario", "status", "objective", "bound", "gap", "seconds", "patients_per_setting", "resources"}


def _compare(tmp_path: Path, *extra: str) -> tuple[list[Path], object]:
    files = [
        small_file(tmp_path, SCENARIOS / name, name.removesuffix(".toml"), patients=250)
        for name in ("baseline.toml", "more_home_nurses.toml")
    ]
    result = CliRunner().invoke(app, ["compare", *map(str, files), "--solver", "highs", *extra])
    return files, result


def test_compare_records_and_reruns(tmp_path: Path) -> None:
    files, result = _compare(tmp_path, "--json", "--csv", str(tmp_path / "c.csv"))
    assert result.exit_code == 0, result.output
    kpis = json.loads(result.stdout)
    assert [k["scenario"] for k in kpis] == ["baseline", "more_home_nurses"]
    assert set(kpis[0]) >= KEYS
    gain = kpis[1]["vs_first"]["benefit"]
    assert gain["diff"] == pytest.approx(kpis[1]["objective"] - kpis[0]["objective"])
    assert gain["diff_pct"] == pytest.approx(100 * gain["diff"] / kpis[0]["objective"])
    assert kpis[0]["vs_first"] == {}
    long = pd.read_csv(tmp_path / "c.csv")
    assert list(long.columns) == ["kpi", "scenario", "value", "diff", "diff_pct", "better"]
    assert set(long["scenario"]) == {"baseline", "more_home_nurses"}

    run_id = kpis[0]["run_id"]
    record = Workspace().get_run(run_id)
    assert record["kind"] == "compare" and record["code_version"] == optalloc.__version__
    assert record["scenarios"][0]["text_hash"] and len(record["cohort_hashes"]["baseline"]) == 64
    assert record["results"][1]["objective"] == pytest.approx(kpis[1]["objective"])

    listed = CliRunner().invoke(app, ["runs", "list", "--json"])
    assert listed.exit_code == 0 and json.loads(listed.stdout)[0]["id"] == run_id
    # The files may change after the run: the rerun uses the stored text and still matches.
    for path in files:
        path.write_text("garbage")
    shown = CliRunner().invoke(app, ["runs", "show", str(run_id), "--rerun", "--json"])
    assert shown.exit_code == 0, shown.output
    payload = json.loads(shown.stdout)
    assert payload["rerun"]["matches"] is True and payload["rerun"]["differences"] == []
    table = CliRunner().invoke(app, ["runs", "show", str(run_id)])
    assert table.exit_code == 0 and "more_home_nurses" in table.stdout


def test_compare_table_shows_differences(tmp_path: Path) -> None:
    _, result = _compare(tmp_path, "--no-record")
    assert result.exit_code == 0, result.output
    assert "vs baseline" in result.stdout and "%" in result.stdout
    assert Workspace().list_runs() == []


def test_unknown_run_is_a_clear_error() -> None:
    result = CliRunner().invoke(app, ["runs", "show", "42"])
    assert result.exit_code == 2
    assert "no run with id 42" in result.output


def test_differences_ignore_timings_and_respect_tolerance() -> None:
    old = {"objective": 1.0, "seconds": 3.0, "patients": {"home": 4}, "status": "OPTIMAL"}
    assert differences(old, {**old, "seconds": 9.0, "objective": 1.0 + 1e-9}) == []
    found = differences(old, {**old, "objective": 1.1, "patients": {"home": 5}})
    assert found == ["objective: recorded 1.0, now 1.1", "patients.home: recorded 4, now 5"]


def test_solve_records_its_run_quietly_with_json(tmp_path: Path) -> None:
    scenario = small_file(tmp_path, SCENARIOS / "baseline.toml", "tiny", patients=200)
    result = CliRunner().invoke(app, ["solve", str(scenario), "--solver", "highs", "--json"])
    assert result.exit_code == 0, result.output
    assert set(json.loads(result.output)) >= KEYS
    (run,) = Workspace().list_runs()
    assert run["kind"] == "solve" and run["scenario_names"] == ["tiny"]
    again = CliRunner().invoke(app, ["runs", "show", str(run["id"]), "--rerun"])
    assert again.exit_code == 0 and "re-run matches" in again.stdout
