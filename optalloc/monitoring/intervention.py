"""Did the programme help? Observed/expected before and after it started, with a bootstrap.

The model's expected readmissions adjust for case mix, so the question is whether the ratio
``O/E`` fell after the start. With a plan, the patients it sent to the programme's setting are
compared with the others (a difference in differences of O/E), which removes a change common to
everybody (coding, season). The interval is a patient bootstrap (Poisson weights per patient,
seeded). This is observational evidence: who was sent where was not randomised, and the
comparison assumes both groups would have moved alike without the programme.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optalloc.errors import CohortError

STATEMENT = (
    "Observational evidence, not a trial: patients were not randomised to the programme, "
    "and the comparison assumes the groups would have moved alike without it."
)


@dataclass(frozen=True)
class InterventionEffect:
    """The change in O/E after the start, overall and (with a plan) against the other patients."""

    start: str
    before: dict[str, float]
    after: dict[str, float]
    ratio_change: float  # (O/E after) / (O/E before)
    ratio_change_ci: tuple[float, float]
    did: float | None = None  # change of the treated minus change of the others (O/E units)
    did_ci: tuple[float, float] | None = None
    setting: str | None = None
    n_treated: int = 0
    statement: str = STATEMENT


def _oe(y: np.ndarray, p: np.ndarray, w: np.ndarray) -> float:
    expected = float(np.sum(w * p))
    return float(np.sum(w * y)) / expected if expected > 0 else float("nan")


def intervention_effect(
    y: np.ndarray,
    p: np.ndarray,
    after: np.ndarray,
    patients: np.ndarray,
    start: str,
    treated: np.ndarray | None = None,
    setting: str | None = None,
    n_boot: int = 500,
    seed: int = 0,
) -> InterventionEffect:
    """Compare O/E before and after ``start`` (``after`` marks the rows from the start on).

    ``treated`` marks the rows of patients the plan sent to ``setting``; then a difference in
    differences is reported as well.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    after = np.asarray(after, dtype=bool)
    if after.all() or not after.any():
        raise CohortError(
            f"--intervention-start {start}: every period falls on one side of it; "
            "choose a period with tracked periods both before and after."
        )
    ids, unit = np.unique(np.asarray(patients), return_inverse=True)
    rng = np.random.default_rng(seed)
    ones = np.ones(len(y))

    def stats(w: np.ndarray) -> tuple[float, float | None]:
        change = _oe(y[after], p[after], w[after]) / _oe(y[~after], p[~after], w[~after])
        if treated is None:
            return change, None
        t = np.asarray(treated, dtype=bool)
        d_t = _oe(y[after & t], p[after & t], w[after & t]) - _oe(y[~after & t], p[~after & t], w[~after & t])
        d_o = _oe(y[after & ~t], p[after & ~t], w[after & ~t]) - _oe(y[~after & ~t], p[~after & ~t], w[~after & ~t])
        return change, d_t - d_o

    if treated is not None:
        t = np.asarray(treated, dtype=bool)
        if not (t & after).any() or not (t & ~after).any() or not (~t).any():
            raise CohortError(
                f"--setting {setting}: the plan sends no tracked patient to it before and after "
                f"{start}, or sends everybody; a difference in differences needs both groups."
            )
    point_change, point_did = stats(ones)
    changes, dids = [], []
    for _ in range(n_boot):
        w = rng.poisson(1.0, len(ids)).astype(float)[unit]
        change, did = stats(w)
        changes.append(change)
        if did is not None:
            dids.append(did)

    def ci(values: list[float]) -> tuple[float, float]:
        arr = np.asarray(values, dtype=float)
        arr = arr[np.isfinite(arr)]
        return (float(np.quantile(arr, 0.025)), float(np.quantile(arr, 0.975))) if arr.size else (np.nan, np.nan)

    def side(mask: np.ndarray) -> dict[str, float]:
        return {
            "n": int(mask.sum()),
            "observed": float(y[mask].sum()),
            "expected": float(p[mask].sum()),
            "oe": _oe(y[mask], p[mask], ones[mask]),
        }

    return InterventionEffect(
        start=start,
        before=side(~after),
        after=side(after),
        ratio_change=point_change,
        ratio_change_ci=ci(changes),
        did=point_did,
        did_ci=ci(dids) if dids else None,
        setting=setting,
        n_treated=int(len(np.unique(np.asarray(patients)[np.asarray(treated, dtype=bool)])))
        if treated is not None
        else 0,
    )


def plan_membership(patients: np.ndarray, plan: pd.DataFrame, setting: str, source: str) -> np.ndarray:
    """Rows whose patient the plan (``patient_id``, ``setting``) sends to ``setting``."""
    for column in ("patient_id", "setting"):
        if column not in plan.columns:
            raise CohortError(
                f"{source}: a plan needs the columns patient_id and setting (as 'optalloc solve "
                f"--out' writes); {column!r} is missing."
            )
    known = sorted(plan["setting"].astype(str).unique())
    if setting not in known:
        raise CohortError(f"{source}: --setting {setting!r} is not a setting of this plan ({', '.join(known)}).")
    sent = set(plan.loc[plan["setting"].astype(str) == setting, "patient_id"].astype(str))
    return np.array([str(pid) in sent for pid in patients], dtype=bool)
