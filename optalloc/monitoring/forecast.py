"""Demand forecast: patients per group and period, with prediction intervals, backtested.

Each group's series of patients per period is forecast by exponential smoothing (statsmodels'
state-space ETS: level only, additive trend, or damped additive trend, whichever has the lowest
AICc; short series only get the level model). The intervals are the model's own (Gaussian
errors), floored at 0. The backtest refits at each of the last ``backtest`` origins and
forecasts one period ahead; its mean absolute error is reported beside that of the naive
forecast (the last value), so a planner sees whether the model beats "same as last period".
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from optalloc.errors import CohortError
from optalloc.monitoring.periods import Periods

MIN_PERIODS = 4
QUANTILES = (0.1, 0.5, 0.8, 0.9, 0.95)


@dataclass(frozen=True)
class Forecast:
    """The forecast table (one row per group and step) and the backtest table (one per group)."""

    table: pd.DataFrame
    backtest: pd.DataFrame
    history: pd.DataFrame


def counts(patients: np.ndarray, groups: pd.Series | None, periods: Periods) -> pd.DataFrame:
    """Distinct patients per group (``all`` without groups) and period, zeros included."""
    frame = pd.DataFrame(
        {
            "patient": np.asarray(patients),
            "period": periods.label,
            "group": "all" if groups is None else groups.astype("string").fillna("(missing)").to_numpy(),
        }
    )
    table = frame.groupby(["group", "period"])["patient"].nunique().unstack("period", fill_value=0)
    return table.reindex(columns=list(periods.order), fill_value=0)


def _fit(series: np.ndarray):
    from statsmodels.tsa.exponential_smoothing.ets import ETSModel

    y = pd.Series(np.asarray(series, dtype=float))
    candidates: list[dict[str, Any]] = [{"trend": None}]
    if len(y) >= 8:
        candidates += [{"trend": "add"}, {"trend": "add", "damped_trend": True}]
    best = None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for spec in candidates:
            try:
                result = ETSModel(y, error="add", **spec).fit(disp=False)
            except (ValueError, np.linalg.LinAlgError):
                continue
            if np.isfinite(result.aicc) and (best is None or result.aicc < best.aicc):
                best = result
    return best


def _predict(series: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray, str]:
    """Mean and standard deviation of the next ``horizon`` values, and the model's name."""
    if np.all(series == series[0]):  # a constant series: ETS cannot fit it; neither need it
        return np.full(horizon, float(series[0])), np.zeros(horizon), "constant"
    result = _fit(series)
    if result is None:
        return np.full(horizon, float(series[-1])), np.full(horizon, float(np.std(series))), "naive"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prediction = result.get_prediction(start=len(series), end=len(series) + horizon - 1)
    mean = np.asarray(prediction.predicted_mean, dtype=float)
    sd = np.sqrt(np.maximum(np.asarray(prediction.forecast_variance, dtype=float), 0.0))
    trend = "Ad" if result.model.damped_trend else ("A" if result.model.trend else "N")
    name = f"ETS(A,{trend},N)"
    return mean, sd, name


def forecast(table: pd.DataFrame, horizon: int, backtest: int = 3) -> Forecast:
    """Forecast every row of ``table`` (groups x periods) ``horizon`` periods ahead."""
    n = table.shape[1]
    if n < MIN_PERIODS:
        raise CohortError(f"a forecast needs at least {MIN_PERIODS} periods; there are {n}. Use more --periods.")
    if not 1 <= horizon <= 24:
        raise CohortError(f"--horizon must be between 1 and 24 periods. Got {horizon} instead.")
    if not 0 <= backtest <= n - MIN_PERIODS:
        raise CohortError(f"--backtest must be between 0 and {n - MIN_PERIODS} with {n} periods. Got {backtest}.")
    rows, checks = [], []
    for group, values in table.iterrows():
        series = values.to_numpy(dtype=float)
        mean, sd, model = _predict(series, horizon)
        for step in range(horizon):
            row = {"group": group, "step": step + 1, "model": model, "mean": max(0.0, mean[step]), "sd": sd[step]}
            for q in QUANTILES:
                row[f"q{int(round(q * 100))}"] = max(0.0, float(stats.norm.ppf(q, mean[step], max(sd[step], 1e-9))))
            rows.append(row)
        errors, naive = [], []
        for origin in range(n - backtest, n):
            predicted, _, _ = _predict(series[:origin], 1)
            errors.append(abs(predicted[0] - series[origin]))
            naive.append(abs(series[origin - 1] - series[origin]))
        checks.append(
            {
                "group": group,
                "origins": backtest,
                "mae": float(np.mean(errors)) if errors else np.nan,
                "naive_mae": float(np.mean(naive)) if naive else np.nan,
            }
        )
    back = pd.DataFrame(checks)
    back["relative_mae"] = back["mae"] / back["naive_mae"].replace(0, np.nan)
    history = table.rename_axis("group").reset_index().melt(id_vars="group", var_name="period", value_name="patients")
    return Forecast(table=pd.DataFrame(rows), backtest=back, history=history)
