"""The report's and the studio's charts, as Vega-Lite specifications built with Altair.

One module draws every chart so the HTML report and the browser studio show the same pictures.
Each chart carries its unit on every axis, thousands separators, and the Okabe-Ito palette
(distinguishable with the common colour-vision deficiencies), with shapes or labels as a second
cue so a greyscale print still reads. A hidden (suppressed) value is simply absent from the
data: a chart never shows what its table hides.
"""

from __future__ import annotations

from typing import Any

import altair as alt
import pandas as pd

# Okabe & Ito (2008), "Color Universal Design": eight colours told apart by people with
# protanopia, deuteranopia or tritanopia.
OKABE_ITO = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]
COUNT_FORMAT = ",.0f"
WIDTH = 560


def _palette(domain: list[str]) -> alt.Scale:
    return alt.Scale(domain=domain, range=[OKABE_ITO[k % len(OKABE_ITO)] for k in range(len(domain))])


def _spec(chart: alt.TopLevelMixin) -> dict[str, Any]:
    return chart.configure_axis(labelFontSize=11, titleFontSize=12).configure_legend(labelFontSize=11).to_dict()


def benefit_chart(frame: pd.DataFrame, unit: str) -> dict[str, Any]:
    """Benefit of each scenario's optimal plan beside the current-practice (greedy) plan.

    ``frame``: columns ``scenario``, ``plan`` ("optimal" or "current practice"), ``benefit``.
    """
    plans = ["optimal", "current practice"]
    chart = (
        alt.Chart(frame.dropna(subset=["benefit"]), title="Benefit by scenario")
        .mark_bar()
        .encode(
            y=alt.Y("scenario:N", sort=None, title=None),
            yOffset=alt.YOffset("plan:N", sort=plans),
            x=alt.X("benefit:Q", title=f"benefit ({unit})", axis=alt.Axis(format=",.1f")),
            color=alt.Color("plan:N", scale=_palette(plans), sort=plans, title="plan"),
            tooltip=["scenario", "plan", alt.Tooltip("benefit:Q", format=",.2f")],
        )
        .properties(width=WIDTH)
    )
    return _spec(chart)


def settings_chart(frame: pd.DataFrame) -> dict[str, Any]:
    """Patients per setting in each scenario's plan (stacked bars).

    ``frame``: columns ``scenario``, ``setting``, ``patients`` (hidden counts dropped).
    """
    settings = list(dict.fromkeys(frame["setting"]))
    shown = frame.dropna(subset=["patients"])
    shown = shown.assign(setting_order=shown["setting"].map({s: k for k, s in enumerate(settings)}))
    chart = (
        alt.Chart(shown, title="Patients per setting")
        .mark_bar(stroke="white", strokeWidth=0.5)
        .encode(
            y=alt.Y("scenario:N", sort=None, title=None),
            x=alt.X("sum(patients):Q", title="patients", axis=alt.Axis(format=COUNT_FORMAT), stack="zero"),
            color=alt.Color("setting:N", scale=_palette(settings), sort=settings, title="setting"),
            order=alt.Order("setting_order:Q"),
            tooltip=["scenario", "setting", alt.Tooltip("patients:Q", format=COUNT_FORMAT)],
        )
        .properties(width=WIDTH)
    )
    return _spec(chart)


def limits_chart(frame: pd.DataFrame) -> dict[str, Any]:
    """Each limit's use as a share of its capacity, per scenario (100 % means it binds).

    ``frame``: columns ``scenario``, ``limit`` (with its unit), ``use_pct``.
    """
    scenarios = list(dict.fromkeys(frame["scenario"]))
    shown = frame.dropna(subset=["use_pct"])
    bars = (
        alt.Chart(shown, title="Use of each limit (share of its capacity)")
        .mark_bar()
        .encode(
            y=alt.Y("limit:N", sort=None, title=None),
            yOffset=alt.YOffset("scenario:N", sort=scenarios),
            x=alt.X("use_pct:Q", title="use (% of the limit)", scale=alt.Scale(domain=[0, 100], clamp=True)),
            color=alt.Color("scenario:N", scale=_palette(scenarios), sort=scenarios, title="scenario"),
            tooltip=["scenario", "limit", alt.Tooltip("use_pct:Q", format=".1f", title="use (%)")],
        )
    )
    rule = alt.Chart(pd.DataFrame({"x": [100]})).mark_rule(strokeDash=[4, 3], color="black").encode(x="x:Q")
    return _spec(alt.layer(bars, rule).properties(width=WIDTH))


def roc_chart(frame: pd.DataFrame, auroc: float) -> dict[str, Any]:
    """ROC curve of the risk model (``frame``: ``fpr``, ``tpr``), with the chance diagonal."""
    curve = (
        alt.Chart(frame, title=f"ROC curve (AUROC {auroc:.3f})")
        .mark_line(color=OKABE_ITO[0], interpolate="step-after")
        .encode(
            x=alt.X("fpr:Q", title="false positive rate (1 - specificity)", scale=alt.Scale(domain=[0, 1])),
            y=alt.Y("tpr:Q", title="true positive rate (sensitivity)", scale=alt.Scale(domain=[0, 1])),
        )
    )
    chance = (
        alt.Chart(pd.DataFrame({"a": [0.0, 1.0]})).mark_line(strokeDash=[4, 3], color="grey").encode(x="a:Q", y="a:Q")
    )
    return _spec(alt.layer(chance, curve).properties(width=280, height=280))


