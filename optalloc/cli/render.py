"""Rich renderings of library results: the only place that decides how numbers look."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import pandas as pd
from rich import box
from rich.console import Console
from rich.markup import escape
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from optalloc.cli.common import out

if TYPE_CHECKING:
    from optalloc.segments import SegmentationResult


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


def signed(diff: float | None, pct: float | None, better: int) -> str:
    """``+12.3 (+4.5%)`` coloured green when better, red when worse, blue when just different."""
    if diff is None or diff != diff:
        return ""
    text = f"{'+' if diff > 0 else ''}{fmt(float(diff))}"
    if pct is not None and pct == pct:
        text += f" ({'+' if pct > 0 else ''}{pct:.1f}%)"
    if abs(diff) < 1e-12:
        return f"[dim]{text}[/]"
    colour = "blue" if better == 0 else ("green" if diff * better > 0 else "red")
    return f"[{colour}]{text}[/]"


def differences_table(long: pd.DataFrame, title: str) -> Table:
    """Scenarios side by side; after each scenario but the first, its difference from the first."""
    scenarios = list(dict.fromkeys(long["scenario"]))
    table = Table(title=title, title_justify="left", header_style="bold")
    table.add_column("kpi", style="bold")
    for k, name in enumerate(scenarios):
        table.add_column(name, justify="right")
        if k:
            table.add_column(f"vs {scenarios[0]}", justify="right")
    for kpi, rows in long.groupby("kpi", sort=False):
        cells = []
        for k, row in enumerate(rows.itertuples(index=False)):
            cells.append(fmt(row.value))
            if k:
                cells.append(signed(row.diff, row.diff_pct, row.better))
        table.add_row(str(kpi), *cells)
    return table


# Row labels of the compact comparison (the CSV and JSON keep the full names).
COMPACT_LABELS = {
    "readmissions avoided": "readm. avoided",
    "travel hours saved": "travel h saved",
    "gain over greedy %": "gain vs greedy %",
}
# The rows about one limit, under a heading naming it: prefix -> label.
LIMIT_ROWS = {"use": "  use", "limit": "  limit", "value of 1 more": "  +1 worth"}


def _compact_diff(diff: float) -> str:
    if diff.is_integer() and abs(diff) >= 1:
        return f"{diff:+,.0f}"
    sign = "+" if diff > 0 else ""
    return f"{sign}{diff:.1e}" if abs(diff) < 0.01 else sign + fmt(diff)


def folded(value: Any, diff: Any, better: int) -> str:
    """A value with its difference from the reference folded in: ``512 (+37)``; the value alone
    when there is no difference (the reference itself, text, or an equal figure)."""
    text = escape(fmt(value))
    if diff is None or diff != diff or abs(float(diff)) < 1e-12:
        return text
    diff = float(diff)
    colour = "blue" if better == 0 else ("green" if diff * better > 0 else "red")
    return f"{text} [{colour}]({_compact_diff(diff)})[/]"


def compact_differences_table(long: pd.DataFrame, title: str, units: dict[str, str] | None = None) -> Table:
    """Scenarios side by side in few columns: one row per key figure, one column per scenario,
    each cell the value with its difference from the first scenario in brackets; the rows of
    each limit under a heading with its name (and ``units[name]`` when the name does not say it)."""
    units = units or {}
    scenarios = list(dict.fromkeys(long["scenario"]))
    table = Table(
        title=title,
        title_justify="left",
        header_style="bold",
        box=box.SIMPLE_HEAD,
        show_edge=False,
        padding=(0, 1, 0, 0),
        pad_edge=False,
    )
    table.add_column("")
    for name in scenarios:
        table.add_column(escape(name.replace("_", " ")), justify="right")
    group = None
    for kpi, rows in long.groupby("kpi", sort=False):
        head, _, name = str(kpi).partition(": ")
        if head == "patients":
            label = f"n {name}"
        elif head in LIMIT_ROWS:
            if name != group:
                group = name
                unit = units.get(name, "")
                shown = name.replace("_", " ") + (f" ({unit})" if unit and not name.endswith(unit) else "")
                table.add_row(f"[bold]{escape(shown)}[/]")
            label = LIMIT_ROWS[head]
        else:
            label = COMPACT_LABELS.get(str(kpi), str(kpi))
        cells = [folded(row.value, row.diff, row.better) for row in rows.itertuples(index=False)]
        table.add_row(escape(label), *cells)
    return table


def comparison_tables(
    long: pd.DataFrame, width: int, wide: bool = False, units: dict[str, str] | None = None
) -> list[Table]:
    """The comparison as it reads best at ``width`` columns.

    The full layout (a difference column after each scenario) when ``wide`` or when it fits
    without wrapping; otherwise the compact one, split into tables that each repeat the
    reference scenario when even the compact table would not fit.
    """
    title = "Scenario comparison (differences against the first)"
    full = differences_table(long, title=title)
    if wide or _widths(full).maximum <= width:
        return [full]
    scenarios = list(dict.fromkeys(long["scenario"]))
    title = f"Scenarios vs {scenarios[0]} (the difference in brackets)"
    for size in range(max(len(scenarios) - 1, 1), 0, -1):  # scenarios besides the reference per table
        groups = [scenarios[k : k + size] for k in range(1, len(scenarios), size)] or [[]]
        tables = [
            compact_differences_table(long[long["scenario"].isin([scenarios[0], *g])], title, units) for g in groups
        ]
        if all(fit_columns(t, width) for t in tables):
            return tables
    return tables


def _widths(table: Table) -> Measurement:
    console = Console(width=10_000)
    return Measurement.get(console, console.options, table)


LABEL_WIDTH = 16  # the row labels get this much room before any value column grows


def fit_columns(table: Table, width: int) -> bool:
    """Fix the column widths of a borderless ``table`` so that it fits ``width`` columns with no
    word cut, giving the room left first to the labels (up to ``LABEL_WIDTH``), then to the
    columns that need least to stay unwrapped. False when some column's longest word does not
    fit."""
    console = Console(width=10_000)
    ranges = []
    for column in table.columns:
        sizes = [Measurement.get(console, console.options, _text(c)) for c in (column.header, *column.cells)]
        ranges.append(Measurement(max(m.minimum for m in sizes), max(m.maximum for m in sizes)))
    pad = table.padding[1] + table.padding[3]
    room = width - (len(ranges) - 1) * (pad + 1)  # padding between columns plus one separator
    widths = [r.minimum for r in ranges]
    if sum(widths) > room:
        return False
    left = room - sum(widths)
    extra = max(0, min(left, min(LABEL_WIDTH, ranges[0].maximum) - widths[0]))
    widths[0] += extra
    left -= extra
    for k in sorted(range(len(ranges)), key=lambda k: ranges[k].maximum - widths[k]):
        extra = min(left, ranges[k].maximum - widths[k])
        widths[k] += extra
        left -= extra
    for column, w in zip(table.columns, widths):
        column.width = w
    return True


def _text(cell: Any) -> Any:
    return Text.from_markup(cell) if isinstance(cell, str) else cell


def print_comparison(long: pd.DataFrame, wide: bool = False, units: dict[str, str] | None = None) -> None:
    """Print the comparison for the terminal's width now (``COLUMNS`` when set, read afresh
    rather than at import): compact when the full layout would wrap, the full layout at its
    natural width, however wide, with ``wide``."""
    width = Console().width
    tables = comparison_tables(long, width, wide=wide, units=units)
    needed = max([width, *(_widths(t).maximum for t in tables)]) if wide else width
    console = out if out.width == needed else Console(width=needed)
    for table in tables:
        console.print(table)


def short_label(column: str) -> str:
    """Narrow column headings for the terminal (the CSV keeps the full names)."""
    if column.startswith("patients:"):
        return "n " + column.split(":", 1)[1]
    if column.startswith("marginal_value:"):
        return "value/unit " + column.split(":", 1)[1]
    return {"objective": "benefit", "readmissions_avoided": "readm. avoided"}.get(column, column.split(".")[-1])


def sweep_table(frame: pd.DataFrame, paths: list[str], title: str) -> Table:
    """The swept values, status, benefit, outcomes, patients per setting and the marginal value
    of each varied limit (of every limit when no limit is varied)."""
    varied = [p.split(".")[-1] for p in paths if p == "budget" or p.startswith("resources.")]
    duals = [c for c in frame.columns if c.startswith("marginal_value:")]
    chosen = [c for c in duals if c.split(":", 1)[1] in varied] or duals
    columns = [*paths, "status", "objective", "readmissions_avoided", "cost"]
    columns += [c for c in frame.columns if c.startswith("patients:")] + chosen
    shown = frame[[c for c in columns if c in frame.columns]].rename(columns=lambda c: short_label(str(c)))
    return frame_table(shown, title=title, index=False)


def size_table(around: list[dict[str, Any]], title: str) -> Table:
    """The levels solved around the sizing answer, one row each."""
    frame = pd.DataFrame(around)
    if not frame.empty and "patients" in frame:
        patients = pd.DataFrame(list(frame.pop("patients"))).add_prefix("n ")
        frame = pd.concat([frame, patients], axis=1)
    frame = frame.rename(columns={"vs_answer_pct": "vs answer %", "meets_target": "meets target"})
    return frame_table(frame, title=title, index=False)


def uncertainty_tables(summary: dict[str, Any]) -> list[Table]:
    """Outcome distributions per scenario, then the expected-value plan under the draws."""
    tables = []
    outcomes = Table(title=f"Outcomes over {summary['draws']} draws", title_justify="left", header_style="bold")
    for column in ("scenario", "outcome", "mean", "5%", "50%", "95%"):
        outcomes.add_column(column, justify="left" if column in ("scenario", "outcome") else "right")
    for item in summary["scenarios"]:
        for k, (name, d) in enumerate(item["outcomes"].items()):
            outcomes.add_row(
                item["scenario"] if k == 0 else "", name, fmt(d["mean"]), fmt(d["p5"]), fmt(d["p50"]), fmt(d["p95"])
            )
        if item["p_beats_first"] is not None:
            outcomes.add_row(
                "",
                "[bold]P(beats first)[/]",
                f"{100 * item['p_beats_first']:.0f}%",
                "",
                "",
                f"mean gain {fmt(item['mean_gain_over_first'])}",
            )
        outcomes.add_section()
    tables.append(outcomes)
    ev = Table(
        title="Benefit of the plan made for the expected values, under every draw (shortfall: below "
        "each draw's own optimum, over the draws where the plan keeps every limit)",
        title_justify="left",
        header_style="bold",
    )
    for column in ("scenario", "as expected", "mean", "5%", "95%", "shortfall", "P(break)", "broken (P, mean excess)"):
        ev.add_column(column, justify="left" if column in ("scenario", "broken (P, mean excess)") else "right")
    for item in summary["scenarios"]:
        plan = item["expected_value_plan"]
        broken = (
            "; ".join(
                f"{name} {100 * b['p_broken']:.0f}%, {fmt(b['mean_excess_when_broken'])}"
                for name, b in plan["breaks"].items()
            )
            or "none"
        )
        p_break = plan["p_breaks_any_limit"]
        if p_break is None:
            broken = f"no plan at the expected values ({plan['status']})"
        ev.add_row(
            item["scenario"],
            fmt(plan["benefit_at_expected_values"]),
            fmt(plan["realised_benefit"]["mean"]),
            fmt(plan["realised_benefit"]["p5"]),
            fmt(plan["realised_benefit"]["p95"]),
            fmt(plan["mean_shortfall_vs_drawn_optimum"]),
            "-" if p_break is None else f"{100 * p_break:.0f}%",
            broken,
        )
    tables.append(ev)
    return tables


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    return format(value, spec) if isinstance(value, int | float) else str(value)


# Profile means shown in the table, in this order, when the profiles hold them.
MAX_PROFILE_COLUMNS = 5


SEGMENT_WIDE = 140  # columns from which the segment tables show every criterion and expression


def render_segments(
    result: SegmentationResult, source: str = "cohort", headers: Mapping[str, tuple[str, str]] | None = None
) -> None:
    """Print the k-selection table, the segment profiles and the rules (Rich, stdout).

    ``headers`` are the domain's short header and number format of each averaged column, in
    the order shown (``Declaration.profile.headers``); the first ``MAX_PROFILE_COLUMNS`` present
    are shown.
    """
    k_table = Table(title=f"Choosing the number of segments ({source})", title_justify="left")
    # On a narrow terminal the criteria that decide (gain, PAC, smallest share) and the chosen
    # k's reason in words; every criterion with --json or from SEGMENT_WIDE columns.
    width = Console().width  # COLUMNS read now, not when the module was imported
    console = out if out.width == width else Console(width=width)
    wide = width >= SEGMENT_WIDE
    shown = ("pac", "consensus_gain", "min_segment_share")
    criteria = [
        (column, header, spec)
        for column, header, spec in (
            ("pac", "PAC", ".3f"),
            ("consensus_index", "consensus", ".3f"),
            ("consensus_null", "null", ".3f"),
            ("consensus_gain", "gain", ".3f"),
            ("silhouette", "sil.", ".3f"),
            ("calinski_harabasz", "CH", ",.0f"),
            ("gap", "gap", ".3f"),
            ("bic", "BIC", ",.0f"),
            ("min_segment_share", "smallest", ".1%"),
        )
        if column in result.k_table.columns and (wide or column in shown)
    ]
    for name in ("k", *(header for _, header, _ in criteria)):
        k_table.add_column(name, justify="right")
    k_table.add_column("why" if wide else "chosen", justify="left", min_width=30 if wide else None)
    for row in result.k_table.to_dict(orient="records"):
        k_table.add_row(
            str(row["k"]),
            *(_fmt(row.get(column), spec) for column, _, spec in criteria),
            escape(str(row["reason"])) if wide else ("yes" if row["chosen"] else ""),
            style="bold green" if row["chosen"] else None,
        )
    console.print(k_table)
    if not wide:
        chosen = result.k_table[result.k_table["chosen"]]
        if len(chosen):
            console.print(escape(f"k = {chosen['k'].iloc[0]}: {chosen['reason'].iloc[0]}"), highlight=False)
        console.print(
            f"[dim]Every criterion and each rule's expression: --json, or a terminal of {SEGMENT_WIDE} columns.[/]"
        )
    if result.verdict:
        console.print(escape(result.verdict))
    table = Table(title=f"{result.k} segments", title_justify="left")
    means = [
        (f"mean_{column}", header, spec)
        for column, (header, spec) in (headers or {}).items()
        if f"mean_{column}" in result.profiles.columns
    ][:MAX_PROFILE_COLUMNS]
    for name in ("#", "name", "patients", "share", "readmitted", *(header for _, header, _ in means)):
        table.add_column(name, justify="left" if name == "name" else "right")
    for row in result.profiles.to_dict(orient="records"):
        table.add_row(
            str(row["segment"]),
            str(row["name"]),
            _fmt(row["n"], ","),
            _fmt(row["share"], ".1%"),
            _fmt(row.get("readmission_rate"), ".1%"),
            *(_fmt(row.get(column), spec) for column, _, spec in means),
        )
    console.print(table)
    title = "Rules (expression usable as a scenario eligibility filter)" if wide else "Rules"
    rules = Table(title=title, title_justify="left")
    held = "heldout_precision" in result.rules.columns
    rates = (
        ("coverage", "precision", "held-out coverage", "held-out precision")
        if wide
        else ("cov.", "prec.", "held-out cov.", "held-out prec.")
    )
    for name in ("#", "rule", *rates[: 4 if held else 2]):
        rules.add_column(name, justify="left" if name == "rule" else "right")
    for row in result.rules.to_dict(orient="records"):
        note = str(row.get("note") or "")
        rules.add_row(
            str(row["segment"]),
            escape(str(row["words"]))
            + (f"\n[dim]{escape(str(row['expression']))}[/]" if wide else "")
            + (f"\n[yellow]{escape(note)}[/]" if note else ""),
            _fmt(row["coverage"], ".0%"),
            _fmt(row["precision"], ".0%"),
            *((_fmt(row.get("heldout_coverage"), ".0%"), _fmt(row.get("heldout_precision"), ".0%")) if held else ()),
        )
    console.print(rules)
