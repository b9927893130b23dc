"""Uncertain scenario values: a number in a scenario may be a distribution table.

For example ``effect = {dist = "triangular", low = 0.1, mode = 0.2, high = 0.35}``. The loader
replaces each such table by its expected value *before* validation, so the validated
:class:`~optalloc.scenario.model.Scenario` stays point-valued and every stage (estimates,
problem, solvers, reports) is unchanged; the distributions are kept beside it on the
:class:`~optalloc.scenario.loader.LoadedScenario`, keyed by dotted path.

Draws use inverse-CDF sampling from uniforms that depend only on ``(seed, draw index, path)``.
Two scenarios with a distribution at the same path therefore see the same quantile in draw
``k`` (common random numbers), which is what makes "scenario B beats A in 73% of the draws" a
paired comparison rather than noise between two independent samples.

Supported tables (all numbers)::

    {dist = "triangular", low = a, mode = c, high = b}
    {dist = "uniform", low = a, high = b}
    {dist = "normal", mean = m, sd = s [, low = a] [, high = b]}   # truncated normal
    {dist = "lognormal", median = m, sigma = s}                    # sigma of log(value)

A normal is truncated at 0 unless ``low`` says otherwise (capacities, costs and budgets cannot be
negative), and at ``high`` if given. Whatever the kind, every value it can draw must be one the
field accepts (checked when the file is loaded, against the field's own
bounds), so a draw never fails half-way through a run.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from optalloc.errors import ScenarioError

KINDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # kind: (required parameters, optional parameters)
    "triangular": (("low", "mode", "high"), ()),
    "uniform": (("low", "high"), ()),
    "normal": (("mean", "sd"), ("low", "high")),
    "lognormal": (("median", "sigma"), ()),
}
UNCERTAIN_ROOTS = ("settings", "resources", "budget", "objective", "horizon_weeks", "travel_speed_kmh")
INTEGER_FIELDS = ("min_patients", "max_patients")


@dataclass(frozen=True)
class Distribution:
    """One uncertain number: a frozen scipy distribution plus the table it was read from.

    Kept as plain parameters (not the scipy object) so it pickles cheaply to workers and
    compares equal across loads of the same file.
    """

    kind: str
    params: tuple[tuple[str, float], ...]

    def frozen(self) -> Any:
        """The scipy.stats frozen distribution (scipy.stats is imported here, not at the top:
        it costs every command 0.4 s of start-up, and most scenarios hold no distribution)."""
        from scipy import stats

        p = dict(self.params)
        if self.kind == "triangular":
            width = p["high"] - p["low"]
            return stats.triang(c=(p["mode"] - p["low"]) / width, loc=p["low"], scale=width)
        if self.kind == "uniform":
            return stats.uniform(loc=p["low"], scale=p["high"] - p["low"])
        if self.kind == "normal":
            low, high = p.get("low", -np.inf), p.get("high", np.inf)
            return stats.truncnorm(
                a=(low - p["mean"]) / p["sd"], b=(high - p["mean"]) / p["sd"], loc=p["mean"], scale=p["sd"]
            )
        return stats.lognorm(s=p["sigma"], scale=p["median"])

    def mean(self) -> float:
        """Expected value: what the point-valued scenario uses."""
        return float(self.frozen().mean())

    def ppf(self, u: float) -> float:
        """The value at quantile ``u`` in (0, 1)."""
        return float(self.frozen().ppf(u))


def is_distribution(value: Any) -> bool:
    """A table is a distribution when it has a ``dist`` key."""
    return isinstance(value, Mapping) and "dist" in value


def parse_distribution(table: Mapping[str, Any], where: str, source: Path) -> Distribution:
    """Check one distribution table, naming the file and field on any mistake."""
    kind = table.get("dist")
    if kind not in KINDS:
        raise ScenarioError(
            f"{source}: field '{where}': unknown distribution {kind!r}; use one of "
            f'{", ".join(KINDS)}, e.g. {{dist = "triangular", low = 0.1, mode = 0.2, high = 0.35}}.'
        )
    required, optional = KINDS[kind]
    given = {k: v for k, v in table.items() if k != "dist"}
    missing = [k for k in required if k not in given]
    unknown = [k for k in given if k not in required + optional]
    if missing or unknown:
        raise ScenarioError(
            f"{source}: field '{where}': a {kind} distribution needs {', '.join(required)}"
            + (f" (optional: {', '.join(optional)})" if optional else "")
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unknown {', '.join(unknown)}" if unknown else "")
            + ". Fix the table."
        )
    values: dict[str, float] = {}
    for key, value in given.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(value):
            raise ScenarioError(f"{source}: field '{where}.{key}' must be a finite number, got {value!r}.")
        values[key] = float(value)
    _check_shape(kind, values, where, source)
    if kind == "normal":
        values.setdefault("low", 0.0)
    return Distribution(kind, tuple(sorted(values.items())))


def _check_shape(kind: str, p: dict[str, float], where: str, source: Path) -> None:
    problem = None
    if kind == "triangular" and not (p["low"] <= p["mode"] <= p["high"] and p["low"] < p["high"]):
        problem = "needs low <= mode <= high and low < high"
    elif kind == "uniform" and not p["low"] < p["high"]:
        problem = "needs low < high"
    elif kind == "normal" and not p["sd"] > 0:
        problem = "needs sd > 0"
    elif kind == "normal" and p.get("low", -np.inf) >= p.get("high", np.inf):
        problem = "needs low < high"
    elif kind == "lognormal" and not (p["median"] > 0 and p["sigma"] > 0):
        problem = "needs median > 0 and sigma > 0"
    if problem:
        raise ScenarioError(f"{source}: field '{where}': the {kind} distribution {problem}. Fix its numbers.")


def split_distributions(raw: Mapping[str, Any], source: Path) -> tuple[dict[str, Any], dict[str, Distribution]]:
    """The table with every distribution replaced by its mean, and the distributions by path."""
    found: dict[str, Distribution] = {}

    def walk(table: Mapping[str, Any], prefix: str) -> dict[str, Any]:
        point: dict[str, Any] = {}
        for key, value in table.items():
            where = f"{prefix}{key}"
            if is_distribution(value):
                root = where.split(".")[0]
                if root not in UNCERTAIN_ROOTS or key in INTEGER_FIELDS:
                    raise ScenarioError(
                        f"{source}: field '{where}' cannot be uncertain; distributions are allowed on "
                        "numbers under settings, resources, objective, and on budget, horizon_weeks, "
                        "travel_speed_kmh (not on counts, seeds or cohort fields). Give a number."
                    )
                dist = parse_distribution(value, where, source)
                found[where] = dist
                point[key] = dist.mean()
            elif isinstance(value, Mapping):
                point[key] = walk(value, where + ".")
            else:
                point[key] = value
        return point

    return walk(raw, ""), found


def path_uniform(seed: int, index: int, path: str) -> float:
    """The uniform number draw ``index`` uses for ``path``: the same in every scenario."""
    tag = int.from_bytes(hashlib.sha256(path.encode()).digest()[:8], "little")
    return float(np.random.default_rng([seed, index, tag]).uniform(1e-12, 1.0 - 1e-12))


def values_at(distributions: Mapping[str, Distribution], uniforms: Mapping[str, float]) -> dict[str, float]:
    """Dotted path -> value at the given quantile of each distribution."""
    return {path: dist.ppf(uniforms[path]) for path, dist in distributions.items()}


def draw_values(distributions: Mapping[str, Distribution], seed: int, index: int) -> dict[str, float]:
    """The values of draw ``index`` (paired across scenarios through :func:`path_uniform`).

    Takes a loaded scenario's ``distributions``, not the scenario, so that this module needs
    nothing from the loader (which needs this module).
    """
    uniforms = {path: path_uniform(seed, index, path) for path in distributions}
    return values_at(distributions, uniforms)
