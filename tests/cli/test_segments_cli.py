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


def _own_table(tmp_path: Path) -> tuple[Path, pd.DataFrame]:
    """A table of a planner's own: the readmission-style overlapping cohort with its identifier
    called ``mrn``, a free-text column and a column with gaps, and its planted types."""
    from optalloc.cohort.synth_overlap import synthesize_overlap

    frame = synthesize_overlap(1500, seed=3, domain="readmission")
    truth = frame["true_type"].copy()  # left in the file: a planted answer is never a feature
    frame = frame.rename(columns={"patient_id": "mrn"})
    frame["mrn"] = [f"MRN{k:06d}" for k in range(len(frame))]
    frame["notes"] = [f"seen by clinician {k}" for k in range(len(frame))]
    frame["weight_kg"] = 70.0
    frame.loc[::7, "weight_kg"] = None
    path = tmp_path / "own.csv"
    frame.to_csv(path, index=False)
    return path, pd.DataFrame({"mrn": frame["mrn"], "truth": truth})


def test_any_table_is_segmented_on_the_columns_it_offers(tmp_path: Path) -> None:
    from sklearn.metrics import adjusted_rand_score

    from optalloc.privacy import pseudonymize

    path, truth = _own_table(tmp_path)
    out = tmp_path / "segments.csv"
    result = CliRunner().invoke(app, ["segment", str(path), "--k", "5", "--json", "--out", str(out)])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["data_format"] == "table" and payload["k"] == 5
    # What was used and left out, with why, on stderr only.
    said = " ".join(result.stderr.split())
    assert "admission (category)" in said and "notes (a different text in every row" in said
    assert "weight_kg (215 missing value(s))" in said
    assert "true_type (an identifier, outcome or label)" in said
    assert "MRN000001" not in result.stdout + result.stderr + out.read_text()
    assigned = pd.read_csv(out).set_index("patient_id")["segment"]
    planted = truth.set_index(pseudonymize(truth["mrn"]))["truth"]
    assert adjusted_rand_score(planted.loc[assigned.index], assigned) > 0.5


def test_named_features_are_the_only_ones_used_and_a_table_without_any_is_refused(tmp_path: Path) -> None:
    path, _ = _own_table(tmp_path)
    named = CliRunner().invoke(
        app, ["segment", str(path), "--k", "3", "--json", "--numeric", "age,medications", "--categorical", "insulin"]
    )
    assert named.exit_code == 0, named.output
    rules = " ".join(s["rule"]["expression"] for s in json.loads(named.stdout)["segments"])
    assert "length_of_stay" not in rules and "segmenting on" not in named.stderr
    empty = tmp_path / "empty.csv"
    pd.DataFrame({"mrn": ["a", "b", "c"], "notes": ["x", None, "z"]}).to_csv(empty, index=False)
    refused = CliRunner().invoke(app, ["segment", str(empty)])
    assert refused.exit_code != 0
    assert "No column of the table can be a segmentation feature" in refused.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--numeric", "age,admission"], "Feature column 'admission' is not numeric: row 1 holds"),
        (["--numeric", "weight_kg"], "Feature column 'weight_kg' has 215 missing value(s), the first in row 1"),
        (["--numeric", "", "--categorical", ""], "No feature columns to segment on"),
        (["--numeric", "age,readmitted_30d"], "readmitted_30d cannot be segmentation features"),
        (["--numeric", "age,true_type"], "true_type cannot be segmentation features"),
    ],
)
def test_named_features_that_cannot_be_used_are_refused_by_name(tmp_path: Path, args: list[str], message: str) -> None:
    path, _ = _own_table(tmp_path)
    result = CliRunner().invoke(app, ["segment", str(path), "--k", "3", *args])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split()) and "Traceback" not in result.output


def test_identifier_like_columns_are_never_inferred_as_features(tmp_path: Path) -> None:
    frame = synthesize_cohort(300, seed=4)[["patient_id", "age", "frailty", "diagnosis"]]
    frame["nhs_number"] = 9_400_000_000 + pd.Series(range(300)).sample(frac=1.0, random_state=1).to_numpy()
    frame["name"] = [f"Patient {k}" for k in range(300)]
    path = tmp_path / "own.csv"
    frame.to_csv(path, index=False)
    result = CliRunner().invoke(app, ["segment", str(path), "--k", "3", "--json"])
    assert result.exit_code == 0, result.output
    said = " ".join(result.stderr.split())
    assert "nhs_number (a different whole number in every row: an identifier)" in said
    assert "name (a different text in every row: an identifier or free text)" in said
    assert "9400000" not in result.stdout and "Patient 1" not in result.stdout


def test_a_diabetes_130_file_takes_no_feature_names(tmp_path: Path) -> None:
    from optalloc.cohort.diabetes130 import DEV_DATA_PATH

    sample = tmp_path / "d130.csv"
    pd.read_csv(DEV_DATA_PATH, dtype=str, keep_default_na=False, nrows=300).to_csv(sample, index=False)
    result = CliRunner().invoke(app, ["segment", str(sample), "--numeric", "time_in_hospital,encounter_id"])
    assert result.exit_code == 2
    assert "a Diabetes 130 file is segmented on its planner features" in " ".join(result.output.split())
