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
from tests.helpers.files import SCENARIOS, write_scenario

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
    # k=8 on 120 patients: some segments fall below 11 whatever k "auto" would choose
    args = ["segment", str(cohort), "--k", "8", "--shareable"] + (["--json"] if as_json else [])
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


def test_semicolon_and_latin1_exports_are_read(tmp_path: Path) -> None:
    frame = synthesize_cohort(40, seed=6)
    frame["notes"] = "Chloé vit à domicile"
    frame.to_csv(tmp_path / "semi.csv", sep=";", decimal=",", index=False, encoding="latin-1")
    result = runner.invoke(app, ["cohort", "import", str(tmp_path / "semi.csv"), "--name", "semi"])
    assert result.exit_code == 0, result.output
    assert "40 patients" in result.output


def test_error_text_with_brackets_is_shown_whole(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        'extends = "baseline.toml"\nname = "b"\n[settings.home]\nequipment_per_patient = { ghost_pumps = 1 }\n',
    )
    result = runner.invoke(app, ["solve", str(path)])
    assert result.exit_code == 2 and "[resources]" in result.output


def test_plain_progress_lines_when_stderr_is_not_a_terminal(monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    from optalloc.cli import common

    monkeypatch.setattr(common, "PLAIN_INTERVAL", 0.0)
    with common.progress() as bar:  # CliRunner and pytest: stderr is not a terminal
        task = bar.add_task("solving", total=4)
        bar.advance(task)
        bar.advance(task, 2)
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines[-1].startswith("solving: 3/4 after") and "left" in lines[-1]
    monkeypatch.setitem(common.QUIET, "on", True)
    with common.progress() as bar:
        bar.advance(bar.add_task("quiet", total=2))
    assert capsys.readouterr().err == ""


def test_quiet_flag_is_global() -> None:
    result = runner.invoke(app, ["--quiet", "cohort", "list"])
    assert result.exit_code == 0


def test_compare_refuses_repeated_scenario_names() -> None:
    base = str(SCENARIOS / "baseline.toml")
    result = runner.invoke(app, ["compare", base, base])
    assert result.exit_code == 2 and "'baseline' appear more than once" in result.output


def test_solve_out_writes_an_actionable_plan_and_no_record(tmp_path: Path) -> None:
    import pandas as pd

    path = write_scenario(tmp_path, 'extends = "baseline.toml"\nname = "p"\n[cohort]\npatients = 300\n')
    plan = tmp_path / "plan.csv"
    result = runner.invoke(app, ["solve", str(path), "--out", str(plan), "--no-record", "--solver", "highs"])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(plan)
    for column in (
        "patient_id",
        "setting",
        "benefit",
        "cost",
        "readmissions_avoided",
        "use:home_nurse_hours",
        "risk",
        "runner_up",
    ):
        assert column in table.columns
    assert len(table) == 300 and (table["runner_up"] != table["setting"]).all()
    home = table[table["setting"] == "home"]
    assert (home["use:home_nurse_hours"] > 0).all() and (
        table.loc[table["setting"] == "clinic", "use:home_nurse_hours"] == 0
    ).all()
    assert json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout or "[]") == []


def test_conflicts_name_the_scenario_field(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        'extends = "baseline.toml"\nname = "m"\n[cohort]\npatients = 300\n[settings.home]\nmin_patients = 290\n',
    )
    result = runner.invoke(app, ["solve", str(path), "--solver", "highs"])
    assert result.exit_code == 3
    assert "lower settings.home.min_patients from 290" in result.output  # the field to edit, not a row name


def test_equity_group_matching_nobody_is_an_error(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        'extends = "baseline.toml"\nname = "e"\n[cohort]\npatients = 300\n'
        '[[equity]]\ngroup = "age > 200"\nsetting = "home"\nmin_share = 0.1\n',
    )
    result = runner.invoke(app, ["solve", str(path)])
    assert result.exit_code == 2 and "equity[0].group" in result.output and "matches no patient" in result.output


def test_an_eligibility_nobody_meets_is_said(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        'extends = "baseline.toml"\nname = "n"\n[cohort]\npatients = 300\n'
        '[settings.home]\neligibility = "distance_km < 0"\n',
    )
    result = runner.invoke(app, ["solve", str(path), "--no-record"])
    assert result.exit_code == 0, result.output
    assert "no patient may use setting 'home'" in result.stderr


