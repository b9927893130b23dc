"""Observed against expected readmissions, period by period, as a control chart.

For period ``t`` with model probabilities ``p_i``: expected ``E_t = sum p_i``, observed ``O_t``
and, under a calibrated model, the binomial variance ``V_t = sum p_i (1 - p_i)``.

Real outcome rates vary from period to period more than the binomial allows (seasons, coding,
case mix the model does not see): on the Diabetes 130 records a model fitted on half of the
patients sees ``(O - E) / sqrt(V)`` of -3.6 to +2.1 over ten blocks of the other half, with no
shift planted. As in Spiegelhalter's overdispersed funnel plots (additive random effect), each
period's O/E is allowed a relative between-period variance ``tau^2``::

    z_t = (O_t - E_t) / sqrt(V_t + tau^2 E_t^2)
    tau^2 = max(0, mean_t (((O_t - E_t)^2 - V_t) / E_t^2))

estimated on the training data's out-of-fold predictions by time block (kept in the model
file by ``risk train``) and on the tracked baseline periods ("phase I" of SPC), whichever is
larger: limits are widened by real variation, never narrowed. A monitored period alarms when
``|z_t| > 3`` (Shewhart), or when it and one of the two periods before it lie beyond 2 on the
same side (Western Electric rule 2), which catches a sustained smaller shift within two periods.
A CUSUM was tried and not kept: on the clean Diabetes 130 records the model's slow calibration
drift over the decade (O/E from 1.0 to 0.88) builds it past its decision interval.
``O/E`` gets an exact Poisson (Garwood) 95% interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

SIGMA = 3.0
WARNING_SIGMA = 2.0


def garwood_interval(observed: float, expected: float, level: float = 0.95) -> tuple[float, float]:
    """Exact Poisson interval of ``observed / expected``."""
    if expected <= 0:
        return float("nan"), float("nan")
    alpha = 1 - level
    low = stats.chi2.ppf(alpha / 2, 2 * observed) / 2 if observed > 0 else 0.0
    high = stats.chi2.ppf(1 - alpha / 2, 2 * (observed + 1)) / 2
    return float(low / expected), float(high / expected)


def observed_expected(y: np.ndarray, p: np.ndarray, tau2: float = 0.0) -> dict[str, float]:
    """O, E, binomial variance V, O/E with its interval, and z (with ``tau2``) of some rows."""
    observed, expected = float(np.sum(y)), float(np.sum(p))
    variance = float(np.sum(p * (1 - p)))
    low, high = garwood_interval(observed, expected)
    sd = np.sqrt(variance + tau2 * expected**2)
    return {
        "observed": observed,
        "expected": expected,
        "variance": variance,
        "oe": observed / expected if expected > 0 else float("nan"),
        "oe_low": low,
        "oe_high": high,
        "z": (observed - expected) / sd if sd > 0 else float("nan"),
    }


def between_period_variance(observed: np.ndarray, expected: np.ndarray, variance: np.ndarray) -> float:
    """``tau^2``: the relative variance of O/E between periods beyond the binomial (>= 0)."""
    observed, expected, variance = (np.asarray(a, dtype=float) for a in (observed, expected, variance))
    keep = expected > 0
    if keep.sum() < 3:
        return 0.0
    excess = ((observed[keep] - expected[keep]) ** 2 - variance[keep]) / expected[keep] ** 2
    return float(max(0.0, np.mean(excess)))


def overdispersion_by_block(y: np.ndarray, p: np.ndarray, order: np.ndarray, blocks: int = 10) -> float:
    """``tau^2`` of out-of-fold predictions ``p`` over ``blocks`` equal blocks in time ``order``."""
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    rank = pd.Series(np.asarray(order)).rank(method="first").to_numpy()
    block = np.minimum(((rank - 1) * blocks // len(y)).astype(int), blocks - 1)
    o = np.bincount(block, weights=y, minlength=blocks)
    e = np.bincount(block, weights=p, minlength=blocks)
    v = np.bincount(block, weights=p * (1 - p), minlength=blocks)
    return between_period_variance(o, e, v)


@dataclass(frozen=True)
class ControlLimits:
    """What the chart's limits rest on: ``tau^2``, where it came from, the baseline length."""

    tau2: float
    source: str
    baseline_periods: int
    sigma: float = SIGMA
    warning_sigma: float = WARNING_SIGMA


def choose_limits(table: pd.DataFrame, baseline_periods: int, training_tau2: float | None) -> ControlLimits:
    """``tau^2`` from training and from the baseline periods, whichever is larger."""
    base = table.iloc[:baseline_periods]
    phase_one = between_period_variance(base["observed"], base["expected"], base["variance"])
    if training_tau2 is not None and training_tau2 >= phase_one:
        return ControlLimits(float(training_tau2), "training data (out-of-fold, by time block)", baseline_periods)
    return ControlLimits(phase_one, f"the first {baseline_periods} tracked periods", baseline_periods)


def run_rule(z: np.ndarray, start: int, sigma: float = WARNING_SIGMA) -> np.ndarray:
    """Western Electric rule 2: two of three consecutive monitored periods beyond ``sigma`` on
    the same side; catches a sustained shift too small for the 3-sigma limit in two periods."""
    z = np.nan_to_num(np.asarray(z, dtype=float))
    fired = np.zeros(len(z), dtype=bool)
    for t in range(start, len(z)):
        window = z[max(start, t - 2) : t + 1]
        if abs(z[t]) > sigma and max((window > sigma).sum(), (window < -sigma).sum()) >= 2:
            fired[t] = True
    return fired


def default_baseline(n_periods: int) -> int:
    """Three periods, or 30% of them when there are more than ten, but never all of them."""
    return int(min(max(3, round(0.3 * n_periods)), max(1, n_periods - 1)))


def outcome_tau2(design: object, probability: np.ndarray, blocks: int = 10) -> float | None:
    """``tau^2`` of a training design's out-of-fold risks by time block (None without an order)."""
    order = getattr(design, "order", None)
    y = getattr(design, "y", None)
    if order is None or y is None or len(y) < 20 * blocks:
        return None
    return overdispersion_by_block(y, probability, order, blocks)
