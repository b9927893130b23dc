"""``optalloc segment``: exit codes, JSON keys, the --out file, and clear errors on bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from optalloc.cli import segment as segment_cli
from optalloc.cohort.synth import synthesize_cohort
from optalloc.io import write_table

# The command alone, so these tests do not depend on other command groups importing.
app = typer.Typer()
segment_cli.register(app)
app.command("noop", hidden=True)(lambda: None)  # keep "segment" a named sub-command


@pytest.fixture(scope="module")
def cohort_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("segment") / "cohort.csv"
    write_table(synthesize_cohort(800, seed=2), path)
    return path


def test_json_output_and_assignment_file(cohort_file: Path, tmp_path: Path) -> None:
    target = tmp_path / "segments.parquet"
    result = CliRunner().invoke(app, ["segment", str(cohort_file), "--k", "4", "--json", "--out", str(target)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert {"n_patients", "seed", "k", "k_table", "segments"} <= set(payload)
    assert payload["k"] == 4 and len(payload["segments"]) == 4
    first = payload["segments"][0]
    assert {"segment", "name", "n", "share", "readmission_rate", "rule"} <= set(first)
    assert {"expression", "words", "coverage", "precision"} <= set(first["rule"])
    assignments = pd.read_parquet(target)
    assert list(assignments.columns) == ["patient_id", "segment"]
    assert len(assignments) == 800
    assert sorted(assignments["segment"].unique()) == [0, 1, 2, 3]
    sizes = assignments["segment"].value_counts().sort_index().tolist()
    assert sizes == [s["n"] for s in payload["segments"]]


def test_table_output_shows_k_choice_and_rules(cohort_file: Path) -> None:
    result = CliRunner().invoke(app, ["segment", str(cohort_file), "--seed", "1"], env={"COLUMNS": "160"})
    assert result.exit_code == 0, result.output
    assert "Choosing the number of segments" in result.stdout
    assert "coverage" in result.stdout and "precision" in result.stdout
    assert "chosen" in result.stdout


def test_missing_column_exits_with_a_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    synthesize_cohort(50, seed=0).drop(columns=["distance_km"]).to_csv(bad, index=False)
    result = CliRunner().invoke(app, ["segment", str(bad)])
    assert result.exit_code == 2
    assert "distance_km" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["no_such_file.csv"], "no such file"),
        (["{cohort}", "--k", "lots"], "--k must be"),
        (["{cohort}", "--out", "segments.xlsx"], "must end in .csv"),
    ],
)
def test_bad_input_exits_non_zero(cohort_file: Path, args: list[str], message: str) -> None:
    argv = ["segment"] + [a.format(cohort=cohort_file) for a in args]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == 2
    assert message in result.output


def test_corrupt_file_exits_non_zero(tmp_path: Path) -> None:
    corrupt = tmp_path / "cohort.parquet"
    corrupt.write_bytes(b"not a parquet file")
    result = CliRunner().invoke(app, ["segment", str(corrupt)])
    assert result.exit_code == 2
    assert "could not be read" in result.output


def test_out_file_holds_pseudonyms_not_the_records_ids(cohort_file: Path, tmp_path: Path) -> None:
    raw = pd.read_csv(cohort_file)
    target = tmp_path / "segments.csv"
    result = CliRunner().invoke(app, ["segment", str(cohort_file), "--k", "3", "--out", str(target)])
    assert result.exit_code == 0, result.output
    written = pd.read_csv(target)
    assert not written["patient_id"].astype(str).isin(raw["patient_id"].astype(str)).any()
    from optalloc.privacy import is_pseudonym

    assert written["patient_id"].map(is_pseudonym).all()


def test_shareable_rules_hide_rates_next_to_small_counts(tmp_path: Path) -> None:
    """Coverage and precision with one known count give the hidden one back: both go."""
    from optalloc.segments import segment_cohort

    cohort = synthesize_cohort(400, seed=3)
    result = segment_cohort(cohort, k=8, seed=0, shareable=True)
    rules = result.rules
    small = rules["matched"].eq("<11") | rules["size"].eq("<11")
    assert small.any(), "k=8 on 400 patients should give a segment or rule below 11"
    assert rules.loc[small, "coverage"].isna().all() and rules.loc[small, "precision"].isna().all()
    assert rules.loc[~small, "coverage"].notna().all()


def test_narrow_terminal_shows_the_deciding_criteria_within_80_columns(cohort_file: Path) -> None:
    result = CliRunner().invoke(app, ["segment", str(cohort_file), "--seed", "1"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert max(len(line) for line in result.stdout.splitlines()) <= 80
    assert "gain" in result.stdout and "cov." in result.stdout and "held-out prec." in result.stdout
    assert "Every criterion and each rule's expression: --json" in " ".join(result.stdout.split())
    assert "┃ BIC" not in result.stdout and "┃ sil." not in result.stdout  # columns from 140 on, or in the JSON
