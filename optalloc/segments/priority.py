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
    Care burden the patient carries today, the burden the service removes.
``need``
    Clinical need for the service.

Burden and need are the cohort's domain's to say: each domain declares them as expressions
over its columns in the safe language (:mod:`optalloc.expressions`), e.g. the transfusion
domain's ``transfusions_per_28d * (2 * distance_km + 60 * units_per_visit)``
(:attr:`optalloc.domains.base.Declaration.priority`), so this module names no dataset's
column. A component a domain does not declare is left out, and the weights of the others
are shared over them.

Score = ``sum_c w_c * rank_c / sum_c w_c`` over the components present, in [0, 1]. It is monotone: raising one component
for one patient, all else equal, never lowers that patient's score. Ties in the score keep
the input order (a stable sort), so rankings are reproducible.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from optalloc.expressions import parse

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


def priority_components(
    cohort: pd.DataFrame,
    risk: np.ndarray,
    benefit_gain: np.ndarray,
    inputs: Mapping[str, str],
    source: str = "the domain's priority",
) -> pd.DataFrame:
    """The raw components, one column each, one row per patient: risk, benefit, and each of
    ``inputs`` (component -> expression over the cohort's columns) evaluated on ``cohort``."""
    n = len(cohort)
    risk = np.asarray(risk, dtype=float)
    benefit_gain = np.asarray(benefit_gain, dtype=float)
    for name, values in (("risk", risk), ("benefit_gain", benefit_gain)):
        if values.shape != (n,):
            raise ValueError(f"{name} must have one value per patient ({n}). Got shape {values.shape} instead.")
    components = {"risk": risk, "benefit": benefit_gain}
    for name, text in inputs.items():
        if name not in COMPONENTS or name in components:
            raise ValueError(f"{source}: {name!r} is not a priority input; declare burden and/or need.")
        components[name] = parse(text, f"priority.{name}", source, names=cohort.columns).quantity(cohort)
    return pd.DataFrame(components, index=cohort.index)


def priority_score(
    cohort: pd.DataFrame,
    risk: np.ndarray,
    benefit_gain: np.ndarray,
    weights: PriorityWeights | None = None,
    *,
    inputs: Mapping[str, str],
) -> np.ndarray:
    """Priority in [0, 1] per patient: the weighted mean of rank-normalised components.

    Parameters
    ----------
    cohort
        One row per patient, with the columns ``inputs`` read.
    risk
        Readmission probability per patient.
    benefit_gain
        Expected benefit of the home setting per patient.
    weights
        Component weights; ``None`` uses :class:`PriorityWeights` defaults.
    inputs
        The domain's burden and need expressions (``Declaration.priority``).
    """
    weights = weights or PriorityWeights()
    components = priority_components(cohort, risk, benefit_gain, inputs)
    w = {name: weight for name, weight in asdict(weights).items() if name in components}
    total = sum(w.values())
    if total <= 0:
        raise ValueError(f"the priority weights of {', '.join(w)} are all zero; give one of them a weight.")
    score = np.zeros(len(cohort))
    for name in COMPONENTS:
        if w.get(name, 0) > 0:
            score += w[name] * rank_normalise(components[name].to_numpy())
    return score / total


def priority_order(score: np.ndarray) -> np.ndarray:
    """Patient positions from highest to lowest priority; ties keep input order."""
    return np.argsort(-np.asarray(score, dtype=float), kind="stable")
