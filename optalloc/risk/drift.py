"""Population drift: a training-data profile kept with the model, and each period's PSI.

The population stability index of a feature over bins ``b``::

    PSI = sum_b (share_now[b] - share_ref[b]) * ln(share_now[b] / share_ref[b])

is 0 for an unchanged distribution; the usual reading is < 0.1 stable, 0.1-0.25 moderate,
>= 0.25 a major shift. Real records drift by themselves (in the Diabetes 130 data the payer
code is missing in early years and the number of coded diagnoses rises from 9 to 16), so a
fixed 0.25 would cry wolf on clean data. The profile therefore also records each feature's
*own* period-to-period drift in the training data (the largest PSI of an ordered block of the
training rows against all of them), and a period alarms only when a feature moves clearly
beyond that: ``PSI >= max(0.25, 2 x training drift)``.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

MAJOR_PSI = 0.25
NOISE_FACTOR = 2.0
N_BINS = 10
TOP_CATEGORIES = 20
PROFILE_BLOCKS = 10
_FLOOR = 1e-4
OTHER = "(other)"
MISSING = "(missing)"


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total > 0 else np.full(counts.shape, 1.0 / max(1, counts.size))
    return np.clip(shares, _FLOOR, None)


def psi(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI between two vectors of bin shares (floored so an empty bin does not explode)."""
    ref, cur = _shares(np.asarray(reference, float)), _shares(np.asarray(current, float))
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def _numeric_counts(values: np.ndarray, edges: list[float]) -> np.ndarray:
    finite = values[np.isfinite(values)]
    bins = np.r_[-np.inf, edges, np.inf]
    counts = np.histogram(finite, bins)[0].astype(float)
    return np.r_[counts, float((~np.isfinite(values)).sum())]


def _category_counts(values: pd.Series, categories: list[str]) -> np.ndarray:
    text = values.astype("string").fillna(MISSING).to_numpy(dtype=object)
    known = pd.Series(text).value_counts()
    counts = [float(known.get(c, 0)) for c in categories]
    counts.append(float(len(text) - sum(counts)))
    return np.asarray(counts)


def feature_counts(spec: Mapping[str, Any], values: pd.Series) -> np.ndarray:
    """Counts of ``values`` over the bins of one feature's profile entry."""
    if spec["kind"] == "numeric":
        return _numeric_counts(pd.to_numeric(values, errors="coerce").to_numpy(dtype=float), spec["edges"])
    return _category_counts(values, spec["categories"])


def build_profile(X: pd.DataFrame, numeric: list[str], order: np.ndarray | None = None) -> dict[str, Any]:
    """The training-data profile stored in a model file (no identifiers, only bin shares).

    Numeric features get decile edges, categorical ones their most frequent categories plus
    ``(other)``; each entry holds the reference counts and, when the rows' time ``order`` is
    known, the largest PSI of one of ``PROFILE_BLOCKS`` ordered blocks against the whole
    (``noise``: how much the feature drifts by itself).
    """
    features: dict[str, Any] = {}
    blocks = None
    if order is not None and len(order) >= 20 * PROFILE_BLOCKS:
        rank = pd.Series(order).rank(method="first").to_numpy()
        blocks = np.minimum(((rank - 1) * PROFILE_BLOCKS // len(order)).astype(int), PROFILE_BLOCKS - 1)
    for column in X.columns:
        values = X[column]
        if column in numeric:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            finite = numbers[np.isfinite(numbers)]
            edges: Any = np.unique(np.quantile(finite, np.linspace(0, 1, N_BINS + 1)[1:-1])) if finite.size else []
            spec: dict[str, Any] = {"kind": "numeric", "edges": [float(e) for e in edges]}
        else:
            top = values.astype("string").fillna(MISSING).value_counts().index[:TOP_CATEGORIES]
            spec = {"kind": "categorical", "categories": [str(c) for c in top]}
        counts = feature_counts(spec, values)
        spec["counts"] = counts.tolist()
        noise = 0.0
        if blocks is not None:
            noise = max(psi(counts, feature_counts(spec, values[blocks == b])) for b in range(PROFILE_BLOCKS))
        spec["noise"] = float(noise)
        features[column] = spec
    return {"features": features, "n_rows": int(len(X)), "blocks": PROFILE_BLOCKS if blocks is not None else 0}


def threshold(spec: Mapping[str, Any]) -> float:
    """PSI at which a period's feature alarms (see the module docstring)."""
    return max(MAJOR_PSI, NOISE_FACTOR * float(spec.get("noise", 0.0)))


def period_drift(profile: Mapping[str, Any], X: pd.DataFrame) -> pd.DataFrame:
    """One row per profiled feature present in ``X``: PSI, alarm threshold and whether it alarms."""
    rows = []
    for column, spec in profile["features"].items():
        if column not in X.columns:
            continue
        value = psi(np.asarray(spec["counts"], float), feature_counts(spec, X[column]))
        limit = threshold(spec)
        rows.append(
            {
                "feature": column,
                "psi": value,
                "threshold": limit,
                "alarm": bool(value >= limit),
                "training_drift": float(spec.get("noise", 0.0)),
            }
        )
    return pd.DataFrame(rows, columns=["feature", "psi", "threshold", "alarm", "training_drift"])


def describe_shift(profile: Mapping[str, Any], X: pd.DataFrame, feature: str) -> str:
    """In words: how a feature moved (mean for numbers, the category that grew most otherwise)."""
    spec = profile["features"][feature]
    counts = feature_counts(spec, X[feature])
    ref, cur = _shares(np.asarray(spec["counts"], float)), _shares(counts)
    if spec["kind"] == "numeric":
        edges = spec["edges"]
        labels = (
            [f"below {edges[0]:g}" if edges else "all"]
            + [f"{lo:g} to {hi:g}" for lo, hi in itertools.pairwise(edges)]
            + ([f"{edges[-1]:g} and above"] if edges else [])
            + ["missing"]
        )
    else:
        labels = [*spec["categories"], OTHER]
    grew = int(np.argmax(cur - ref))
    return f"{feature}: the share of '{labels[grew]}' went from {ref[grew]:.0%} in the training data to {cur[grew]:.0%}"
