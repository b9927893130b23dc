"""The CLI end to end on small cohorts: exit codes, JSON on stdout alone, errors, plans."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.privacy import is_pseudonym
from tests.helpers.files import SCENARIOS

runner = CliRunner()
SMALL = "[cohort]\npatients = 300\nseed = 5\n"


@pytest.fixture
def scenario_dir(tmp_path: Path) -> Path:
    """The shipped scenarios, each shrunk to 300 patients (they extend the baseline)."""
    for path in SCENARIOS.glob("*.toml"):
        text = path.read_text()
        if path.stem == "baseline":
            text = text.replace("patients = 5000", "patients = 300")
        (tmp_path / path.name).write_text(text)
    return tmp_path


def _json(result) -> object:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_solve_json_is_alone_on_stdout_and_complete(scenario_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    result = runner.invoke(
        app, ["solve", str(scenario_dir / "baseline.toml"), "--solver", "cbc", "--json", "--out", str(plan)]
    )
    payload = _json(result)
    for key in ("scenario", "status", "objective", "bound", "gap", "seconds", "patients_per_setting", "resources"):
        assert key in payload
    assert payload["status"] == "OPTIMAL"
    assert sum(payload["patients_per_setting"].values()) == 300
    assert payload["objective"] >= payload["greedy"]["objective"] - 1e-9
    written = pd.read_csv(plan)
    assert len(written) == 300 and written["patient_id"].map(is_pseudonym).all()
    assert set(written["setting"]) <= {"clinic", "home"}


def test_compare_backends_agree_on_the_optimum(scenario_dir: Path) -> None:
    files = [str(scenario_dir / n) for n in ("baseline.toml", "community_centre.toml")]
    cbc = _json(runner.invoke(app, ["compare", *files, "--solver", "cbc", "--json", "--no-record"]))
    # CP-SAT may stop at the time limit; its plan and bound must still bracket the optimum.
    cpsat = _json(
        runner.invoke(app, ["compare", *files, "--solver", "cpsat", "--json", "--no-record", "--time-limit", "8"])
    )
    for exact, other in zip(cbc, cpsat, strict=True):
        assert exact["status"] == "OPTIMAL"
        optimum = exact["objective"]
        assert other["objective"] <= optimum + 1e-6 * max(1.0, abs(optimum))
        assert other["bound"] >= optimum - 1e-6 * max(1.0, abs(optimum))


def test_infeasible_scenario_explains_and_exits_3(scenario_dir: Path) -> None:
    (scenario_dir / "tight.toml").write_text('extends = "baseline.toml"\nname = "tight"\nbudget = 1000\n')
    result = runner.invoke(app, ["solve", str(scenario_dir / "tight.toml"), "--solver", "cbc"])
    assert result.exit_code == 3
    assert "budget" in result.stderr and "raise budget" in result.stderr
    assert "Traceback" not in result.output


def test_bad_scenario_exits_2_naming_the_field(scenario_dir: Path) -> None:
    (scenario_dir / "bad.toml").write_text(
        'extends = "baseline.toml"\nname = "bad"\n[resources]\nhome_nurse_hours = -1\n'
    )
    result = runner.invoke(app, ["solve", str(scenario_dir / "bad.toml")])
    assert result.exit_code == 2
    assert "resources.home_nurse_hours" in result.stderr and "bad.toml" in result.stderr
    assert result.stdout == ""


def test_bad_cohort_file_exits_2(tmp_path: Path) -> None:
    (tmp_path / "cohort.csv").write_text("patient_id,age\n1,200\n")
    (tmp_path / "s.toml").write_text(
        (SCENARIOS / "baseline.toml")
        .read_text()
        .replace('source = "synthetic"', 'source = "file"\npath = "cohort.csv"')
    )
    result = runner.invoke(app, ["solve", str(tmp_path / "s.toml")])
    assert result.exit_code == 2
    assert "cohort.csv" in result.stderr and "missing required column" in result.stderr


def test_scenario_can_use_a_trained_risk_model(scenario_dir: Path, tmp_path: Path) -> None:
    cohort = tmp_path / "cohort.csv"
    assert (
        runner.invoke(app, ["cohort", "synth", "--patients", "400", "--seed", "5", "--out", str(cohort)]).exit_code == 0
    )
    model = tmp_path / "risk.skops"
    trained = runner.invoke(
        app, ["risk", "train", str(cohort), "--model", "lr", "--out", str(model), "--bootstrap", "0", "--folds", "3"]
    )
    assert trained.exit_code == 0, trained.output
    (scenario_dir / "with_model.toml").write_text(
        f'extends = "baseline.toml"\nname = "with_model"\n[cohort]\nsource = "file"\npath = "{cohort}"\n'
        f'[risk]\nmodel = "{model}"\n'
    )
    payload = _json(runner.invoke(app, ["solve", str(scenario_dir / "with_model.toml"), "--solver", "cbc", "--json"]))
    assert payload["status"] == "OPTIMAL" and payload["patients"] == 400
    assert payload["outcomes"]["readmissions_avoided"] > 0


def test_demo_runs_the_whole_chain(scenario_dir: Path) -> None:
    for name in ("budget_cut.toml", "community_centre.toml", "equity_frail.toml"):
        (scenario_dir / name).unlink()
    result = runner.invoke(app, ["demo", "--scenarios", str(scenario_dir), "--solver", "cbc", "--no-readmission"])
    assert result.exit_code == 0, result.output
    for heading in ("Segments", "readmission risk", "Scenarios vs baseline", "benefit", "auroc"):
        assert heading in result.stdout


def test_cohort_import_feeds_a_workspace_scenario(tmp_path: Path, scenario_dir: Path) -> None:
    cohort = tmp_path / "c.parquet"
    assert runner.invoke(app, ["cohort", "synth", "--patients", "250", "--out", str(cohort)]).exit_code == 0
    imported = runner.invoke(app, ["cohort", "import", str(cohort), "--name", "north"])
    assert imported.exit_code == 0, imported.output
    assert "north" in runner.invoke(app, ["cohort", "list"]).stdout
    (scenario_dir / "ws.toml").write_text(
        'extends = "baseline.toml"\nname = "ws"\n[cohort]\nsource = "workspace"\ntable = "north"\n'
    )
    payload = _json(runner.invoke(app, ["solve", str(scenario_dir / "ws.toml"), "--solver", "cbc", "--json"]))
    assert payload["patients"] == 250 and payload["status"] == "OPTIMAL"
    broken = tmp_path / "broken.csv"
    broken.write_text("patient_id,age\n1,50\n")
    failed = runner.invoke(app, ["cohort", "import", str(broken), "--name", "south"])
    assert failed.exit_code == 2 and "broken.csv" in failed.stderr
    assert "south" not in runner.invoke(app, ["cohort", "list"]).stdout


def test_json_stays_alone_on_the_real_stdout(scenario_dir: Path) -> None:
    """Native solver prints (HiGHS writes some to C stdout) must not reach a piped --json."""
    import subprocess
    import sys

    command = [
        sys.executable,
        "-c",
        "from optalloc.cli import main; main()",
        "sweep",
        str(scenario_dir / "baseline.toml"),
        "--vary",
        "resources.home_nurse_hours=0:8000:3",
        "--solver",
        "highs",
        "--json",
        "--no-record",
        "--workers",
        "1",
        "--csv",
        str(scenario_dir / "sweep.csv"),
        "--plot",
        str(scenario_dir / "sweep.png"),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    json.loads(done.stdout)


def test_explain_takes_the_pseudonym_or_the_original_id(scenario_dir: Path, tmp_path: Path) -> None:
    plan = tmp_path / "plan.csv"
    base = str(scenario_dir / "baseline.toml")
    assert runner.invoke(app, ["solve", base, "--solver", "cbc", "--out", str(plan)]).exit_code == 0
    at_home = pd.read_csv(plan).query("setting == 'home'")["patient_id"].iloc[0]
    shown = _json(runner.invoke(app, ["explain", base, "--patient", at_home, "--solver", "cbc", "--json"]))
    assert shown["patient_id"] == at_home and shown["chosen"] == "home"
    original = _json(runner.invoke(app, ["explain", base, "--patient", "SYN000001", "--solver", "cbc", "--json"]))
    assert is_pseudonym(original["patient_id"]) and original["patient_id"] != "SYN000001"
    unknown = runner.invoke(app, ["explain", base, "--patient", "NOBODY", "--solver", "cbc"])
    assert unknown.exit_code == 2 and "Traceback" not in unknown.output


def test_colgen_on_a_budgeted_scenario_exits_2_and_says_why(scenario_dir: Path) -> None:
    result = runner.invoke(app, ["solve", str(scenario_dir / "baseline.toml"), "--solver", "colgen"])
    assert result.exit_code == 2
    assert "colgen" in result.stderr and "--solver auto" in result.stderr
    assert "Traceback" not in result.output and result.stdout == ""
