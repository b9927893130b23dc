"""Per-period tracking of a risk model on new records: outcome, performance, drift, alarms.

``track`` takes what the model scored (labels, probabilities, features) and the periods, and
returns plain tables plus a list of :class:`Alarm`, each saying in words what moved. It reads
no file and writes nothing: the CLI loads, the history module stores.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optalloc.monitoring.control import ControlLimits, choose_limits, default_baseline, observed_expected, run_rule
from optalloc.monitoring.periods import Periods
from optalloc.risk.drift import describe_shift, period_drift
from optalloc.risk.validation import point_metrics

#: A group's share of a period moving this far (absolute) from its baseline share alarms.
SHARE_SHIFT = 0.10


@dataclass(frozen=True)
class Alarm:
    """One thing that moved: in which period, of which kind, and what, in words."""

    period: str
    kind: str  # "outcome", "drift" or "mix"
    message: str


@dataclass(frozen=True)
class TrackReport:
    """What ``track`` found; every table has a ``period`` column in time order."""

    periods: pd.DataFrame
    groups: pd.DataFrame
    drift: pd.DataFrame
    alarms: list[Alarm]
    limits: ControlLimits
    period_kind: str
    by: tuple[str, ...] = ()
    notes: list[str] = field(default_factory=list)

    @property
    def alarm_periods(self) -> list[str]:
        return sorted({a.period for a in self.alarms})


def _period_row(y: np.ndarray, p: np.ndarray, threshold: float, tau2: float = 0.0) -> dict[str, Any]:
    row: dict[str, Any] = {
        "n": int(len(y)),
        "rate": float(np.mean(y)) if len(y) else float("nan"),
        "mean_risk": float(np.mean(p)) if len(p) else float("nan"),
    }
    row.update(observed_expected(y, p, tau2))
    metrics = point_metrics(y, p, p >= threshold) if len(y) else {}
    for key in ("auroc", "precision", "recall", "f1", "calibration_slope", "brier"):
        row[key] = metrics.get(key, float("nan"))
    return row


def _outcome_alarms(table: pd.DataFrame, limits: ControlLimits) -> list[Alarm]:
    alarms = []
    for _, row in table.iloc[limits.baseline_periods :].iterrows():
        direction = "more" if row["z"] > 0 else "fewer"
        what = (
            f"{row['period']}: {int(row['observed'])} readmissions observed against "
            f"{row['expected']:.0f} expected (O/E {row['oe']:.2f}, 95% CI {row['oe_low']:.2f}-"
            f"{row['oe_high']:.2f}): {direction} than the model predicts"
        )
        if np.isfinite(row["z"]) and abs(row["z"]) > limits.sigma:
            alarms.append(
                Alarm(
                    row["period"],
                    "outcome",
                    f"{what}, beyond the control limit (z {row['z']:+.1f}, limit +/-{limits.sigma:g}).",
                )
            )
        elif row["run_rule"]:
            alarms.append(
                Alarm(
                    row["period"],
                    "outcome",
                    f"{what}, for the second time in three "
                    f"periods beyond the warning limit (z {row['z']:+.1f}, limit "
                    f"+/-{limits.warning_sigma:g}).",
                )
            )
    return alarms


def _drift_alarms(profile: Mapping[str, Any], X: pd.DataFrame, labels: np.ndarray, drift: pd.DataFrame) -> list[Alarm]:
    alarms = []
    for period, rows in drift[drift["alarm"]].groupby("period", sort=False):
        worst = rows.sort_values("psi", ascending=False)
        words = [describe_shift(profile, X[labels == period], f) for f in worst["feature"].head(3)]
        alarms.append(
            Alarm(
                str(period),
                "drift",
                (
                    f"{period}: the population moved beyond what the training data showed in "
                    f"{len(rows)} feature(s) (largest PSI {worst['psi'].iloc[0]:.2f} for "
                    f"{worst['feature'].iloc[0]}, alarm at {worst['threshold'].iloc[0]:.2f}); " + "; ".join(words) + "."
                ),
            )
        )
    return alarms


def _group_table(
    y: np.ndarray, p: np.ndarray, periods: Periods, groups: Mapping[str, pd.Series], threshold: float
) -> pd.DataFrame:
    rows = []
    for by, values in groups.items():
        text = values.astype("string").fillna("(missing)").to_numpy(dtype=object)
        for period in periods.order:
            in_period = periods.label == period
            n_period = int(in_period.sum())
            for group in sorted(set(text[in_period])):
                rows_mask = in_period & (text == group)
                row = {
                    "period": period,
                    "by": by,
                    "group": group,
                    "share": float(rows_mask.sum()) / n_period if n_period else float("nan"),
                }
                row.update(_period_row(y[rows_mask], p[rows_mask], threshold))  # binomial z within groups
                rows.append(row)
    return pd.DataFrame(rows)


def _mix_alarms(groups: pd.DataFrame, periods: Periods, baseline: int) -> list[Alarm]:
    """A group whose share of a monitored period moved by SHARE_SHIFT from its baseline share."""
    alarms: list[Alarm] = []
    if groups.empty:
        return alarms
    base_periods = set(periods.order[:baseline])
    for by, table in groups.groupby("by", sort=False):
        base = table[table["period"].isin(base_periods)]
        base_share = base.groupby("group")["n"].sum() / max(1, int(base["n"].sum()))
        for period in periods.order[baseline:]:
            now = table[table["period"] == period].set_index("group")["share"]
            moved = now.reindex(base_share.index.union(now.index), fill_value=0.0) - base_share.reindex(
                base_share.index.union(now.index), fill_value=0.0
            )
            for group, delta in moved.items():
                if abs(delta) >= SHARE_SHIFT:
                    alarms.append(
                        Alarm(
                            period,
                            "mix",
                            (
                                f"{period}: the share of {by} {group} went from "
                                f"{base_share.get(group, 0.0):.0%} in the baseline periods to "
                                f"{now.get(group, 0.0):.0%}."
                            ),
                        )
                    )
    return alarms


def track(
    y: np.ndarray,
    p: np.ndarray,
    X: pd.DataFrame,
    periods: Periods,
    profile: Mapping[str, Any],
    threshold: float,
    groups: Mapping[str, pd.Series] | None = None,
    baseline_periods: int | None = None,
    training_tau2: float | None = None,
) -> TrackReport:
    """Track a scored table period by period.

    Parameters
    ----------
    y, p : arrays
        Observed 0/1 readmission and the model's calibrated probability, one per row.
    X : DataFrame
        The model's feature table (for drift), rows aligned with ``y``.
    periods : Periods
        Period label of each row (see :func:`optalloc.monitoring.periods.assign_periods`).
    profile : mapping
        The training-data profile (:func:`optalloc.monitoring.drift.build_profile`).
    threshold : float
        The model's saved operating point: precision, recall and F1 are of ``p >= threshold``.
    groups : mapping of name to Series, optional
        Group label of each row by dimension (``age``, ``sex``, ...), for the disparity tables.
    baseline_periods : int, optional
        Periods of the baseline phase that set the control limits and the group shares
        (default :func:`~optalloc.monitoring.control.default_baseline`).
    training_tau2 : float, optional
        Between-period variance of O/E measured when the model was trained (the model file's
        ``outcome_tau2``); see :mod:`optalloc.monitoring.control`.
    """
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    n_periods = len(periods.order)
    baseline = default_baseline(n_periods) if baseline_periods is None else int(baseline_periods)
    rows, drift_rows = [], []
    for period in periods.order:
        mask = periods.label == period
        row = {"period": period, **_period_row(y[mask], p[mask], threshold)}
        drift = period_drift(profile, X[mask])
        drift.insert(0, "period", period)
        drift_rows.append(drift)
        top = drift.sort_values("psi", ascending=False).head(1)
        row["max_psi"] = float(top["psi"].iloc[0]) if len(top) else float("nan")
        row["max_psi_feature"] = str(top["feature"].iloc[0]) if len(top) else ""
        # how close the period came to a drift alarm: the largest PSI relative to its threshold
        ratio = drift["psi"] / drift["threshold"]
        row["drift_level"] = float(ratio.max()) if len(drift) else float("nan")
        row["drift_feature"] = str(drift["feature"].iloc[int(ratio.to_numpy().argmax())]) if len(drift) else ""
        rows.append(row)
    table = pd.DataFrame(rows)
    limits = choose_limits(table, baseline, training_tau2)
    table["z"] = (table["observed"] - table["expected"]) / np.sqrt(
        table["variance"] + limits.tau2 * table["expected"] ** 2
    )
    table["run_rule"] = run_rule(table["z"].to_numpy(), baseline)
    table["phase"] = ["baseline" if k < baseline else "monitor" for k in range(n_periods)]
    drift_table = pd.concat(drift_rows, ignore_index=True)
    group_table = _group_table(y, p, periods, groups or {}, threshold)
    alarms = (
        _outcome_alarms(table, limits)
        + _drift_alarms(profile, X, periods.label, drift_table)
        + _mix_alarms(group_table, periods, baseline)
    )
    order = {name: k for k, name in enumerate(periods.order)}
    alarms.sort(key=lambda a: (order.get(a.period, 0), a.kind))
    table["alarm"] = table["period"].isin({a.period for a in alarms})
    return TrackReport(
        periods=table,
        groups=group_table,
        drift=drift_table,
        alarms=alarms,
        limits=limits,
        period_kind=periods.kind,
        by=tuple(groups or ()),
    )
