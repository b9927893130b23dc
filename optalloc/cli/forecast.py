"""CLI command: ``optalloc forecast DATA --by GROUP --horizon K`` (patients per group ahead)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from optalloc.cli.common import out, print_json, progress, user_errors
from optalloc.domains import tracked_groups
from optalloc.errors import OptallocError

#: What ``--by`` offers: the registered domains' groups and the segment (a plan's setting needs
#: the plan, which ``track --plan`` reads).
BY_CHOICES = [name for name in tracked_groups() if name != "setting"]


def forecast(
    data: Path = typer.Argument(
        None,
        help="Encounter table (Diabetes 130 format or a table with an order or date "
        "column); default: the shipped Diabetes 130 developer part.",
        show_default=False,
    ),
    by: str = typer.Option(
        None,
        "--by",
        help=f"Forecast per group: {', '.join(BY_CHOICES)} (default: all patients).",
        show_default=False,
    ),
    horizon: int = typer.Option(3, "--horizon", help="Periods ahead."),
    period: str = typer.Option("blocks", "--period", help="blocks, month, quarter or year."),
    periods: int = typer.Option(10, "--periods", help="Number of ordered blocks (with --period blocks)."),
    backtest: int = typer.Option(3, "--backtest", help="Last periods re-forecast one step ahead to measure error."),
    out_path: Path = typer.Option(
        None,
        "--out",
        help="Write the forecast (group, step, mean, sd, q10..q95) as CSV/Parquet, for 'size --demand'.",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the forecast and backtest as JSON alone on stdout."),
) -> None:
    """Forecast patients per group for the next periods, with prediction intervals and a backtest."""
    from optalloc.domains import load_table, tracked_groups
    from optalloc.io import check_output, write_table
    from optalloc.monitoring.forecast import counts
    from optalloc.monitoring.forecast import forecast as make_forecast
    from optalloc.monitoring.periods import assign_periods
    from optalloc.monitoring.scoring import group_labels

    if out_path is not None:
        check_output(out_path)  # before the work
    source = str(data) if data else "the shipped Diabetes 130 developer part"
    with progress(not as_json) as bar:
        task = bar.add_task("forecasting", total=2)
        frame, design = load_table(data)
        columns = tracked_groups(design.domain)
        frame = frame.reset_index(drop=True)
        labels = assign_periods(frame, period, periods, source)
        groups = group_labels(frame, [by], source, columns)[by] if by else None
        if "patient_id" not in frame.columns:
            raise OptallocError(f"{source}: no patient_id column to count patients by.")
        history = counts(frame["patient_id"].to_numpy(), groups, labels)
        bar.advance(task)
        result = make_forecast(history, horizon, backtest)
        bar.advance(task)
    if out_path is not None:  # 'by' names the cohort column the groups are of, for 'size --demand'
        column = columns[by] if by else "all"
        write_table(result.table.assign(by=column), out_path)
    if as_json:
        print_json(
            {
                "data": source,
                "period_kind": labels.kind,
                "by": by or "all",
                "horizon": horizon,
                "forecast": result.table.to_dict("records"),
                "backtest": result.backtest.to_dict("records"),
                "history": result.history.to_dict("records"),
            }
        )
        return
    table = Table(title=f"patients per {labels.kind} ahead, by {by or 'all'} ({source})", title_justify="left")
    for header in ("group", "step", "model", "mean", "80% interval", "q90"):
        table.add_column(header, justify="left" if header in ("group", "model") else "right")
    for row in result.table.to_dict("records"):
        table.add_row(
            str(row["group"]),
            str(row["step"]),
            row["model"],
            f"{row['mean']:,.0f}",
            f"{row['q10']:,.0f}-{row['q90']:,.0f}",
            f"{row['q90']:,.0f}",
        )
    out.print(table)
    back = result.backtest
    if backtest:
        overall = back["mae"].mean() / back["naive_mae"].replace(0, float("nan")).mean()
        out.print(
            f"backtest over the last {backtest} periods, one step ahead: mean absolute error "
            f"{back['mae'].mean():,.1f} patients against {back['naive_mae'].mean():,.1f} for the naive "
            f"forecast (ratio {overall:.2f}; below 1 beats 'same as last period').",
            highlight=False,
        )
    if out_path is not None:
        out.print(f"wrote {out_path}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's command to the main app."""
    app.command("forecast")(user_errors(forecast))
