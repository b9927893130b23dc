"""``optalloc solve``, ``optalloc compare`` and ``optalloc demo``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from optalloc.cli.common import err, out, print_json, record, user_errors
from optalloc.cli.options import JsonOption, Solver, SolverOption, TimeLimitOption
from optalloc.cli.render import frame_table, print_comparison
from optalloc.cli.solving import exit_if_no_plan, solve_with_progress
from optalloc.errors import OptallocError
from optalloc.io import check_output, write_table
from optalloc.pipeline import Outcome, prepare, prepare_from_estimates, solve_prepared
from optalloc.studio.kpis import comparison_frame, limit_units, summarise
from optalloc.studio.moves import Moves, plan_moves
from optalloc.studio.plan_export import plan_table

if TYPE_CHECKING:
    from optalloc.allocation.summary import PlanSummary


def print_explanations(outcome: Outcome, summary: PlanSummary) -> None:
    """The plan in words: the gain over current practice and what one more unit of a limit is worth."""
    from optalloc.allocation.explain import marginal_value_sentences

    if not summary.has_plan:
        return
    greedy = summary.greedy
    unit = summary.objective_unit
    if greedy is not None and greedy.gain is not None:
        # the share is undefined when current practice gains nothing (gain_pct is null)
        pct = f" ({greedy.gain_pct:+.1f}%)" if greedy.gain_pct is not None else ""
        out.print(
            f"The optimal plan gives {summary.objective:.4g} {unit}, {greedy.gain:.4g} more{pct} "
            f"than filling each programme in priority order ({greedy.objective:.4g}).",
            highlight=False,
        )
    elif greedy is not None:
        out.print(
            f"Filling each programme in priority order finds no plan that keeps every limit "
            f"({greedy.status.value}); the optimiser does.",
            highlight=False,
        )
    for sentence in marginal_value_sentences(outcome.prepared.problem, outcome.result):
        if "does not bind" not in sentence:
            out.print(f"  - {sentence}", highlight=False)


@user_errors
def solve(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    solver: SolverOption = Solver.auto,
    time_limit: TimeLimitOption = None,
    plan: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the plan as CSV/Parquet: per patient the setting, benefit, cost, resource use, risk, segment and runner-up.",
        ),
    ] = None,
    estimates: Annotated[
        Path | None,
        typer.Option(
            "--estimates",
            help="Precomputed long table (patient_id, setting, benefit, cost, one column per resource); the scenario gives settings and limits.",
        ),
    ] = None,
    as_json: JsonOption = False,
    keep: Annotated[
        bool, typer.Option("--record/--no-record", help="Record the run in the workspace database.")
    ] = True,
) -> None:
    """Solve one scenario and show the plan's key figures."""
    check_output(plan)  # before the work, not after it
    prepared = prepare(scenario) if estimates is None else prepare_from_estimates(scenario, estimates)
    for note in prepared.notes:
        err.print(f"note: {note}", highlight=False, soft_wrap=True)
    outcome = solve_prepared(prepared, solver=solver.value, time_limit=time_limit)
    summary = summarise(outcome)
    if keep:
        record(
            "solve",
            [prepared],
            {
                "solver": solver.value,
                "time_limit": time_limit,
                "estimates": str(estimates.resolve()) if estimates else None,
            },
            [summary.to_dict()],
            {**prepared.seconds, "solve": outcome.result.seconds},
            quiet=as_json,
        )
    if plan is not None and outcome.result.assignment is not None:
        write_table(plan_table(outcome), plan)
    if as_json:
        print_json(summary.to_dict())
    else:
        out.print(frame_table(comparison_frame([summary]), title=f"Scenario {summary.scenario}"))
        print_explanations(outcome, summary)
    exit_if_no_plan([summary])


@user_errors
def compare(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario TOML files; the first is the reference.")],
    solver: SolverOption = Solver.auto,
    time_limit: TimeLimitOption = None,
    csv: Annotated[
        Path | None,
        typer.Option("--csv", help="Also write the comparison as a long CSV (kpi, scenario, value, diff, diff_pct)."),
    ] = None,
    as_json: JsonOption = False,
    keep: Annotated[
        bool, typer.Option("--record/--no-record", help="Record the run in the workspace database.")
    ] = True,
    moves: Annotated[
        bool,
        typer.Option("--moves", help="With two scenarios: the patients whose setting differs, per move and segment."),
    ] = False,
    moves_csv: Annotated[
        Path | None, typer.Option("--moves-csv", help="With --moves: write the patients who move (CSV/Parquet).")
    ] = None,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="A column of differences after each scenario even when the terminal is narrow "
            "(lines may then be wider than it). Default: that layout when it fits, else one compact "
            "table with each difference in brackets beside its value.",
        ),
    ] = False,
) -> None:
    """Solve several scenarios and compare them side by side, with each one's difference from the first."""
    import time

    from optalloc.studio.kpis import differences_by_scenario, differences_frame

    check_output(csv, option="--csv")
    check_output(moves_csv, option="--moves-csv")
    if (moves or moves_csv) and len(scenarios) != 2:
        raise OptallocError(f"--moves compares two plans: give exactly two scenarios (got {len(scenarios)}).")
    start = time.perf_counter()
    params = {"solver": solver.value, "time_limit": time_limit}
    prepared, summaries, outcomes = solve_with_progress(scenarios, params)
    found = plan_moves_of(outcomes) if (moves or moves_csv) else None
    if found is not None and moves_csv is not None:
        write_table(found.patients, moves_csv)
    long = differences_frame(summaries)
    if csv is not None:
        write_table(long, csv)
    run_id = (
        record(
            "compare",
            prepared,
            params,
            [item.to_dict() for item in summaries],
            {"total": time.perf_counter() - start},
            quiet=as_json,
        )
        if keep
        else None
    )
    if as_json:
        diffs = differences_by_scenario(summaries)
        payload: object = [
            {**item.to_dict(), "vs_first": diffs.get(item.scenario, {}), "run_id": run_id} for item in summaries
        ]
        if found is not None:
            payload = {
                "scenarios": payload,
                "moves": {
                    "by_move": found.by_move.to_dict("records"),
                    "by_segment": found.by_segment.to_dict("records"),
                    "patients": found.patients.to_dict("records"),
                },
            }
        print_json(payload)
    else:
        print_comparison(long, wide=wide, units=limit_units(summaries))
        if csv is not None:
            out.print(f"wrote {csv}", highlight=False)
        if found is not None:
            out.print(frame_table(found.by_move, title=f"{len(found.patients):,} patients change setting", index=False))
            if len(found.by_segment):
                out.print(frame_table(found.by_segment, title="by segment", index=False))
            if moves_csv is not None:
                out.print(f"wrote {moves_csv}", highlight=False)
    exit_if_no_plan(summaries)


def register(app: typer.Typer) -> None:
    app.command()(solve)
    app.command()(compare)


def plan_moves_of(outcomes: list[Outcome]) -> Moves | None:
    """The moves between two solved scenarios' plans (None if either has no plan)."""
    first, second = outcomes
    if first.result.assignment is None or second.result.assignment is None:
        return None
    cohort = first.prepared.cohort
    segments = cohort.set_index("patient_id")["segment"] if "segment" in cohort.columns else None
    return plan_moves(first.result.plan(first.prepared.problem), second.result.plan(second.prepared.problem), segments)
