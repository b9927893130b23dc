"""``optalloc sweep``, ``optalloc size`` and ``optalloc uncertainty``: the scenario studio.

Each command prepares its scenario once (cohort, risk, estimates), hands the many solves to
:mod:`optalloc.studio` (all local cores, or a Dask cluster with ``--dask``), renders the result
and records the run in the workspace database.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.markup import escape
from rich.table import Table

from optalloc.cli.common import err, out, print_json, progress, user_errors
from optalloc.cli.render import fmt, frame_table
from optalloc.cli.solve import JsonOption, Solver, SolverOption, TimeLimitOption
from optalloc.io import PLOT_SUFFIXES, check_output

WorkersOption = Annotated[
    int | None, typer.Option("--workers", min=1, help="Local processes (default: every core; 1 = serial).")
]
DaskOption = Annotated[
    str | None, typer.Option("--dask", help="Run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")
]
GapOption = Annotated[
    float | None,
    typer.Option("--gap", min=0.0, help="Relative MIP gap at which each solve may stop (default: the scenario's)."),
]
RecordOption = Annotated[bool, typer.Option("--record/--no-record", help="Record the run in the workspace database.")]


def record(
    kind: str, prepared: list, params: dict[str, Any], results: Any, timings: dict[str, float], quiet: bool = False
) -> int | None:
    """Record a run; a database that cannot be written is a warning, never a lost result.

    ``quiet`` drops the "recorded as run N" line (with ``--json`` the id is in the payload, and
    stderr stays empty for callers that merge it with stdout).
    """
    from rich.markup import escape
    from sqlalchemy.exc import SQLAlchemyError

    from optalloc.errors import OptallocError
    from optalloc.studio.runs import record_run

    try:
        run_id = record_run(kind, prepared, params, results, timings)
    except (OptallocError, SQLAlchemyError, OSError) as exc:
        err.print(
            f"[yellow]warning:[/] the results above stand, but the run was not recorded: {escape(str(exc))}",
            soft_wrap=True,
        )
        return None
    if not quiet:
        err.print(f"recorded as run {run_id} (optalloc runs show {run_id})", highlight=False)
    return run_id


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


def register(app: typer.Typer) -> None:
    """Add sweep, size and uncertainty to the main app."""

    @app.command()
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
            record(
                "sweep", [prepared], params, records, {"prepare": prep_seconds, "solve": solve_seconds}, quiet=as_json
            )
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
        out.print(
            sweep_table(frame, [v.path for v in varies], f"Sweep of {prepared.loaded.name} ({solve_seconds:.1f} s)")
        )
        out.print(f"wrote {csv} and {plot}", highlight=False)

    @app.command()
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
        resource: Annotated[
            str, typer.Option("--resource", help="'budget' or a resource name, e.g. home_nurse_hours.")
        ],
        low: Annotated[float, typer.Option("--low", help="Lowest level to consider.")] = 0.0,
        high: Annotated[
            float | None,
            typer.Option(
                "--high", help="A level to start from (default: the scenario's; doubled until the target holds)."
            ),
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

    @app.command()
    @user_errors
    def uncertainty(
        scenarios: Annotated[
            list[Path], typer.Argument(help="Scenario TOML files with distributions; the first is the reference.")
        ],
        draws: Annotated[
            int, typer.Option("--draws", min=1, help="Monte Carlo draws (paired across scenarios).")
        ] = 200,
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