@pytest.mark.parametrize(
    "command", [["solve"], ["compare"], ["sweep"], ["track"], ["risk", "train"], ["cohort", "import"]]
)
def test_help_shows_no_bool_metavar(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0 and "<bool>" not in result.output


def test_plan_moves_by_hand() -> None:
    import pandas as pd

    from optalloc.studio.moves import plan_moves

    a = pd.DataFrame({"patient_id": ["p1", "p2", "p3", "p4"], "setting": ["clinic", "home", "clinic", "clinic"]})
    b = pd.DataFrame({"patient_id": ["p1", "p2", "p3", "p5"], "setting": ["home", "clinic", "clinic", "home"]})
    moves = plan_moves(a, b, pd.Series({"p1": "old", "p2": "young", "p3": "old"}))
    assert moves.patients["patient_id"].tolist() == ["p1", "p2"]
    assert moves.by_move.set_index(["from", "to"])["patients"].to_dict() == {
        ("clinic", "home"): 1,
        ("home", "clinic"): 1,
    }
    assert moves.by_segment.set_index("segment")["patients"].to_dict() == {"old": 1, "young": 1}


def test_compare_moves_cli(tmp_path: Path) -> None:
    import pandas as pd

    base = write_scenario(tmp_path, 'extends = "baseline.toml"\nname = "a"\n[cohort]\npatients = 300\n', name="a.toml")
    more = write_scenario(
        tmp_path, 'extends = "a.toml"\nname = "b"\n[resources]\nhome_nurse_hours = 3000\n', name="b.toml"
    )
    out_csv = tmp_path / "moves.csv"
    result = runner.invoke(
        app,
        ["compare", str(base), str(more), "--moves-csv", str(out_csv), "--json", "--no-record", "--solver", "highs"],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    by_move = {(m["from"], m["to"]): m["patients"] for m in payload["moves"]["by_move"]}
    first, second = payload["scenarios"]
    gained = second["patients_per_setting"]["home"] - first["patients_per_setting"]["home"]
    assert by_move.get(("clinic", "home"), 0) - by_move.get(("home", "clinic"), 0) == gained
    assert len(pd.read_csv(out_csv)) == sum(by_move.values())
    three = runner.invoke(app, ["compare", str(base), str(more), str(base), "--moves"])
    assert three.exit_code == 2 and "exactly two" in three.output


def test_numbers_in_messages_are_plain(tmp_path: Path) -> None:
    frame = synthesize_cohort(30, seed=7)
    frame["frailty"] = frame["frailty"].astype(int)
    frame.loc[4, "frailty"] = -5
    frame.to_csv(tmp_path / "c.csv", index=False)
    result = runner.invoke(app, ["cohort", "import", str(tmp_path / "c.csv"), "--name", "c"])
    assert result.exit_code == 2 and "row 5" in result.output
    assert "np." not in result.output and "-5" in result.output


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["cohort", "import", "--name", "x"], "give a cohort file"),
        (["cohort", "import", "some.csv", "--name", "x", "--omop", "sqlite:///nowhere.db"], "give no SOURCE"),
        (["risk", "retrain", "--champion", "m.skops", "--model", "best"], "--model best is for 'risk train'"),
        (
            [
                "size",
                str(SCENARIOS / "baseline.toml"),
                "--target",
                "patients(home) >= 1",
                "--resource",
                "home_nurse_hours",
                "--demand",
                "f.csv",
                "--quantile",
                "1.5",
            ],
            "--quantile",
        ),
    ],
)
def test_more_refusals(args: list[str], words: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and words in result.output, result.output


def test_reveal_needs_an_identifier_column(tmp_path: Path) -> None:
    import pandas as pd

    pd.DataFrame({"patient_id": ["p1"], "setting": ["home"]}).to_csv(tmp_path / "plan.csv", index=False)
    pd.DataFrame({"name": ["x"]}).to_csv(tmp_path / "records.csv", index=False)
    result = runner.invoke(
        app,
        [
            "reveal",
            str(tmp_path / "plan.csv"),
            "--records",
            str(tmp_path / "records.csv"),
            "--out",
            str(tmp_path / "out.csv"),
        ],
    )
    assert result.exit_code == 2 and "--id-column" in result.output and not (tmp_path / "out.csv").exists()
