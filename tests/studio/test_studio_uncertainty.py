"""Monte Carlo over distributions: paired draws, the expected-value plan under draws, Dask = serial."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.errors import OptallocError
from optalloc.pipeline import PipelineCache
from optalloc.studio.parallel import Execution
from optalloc.studio.uncertainty import run_uncertainty
from tests.helpers.files import SCENARIOS
from tests.helpers.studio import UNCERTAIN, small_file, small_prepared

pytestmark = pytest.mark.usefixtures("fast_risk")


def _pair() -> list:
    cache = PipelineCache()
    return [
        small_prepared(UNCERTAIN / "baseline.toml", cache),
        small_prepared(UNCERTAIN / "more_home_nurses.toml", cache),
    ]


def test_draws_summarise_and_dask_equals_serial() -> None:
    from distributed import LocalCluster

    prepared = _pair()
    serial = run_uncertainty(prepared, draws=6, seed=4, solver="highs", execution=Execution(workers=1))
    with LocalCluster(
        n_workers=2, processes=False, threads_per_worker=1, dashboard_address=None, protocol="tcp://", host="127.0.0.1"
    ) as cluster:
        dask = run_uncertainty(
            prepared, draws=6, seed=4, solver="highs", execution=Execution(dask=cluster.scheduler_address)
        )
    pd.testing.assert_frame_equal(dask.frame(), serial.frame())
    summary = serial.summary()
    base, more = summary["scenarios"]
    assert summary["draws"] == 6 and base["solved"] == 6 and more["solved"] == 6
    # Paired draws: the same effect in draw k of both scenarios; twice the nurses never does worse.
    frame = serial.frame()
    effects = frame.pivot(index="draw", columns="scenario", values="value:settings.home.effect")
    assert (effects.iloc[:, 0] == effects.iloc[:, 1]).all()
    assert more["p_beats_first"] == 1.0 and base["p_beats_first"] is None
    outcome = base["outcomes"]["benefit"]
    assert outcome["p5"] <= outcome["p50"] <= outcome["p95"]
    # The expected-value plan can never beat each draw's own optimum; with uncertain nurse
    # hours it sometimes needs more hours than the draw has.
    plan = base["expected_value_plan"]
    assert plan["mean_shortfall_vs_drawn_optimum"] >= -1e-6
    assert set(plan["breaks"]) <= {"home_nurse_hours"}
    broken = frame[(frame["scenario"] == base["scenario"]) & ~frame["ev_plan_feasible"]]
    assert len(broken) == round(plan["p_breaks_any_limit"] * 6)


def test_point_scenarios_are_refused() -> None:
    with pytest.raises(OptallocError, match="no value in these scenarios is a distribution"):
        run_uncertainty([small_prepared()], draws=3)


def test_uncertainty_cli_json_and_csv(tmp_path: Path) -> None:
    scenario = small_file(tmp_path, UNCERTAIN / "baseline.toml", "tiny_uncertain", patients=200)
    result = CliRunner().invoke(
        app,
        [
            "uncertainty",
            str(scenario),
            "--draws",
            "3",
            "--seed",
            "1",
            "--solver",
            "highs",
            "--workers",
            "1",
            "--csv",
            str(tmp_path / "d.csv"),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["draws"] == 3 and payload["scenarios"][0]["scenario"] == "tiny_uncertain"
    assert set(payload["scenarios"][0]["outcomes"]["benefit"]) == {"mean", "p5", "p50", "p95"}
    assert len(pd.read_csv(tmp_path / "d.csv")) == 3
    refused = CliRunner().invoke(app, ["uncertainty", str(small_file(tmp_path, SCENARIOS / "baseline.toml", "flat"))])
    assert refused.exit_code == 2


def test_no_expected_value_plan_is_not_reported_as_never_breaking() -> None:
    """When the expected values give no plan, there is nothing to test against the draws:
    P(break) is unknown (None), not 0%, and the CSV's ev_plan_feasible is empty."""
    from optalloc.allocation.result import Status
    from optalloc.allocation.summary import PlanSummary
    from optalloc.studio.uncertainty import UncertaintyResult

    records = [
        {
            "draw": k,
            "status": "OPTIMAL",
            "patients": {"clinic": 5, "home": 1},
            "values": {"x": 1.0},
            "benefit": 2.0,
            "readmissions_avoided": 1.0,
            "cost": 3.0,
            "travel_hours_saved": 0.5,
        }
        for k in range(3)
    ]
    ev = PlanSummary(
        scenario="tight",
        file="tight.toml",
        status=Status.INFEASIBLE,
        solver="highs",
        objective=None,
        bound=None,
        seconds=0.0,
        objective_unit="",
        patients=6,
        patients_per_setting={"clinic": 0, "home": 0},
        eligible={"clinic": 6, "home": 6},
        outcomes={},
        limits=(),
    )
    result = UncertaintyResult(["tight"], 0, [ev], [records])
    plan = result.summary()["scenarios"][0]["expected_value_plan"]
    assert plan["p_breaks_any_limit"] is None and plan["breaks"] == {}
    assert result.frame()["ev_plan_feasible"].isna().all()
