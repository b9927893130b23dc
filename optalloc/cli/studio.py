"""``optalloc sweep``, ``optalloc size`` and ``optalloc uncertainty``: the scenario studio.

Each command prepares its scenario once (cohort, risk, estimates), hands the many solves to
:mod:`optalloc.studio` (all local cores, or a Dask cluster with ``--dask``), renders the result
and records the run in the workspace database.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape

from optalloc.cli.common import out, print_json, progress, record, user_errors
from optalloc.cli.options import (
    DaskOption,
    GapOption,
    JsonOption,
    RecordOption,
    Solver,
    SolverOption,
    TimeLimitOption,
    WorkersOption,
)
from optalloc.cli.render import fmt, size_table, sweep_table, uncertainty_tables
from optalloc.io import PLOT_SUFFIXES, check_output


def _execution(workers: int | None, dask: str | None):
    """Where the solves run; a Dask address is checked at once, before any expensive step."""
    from optalloc.studio.parallel import Execution

    execution = Execution(workers=workers, dask=dask)
    if dask:
        execution.n_workers()
    return execution


def _prepare_one(path: Path) -> tuple[Any, float]:
    from optalloc.pipeline import prepare

    start = time.perf_counter()
    prepared = prepare(path)
    return prepared, time.perf_counter() - start


@user_errors
def sweep(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    vary: Annotated[
        list[str],
        typer.Option(
            "--vary", help="PATH=START:STOP:STEPS, e.g. resources.home_nurse_hours=0:4000:21 (once or twice)."
        ),
    ],
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Where to write the points (default: <scenario>_sweep.csv).")
    ] = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Where to write the PNG (default: <scenario>_sweep.png).")
    ] = None,
    solver: SolverOption = Solver.auto,
    time_limit: TimeLimitOption = None,
    gap: GapOption = None,
    workers: WorkersOption = None,
    dask: DaskOption = None,
    as_json: JsonOption = False,
    keep: RecordOption = True,
) -> None:
    """Solve the scenario over a grid of one or two values: benefit frontier and marginal values."""
    from optalloc.io import write_table
    from optalloc.studio.sweep import parse_vary, plot_sweep, run_sweep

    execution = _execution(workers, dask)
    check_output(csv, option="--csv")
    check_output(plot, PLOT_SUFFIXES, "--plot")
    prepared, prep_seconds = _prepare_one(scenario)
    varies = [parse_vary(text, prepared.loaded) for text in vary]
    total = 1
    for v in varies:
        total *= v.steps
    start = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"sweeping {prepared.loaded.name}", total=total)
        frame = run_sweep(
            prepared, varies, solver.value, execution, time_limit, gap, on_done=lambda n: bar.advance(task, n)
        )
    solve_seconds = time.perf_counter() - start
    csv = csv or Path(f"{prepared.loaded.name}_sweep.csv")
    plot = plot or Path(f"{prepared.loaded.name}_sweep.png")
    write_table(frame, csv)
    plot_sweep(frame, varies, plot, title=f"Sweep of {prepared.loaded.name}")
    params = {
        "vary": [v.text for v in varies],
        "solver": solver.value,
        "time_limit": time_limit,
        "gap": gap,
        "workers": workers,
    }
    records = frame.to_dict(orient="records")
    run_id = (
        record("sweep", [prepared], params, records, {"prepare": prep_seconds, "solve": solve_seconds}, quiet=as_json)
        if keep
        else None
    )
    if as_json:
        print_json(
            {
                "scenario": prepared.loaded.name,
                "vary": params["vary"],
                "csv": str(csv),
                "plot": str(plot),
                "seconds": solve_seconds,
                "run_id": run_id,
                "points": records,
            }
        )
        return
    out.print(sweep_table(frame, [v.path for v in varies], f"Sweep of {prepared.loaded.name} ({solve_seconds:.1f} s)"))
    out.print(f"wrote {csv} and {plot}", highlight=False)


@user_errors
def size(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    target: Annotated[
        str,
        typer.Option(
            "--target",
            help='e.g. "share_served(home) >= 0.8", "patients(home) >= 200", "readmissions_avoided >= 5".',
        ),
    ],
    resource: Annotated[str, typer.Option("--resource", help="'budget' or a resource name, e.g. home_nurse_hours.")],
    low: Annotated[float, typer.Option("--low", help="Lowest level to consider.")] = 0.0,
    high: Annotated[
        float | None,
        typer.Option("--high", help="A level to start from (default: the scenario's; doubled until the target holds)."),
    ] = None,
    tolerance: Annotated[
        float, typer.Option("--tol", help="Stop when the bracket is narrower than this share of the answer.")
    ] = 1e-3,
    solver: SolverOption = Solver.auto,
    time_limit: TimeLimitOption = None,
    gap: GapOption = None,
    workers: WorkersOption = None,
    dask: DaskOption = None,
    as_json: JsonOption = False,
    keep: RecordOption = True,
    demand_path: Annotated[
        Path | None,
        typer.Option(
            "--demand",
            help="Size for forecast demand: a file from 'optalloc forecast --out' (group, step, q90, ...).",
        ),
    ] = None,
    quantile: Annotated[
        float, typer.Option("--quantile", help="With --demand: the forecast quantile each group is sized for.")
    ] = 0.9,
    step: Annotated[int, typer.Option("--step", help="With --demand: which forecast step (periods ahead).")] = 1,
    demand_column: Annotated[
        str | None,
        typer.Option(
            "--demand-column",
            help="With --demand: the cohort column the forecast's groups are of (default: the file's 'by').",
        ),
    ] = None,
) -> None:
    """Find the smallest level of one resource (or the budget) at which a target holds."""
    from optalloc.cohort.demand import read_demand
    from optalloc.pipeline import prepare
    from optalloc.studio.size import run_size
    from optalloc.studio.target import parse_target

    execution = _execution(workers, dask)
    demand = read_demand(demand_path, quantile, step, demand_column) if demand_path is not None else None
    start = time.perf_counter()
    prepared = prepare(scenario, demand=demand)
    prep_seconds = time.perf_counter() - start
    parsed = parse_target(target, prepared.problem.settings, [lim.name for lim in prepared.problem.limits])
    start = time.perf_counter()
    with progress() as bar:
        task = bar.add_task(f"sizing {resource} for {parsed.text}", total=None)
        result = run_size(
            prepared,
            resource,
            parsed,
            solver.value,
            execution,
            low,
            high,
            tolerance,
            time_limit,
            gap,
            on_done=lambda n: bar.advance(task, n),
        )
    seconds = time.perf_counter() - start
    summary = result.summary()
    params = {
        "target": parsed.text,
        "resource": resource,
        "low": low,
        "high": high,
        "rel_tol": tolerance,
        "solver": solver.value,
        "time_limit": time_limit,
        "gap": gap,
        "workers": workers,
        "demand": None
        if demand is None
        else {
            "column": demand.column,
            "targets": demand.targets,
            "quantile": demand.quantile,
            "step": demand.step,
            "source": demand.source,
        },
    }
    run_id = (
        record("size", [prepared], params, summary, {"prepare": prep_seconds, "solve": seconds}, quiet=as_json)
        if keep
        else None
    )
    if as_json:
        print_json({"scenario": prepared.loaded.name, **summary, "seconds": seconds, "run_id": run_id})
        return
    out.print(size_table(summary["around"], f"Levels of {result.path} around the answer"))
    change = (100.0 * (result.level / result.current - 1.0)) if result.current else float("nan")  # type: ignore[operator]
    lower = summary["lower_levels_meeting"]
    out.print(
        f"{result.path} meeting [bold]{escape(parsed.text)}[/]: [bold]{fmt(result.level)}[/] "
        f"(scenario has {fmt(result.current)}, {change:+.1f}%). What is proven: the target fails at "
        f"{fmt(result.bracket[0])} and holds at {fmt(result.bracket[1])}; {summary['solves']} solves in "
        f"{seconds:.1f} s."
    )
    if lower:
        out.print(
            f"[yellow]note:[/] the target also holds at {', '.join(fmt(v) for v in lower)}, below that answer: "
            "it is not monotone in this resource (more of it can change which patients are chosen), so the "
            "answer is the edge of the bracket searched, not proven the smallest level that works. The table "
            "shows every level tried.",
            soft_wrap=True,
        )
    else:
        out.print(
            "Below the failing level nothing was tried: if more of the resource can lower the target's "
            "figure, a smaller level could still meet it (see the table).",
            highlight=False,
            soft_wrap=True,
        )
    if demand is not None:
        out.print(
            f"sized for forecast demand: {demand.column} groups at their q{int(round(demand.quantile * 100))} "
            f"of step {demand.step} ({len(prepared.cohort):,} patients; from {demand.source})",
            highlight=False,
        )


@user_errors
def uncertainty(
    scenarios: Annotated[
        list[Path], typer.Argument(help="Scenario TOML files with distributions; the first is the reference.")
    ],
    draws: Annotated[int, typer.Option("--draws", min=1, help="Monte Carlo draws (paired across scenarios).")] = 200,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the draws.")] = 0,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Write every draw (scenario, draw, outcomes, drawn values).")
    ] = None,
    solver: SolverOption = Solver.auto,
    time_limit: TimeLimitOption = None,
    gap: GapOption = None,
    workers: WorkersOption = None,
    dask: DaskOption = None,
    as_json: JsonOption = False,
    keep: RecordOption = True,
) -> None:
    """Distribution of each outcome under uncertain effects and capacities, paired across scenarios."""
    from optalloc.io import write_table
    from optalloc.pipeline import PipelineCache, prepare
    from optalloc.studio.uncertainty import run_uncertainty

    execution = _execution(workers, dask)
    check_output(csv, option="--csv")
    start = time.perf_counter()
    cache = PipelineCache()
    prepared = [prepare(path, cache) for path in scenarios]
    prep_seconds = time.perf_counter() - start
    start = time.perf_counter()
    with progress() as bar:
        task = bar.add_task("solving draws", total=len(prepared) * (draws + 1))
        result = run_uncertainty(
            prepared, draws, seed, solver.value, execution, time_limit, gap, on_done=lambda n: bar.advance(task, n)
        )
    seconds = time.perf_counter() - start
    summary = result.summary()
    if csv is not None:
        write_table(result.frame(), csv)
    params = {
        "draws": draws,
        "seed": seed,
        "solver": solver.value,
        "time_limit": time_limit,
        "gap": gap,
        "workers": workers,
    }
    run_id = (
        record("uncertainty", prepared, params, summary, {"prepare": prep_seconds, "solve": seconds}, quiet=as_json)
        if keep
        else None
    )
    if as_json:
        print_json({**summary, "seconds": seconds, "run_id": run_id})
        return
    for table in uncertainty_tables(summary):
        out.print(table)
    out.print(
        f"{draws} paired draws (seed {seed}) of {len(prepared)} scenario(s) in {seconds:.1f} s"
        + (f"; every draw in {csv}" if csv else ""),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add sweep, size and uncertainty to the main app."""
    app.command()(sweep)
    app.command()(size)
    app.command()(uncertainty)
