"""Rich renderings of library results: the only place that decides how numbers look."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from rich.table import Table


def fmt(value: Any) -> str:
    """Numbers at a precision a planner reads; None/NaN as a dash."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        if math.isinf(value):
            return "∞" if value > 0 else "-∞"
        magnitude = abs(value)
        if magnitude >= 1000:
            return f"{value:,.0f}"
        if magnitude >= 10:
            return f"{value:,.1f}"
        if magnitude == 0:
            return "0"
        if magnitude >= 0.01:
            return f"{value:.3f}"
        return f"{value:.2e}"
    return str(value)


def frame_table(frame: pd.DataFrame, title: str | None = None, index: bool = True) -> Table:
    """A DataFrame as a Rich table, index as the first column."""
    table = Table(title=title, title_justify="left", header_style="bold")
    if index:
        table.add_column(str(frame.index.name or ""), style="bold")
    for column in frame.columns:
        table.add_column(str(column), justify="right")
    for label, row in frame.iterrows():
        cells = [fmt(v) for v in row.tolist()]
        table.add_row(*([str(label)] if index else []), *cells)
    return table
