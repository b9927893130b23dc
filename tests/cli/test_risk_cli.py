"""``optalloc risk train|evaluate|explain`` on a small patient subsample of the developer data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.diabetes130 import DEV_DATA_PATH

runner = CliRunner()


@pytest.fixture(scope="module")
def small_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every encounter of 400 randomly chosen patients, in the published format."""
    raw = pd.read_csv(DEV_DATA_PATH, dtype=str, keep_default_na=False)
    patients = raw["patient_nbr"].unique()
    keep = np.random.default_rng(0).choice(patients, 400, replace=False)
    path = tmp_path_factory.mktemp("risk") / "small.csv.gz"
    raw[raw["patient_nbr"].isin(keep)].to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def model_file(small_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    target = tmp_path_factory.mktemp("model") / "risk.model"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPTALLOC_PSEUDONYM_KEY", "test-key")
        result = runner.invoke(
            app,
            [
                "risk",
                "train",
                str(small_data),
                "--out",
                str(target),
                "--model",
                "lr",
                "--folds",
                "2",
                "--bootstrap",
                "5",
                "--threads",
                "1",
            ],
        )
    return target, result.output if result.exit_code == 0 else f"exit {result.exit_code}: {result.output}"


def test_train_prints_comparison_and_saves(model_file: tuple[Path, str]) -> None:
    path, output = model_file
    assert path.exists(), output
    for label in ("logistic regression", "decision tree", "random forest", "gradient boosting", "LACE"):
        assert label in output
    assert "saved lr" in output


def test_evaluate_json(model_file: tuple[Path, str], small_data: Path) -> None:
    result = runner.invoke(app, ["risk", "evaluate", str(model_file[0]), str(small_data), "--json", "--bootstrap", "5"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    for key in (
        "auroc",
        "auprc",
        "brier",
        "prevalence",
        "n_encounters",
        "n_patients",
        "calibration_slope",
        "calibration_intercept",
        "auroc_ci",
        "precision",
        "recall",
        "f1",
    ):
        assert key in payload
    assert payload["n_patients"] <= 400 and payload["n_encounters"] >= payload["n_patients"]
    assert 0.5 < payload["auroc"] <= 1


def test_explain_lists_features(model_file: tuple[Path, str], small_data: Path) -> None:
    result = runner.invoke(
        app,
        [
            "risk",
            "explain",
            str(model_file[0]),
            str(small_data),
            "--json",
            "--top",
            "5",
            "--repeats",
            "1",
            "--max-rows",
            "300",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert len(payload["features"]) == 5
    assert {"feature", "auroc_drop", "std"} <= set(payload["features"][0])


def test_corrupt_model_and_bad_data_exit_2(model_file: tuple[Path, str], small_data: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.model"
    broken.write_bytes(model_file[0].read_bytes()[:-10])
    result = runner.invoke(app, ["risk", "evaluate", str(broken), str(small_data)])
    assert result.exit_code == 2
    assert "corrupt" in result.output and "Traceback" not in result.output
    bad = tmp_path / "bad.csv"
    pd.read_csv(small_data, dtype=str, keep_default_na=False).drop(columns=["diag_2"]).to_csv(bad, index=False)
    result = runner.invoke(app, ["risk", "evaluate", str(model_file[0]), str(bad)])
    assert result.exit_code == 2 and "diag_2" in result.output


def test_evaluate_warns_on_the_training_data_and_on_shared_patients(
    model_file: tuple[Path, str], small_data: Path, tmp_path: Path
) -> None:
    same = runner.invoke(app, ["risk", "evaluate", str(model_file[0]), str(small_data), "--json", "--bootstrap", "0"])
    assert same.exit_code == 0, same.output
    overlap = json.loads(same.stdout)["overlap"]
    assert overlap["same_data"] and overlap["share"] == 1.0
    assert "warning" in same.stderr and "in-sample" in same.stderr
    raw = pd.read_csv(small_data, dtype=str, keep_default_na=False)
    half = raw[raw["patient_nbr"].isin(raw["patient_nbr"].unique()[:100])]
    other = pd.read_csv(DEV_DATA_PATH, dtype=str, keep_default_na=False)
    fresh = other[~other["patient_nbr"].isin(raw["patient_nbr"])].head(300)
    mixed = tmp_path / "mixed.csv"
    pd.concat([half, fresh]).to_csv(mixed, index=False)
    result = runner.invoke(app, ["risk", "evaluate", str(model_file[0]), str(mixed), "--json", "--bootstrap", "0"])
    overlap = json.loads(result.stdout)["overlap"]
    assert not overlap["same_data"] and 90 <= overlap["shared_patients"] <= 100  # some died (excluded)
    clean = tmp_path / "clean.csv"
    fresh.to_csv(clean, index=False)
    result = runner.invoke(app, ["risk", "evaluate", str(model_file[0]), str(clean), "--json", "--bootstrap", "0"])
    assert json.loads(result.stdout)["overlap"]["shared_patients"] == 0 and "warning" not in result.stderr


def test_split_by_patient(small_data: Path, tmp_path: Path) -> None:
    train, test = tmp_path / "train.csv", tmp_path / "test.csv"
    result = runner.invoke(
        app,
        [
            "risk",
            "split",
            str(small_data),
            "--train",
            str(train),
            "--test",
            str(test),
            "--share",
            "0.25",
            "--seed",
            "3",
        ],
    )
    assert result.exit_code == 0, result.output
    a, b = pd.read_csv(train, dtype=str), pd.read_csv(test, dtype=str)
    raw = pd.read_csv(small_data, dtype=str)
    assert len(a) + len(b) == len(raw)
    assert not set(a["patient_nbr"]) & set(b["patient_nbr"])
    assert abs(b["patient_nbr"].nunique() - 0.25 * raw["patient_nbr"].nunique()) <= 1
    again = tmp_path / "again.csv"
    runner.invoke(
        app,
        [
            "risk",
            "split",
            str(small_data),
            "--train",
            str(tmp_path / "t2.csv"),
            "--test",
            str(again),
            "--share",
            "0.25",
            "--seed",
            "3",
        ],
    )
    assert again.read_text() == test.read_text()  # seeded


def test_model_file_carries_the_lace_baseline_for_the_model_card(model_file: tuple[Path, str]) -> None:
    from optalloc.report.model_card import lace_sentence
    from optalloc.risk.persistence import read_header

    header, _ = read_header(model_file[0])
    lace = header["metadata"]["baselines"]["lace"]
    assert 0.3 < lace["auroc"] < 0.9 and lace["brier"] > 0
    assert f"AUROC {lace['auroc']:.3f}" in lace_sentence(header)
    assert "not computable" in lace_sentence(None)
