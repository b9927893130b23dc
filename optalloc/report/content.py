"""What the report says, section by section: tables (as text) and charts (as Vega-Lite specs).

Every figure comes from the solved outcomes, the segmentation and the risk card; in a shareable
report small counts and what would give them back are hidden here, before rendering, using
:mod:`optalloc.report.shareable`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from optalloc.allocation.explain import marginal_value_sentences
from optalloc.allocation.summary import PlanSummary
from optalloc.pipeline import Outcome
from optalloc.report import charts
from optalloc.report.model_card import ModelCard
from optalloc.report.shareable import hidden_counts, hidden_rates
from optalloc.report.tables import Table, hidden_text, number, percent, signed
from optalloc.studio.kpis import differences_frame


@dataclass(frozen=True)
class ReportOptions:
    """``shareable`` hides counts under ``min_count`` and what would give them back."""

    shareable: bool = False
    min_count: int = 11
    title: str = "optalloc: allocation report"


@dataclass
class Section:
    """One part of the report: sentences, tables and charts under a heading."""

    key: str
    title: str
    sentences: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[dict[str, Any]] = field(default_factory=list)
    items: list[tuple[str, str]] = field(default_factory=list)


class Hider:
    """Applies the shareable rules, or nothing when the report is not shareable."""

    def __init__(self, options: ReportOptions) -> None:
        self.on = options.shareable
        self.min_count = options.min_count
        self.text = hidden_text(options.min_count)

    def counts(self, values: Any, total_shown: bool = True) -> np.ndarray:
        values = np.asarray(values, dtype=float)
        if not self.on:
            return np.zeros(values.shape, dtype=bool)
        return hidden_counts(values, self.min_count, total_shown)

    def rates(self, numerator_hidden: Any, denominators: Any) -> np.ndarray:
        if not self.on:
            return np.zeros(np.shape(denominators), dtype=bool)
        return hidden_rates(numerator_hidden, denominators, self.min_count)


def _settings_hidden(summaries: list[PlanSummary], hider: Hider) -> dict[str, dict[str, bool]]:
    """Per scenario and setting, whether its patient count is hidden (the plan's total is shown)."""
    hidden = {}
    for item in summaries:
        names = list(item.patients_per_setting)
        mask = hider.counts([item.patients_per_setting[s] for s in names])
        hidden[item.scenario] = dict(zip(names, mask.tolist()))
    return hidden


def comparison_section(summaries: list[PlanSummary], hider: Hider) -> Section:
    """The scenarios side by side, each with its difference from the first."""
    long = differences_frame(summaries)  # the same differences `optalloc compare` shows
    hidden = _settings_hidden(summaries, hider)
    scenarios = list(dict.fromkeys(long["scenario"]))
    rows = []
    for kpi, part in long.groupby("kpi", sort=False):
        label = str(kpi)
        setting = label.split(": ", 1)[1] if label.startswith("patients: ") else None
        first_hidden = setting is not None and hidden[scenarios[0]].get(setting, False)
        cells = [label]
        for item in part.itertuples(index=False):
            if setting is not None and hidden[item.scenario].get(setting, False):
                cells.append(hider.text)
                continue
            text = percent(item.value) if label == "gain over greedy %" else number(item.value, 4)
            if item.diff is not None and not first_hidden and np.isfinite(item.diff) and item.diff != 0:
                text += f" ({signed(item.diff, 3)})"
            cells.append(text)
        rows.append(cells)
    table = Table(
        ["key figure", *scenarios],
        rows,
        caption=f"Differences in brackets are against the first scenario, {scenarios[0]}.",
    )
    unit = summaries[0].objective_unit
    bars = []
    for item in summaries:
        bars.append({"scenario": item.scenario, "plan": "optimal", "benefit": item.objective})
        current = item.greedy.objective if item.greedy else None
        bars.append({"scenario": item.scenario, "plan": "current practice", "benefit": current})
    best = max(summaries, key=lambda item: item.objective if item.objective is not None else -np.inf)
    sentences = [
        f"{len(summaries)} scenario(s) compared; the highest benefit is {number(best.objective, 4)} {unit} "
        f"({best.scenario})."
    ]
    return Section(
        "comparison",
        "Scenario comparison",
        sentences,
        [table],
        [charts.benefit_chart(pd.DataFrame(bars, dtype=object).astype({"benefit": float}), unit)],
    )


def settings_section(summaries: list[PlanSummary], hider: Hider) -> Section:
    """Patients per setting in each plan, counts under the minimum hidden with a partner cell."""
    hidden = _settings_hidden(summaries, hider)
    settings = list(dict.fromkeys(s for item in summaries for s in item.patients_per_setting))
    rows, long = [], []
    for item in summaries:
        counts = item.patients_per_setting
        cells = [item.scenario]
        for setting in settings:
            is_hidden = hidden[item.scenario].get(setting, False)
            value = counts.get(setting, 0)
            cells.append(hider.text if is_hidden else number(int(value)))
            long.append({"scenario": item.scenario, "setting": setting, "patients": None if is_hidden else value})
        cells.append(number(int(item.patients)))
        rows.append(cells)
    table = Table(["scenario", *settings, "patients"], rows)
    frame = pd.DataFrame(long).astype({"patients": float})
    return Section("settings", "Patients per setting", [], [table], [charts.settings_chart(frame)])


def limits_section(outcomes: list[Outcome]) -> Section:
    """Each limit's use against its capacity, and what one more unit of it is worth, in words."""
    rows, long, sentences = [], [], []
    for outcome in outcomes:
        problem, result = outcome.prepared.problem, outcome.result
        name = outcome.prepared.loaded.name
        table = result.limit_table(problem)
        for row in table.itertuples():
            capacity = row.upper if np.isfinite(row.upper) else row.lower
            pct = 100.0 * row.use / capacity if capacity and np.isfinite(capacity) and np.isfinite(row.use) else None
            unit = f" ({row.unit})" if row.unit else ""
            rows.append(
                [
                    name,
                    f"{row.limit}{unit}",
                    number(row.use, 4),
                    number(capacity, 4),
                    percent(pct),
                    "binds" if row.binding else "slack",
                    number(row.marginal_value, 3),
                ]
            )
            long.append({"scenario": name, "limit": f"{row.limit}{unit}", "use_pct": pct})
        if result.status.has_plan:
            said = [s for s in marginal_value_sentences(problem, result) if "does not bind" not in s]
            sentences += [f"{name}: {s}." for s in said] or [f"{name}: no limit binds; more of any is worth nothing."]
    table = Table(
        ["scenario", "limit", "use", "capacity", "use (%)", "state", "value of one more unit"],
        rows,
        numeric=[False, False, True, True, True, False, True],
        caption="The value of one more unit is the LP dual: the benefit gained by raising the limit by one unit.",
    )
    frame = pd.DataFrame(long).astype({"use_pct": float})
    return Section(
        "limits", "Limits: use, capacity and marginal value", sentences, [table], [charts.limits_chart(frame)]
    )


def certificate_section(summaries: list[PlanSummary]) -> Section:
    """The solver's proof of quality (bound and gap) and the gain over current practice."""
    rows = []
    for item in summaries:
        greedy = item.greedy
        rows.append(
            [
                item.scenario,
                item.status.value,
                item.solver,
                number(item.objective, 5),
                number(item.bound, 5),
                percent(None if item.gap is None else 100 * item.gap, 4),
                number(greedy.objective if greedy else None, 5),
                signed(greedy.gain if greedy else None, 4) or "–",
                percent(greedy.gain_pct if greedy else None),
            ]
        )
    table = Table(
        ["scenario", "status", "solver", "benefit", "bound", "gap", "current practice", "gain", "gain (%)"],
        rows,
        numeric=[False, False, False, True, True, True, True, True, True],
        caption=(
            "The bound is proven: no plan can beat it, so the gap is the most the plan could be improved. "
            "Current practice fills each programme in priority order."
        ),
    )
    failed = [
        f"{item.scenario}: {item.status.value}. {item.message or 'No plan was found within the time limit.'}"
        for item in summaries
        if not item.has_plan
    ]
    return Section("certificate", "Certificate and gain over current practice", failed, [table])


def segments_section(segmentation: Any, hider: Hider, headers: Mapping[str, tuple[str, str]] | None = None) -> Section:
    """Segments with their describing rule and profile (sizes hidden below the minimum).

    ``headers`` are the domain's profile headers (``Declaration.profile.headers``): the first
    averaged column among them is shown as "mean <header>" (age, in the shipped domains)."""
    profiles = segmentation.profiles.set_index("segment")
    shown = next(
        ((f"mean_{column}", header) for column, (header, _) in (headers or {}).items() if f"mean_{column}" in profiles),
        None,
    )
    rules = segmentation.rules.set_index("segment")
    sizes = profiles["n"].to_numpy()
    hidden = hider.counts(sizes)
    rows, long = [], []
    for k, (segment, profile) in enumerate(profiles.iterrows()):
        rule = rules.loc[segment]
        label = f"S{int(segment) + 1}"
        few_readmitted = bool(hider.counts([profile.get("readmitted", 0)], total_shown=False)[0])
        rate_hidden = hider.rates([hidden[k] or few_readmitted], [profile["n"]])[0]
        rows.append(
            [
                f"{label} {profile['name']}",
                hider.text if hidden[k] else number(int(profile["n"])),
                hider.text if hidden[k] else percent(100 * profile["share"]),
                str(rule["words"]) + ("" if rule.get("meets_precision", True) else f" ({rule.get('note', '')})"),
                percent(100 * rule.get("heldout_precision", rule["precision"])),
                percent(100 * rule.get("heldout_coverage", rule["coverage"])),
                hider.text if rate_hidden else percent(100 * profile.get("readmission_rate", np.nan)),
                *([number(profile.get(shown[0]), 3)] if shown else []),
            ]
        )
        long.append({"segment": f"{label} {profile['name']}", "patients": None if hidden[k] else float(profile["n"])})
    table = Table(
        [
            "segment",
            "patients",
            "share",
            "rule",
            "precision (held out)" if "heldout_precision" in rules.columns else "precision",
            "coverage (held out)" if "heldout_coverage" in rules.columns else "coverage",
            "readmitted (30 d)",
            *([f"mean {shown[1]}"] if shown else []),
        ],
        rows,
        numeric=[False, True, True, False, True, True, True, *([True] if shown else [])],
        caption=(
            "Precision: share of the patients the rule matches who are in the segment; coverage: share of the "
            "segment the rule matches; both on patients held out from the rule search where the segmentation "
            "held some out."
        ),
    )
    chosen = segmentation.k_table[segmentation.k_table["chosen"]]
    reason = str(chosen["reason"].iloc[0]) if len(chosen) else ""
    verdict = str(getattr(segmentation, "verdict", "") or "")
    sentences = [f"{segmentation.k} segments found by consensus clustering. {verdict or reason}".strip()]
    return Section(
        "segments",
        "Patient segments",
        sentences,
        [table],
        [charts.segment_sizes_chart(pd.DataFrame(long).astype({"patients": float}))],
    )


def risk_section(card: ModelCard, hider: Hider) -> Section:
    """The model card: TRIPOD+AI items, metrics with intervals, baseline, curves, subgroups."""
    section = Section("risk", "Risk model card (30-day readmission)", items=card.items)
    section.sentences.append(card.baseline)
    if card.reason:
        section.sentences.insert(0, card.reason)
        return section
    metric_rows = [
        [str(name), number(row["estimate"], 3), f"{number(row['low'], 3)} to {number(row['high'], 3)}"]
        for name, row in card.metrics.iterrows()
    ]
    section.tables.append(
        Table(["metric", "estimate", "95 % interval"], metric_rows, caption="Out-of-fold predictions.")
    )
    if card.models is not None and len(card.models):
        shown = [c for c in ("model", "auroc", "auprc", "brier", "calibration_slope") if c in card.models.columns]
        section.tables.append(
            Table(
                shown,
                [[number(r[c], 3) for c in shown] for _, r in card.models.iterrows()],
                caption=(
                    "Models compared in cross-validation on every record they were fitted on (for discharges, "
                    "every encounter), so these can differ from the figures above, which are on the planned "
                    "patients; the lowest Brier score supplies the risk."
                ),
            )
        )
    calibration = card.calibration
    if hider.on:
        calibration = calibration[calibration["patients"] >= hider.min_count]
    section.charts += [charts.roc_chart(card.roc, card.auroc), charts.calibration_chart(calibration)]
    if len(card.subgroups):
        rows = []
        for _, part in card.subgroups.groupby("dimension", sort=False):
            hidden = hider.counts(part["patients"].to_numpy())
            events_hidden = hider.counts(part["readmissions"].to_numpy(), total_shown=False) | hidden
            rates_hidden = hider.rates(hidden, part["patients"].to_numpy())
            for k, (_, r) in enumerate(part.iterrows()):
                rows.append(
                    [
                        f"{r['dimension']}: {r['group']}",
                        hider.text if hidden[k] else number(int(r["patients"])),
                        hider.text if events_hidden[k] else number(int(r["readmissions"])),
                        hider.text if rates_hidden[k] or events_hidden[k] else percent(r["observed_pct"]),
                        hider.text if rates_hidden[k] else percent(r["predicted_pct"]),
                        hider.text if rates_hidden[k] or events_hidden[k] else number(r["auroc"], 3),
                    ]
                )
        section.tables.append(
            Table(
                ["subgroup", "patients", "readmissions", "observed", "predicted", "AUROC"],
                rows,
                caption="Performance by subgroup: predicted close to observed means the risk is calibrated there.",
            )
        )
    return section


def equity_section(long: pd.DataFrame, hider: Hider) -> Section:
    """Access to each non-default setting and expected readmissions by group, against cohort shares."""
    section = Section(
        "equity",
        "Equity: who gets each setting",
        [
            "For each group: its share of the cohort, its share of each programme's places, and the readmissions "
            "expected under the plan per 100 patients of the group. A programme share far above or below the "
            "cohort share is a choice the plan makes and the board should see."
        ],
    )
    if long.empty:
        section.sentences.append("No plan to describe.")
        return section
    scenarios = list(dict.fromkeys(long["scenario"]))
    programmes = list(dict.fromkeys(long.loc[~long["default"], "setting"]))
    for dimension, part in long.groupby("dimension", sort=False):
        groups = list(dict.fromkeys(part["group"]))
        first = part[(part["scenario"] == scenarios[0])].drop_duplicates("group").set_index("group")
        group_hidden = dict(zip(groups, hider.counts(first.loc[groups, "group_patients"].to_numpy())))
        placed_hidden: dict[tuple[str, str], dict[str, bool]] = {}
        for (scenario, setting), cells in part.groupby(["scenario", "setting"], sort=False):
            mask = hider.counts(cells["placed"].to_numpy())
            placed_hidden[(scenario, setting)] = dict(zip(cells["group"], mask.tolist()))
        # One row per group and scenario (the scenarios of a group together), so the table stays as
        # narrow as the programmes, however many scenarios are compared, and prints whole.
        several = len(scenarios) > 1
        header = ["group", "patients", "cohort share", *(["scenario"] if several else [])]
        header += [f"share of {p} places" for p in programmes] + ["readmissions per 100"]
        rows = []
        for group in groups:
            n = int(first.loc[group, "group_patients"])
            total = int(first.loc[group, "cohort_patients"])
            for k, scenario in enumerate(scenarios):
                described = k == 0  # the group's size once, on its first row
                cells = [str(group) if described else ""]
                cells.append("" if not described else hider.text if group_hidden[group] else number(n))
                cells.append("" if not described else hider.text if group_hidden[group] else percent(100 * n / total))
                cells += [scenario] if several else []
                for programme in programmes:
                    match = part[
                        (part["scenario"] == scenario) & (part["setting"] == programme) & (part["group"] == group)
                    ]
                    if match.empty:
                        cells.append("–")
                        continue
                    r = match.iloc[0]
                    is_hidden = placed_hidden[(scenario, programme)].get(group, False)
                    small = hider.rates([is_hidden], [r["setting_places"]])[0]
                    share = 100 * r["placed"] / r["setting_places"] if r["setting_places"] else None
                    cells.append(hider.text if small else percent(share))
                r = part[(part["scenario"] == scenario) & (part["group"] == group)].iloc[0]
                small = hider.rates([group_hidden[group]], [r["group_patients"]])[0]
                cells.append(hider.text if small else f"{100 * r['expected_readmissions'] / r['group_patients']:.1f}")
                rows.append(cells)
        numeric = [False, True, True, *([False] if several else []), *[True] * (len(programmes) + 1)]
        section.tables.append(Table(header, rows, numeric=numeric, caption=f"By {dimension}."))
    return section


def sweep_section(frame: pd.DataFrame, reference: PlanSummary, source: str) -> Section:
    """The sweep frontier read from a ``optalloc sweep --csv`` file (the swept paths are the
    columns before ``status``)."""
    swept = list(frame.columns[: list(frame.columns).index("status")]) if "status" in frame else [frame.columns[0]]
    name = swept[0].split(".", 1)[1] if swept[0].startswith("resources.") else swept[0]
    x_unit = (reference.limit(name).unit if name in reference.limit_names else "") or (
        "EUR" if name == "budget" else ""
    )
    section = Section("sweep", f"Sweep frontier: {', '.join(swept)}", [f"From {source}: {len(frame)} solved variants."])
    section.charts = charts.frontier_chart(frame, swept, reference.objective_unit, x_unit)
    return section
