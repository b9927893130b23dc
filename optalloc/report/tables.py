"""Report tables as rows of display text, and the one place numbers are formatted for them.

Formatting lives here (not in the template) so a hidden cell can never be re-computed by a
filter: a suppressed value is the text ``<11`` before the template sees it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

DASH = "–"


@dataclass
class Table:
    """A table ready to render: header, rows of text, which columns are numbers."""

    columns: list[str]
    rows: list[list[str]]
    numeric: list[bool] = field(default_factory=list)
    caption: str = ""

    def __post_init__(self) -> None:
        if not self.numeric:
            self.numeric = [False] + [True] * (len(self.columns) - 1)


def is_missing(value: Any) -> bool:
    if value is None:
        return True
    try:
        return bool(isinstance(value, float | np.floating) and math.isnan(value))
    except TypeError:
        return False


def number(value: Any, digits: int = 3) -> str:
    """A figure as a reader wants it: thousands separators, ``digits`` significant digits for
    small values, whole numbers for large ones; a dash when there is none."""
    if is_missing(value):
        return DASH
    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, int | np.integer):
        return f"{int(value):,}"
    if not isinstance(value, float | np.floating):
        return str(value)
    x = float(value)
    if not math.isfinite(x):
        return "no limit" if x > 0 else DASH
    if x == int(x) and abs(x) >= 1:
        return f"{int(x):,}"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:,.{digits}g}" if abs(x) >= 1e-3 or x == 0 else f"{x:.2e}"


def signed(value: Any, digits: int = 3) -> str:
    """A difference with its sign (``+37``, ``-0.5``)."""
    if is_missing(value):
        return ""
    text = number(value, digits)
    return text if text.startswith("-") else f"+{text}"


def percent(value: Any, digits: int = 1) -> str:
    return DASH if is_missing(value) else f"{float(value):,.{digits}f} %"


def hidden_text(min_count: int) -> str:
    return f"<{min_count}"
