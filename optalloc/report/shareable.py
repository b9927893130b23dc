"""Which cells of a shareable report to hide: small counts and the figures that give them back.

A count of 1 to ``min_count - 1`` patients is hidden (primary suppression; 11 as CMS and PCORnet
use, 5 as OHDSI tools default to). Hiding one cell is not enough when the table also shows the
total it belongs to: the total minus the shown cells gives it back. So in every group of cells
that add up to a shown total (the settings of one plan, the segments of one cohort) more cells
are hidden, smallest first, until at least two are hidden and together they hold at least
``min_count`` patients (secondary, or complementary, suppression). A rate or share is hidden
when its denominator is under ``min_count`` or its numerator is hidden.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

DEFAULT_MIN_COUNT = 11


def hidden_counts(counts: ArrayLike, min_count: int, total_shown: bool = True) -> np.ndarray:
    """Boolean mask of the cells to hide in one group of counts.

    Parameters
    ----------
    counts
        Patient counts of the group's cells (zeros disclose nobody and stay shown).
    min_count
        Smallest count that may be shown; ``0`` or ``1`` hides nothing.
    total_shown
        Whether the group's total is shown elsewhere (then one hidden cell is not enough).
    """
    values = np.asarray(counts, dtype=float)
    hide = (values > 0) & (values < min_count)
    if not total_shown or not hide.any():
        return hide
    while True:
        hidden_sum = values[hide].sum()
        if hide.sum() >= 2 and hidden_sum >= min_count:
            return hide
        candidates = np.flatnonzero(~hide & (values > 0))
        if candidates.size == 0:
            return hide
        hide[candidates[np.argmin(values[candidates])]] = True


def hidden_rates(numerator_hidden: ArrayLike, denominators: ArrayLike, min_count: int) -> np.ndarray:
    """Mask of rates to hide: over a denominator under ``min_count`` or with a hidden numerator."""
    denominators = np.asarray(denominators, dtype=float)
    return np.asarray(numerator_hidden, dtype=bool) | ((denominators > 0) & (denominators < min_count))
