"""Sizing for forecast demand: the cohort rescaled per group to a forecast quantile."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.demand import Demand, read_demand, scale_cohort
from optalloc.errors import OptallocError
from tests.helpers.files import SCENARIOS
from tests.helpers.studio import small_file, small_prepared

pytestmark = pytest.mark.usefixtures("fast_risk")
runner = CliRunner()


def _forecast(folder: Path, rows: list[tuple[str, int, float]]) -> Path:
    path = folder / "forecast.csv"
    pd.DataFrame([{"group": g, "step": s, "q50": q * 0.8, "q90": q, "by": "diagnosis"} for g, s, q in rows]).to_csv(
        path, index=False
    )
    return path


def test_scale_cohort_grows_and_shrinks_each_group(tmp_path: Path) -> None:
    cohort = small_prepared().cohort
    counts = cohort["diagnosis"].value_counts()
    big, small = counts.index[0], counts.index[-1]
    demand = Demand("diagnosis", {big: int(counts[big]) * 2, small: 1}, 0.9, 1, "test")
    scaled = scale_cohort(cohort, demand, seed=3)
    after = scaled["diagnosis"].value_counts()
    assert after[big] == 2 * counts[big] and after[small] == 1
    for other in set(counts.index) - {big, small}:
        assert after[other] == counts[other]
    assert scaled["patient_id"].is_unique
    copies = scaled["patient_id"].str.contains("~")
    assert copies.sum() == counts[big]
    assert scale_cohort(cohort, demand, seed=3).equals(scaled)  # seeded


def test_read_demand_errors_name_the_file(tmp_path: Path) -> None:
    path = _forecast(tmp_path, [("ckd_anaemia", 1, 100.0)])
    assert read_demand(path, 0.9).targets == {"ckd_anaemia": 100}
    with pytest.raises(OptallocError, match="q95"):
        read_demand(path, 0.95)
    with pytest.raises(OptallocError, match="no row for --step 2"):
        read_demand(path, 0.9, step=2)
    with pytest.raises(OptallocError, match="--quantile"):
        read_demand(path, 1.2)
    unknown = Demand("diagnosis", {"not_a_diagnosis": 5}, 0.9, 1, str(path))
    with pytest.raises(OptallocError, match="not_a_diagnosis"):
        scale_cohort(small_prepared().cohort, unknown)


def test_size_with_demand_sizes_for_the_larger_cohort(tmp_path: Path) -> None:
    scenario = small_file(tmp_path, SCENARIOS / "baseline.toml", "small", patients=300)
    base = small_prepared()
    counts = base.cohort["diagnosis"].value_counts()
    grow = {g: int(3 * n) for g, n in counts.items()}
    forecast = _forecast(tmp_path, [(g, 1, float(q)) for g, q in grow.items()])
    args = [
        "size",
        str(scenario),
        "--target",
        "patients(home) >= 40",
        "--resource",
        "home_nurse_hours",
        "--tol",
        "0.05",
        "--json",
        "--solver",
        "highs",
    ]
    plain = runner.invoke(app, args)
    scaled = runner.invoke(app, [*args, "--demand", str(forecast), "--quantile", "0.9"])
    assert plain.exit_code == 0, plain.output
    assert scaled.exit_code == 0, scaled.output
    plain_level, scaled_level = json.loads(plain.stdout)["level"], json.loads(scaled.stdout)["level"]
    # three times as many patients of every kind: the same 40 home patients are found among more
    # candidates, so at most as many nurse hours are needed, and the answer differs
    assert scaled_level < plain_level
    run_id = json.loads(scaled.stdout)["run_id"]
    rerun = runner.invoke(app, ["runs", "show", str(run_id), "--rerun"])
    assert rerun.exit_code == 0, rerun.output
