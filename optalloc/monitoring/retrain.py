"""Champion and challenger: refit on the latest periods, promote only on clear evidence.

The challenger is fitted on the ``window`` periods before the last one; both models are then
scored on the last period, which neither was fitted on (unless the champion's own training
data included it, which is checked by data hash and reported). The differences (challenger
minus champion) in AUROC and Brier score get a *paired* patient bootstrap: the same resampled
patients score both models, so the interval is of the difference itself.

The challenger is promoted only when it is better beyond the interval's noise: its Brier score
(the proper score this project chooses models by) is lower with the whole 95% interval of the
difference below 0, or its AUROC higher with the whole interval above 0, and the other measure
is not clearly worse.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn.metrics import roc_auc_score

from optalloc.errors import CohortError
from optalloc.monitoring.periods import Periods
from optalloc.risk.persistence import TrainedRiskModel
from optalloc.risk.training import Design, fit_model
from optalloc.risk.validation import calibration_slope_intercept


@dataclass(frozen=True)
class Decision:
    """What was compared, the figures, and whether the challenger takes over."""

    promoted: bool
    reason: str
    evaluated_on: str
    trained_on: tuple[str, ...]
    figures: dict[str, Any] = field(default_factory=dict)


def _subset(design: Design, mask: np.ndarray) -> Design:
    return Design(
        X=design.X[mask].reset_index(drop=True),
        y=None if design.y is None else design.y[mask],
        groups=design.groups[mask],
        domain=design.domain,
        numeric=design.numeric,
        categorical=design.categorical,
        sha256=design.sha256,
        order=None if design.order is None else design.order[mask],
    )


def _metrics(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> dict[str, float]:
    keep = w > 0
    two = np.unique(y[keep]).size == 2
    return {
        "auroc": float(roc_auc_score(y, p, sample_weight=w)) if two else float("nan"),
        "brier": float(np.average((p - y) ** 2, weights=w)),
    }


def paired_bootstrap(
    y: np.ndarray,
    p_champion: np.ndarray,
    p_challenger: np.ndarray,
    patients: np.ndarray,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Both models' AUROC and Brier, and 95% intervals of challenger minus champion."""
    y = np.asarray(y, dtype=int)
    _, unit = np.unique(np.asarray(patients), return_inverse=True)
    rng = np.random.default_rng(seed)
    ones = np.ones(len(y))
    champ, chall = _metrics(y, p_champion, ones), _metrics(y, p_challenger, ones)
    diffs: dict[str, list[float]] = {"auroc": [], "brier": []}
    for _ in range(n_boot):
        w = rng.poisson(1.0, unit.max() + 1).astype(float)[unit]
        a, b = _metrics(y, p_champion, w), _metrics(y, p_challenger, w)
        for key in diffs:
            diffs[key].append(b[key] - a[key])
    result: dict[str, Any] = {"champion": champ, "challenger": chall, "n_boot": n_boot}
    for key, values in diffs.items():
        arr = np.asarray(values)
        arr = arr[np.isfinite(arr)]
        result[f"{key}_difference"] = chall[key] - champ[key]
        result[f"{key}_difference_ci"] = (
            [float(np.quantile(arr, 0.025)), float(np.quantile(arr, 0.975))]
            if arr.size
            else [float("nan"), float("nan")]
        )
    for name, p in (("champion", p_champion), ("challenger", p_challenger)):
        slope, intercept = calibration_slope_intercept(y, p)
        result[name].update(calibration_slope=slope, calibration_intercept=intercept)
    return result


def decide(figures: dict[str, Any]) -> tuple[bool, str]:
    """Promote only on a difference beyond its 95% interval, with the other measure not worse."""
    b_low, b_high = figures["brier_difference_ci"]
    a_low, a_high = figures["auroc_difference_ci"]
    brier_better, brier_worse = b_high < 0, b_low > 0
    auroc_better, auroc_worse = a_low > 0, a_high < 0
    if brier_better and not auroc_worse:
        return True, (
            f"the challenger's Brier score is lower by {-figures['brier_difference']:.5f} "
            f"(95% CI of the difference {b_low:+.5f} to {b_high:+.5f}, all below 0) and its AUROC "
            f"is not worse ({figures['auroc_difference']:+.3f})."
        )
    if auroc_better and not brier_worse:
        return True, (
            f"the challenger's AUROC is higher by {figures['auroc_difference']:.3f} (95% CI "
            f"{a_low:+.3f} to {a_high:+.3f}, all above 0) and its Brier score is not worse."
        )
    return False, (
        f"no clear improvement: AUROC difference {figures['auroc_difference']:+.3f} (95% CI "
        f"{a_low:+.3f} to {a_high:+.3f}), Brier difference {figures['brier_difference']:+.5f} "
        f"(95% CI {b_low:+.5f} to {b_high:+.5f}); the champion stays."
    )


def champion_challenger(
    champion: TrainedRiskModel,
    design: Design,
    periods: Periods,
    window: int,
    model: str | None = None,
    seed: int = 0,
    n_boot: int = 200,
) -> tuple[TrainedRiskModel, Decision]:
    """Fit a challenger on the ``window`` periods before the last and compare on the last."""
    n = len(periods.order)
    if not 1 <= window <= n - 1:
        raise CohortError(
            f"--window must be between 1 and {n - 1} (the periods before the last one, which "
            f"is kept for the comparison). Got {window} instead."
        )
    if design.y is None:
        raise CohortError("The table has no outcome column, so a challenger cannot be trained or compared.")
    evaluated_on = periods.order[-1]
    trained_on = periods.order[n - 1 - window : n - 1]
    train_mask = np.isin(periods.label, trained_on)
    test_mask = periods.label == evaluated_on
    train = _subset(design, train_mask)
    if train.y is None or np.unique(train.y).size < 2:
        raise CohortError(f"periods {', '.join(trained_on)} hold a single outcome class; widen --window.")
    challenger = fit_model(
        train,
        model or champion.name,
        seed,
        metadata={"trained_on_periods": list(trained_on), "period_kind": periods.kind},
    )
    features = list(champion.features)
    X_test, y_test = design.X[test_mask], design.y[test_mask]
    p_champion = champion.estimator.predict_proba(X_test[features])[:, 1]
    p_challenger = challenger.estimator.predict_proba(X_test[list(challenger.features)])[:, 1]
    figures = paired_bootstrap(y_test, p_champion, p_challenger, design.groups[test_mask], n_boot, seed)
    figures.update(
        n_train=int(train_mask.sum()),
        n_test=int(test_mask.sum()),
        champion_saw_this_data=champion.metadata.get("training_data_sha256") == design.sha256,
    )
    promoted, reason = decide(figures)
    if figures["champion_saw_this_data"]:
        reason += (
            " Note: the champion was trained on this very table, so its figures on the last period are "
            "optimistic; compare on records it never saw."
        )
    return challenger, Decision(promoted, reason, evaluated_on, tuple(trained_on), figures)
