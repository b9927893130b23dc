"""The tracking chart: observed/expected per period with its control band, and drift.

Two panels, so a ratio and a PSI never share an axis; Okabe-Ito colours and distinct markers
so the chart reads in grey print and for colour-blind readers.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from optalloc.io import atomic_path
from optalloc.monitoring.track import TrackReport

if TYPE_CHECKING:
    from matplotlib.figure import Figure

BLUE, ORANGE, VERMILION, GREY = "#0072B2", "#E69F00", "#D55E00", "#999999"


def plot_tracking(report: TrackReport, path: Path | str, title: str = "") -> Path:
    """Write :func:`tracking_figure` as PNG (or PDF/SVG by suffix), atomically."""
    import matplotlib.pyplot as plt

    fig = tracking_figure(report, title)
    target = Path(path)
    with atomic_path(target) as tmp:
        fig.savefig(tmp, dpi=120, format=target.suffix.lstrip(".") or "png")
    plt.close(fig)
    return target


def tracking_figure(report: TrackReport, title: str = "") -> Figure:
    """O/E per period with its control and warning limits (top), drift per period (bottom)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import ScalarFormatter

    table = report.periods
    x = np.arange(len(table))
    expected = table["expected"].to_numpy(dtype=float)
    sd = np.sqrt(table["variance"].to_numpy(dtype=float) + report.limits.tau2 * expected**2)
    relative_sd = sd / np.where(expected > 0, expected, np.nan)
    band = report.limits.sigma * relative_sd
    warning = report.limits.warning_sigma * relative_sd
    oe = table["oe"].to_numpy(dtype=float)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top.fill_between(
        x, 1 - band, 1 + band, color=GREY, alpha=0.25, step="mid", label=f"control limits (±{report.limits.sigma:g} sd)"
    )
    for sign in (-1, 1):  # the run rule's limits: an alarm inside the grey band comes from here
        top.step(
            x,
            1 + sign * warning,
            where="mid",
            color=GREY,
            ls="--",
            lw=1,
            label=f"warning limits (±{report.limits.warning_sigma:g} sd; 2 of 3 beyond alarms)" if sign > 0 else None,
        )
    top.axhline(1.0, color="black", lw=0.8)
    top.errorbar(
        x,
        oe,
        yerr=[oe - table["oe_low"], table["oe_high"] - oe],
        fmt="o-",
        color=BLUE,
        capsize=3,
        label="observed / expected (95% CI)",
    )
    alarm = table["alarm"].to_numpy(dtype=bool)
    if alarm.any():
        top.plot(x[alarm], oe[alarm], "s", ms=11, mfc="none", mec=VERMILION, mew=2, label="alarm")
    if report.limits.baseline_periods:
        top.axvspan(-0.5, report.limits.baseline_periods - 0.5, color=ORANGE, alpha=0.12, label="baseline periods")
    top.set_ylabel("observed / expected readmissions (ratio)")
    top.legend(loc="best", fontsize=8)
    top.set_title(title or f"Readmissions against the model, by {report.period_kind}")
    bottom.bar(
        x,
        table["drift_level"],
        color=BLUE,
        hatch="//",
        edgecolor="white",
        label="largest feature PSI ÷ that feature's alarm threshold",
    )
    for k, (level, feature) in enumerate(zip(table["drift_level"], table["drift_feature"])):
        bottom.annotate(
            feature,
            (k, level),
            textcoords="offset points",
            xytext=(0, 2),
            ha="center",
            fontsize=6,
            rotation=90 if len(x) > 8 else 0,
            va="bottom",
        )
    bottom.axhline(1.0, color=VERMILION, ls="--", lw=1, label="drift alarm (1 = threshold reached)")
    bottom.set_ylabel("drift (PSI / threshold)")
    bottom.set_ylim(0, max(1.6, float(np.nanmax(table["drift_level"])) * 1.45))
    bottom.set_xlabel(f"period ({report.period_kind}; {int(table['n'].median()):,} encounters each)")
    bottom.set_xticks(x, table["period"], rotation=45 if len(x) > 12 else 0)
    bottom.legend(loc="best", fontsize=8)
    for axis in (top, bottom):  # ratios as plain numbers: never an offset or a 1e-3 above the axis
        plain = ScalarFormatter(useOffset=False)
        plain.set_scientific(False)
        axis.yaxis.set_major_formatter(plain)
    fig.tight_layout()
    return fig
