"""Tracking over time: periods, O/E control chart, drift, group mix, intervention, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.diabetes130 import DEV_DATA_PATH
from optalloc.errors import CohortError
from optalloc.monitoring.control import between_period_variance, garwood_interval, run_rule
from optalloc.monitoring.intervention import intervention_effect
from optalloc.monitoring.periods import assign_periods
from optalloc.monitoring.track import track
from optalloc.risk.drift import build_profile, period_drift, psi

runner = CliRunner()


def test_garwood_interval_matches_the_exact_poisson_limits() -> None:
    low, high = garwood_interval(10, 10)
    assert low == pytest.approx(0.4795, abs=1e-4) and high == pytest.approx(1.8390, abs=1e-4)
    assert garwood_interval(0, 5)[0] == 0.0


def test_between_period_variance_sees_overdispersion_only() -> None:
    rng = np.random.default_rng(1)
    e = np.full(400, 500.0)
    v = e * 0.9
    binomial = rng.binomial(5000, 0.1, 400).astype(float)
    overdispersed = rng.binomial(5000, 0.1 * np.exp(rng.normal(0, 0.15, 400))).astype(float)
    assert between_period_variance(binomial, e, v) < 0.001
    assert between_period_variance(overdispersed, e, v) == pytest.approx(0.15**2, rel=0.25)


def test_run_rule_needs_two_of_three_on_one_side() -> None:
    z = np.array([0.0, 0.0, 2.5, -2.5, 2.2, 0.0, 1.0, 2.1, 2.4])
    fired = run_rule(z, start=2)
    assert fired.tolist() == [False, False, False, False, True, False, False, False, True]


def test_blocks_are_equal_and_ordered() -> None:
    frame = pd.DataFrame({"encounter_order": np.arange(100)[::-1]})
    periods = assign_periods(frame, "blocks", 4)
    assert periods.order == ("B1", "B2", "B3", "B4")
    assert pd.Series(periods.label).value_counts().tolist() == [25] * 4
    assert periods.label[0] == "B4" and periods.label[-1] == "B1"  # highest order = latest block
    assert periods.kind == "ordered block"


def test_calendar_periods_and_their_errors() -> None:
    frame = pd.DataFrame({"admission_date": ["2024-01-05", "2024-02-10", "2024-02-11"]})
    periods = assign_periods(frame, "month")
    assert periods.order == ("2024-01", "2024-02") and periods.kind == "calendar month"
    with pytest.raises(CohortError, match="row 2"):
        assign_periods(pd.DataFrame({"admission_date": ["2024-01-05", "not a date"]}), "month")
    with pytest.raises(CohortError, match="no dates"):
        assign_periods(pd.DataFrame({"encounter_order": [1, 2, 3]}), "quarter")
    with pytest.raises(CohortError, match="order of the encounters"):
        assign_periods(pd.DataFrame({"x": range(40)}), "blocks", 10)


def _simulated(n: int = 20_000, shift_from: int | None = None, rise: float = 0.3, seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    noisy = rng.normal(size=n)
    order = np.arange(n)
    noisy[order < n // 2] += 1.0  # a feature that moves by itself in the training era
    p = 1 / (1 + np.exp(-(-2.0 + 0.8 * x)))
    block = order * 10 // n
    y_p = p.copy()
    if shift_from is not None:
        y_p = np.where(block >= shift_from, np.minimum(1, p * (1 + rise)), p)
    y = rng.random(n) < y_p
    X = pd.DataFrame({"x": x, "noisy": noisy, "band": np.where(x > 1, "high", "low")})
    return X, y, p, order


def test_track_is_quiet_on_clean_data_and_alarms_on_a_label_shift() -> None:
    X, y, p, order = _simulated()
    profile = build_profile(X, ["x", "noisy"], order)
    periods = assign_periods(pd.DataFrame({"encounter_order": order}), "blocks", 10)
    clean = track(y, p, X, periods, profile, threshold=0.3, groups={"band": X["band"]})
    assert clean.alarms == [], [a.message for a in clean.alarms]
    assert len(clean.periods) == 10 and set(clean.periods["phase"]) == {"baseline", "monitor"}
    X2, y2, p2, _ = _simulated(shift_from=6)
    shifted = track(y2, p2, X2, periods, profile, threshold=0.3)
    outcome = [a for a in shifted.alarms if a.kind == "outcome"]
    assert outcome and outcome[0].period in ("B07", "B08")
    assert "more than the model predicts" in outcome[0].message


def test_drift_threshold_follows_the_training_eras_own_drift() -> None:
    X, _, _, order = _simulated()
    profile = build_profile(X, ["x", "noisy"], order)
    assert profile["features"]["noisy"]["noise"] > 0.25 > profile["features"]["x"]["noise"]
    moved = X.assign(x=X["x"] + 1.0, noisy=X["noisy"] + 0.5)
    drift = period_drift(profile, moved).set_index("feature")
    assert drift.loc["x", "alarm"]
    assert not drift.loc["noisy", "alarm"]  # within what it did during training
    assert psi([1, 1], [1, 1]) == pytest.approx(0.0)


def test_mix_alarm_names_the_group_that_grew() -> None:
    X, y, p, order = _simulated()
    band = X["band"].copy()
    band[order >= 16_000] = "high"
    periods = assign_periods(pd.DataFrame({"encounter_order": order}), "blocks", 10)
    report = track(y, p, X, periods, build_profile(X, ["x", "noisy"], order), 0.3, {"band": band})
    mix = [a for a in report.alarms if a.kind == "mix"]
    assert mix and mix[0].period == "B09" and "band high" in mix[0].message


def test_intervention_difference_in_differences() -> None:
    rng = np.random.default_rng(3)
    n = 30_000
    p = rng.uniform(0.05, 0.3, n)
    after = np.arange(n) >= n // 2
    treated = rng.random(n) < 0.3
    y = rng.random(n) < np.where(after & treated, 0.6 * p, p)
    effect = intervention_effect(y, p, after, np.arange(n), "B06", treated, "home", n_boot=200)
    assert effect.did is not None and effect.did_ci is not None
    assert effect.did_ci[1] < 0 < 1  # the treated fell, the others did not
    assert effect.ratio_change < 1 and "Observational" in effect.statement
    with pytest.raises(CohortError, match="both before and after"):
        intervention_effect(y, p, np.ones(n, bool), np.arange(n), "B01")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """600 patients of the developer part and an LR model fitted on them (library calls, fast)."""
    from optalloc.cohort.diabetes130 import load_diabetes130
    from optalloc.domains.encounters import diabetes_design
    from optalloc.risk.persistence import save_model
    from optalloc.risk.training import fit_model

    raw = pd.read_csv(DEV_DATA_PATH, dtype=str, keep_default_na=False)
    keep = np.random.default_rng(0).choice(raw["patient_nbr"].unique(), 600, replace=False)
    folder = tmp_path_factory.mktemp("track")
    data = folder / "small.csv"
    raw[raw["patient_nbr"].isin(keep)].to_csv(data, index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPTALLOC_PSEUDONYM_KEY", "test-key")
        loaded = load_diabetes130(data)
        model = fit_model(diabetes_design(loaded.encounters), "lr", 0)
    save_model(model, folder / "lr.model")
    return data, folder / "lr.model"


def test_cli_track_json_history_and_plot(small: tuple[Path, Path], tmp_path: Path) -> None:
    data, model = small
    plot = tmp_path / "track.png"
    result = runner.invoke(
        app, ["track", str(data), "--model", str(model), "--periods", "5", "--by", "sex", "--json", "--plot", str(plot)]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [p["period"] for p in payload["periods"]] == ["B1", "B2", "B3", "B4", "B5"]
    assert payload["period_kind"] == "ordered block"
    from optalloc.cohort.diabetes130 import load_diabetes130

    assert sum(p["n"] for p in payload["periods"]) == load_diabetes130(data).n_encounters
    assert {g["group"] for g in payload["groups"]} >= {"Female", "Male"}
    assert plot.exists() and plot.stat().st_size > 10_000
    from optalloc.monitoring.history import tracking_history

    history = tracking_history()
    assert len(history) == 5 and history["run"].nunique() == 1 and payload["run"] == history["run"].iloc[0]


def test_cli_track_shareable_hides_small_groups(small: tuple[Path, Path]) -> None:
    data, model = small
    result = runner.invoke(
        app,
        [
            "track",
            str(data),
            "--model",
            str(model),
            "--periods",
            "5",
            "--by",
            "race",
            "--json",
            "--shareable",
            "--no-record",
        ],
    )
    assert result.exit_code == 0, result.output
    groups = json.loads(result.stdout)["groups"]
    small_cells = [g for g in groups if isinstance(g["n"], str)]
    assert small_cells, "600 patients by race and period must have cells under 11"
    assert all(g["n"] == "<11" and g["oe"] is None and g["share"] is None for g in small_cells)
    assert all(isinstance(g["n"], str) or g["n"] >= 11 or g["n"] == 0 for g in groups)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--period", "month"], "no dates"),
        (["--by", "segment"], "segment"),
        (["--intervention-start", "B99"], "no period 'B99'"),
        (["--setting", "home"], "--intervention-start and --plan"),
        (["--plot", "chart.gif"], "must end in .png, .pdf, .svg"),
    ],
)
def test_cli_track_bad_input(small: tuple[Path, Path], args: list[str], words: str) -> None:
    data, model = small
    result = runner.invoke(app, ["track", str(data), "--model", str(model), "--periods", "5", "--no-record", *args])
    assert result.exit_code == 2, result.output
    assert words in result.output


def test_cli_track_intervention_with_a_plan(small: tuple[Path, Path], tmp_path: Path) -> None:
    from optalloc.cohort.diabetes130 import load_diabetes130

    data, model = small
    patients = load_diabetes130(data).encounters["patient_id"].unique()
    plan = pd.DataFrame(
        {"patient_id": patients, "setting": np.where(np.arange(len(patients)) % 3 == 0, "follow_up", "usual")}
    )
    plan.to_csv(tmp_path / "plan.csv", index=False)
    result = runner.invoke(
        app,
        [
            "track",
            str(data),
            "--model",
            str(model),
            "--periods",
            "4",
            "--json",
            "--no-record",
            "--intervention-start",
            "B3",
            "--setting",
            "follow_up",
            "--plan",
            str(tmp_path / "plan.csv"),
        ],
    )
    assert result.exit_code == 0, result.output
    effect = json.loads(result.stdout)["intervention"]
    assert effect["setting"] == "follow_up" and effect["n_treated"] == len(patients[::3])
    assert effect["did_ci"][0] <= effect["did"] <= effect["did_ci"][1]
    assert effect["before"]["n"] + effect["after"]["n"] == load_diabetes130(data).n_encounters
    assert effect["after"]["n"] == pytest.approx(load_diabetes130(data).n_encounters / 2, abs=1)


def test_decide_needs_the_whole_interval_beyond_zero() -> None:
    from optalloc.monitoring.retrain import decide

    base = {"auroc_difference": 0.02, "brier_difference": -0.001}
    assert decide({**base, "auroc_difference_ci": [0.005, 0.03], "brier_difference_ci": [-0.002, 0.0005]})[0]
    assert decide({**base, "auroc_difference_ci": [-0.01, 0.03], "brier_difference_ci": [-0.002, -0.0001]})[0]
    kept, reason = decide({**base, "auroc_difference_ci": [-0.01, 0.03], "brier_difference_ci": [-0.002, 0.001]})
    assert not kept and "champion stays" in reason
    # better Brier but clearly worse AUROC: not promoted
    assert not decide({**base, "auroc_difference_ci": [-0.05, -0.01], "brier_difference_ci": [-0.002, -0.001]})[0]


@pytest.fixture(scope="module")
def larger(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """3,000 patients, a sound LR champion and a no-skill one (fitted on shuffled labels)."""
    from optalloc.cohort.diabetes130 import load_diabetes130
    from optalloc.domains.encounters import diabetes_design
    from optalloc.risk.persistence import save_model
    from optalloc.risk.training import fit_model

    raw = pd.read_csv(DEV_DATA_PATH, dtype=str, keep_default_na=False)
    keep = np.random.default_rng(1).choice(raw["patient_nbr"].unique(), 3000, replace=False)
    folder = tmp_path_factory.mktemp("retrain")
    data = folder / "larger.csv"
    raw[raw["patient_nbr"].isin(keep)].to_csv(data, index=False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("OPTALLOC_PSEUDONYM_KEY", "test-key")
        loaded = load_diabetes130(data)
        design = diabetes_design(loaded.encounters, loaded.source, loaded.sha256)
    save_model(fit_model(design, "lr", 0), folder / "sound.model")
    design.y = np.random.default_rng(2).permutation(design.y)
    save_model(fit_model(design, "lr", 0), folder / "noskill.model")
    return data, folder / "sound.model", folder / "noskill.model"


def _retrain(data: Path, champion: Path, window: int, target: Path) -> Any:
    """``optalloc risk retrain`` over 5 periods with ``window`` of them to train on, JSON out."""
    options = ["--window", str(window), "--periods", "5", "--bootstrap", "100", "--json", "--promote-to", str(target)]
    return runner.invoke(app, ["risk", "retrain", str(data), "--champion", str(champion), *options])


def test_cli_retrain_promotes_over_a_no_skill_champion(larger: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data, _, noskill = larger
    target = tmp_path / "current.model"
    result = _retrain(data, noskill, 3, target)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert payload["promoted"] and payload["evaluated_on"] == "B5" and payload["trained_on"] == ["B2", "B3", "B4"]
    figures = payload["figures"]
    assert figures["auroc_difference_ci"][0] > 0 or figures["brier_difference_ci"][1] < 0
    assert figures["challenger"]["auroc"] > figures["champion"]["auroc"]
    stored = Path(payload["challenger_path"])
    assert stored.exists() and payload["challenger_sha256"][:16] in stored.name
    assert target.read_bytes() == stored.read_bytes()
    from optalloc.monitoring.history import decisions

    recorded = decisions()
    assert len(recorded) == 1 and bool(recorded["promoted"].iloc[0])


def test_cli_retrain_keeps_a_sound_champion(larger: tuple[Path, Path, Path], tmp_path: Path) -> None:
    data, sound, _ = larger
    target = tmp_path / "current.model"
    result = _retrain(data, sound, 2, target)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert not payload["promoted"] and not target.exists()
    assert payload["figures"]["champion_saw_this_data"] and "never saw" in payload["reason"]


def test_cli_retrain_window_must_leave_a_period(larger: tuple[Path, Path, Path]) -> None:
    data, sound, _ = larger
    result = runner.invoke(
        app, ["risk", "retrain", str(data), "--champion", str(sound), "--window", "5", "--periods", "5"]
    )
    assert result.exit_code == 2 and "--window must be between 1 and 4" in result.output


def test_forecast_follows_a_trend_and_beats_naive_on_it() -> None:
    from optalloc.monitoring.forecast import forecast

    rng = np.random.default_rng(4)
    steps = np.arange(16)
    table = pd.DataFrame(
        [200 + 10 * steps + rng.normal(0, 3, 16), 500 + rng.normal(0, 20, 16)],
        index=["rising", "flat"],
        columns=[f"B{k}" for k in range(16)],
    )
    result = forecast(table, horizon=2, backtest=4)
    rising = result.table[result.table["group"] == "rising"].set_index("step")
    assert rising.loc[1, "mean"] == pytest.approx(360, abs=15) and rising.loc[2, "mean"] > rising.loc[1, "mean"]
    assert (rising["q10"] <= rising["mean"]).all() and (rising["mean"] <= rising["q90"]).all()
    back = result.backtest.set_index("group")
    assert back.loc["rising", "relative_mae"] < 1  # naive lags one step behind a trend
    flat = result.table[result.table["group"] == "flat"]
    assert flat["mean"].between(450, 550).all()


@pytest.mark.parametrize(
    ("horizon", "backtest", "periods", "words"),
    [(0, 1, 8, "--horizon"), (2, 6, 8, "--backtest"), (2, 0, 3, "at least 4 periods")],
)
def test_forecast_refuses_what_it_cannot_do(horizon: int, backtest: int, periods: int, words: str) -> None:
    from optalloc.monitoring.forecast import forecast

    table = pd.DataFrame([np.arange(periods) + 10.0], index=["all"])
    with pytest.raises(CohortError, match=words):
        forecast(table, horizon, backtest)


def test_cli_forecast_writes_quantiles(small: tuple[Path, Path], tmp_path: Path) -> None:
    data, _ = small
    target = tmp_path / "forecast.csv"
    result = runner.invoke(
        app, ["forecast", str(data), "--by", "sex", "--horizon", "2", "--periods", "8", "--out", str(target), "--json"]
    )
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    written = pd.read_csv(target)
    assert {"group", "step", "mean", "sd", "q90"} <= set(written.columns)
    assert set(written["group"]) >= {"Female", "Male"} and set(written["step"]) == {1, 2}
    assert (written["q90"] >= written["mean"] - 1e-9).all()
    history = pd.DataFrame(payload["history"])
    assert history["patients"].sum() > 0 and len(payload["backtest"]) == written["group"].nunique()
    bad = runner.invoke(app, ["forecast", str(data), "--by", "ward"])
    assert bad.exit_code == 2 and "--by must be one of" in bad.output
