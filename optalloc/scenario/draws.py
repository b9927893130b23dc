"""Point-valued scenarios drawn from a scenario's distributions.

Apart from ``uncertain.py`` (the distributions themselves) because drawing needs the loader's
``with_overrides`` while the loader needs the distributions: keeping both directions in one
module made the two import each other.
"""

from __future__ import annotations

import numpy as np

from optalloc.scenario.loader import LoadedScenario, with_overrides
from optalloc.scenario.uncertain import draw_values, values_at


def draw(loaded: LoadedScenario, rng: np.random.Generator) -> LoadedScenario:
    """A point-valued scenario with one value drawn for every distribution.

    Paths are drawn in sorted order so the same generator state gives the same scenario.
    """
    uniforms = {path: float(rng.uniform(1e-12, 1.0 - 1e-12)) for path in sorted(loaded.distributions)}
    return with_overrides(loaded, values_at(loaded.distributions, uniforms))


def draw_paired(loaded: LoadedScenario, seed: int, index: int) -> LoadedScenario:
    """Draw ``index`` of the paired sample with ``seed`` (see ``uncertain``'s docstring)."""
    return with_overrides(loaded, draw_values(loaded.distributions, seed, index))
