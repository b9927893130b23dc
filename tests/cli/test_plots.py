"""The PNGs a person reads: every axis labelled with its unit, plain numbers (no ``1e7`` offset),
quantities in different units on different axes, and lines told apart without colour."""

from __future__ import annotations

import re

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.lines import Line2D

from optalloc.monitoring.control import ControlLimits
from optalloc.monitoring.plot import tracking_figure
from optalloc.monitoring.track import TrackReport
from optalloc.studio.parallel import Execution
from optalloc.studio.sweep import PALETTE, Vary, parse_vary, run_sweep, sweep_figure
from tests.helpers.studio import small_prepared

UNIT = re.compile(r"\(.+\)$")  # "... (hours)"


def _check_axes(fig, need_x: bool = True) -> None:
    fig.canvas.draw()
    for axis in fig.axes:
        assert UNIT.search(axis.get_ylabel()), axis.get_ylabel()
        if need_x:
            assert UNIT.search(axis.get_xlabel()), axis.get_xlabel()
        assert axis.yaxis.get_offset_text().get_text() == ""
        assert axis.xaxis.get_offset_text().get_text() == ""
        labels = [t.get_text() for t in axis.get_yticklabels() if t.get_text()]
        assert labels and not any("e" in t.lower() for t in labels), labels
        lines = [h for h in axis.get_legend_handles_labels()[0] if isinstance(h, Line2D)]
        styles = [(line.get_color(), line.get_linestyle(), line.get_marker()) for line in lines]
        assert len(set(styles)) == len(styles)  # every line in the legend its own look
        # and still told apart in grey: line style or marker differ, not only colour
        assert len({style[1:] for style in styles}) == len(styles)


def _synthetic_sweep() -> tuple[pd.DataFrame, list[Vary]]:
    """Two values swept; a benefit in the tens of millions (where matplotlib would add an
    offset), a binding budget (EUR) and two binding staff limits (hours)."""
    nurses = np.linspace(0, 24_000, 5)
    rows = []
    for budget in (46.0e6, 47.0e6):
        for k, hours in enumerate(nurses):
            rows.append(
                {
                    "budget": budget,
                    "resources.home_nurse_hours": hours,
                    "objective": 46_600_000 + 1_000 * k + budget / 1e6,
                    "marginal_value:home_nurse_hours": 1.6e-3 - 5e-5 * k,
                    "marginal_value:haematologist_hours": 2e-4 * k,
                    "marginal_value:budget": 6.9e-5 * (budget < 46.5e6),
                    "marginal_value:transport_boxes": 0.0,  # never binds: not plotted
                }
            )
    frame = pd.DataFrame(rows)
    frame.attrs["units"] = {
        "objective": "readmission-equivalents",
        "limits": {
            "home_nurse_hours": "hours",
            "haematologist_hours": "hours",
            "budget": "EUR",
            "transport_boxes": "units",
        },
        "swept": {"budget": "EUR", "resources.home_nurse_hours": "hours"},
    }
    return frame, [Vary("resources.home_nurse_hours", 0, 24_000, 5), Vary("budget", 46.0e6, 47.0e6, 2)]


def test_sweep_figure_units_panels_and_plain_numbers() -> None:
    frame, varies = _synthetic_sweep()
    fig = sweep_figure(frame, varies, title="t")
    try:
        _check_axes(fig)
        frontier, *marginal = fig.axes
        assert frontier.get_ylabel() == "benefit (readmission-equivalents)"
        assert frontier.get_xlabel() == "resources.home_nurse_hours (hours)"
        assert any("," in t.get_text() for t in frontier.get_yticklabels())  # 46,600,000, not 1e7
        # euros and hours never share an axis: one panel per unit, each line on its unit's panel
        per = {axis.get_ylabel(): [line.get_label() for line in axis.get_lines()] for axis in marginal}
        assert len(per) == 2
        (hours_label,) = [label for label in per if "per hour" in label]
        (euro_label,) = [label for label in per if "per 1,000 EUR" in label]
        assert all(name.startswith(("home_nurse_hours", "haematologist_hours")) for name in per[hours_label])
        assert all(name.startswith("budget") for name in per[euro_label])
        assert not any("transport_boxes" in name for names in per.values() for name in names)
        colours = {line.get_color() for axis in fig.axes for line in axis.get_lines()}
        assert colours <= set(PALETTE)
    finally:
        plt.close(fig)


@pytest.mark.usefixtures("fast_risk")
def test_sweep_of_a_real_scenario_labels_its_axes_from_the_problem() -> None:
    prepared = small_prepared()
    varies = [parse_vary("home_nurse_hours=0:3000:3", prepared.loaded)]
    frame = run_sweep(prepared, varies, "highs", Execution(workers=1))
    fig = sweep_figure(frame, varies)
    try:
        _check_axes(fig)
        assert fig.axes[0].get_ylabel() == f"benefit ({prepared.problem.objective_unit})"
        assert fig.axes[0].get_xlabel() == "resources.home_nurse_hours (hours)"
    finally:
        plt.close(fig)


def test_tracking_chart_units_and_no_offset() -> None:
    periods = pd.DataFrame(
        {
            "period": [f"B0{k}" for k in range(1, 7)],
            "n": [2_000_000] * 6,
            "expected": [1_000_000.0] * 6,
            "variance": [1.0] * 6,  # a band so narrow that the default formatter would add an offset
            "oe": 1.0001 + 1e-5 * np.arange(6),
            "oe_low": 1.00005 + 1e-5 * np.arange(6),
            "oe_high": 1.00015 + 1e-5 * np.arange(6),
            "alarm": [False, False, False, False, True, False],
            "drift_level": [0.2, 0.3, 0.25, 0.4, 1.2, 0.5],
            "drift_feature": ["age"] * 6,
        }
    )
    report = TrackReport(
        periods=periods,
        groups=pd.DataFrame(),
        drift=pd.DataFrame(),
        alarms=[],
        limits=ControlLimits(tau2=0.0, source="test", baseline_periods=2),
        period_kind="block",
    )
    fig = tracking_figure(report)
    try:
        _check_axes(fig, need_x=False)  # the two panels share the x axis, labelled below
        assert UNIT.search(fig.axes[-1].get_xlabel())
    finally:
        plt.close(fig)
