"""Sweeps: limit-only variants reuse the problem, warm starts, parallel equals serial, CLI files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.errors import OptallocError
from optalloc.studio.parallel import Execution
from optalloc.studio.points import is_limit_only, variant
from optalloc.studio.sweep import grid, parse_vary, run_sweep
from tests.helpers.files import SCENARIOS
from tests.helpers.studio import small_file, small_prepared

pytestmark = pytest.mark.usefixtures("fast_risk")


def test_parse_vary_accepts_short_names_and_rejects_nonsense() -> None:
    prepared = small_prepared()
    vary = parse_vary("home_nurse_hours=0:4000:21", prepared.loaded)
    assert vary.path == "resources.home_nurse_hours" and vary.values[1] == 200.0
    assert parse_vary("budget=1e6:2e6:3", prepared.loaded).path == "budget"
    # a field the file leaves at its default is still a number of the scenario
    assert "max_patients" not in prepared.loaded.raw["settings"]["home"]
    assert parse_vary("settings.home.max_patients=50:100:3", prepared.loaded).path == "settings.home.max_patients"
    for bad, message in [
        ("home_nurse_hours=0:4000", "PATH=START:STOP:STEPS"),
        ("home_nurse_hours=9:1:3", "START must not exceed STOP"),
        ("resources.moon=0:1:3", "no such value"),
        ("home_nurse_hours=0:inf:3", "finite numbers"),
    ]:
        with pytest.raises(OptallocError, match=message):
            parse_vary(bad, prepared.loaded)
    with pytest.raises(OptallocError, match="twice"):
        grid([vary, vary])
    # a value the scenario refuses is blamed on --vary, not on the file
    from optalloc.studio.sweep import check_overrides

    effect = parse_vary("settings.home.effect=0.1:2:3", prepared.loaded)
    with pytest.raises(OptallocError, match=r"--vary sets settings.home.effect=2, which .* does not accept") as info:
        check_overrides(prepared.loaded, grid([effect]))
    assert "Correct the file" not in str(info.value)


def test_limit_only_variant_shares_arrays_and_moves_one_bound() -> None:
    prepared = small_prepared()
    assert is_limit_only(prepared.problem, {"budget": 1.0, "resources.home_nurse_hours": 5.0})
    assert not is_limit_only(prepared.problem, {"settings.home.effect": 0.3})
    problem, estimates = variant(prepared, {"resources.home_nurse_hours": 500.0})
    assert estimates is prepared.estimates
    changed = {lim.name: lim for lim in problem.limits}
    assert changed["home_nurse_hours"].upper == 500.0
    assert changed["budget"].upper == prepared.loaded.scenario.budget
    assert changed["home_nurse_hours"].coef is prepared.problem.limits[2].coef
    # Any other value re-estimates from the same cohort and risk.
    problem2, estimates2 = variant(prepared, {"settings.home.effect": 0.5})
    assert estimates2 is not prepared.estimates
    home = list(problem2.settings).index("home")
    assert np.allclose(estimates2.readmissions_avoided[:, home], prepared.risk * 0.5)


def test_sweep_frontier_is_monotone_and_parallel_equals_serial() -> None:
    from distributed import LocalCluster

    prepared = small_prepared()
    varies = [parse_vary("home_nurse_hours=0:6000:5", prepared.loaded)]
    serial = run_sweep(prepared, varies, "highs", Execution(workers=1))
    assert (serial["status"] == "OPTIMAL").all()
    assert serial["objective"].iloc[0] == pytest.approx(0.0, abs=1e-9)
    assert np.all(np.diff(serial["objective"]) >= -1e-7)
    assert (serial["use:home_nurse_hours"] <= serial["resources.home_nurse_hours"] + 1e-6).all()
    pool = run_sweep(prepared, varies, "highs", Execution(workers=2))
    with LocalCluster(
        n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None, protocol="tcp://", host="127.0.0.1"
    ) as cluster:
        dask = run_sweep(prepared, varies, "highs", Execution(dask=cluster.scheduler_address))
    for other in (pool, dask):
        assert list(other["resources.home_nurse_hours"]) == list(serial["resources.home_nurse_hours"])
        assert np.allclose(other["objective"], serial["objective"], rtol=1e-6, atol=1e-9)


def test_two_parameter_sweep_covers_the_grid() -> None:
    prepared = small_prepared()
    varies = [
        parse_vary("budget=2.0e6:3.0e6:2", prepared.loaded),
        parse_vary("home_nurse_hours=0:4000:3", prepared.loaded),
    ]
    frame = run_sweep(prepared, varies, "highs", Execution(workers=1))
    assert len(frame) == 6
    assert set(zip(frame["budget"], frame["resources.home_nurse_hours"], strict=True)) == {
        (b, h) for b in (2.0e6, 3.0e6) for h in (0.0, 2000.0, 4000.0)
    }


def test_sweep_cli_writes_csv_png_and_json(tmp_path: Path) -> None:
    scenario = small_file(tmp_path, SCENARIOS / "baseline.toml", "tiny")
    result = CliRunner().invoke(
        app,
        [
            "sweep",
            str(scenario),
            "--vary",
            "resources.home_nurse_hours=0:3000:3",
            "--solver",
            "highs",
            "--workers",
            "1",
            "--csv",
            str(tmp_path / "s.csv"),
            "--plot",
            str(tmp_path / "s.png"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["scenario"] == "tiny" and len(payload["points"]) == 3 and payload["run_id"] == 1
    frame = pd.read_csv(tmp_path / "s.csv")
    assert {"resources.home_nurse_hours", "objective", "marginal_value:home_nurse_hours"} <= set(frame.columns)
    assert (tmp_path / "s.png").read_bytes()[:4] == b"\x89PNG"


def test_sweep_cli_bad_vary_exits_2(tmp_path: Path) -> None:
    scenario = small_file(tmp_path, SCENARIOS / "baseline.toml", "tiny")
    result = CliRunner().invoke(app, ["sweep", str(scenario), "--vary", "nurses=0:1"])
    assert result.exit_code == 2
    assert "PATH=START:STOP:STEPS" in result.output
