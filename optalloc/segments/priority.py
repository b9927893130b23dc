"""A documented, configurable priority score for ranking patients for a home service.

The score combines four components, each turned into a rank in (0, 1] before weighting, so
that a weight means the same thing whatever the component's unit (a probability, hours saved,
kilometres) and one extreme value cannot dominate:

``risk``
    Predicted probability of readmission within 30 days (the risk model's output): closer
    follow-up at home is aimed first at those most likely to come back.
``benefit``
    Expected gain from the home setting for this patient (the estimates stage's
    ``benefit_gain``, e.g. the predicted fall in readmission probability or in hours lost).
``burden``
    Care burden the patient carries today: visits per 28 days times the round trip
    (``transfusions_per_28d * (2 * distance_km + 60 * units_per_visit)``: chair time, about an
    hour per unit, is counted like 60 km of travel), the burden a home service removes.
``need``
    Clinical need for regular transfusion: visits per 28 days times units per visit, raised
    for a low pre-transfusion haemoglobin.

Score = ``sum_c w_c * rank_c / sum_c w_c``, in [0, 1]. It is monotone: raising one component
for one patient, all else equal, never lowers that patient's score. Ties in the score keep
the input order (a stable sort), so rankings are reproducible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

COMPONENTS: tuple[str, ...] = ("risk", "benefit", "burden", "need")


@dataclass(frozen=True)
class PriorityWeights:
    """Relative weights of the priority components (non-negative, not all zero).

    Defaults put expected benefit first, then risk, then need and burden.
    """

    risk: float = 0.3
    benefit: float = 0.4
    burden: float = 0.15
    need: float = 0.15

    def __post_init__(self) -> None:
        values = asdict(self)
        bad = {k: v for k, v in values.items() if not np.isfinite(v) or v < 0}
        if bad or sum(values.values()) <= 0:
            raise ValueError(
                f"PriorityWeights must be non-negative finite numbers, not all zero. Got {values} instead."
            )


def rank_normalise(values: np.ndarray) -> np.ndarray:
    """Average rank divided by the count: (0, 1], ties share a rank, larger values rank higher."""
    values = np.asarray(values, dtype=float)
    if values.size == 0:
        return values
    if np.isnan(values).any():
        raise ValueError("priority components must not contain NaN; impute or drop those patients first.")
    return rankdata(values, method="average") / values.size


def care_burden(cohort: pd.DataFrame) -> np.ndarray:
    """Round-trip km per 28 days, with each unit's hour in the chair counted as 60 km."""
    visits = cohort["transfusions_per_28d"].to_numpy(dtype=float)
    travel = 2.0 * cohort["distance_km"].to_numpy(dtype=float)
    chair = 60.0 * cohort["units_per_visit"].to_numpy(dtype=float)
    return visits * (travel + chair)


def transfusion_need(cohort: pd.DataFrame) -> np.ndarray:
    """Units per 28 days, weighted up by 10 % per g/dL of pre-transfusion Hb below 9."""
    units = cohort["transfusions_per_28d"].to_numpy(dtype=float) * cohort["units_per_visit"].to_numpy(dtype=float)
    deficit = np.clip(9.0 - cohort["haemoglobin_g_dl"].to_numpy(dtype=float), 0.0, None)
    return units * (1.0 + 0.1 * deficit)


def priority_components(cohort: pd.DataFrame, risk: np.ndarray, benefit_gain: np.ndarray) -> pd.DataFrame:
    """The four raw components, one column each, one row per patient."""
    n = len(cohort)
    risk = np.asarray(risk, dtype=float)
    benefit_gain = np.asarray(benefit_gain, dtype=float)
    for name, values in (("risk", risk), ("benefit_gain", benefit_gain)):
        if values.shape != (n,):
            raise ValueError(f"{name} must have one value per patient ({n}). Got shape {values.shape} instead.")
    return pd.DataFrame(
        {"risk": risk, "benefit": benefit_gain, "burden": care_burden(cohort), "need": transfusion_need(cohort)},
        index=cohort.index,
    )


def priority_score(
    cohort: pd.DataFrame,
    risk: np.ndarray,
    benefit_gain: np.ndarray,
    weights: PriorityWeights | None = None,
) -> np.ndarray:
    """Priority in [0, 1] per patient: the weighted mean of rank-normalised components.

    Parameters
    ----------
    cohort
        Cohort with ``transfusions_per_28d``, ``units_per_visit``, ``distance_km`` and
        ``haemoglobin_g_dl``.
    risk
        Readmission probability per patient.
    benefit_gain
        Expected benefit of the home setting per patient.
    weights
        Component weights; ``None`` uses :class:`PriorityWeights` defaults.
    """
    weights = weights or PriorityWeights()
    components = priority_components(cohort, risk, benefit_gain)
    w = asdict(weights)
    total = sum(w.values())
    score = np.zeros(len(cohort))
    for name in COMPONENTS:
        if w[name] > 0:
            score += w[name] * rank_normalise(components[name].to_numpy())
    return score / total


def priority_order(score: np.ndarray) -> np.ndarray:
    """Patient positions from highest to lowest priority; ties keep input order."""
    return np.argsort(-np.asarray(score, dtype=float), kind="stable")
