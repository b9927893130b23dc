"""The everyday path without a traceback: recorded runs show again, shareable segments,
and output paths checked before the work (issue 16)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.synth import synthesize_cohort
from tests.conftest import SCENARIOS, write_scenario

runner = CliRunner()


def test_runs_show_and_rerun_with_floors(tmp_path: Path) -> None:
    """A run with an equity floor and min_patients (infinite upper bounds, stored as null)."""
    path = write_scenario(
        tmp_path,
        """extends = "baseline.toml"
name = "floors"
[cohort]
patients = 300
[settings.home]
min_patients = 5
[[equity]]
group = "age >= 75"
setting = "home"
min_share = 0.02
""",
    )
    done = runner.invoke(app, ["compare", str(SCENARIOS / "baseline.toml"), str(path), "--json"])
    assert done.exit_code == 0, done.output
    run_id = json.loads(done.stdout)[0]["run_id"]
    shown = runner.invoke(app, ["runs", "show", str(run_id)])
    assert shown.exit_code == 0, shown.output
    assert "floors" in shown.output
    shown_json = runner.invoke(app, ["runs", "show", str(run_id), "--json"])
    assert shown_json.exit_code == 0 and json.loads(shown_json.stdout)


@pytest.mark.parametrize("as_json", [False, True])
def test_shareable_segments_with_suppressed_cells(tmp_path: Path, as_json: bool) -> None:
    cohort = tmp_path / "small.csv"
    synthesize_cohort(120, seed=3).to_csv(cohort, index=False)
    args = ["segment", str(cohort), "--shareable"] + (["--json"] if as_json else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    if as_json:
        segments = json.loads(result.stdout)["segments"]
        hidden = [s for s in segments if s["rule"]["matched"] == "<11"]
        assert hidden and all(s["rule"]["coverage"] is None for s in hidden)
    else:
        assert "<11" in result.output


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda d: d, "this is a folder"),
        (lambda d: d / "plan.xlsx", "must end in"),
        (lambda d: Path("/proc/optalloc/plan.csv"), "cannot write"),
    ],
)
def test_output_paths_are_refused_before_the_work(tmp_path: Path, make, words: str) -> None:
    target = make(tmp_path)
    result = runner.invoke(app, ["solve", str(SCENARIOS / "baseline.toml"), "--out", str(target)])
    assert result.exit_code == 2 and words in result.output
    assert "Scenario" not in result.output  # refused before solving


def test_unwritable_folder_is_refused(tmp_path: Path) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    result = runner.invoke(app, ["solve", str(SCENARIOS / "baseline.toml"), "--out", str(locked / "p.csv")])
    assert result.exit_code == 2 and "cannot write" in result.output
