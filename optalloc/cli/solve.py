"""``optalloc solve``, ``optalloc compare`` and ``optalloc demo``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from optalloc.allocation.backends.base import SolveOptions
from optalloc.cli.common import out, print_json, progress, user_errors
from optalloc.cli.render import frame_table
from optalloc.io import write_table
from optalloc.pipeline import PipelineCache, prepare, prepare_from_estimates, solve_prepared
from optalloc.scenario.report import comparison_frame, scenario_kpis


class Solver(str, Enum):
    auto = "auto"
    cbc = "cbc"
    cpsat = "cpsat"
    highs = "highs"
    decomp = "decomp"


SolverOption = Annotated[Solver, typer.Option("--solver", help="Solver backend; auto chooses by size.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]
TimeLimitOption = Annotated[float | None, typer.Option("--time-limit", help="Seconds per solve (default: the scenario's).")]


def _options(time_limit: float | None) -> SolveOptions | None:
    return SolveOptions(time_limit=time_limit) if time_limit else None


def solve_scenarios(paths: list[Path], solver: Solver, time_limit: float | None, show_progress: bool) -> list[dict]:
    """Prepare and solve each scenario, sharing cohort and risk between them."""
    cache = PipelineCache()
    kpis = []
    with progress(show_progress) as bar:
        task = bar.add_task("solving scenarios", total=len(paths))
        for path in paths:
            bar.update(task, description=f"solving {path.name}")
            outcome = solve_prepared(prepare(path, cache), solver=solver.value, options=_options(time_limit))
            kpis.append(scenario_kpis(outcome))
            bar.advance(task)
    return kpis


def register(app: typer.Typer) -> None:
    @app.command()
    @user_errors
    def solve(
        scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
        solver: SolverOption = Solver.auto,
        time_limit: TimeLimitOption = None,
        plan: Annotated[Path | None, typer.Option("--out", help="Write the plan (patient_id, setting) as CSV/Parquet.")] = None,
        estimates: Annotated[Path | None, typer.Option("--estimates", help="Precomputed long table (patient_id, setting, benefit, cost, one column per resource); the scenario gives settings and limits.")] = None,
        as_json: JsonOption = False,
    ) -> None:
        """Solve one scenario and show the plan's key figures."""
        prepared = prepare(scenario) if estimates is None else prepare_from_estimates(scenario, estimates)
        outcome = solve_prepared(prepared, solver=solver.value, options=_options(time_limit))
        kpis = scenario_kpis(outcome)
        if plan is not None and outcome.result.assignment is not None:
            write_table(outcome.result.plan(prepared.problem), plan)
        if as_json:
            print_json(kpis)
            return
        out.print(frame_table(comparison_frame([kpis]), title=f"Scenario {kpis['scenario']}"))
        if kpis["message"]:
            out.print(kpis["message"])

    @app.command()
    @user_errors
    def compare(
        scenarios: Annotated[list[Path], typer.Argument(help="Scenario TOML files; the first is the reference.")],
        solver: SolverOption = Solver.auto,
        time_limit: TimeLimitOption = None,
        as_json: JsonOption = False,
    ) -> None:
        """Solve several scenarios and compare them side by side."""
        kpis = solve_scenarios(scenarios, solver, time_limit, show_progress=True)
        if as_json:
            print_json(kpis)
            return
        out.print(frame_table(comparison_frame(kpis), title="Scenario comparison"))

    @app.command()
    @user_errors
    def demo(
        scenario_dir: Annotated[Path, typer.Option("--scenarios", help="Folder of scenario files.")] = Path("scenarios/home_transfusion"),
        solver: SolverOption = Solver.auto,
    ) -> None:
        """Run the whole chain on the built-in cohort: segments, risk, and every scenario compared."""
        from optalloc.cli.demo import run_demo

        run_demo(scenario_dir, solver.value)