def calibration_chart(frame: pd.DataFrame) -> dict[str, Any]:
    """Observed against predicted readmission rate by tenth of risk (``predicted``, ``observed``
    in %, ``patients``), with the line of perfect calibration."""
    top = float(max(frame["predicted"].max(), frame["observed"].max(), 1.0)) * 1.05
    points = (
        alt.Chart(frame, title="Calibration (tenths of predicted risk)")
        .mark_line(point=alt.OverlayMarkDef(filled=True, size=50), color=OKABE_ITO[5])
        .encode(
            x=alt.X("predicted:Q", title="predicted 30-day readmission (%)", scale=alt.Scale(domain=[0, top])),
            y=alt.Y("observed:Q", title="observed 30-day readmission (%)", scale=alt.Scale(domain=[0, top])),
            tooltip=[
                alt.Tooltip("predicted:Q", format=".1f"),
                alt.Tooltip("observed:Q", format=".1f"),
                alt.Tooltip("patients:Q", format=COUNT_FORMAT),
            ],
        )
    )
    ideal = (
        alt.Chart(pd.DataFrame({"a": [0.0, top]})).mark_line(strokeDash=[4, 3], color="grey").encode(x="a:Q", y="a:Q")
    )
    return _spec(alt.layer(ideal, points).properties(width=280, height=280))


def segment_sizes_chart(frame: pd.DataFrame) -> dict[str, Any]:
    """Patients per segment (``segment``, ``patients``; hidden sizes dropped)."""
    shown = frame.dropna(subset=["patients"])
    chart = (
        alt.Chart(shown, title="Patients per segment")
        .mark_bar(color=OKABE_ITO[2])
        .encode(
            y=alt.Y("segment:N", sort=None, title=None),
            x=alt.X("patients:Q", title="patients", axis=alt.Axis(format=COUNT_FORMAT)),
            tooltip=["segment", alt.Tooltip("patients:Q", format=COUNT_FORMAT)],
        )
        .properties(width=WIDTH)
    )
    return _spec(chart)


def frontier_chart(frame: pd.DataFrame, swept: list[str], unit: str, x_unit: str = "") -> list[dict[str, Any]]:
    """The sweep: benefit against the swept value, and beside it each limit's marginal value
    said as the benefit of +1 % of that limit, so hours and euros share no axis.

    ``frame``: the sweep CSV (``objective``, ``limit:X``, ``marginal_value:X`` and the ``swept``
    columns, the first on the x axis and a second, if any, as one line per level). Its column
    names are dotted paths, which Vega-Lite would read as nested fields, so the charts take
    plain names and show the paths as titles.
    """
    x_title = f"{swept[0]} ({x_unit})" if x_unit else swept[0]
    level = swept[1] if len(swept) > 1 else None
    points = pd.DataFrame(
        {
            "x": pd.to_numeric(frame[swept[0]], errors="coerce"),
            "level": frame[level].astype(str) if level else "",
            "objective": pd.to_numeric(frame["objective"], errors="coerce"),
        }
    )
    levels = list(dict.fromkeys(points["level"]))
    series = (
        {"color": alt.Color("level:N", scale=_palette(levels), sort=levels, title=level)}
        if level
        else {"color": alt.value(OKABE_ITO[0])}
    )
    benefit = (
        alt.Chart(points, title="Benefit frontier")
        .mark_line(point=True)
        .encode(
            x=alt.X("x:Q", title=x_title, axis=alt.Axis(format=",~f")),
            y=alt.Y("objective:Q", title=f"benefit ({unit})", axis=alt.Axis(format=",.1f")),
            detail="level:N",
            tooltip=[alt.Tooltip("x:Q", format=",~f", title=swept[0]), alt.Tooltip("objective:Q", format=",.2f")],
            **series,
        )
        .properties(width=WIDTH, height=240)
    )
    rows: list[dict[str, Any]] = []
    for column in frame.columns:
        if not column.startswith("marginal_value:"):
            continue
        name = column.split(":", 1)[1]
        limits = pd.to_numeric(frame.get(f"limit:{name}"), errors="coerce")
        values = pd.to_numeric(frame[column], errors="coerce") * limits / 100.0
        if values.abs().max(skipna=True) > 0:
            rows.extend(
                {"x": x, "level": lv, "limit": name, "value": v}
                for x, lv, v in zip(points["x"], points["level"], values)
            )
    charts = [_spec(benefit)]
    if rows:
        long = pd.DataFrame(rows)
        names = list(dict.fromkeys(long["limit"]))
        duals = (
            alt.Chart(long, title="What +1% of each limit is worth")
            .mark_line(point=True)
            .encode(
                x=alt.X("x:Q", title=x_title, axis=alt.Axis(format=",~f")),
                y=alt.Y("value:Q", title=f"benefit of +1% of the limit ({unit})", axis=alt.Axis(format=",.3~f")),
                color=alt.Color("limit:N", scale=_palette(names), sort=names, title="limit"),
                # the same scale domain lets Vega-Lite merge colour and shape into one legend
                shape=alt.Shape("limit:N", scale=alt.Scale(domain=names), sort=names, title="limit"),
                detail="level:N",
                tooltip=["limit", alt.Tooltip("value:Q", format=",.4f")],
            )
            .properties(width=WIDTH, height=240)
        )
        charts.append(_spec(duals))
    return charts
