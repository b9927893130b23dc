"""``optalloc bench gap FILE``: solve OR-Library GAP instances and compare with the published values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from optalloc.cli.common import out, print_json, progress, user_errors
from optalloc.cli.options import Solver
from optalloc.cli.render import fmt

bench_app = typer.Typer(help="Benchmark the allocation solvers on public instances.", no_args_is_help=True)


@bench_app.command("gap")
@user_errors
def gap(
    file: Annotated[
        Path | None,
        typer.Argument(
            help="OR-Library GAP file (gap1.txt ... gap12.txt, gapa.txt ... gapd.txt); default: the shipped gap1.txt.",
            show_default=False,
        ),
    ] = None,
    solver: Annotated[Solver, typer.Option("--solver", help="Solver backend; auto chooses by size.")] = Solver.auto,
    time_limit: Annotated[float, typer.Option("--time-limit", min=0.1, help="Seconds per instance.")] = 60.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
) -> None:
    """Solve every instance of FILE; show objective, bound, status, seconds and the reference value."""
    from optalloc.allocation.instances.gap import SHIPPED_GAP_FILE, read_gap_file, solve_gap_file

    file = file or SHIPPED_GAP_FILE
    count = len(read_gap_file(file))  # a bad file fails here, before any solve
    with progress(not as_json) as bar:
        task = bar.add_task(f"solving {count} instance(s) of {file.name} with {solver.value}", total=count)
        rows = solve_gap_file(file, solver.value, time_limit, on_row=lambda _: bar.advance(task))
    if as_json:
        print_json(rows)
        return
    table = Table(
        title=f"{file.name}: {solver.value}, {fmt(time_limit)} s per instance",
        title_justify="left",
        header_style="bold",
    )
    for column in ("instance", "objective", "bound", "gap", "status", "seconds", "reference", "reached"):
        table.add_column(column, justify="left" if column in ("instance", "status") else "right")
    for row in rows:
        gap_text = "-" if row["gap"] is None else f"{row['gap']:.2%}"
        reached = row["reaches_reference"]
        table.add_row(
            str(row["instance"]),
            fmt(row["objective"]),
            fmt(row["bound"]),
            gap_text,
            str(row["status"]),
            f"{row['seconds']:.2f}",
            fmt(row["reference"]),
            "-" if reached is None else ("yes" if reached else "[red]no[/]"),
        )
    out.print(table)


def register(app: typer.Typer) -> None:
    """Add ``optalloc bench`` to the main app."""
    app.add_typer(bench_app, name="bench")
