"""``optalloc demo``: the whole chain on the built-in cohort, rendered for a first look."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optalloc.cli.common import err, out, progress, user_errors
from optalloc.cli.options import Solver, SolverOption
from optalloc.cli.render import frame_table
from optalloc.errors import OptallocError
from optalloc.pipeline import PipelineCache, prepare
from optalloc.segments import segment_cohort
from optalloc.studio.kpis import comparison_frame

# Rows of the comparison the demo leaves out for brevity (``optalloc compare`` shows them all).
HIDDEN_ROW_PREFIXES = ("limit: ", "use: ")


def scenario_files(folder: Path) -> list[Path]:
    """The folder's scenarios, baseline first, so it is the reference of the comparison."""
    files = sorted(folder.glob("*.toml"), key=lambda p: (p.stem != "baseline", p.name))
    if not files:
        raise OptallocError(
            f"{folder}: no scenario files (*.toml) here. Run the demo from the repository root or pass --scenarios DIR."
        )
    return files


def run_demo(folder: Path, solver: str) -> None:
    """Segments, risk metrics and the comparison of every scenario in ``folder``."""
    from optalloc.cli.render import differences_table, render_segments
    from optalloc.cli.solving import exit_if_no_plan, solve_with_progress
    from optalloc.studio.kpis import differences_frame

    files = scenario_files(folder)
    cache = PipelineCache()
    with progress() as bar:
        bar.add_task("building the cohort and fitting risk models", total=None)
        reference = prepare(files[0], cache)
    with progress() as bar:
        bar.add_task("segmenting", total=None)
        segments = segment_cohort(reference.cohort, k="auto", seed=reference.loaded.scenario.cohort.seed)
    out.rule("[bold]1. Cohort[/]")
    out.print(
        f"{len(reference.cohort):,} synthetic transfusion patients "
        f"(seed {reference.loaded.scenario.cohort.seed}); identifiers pseudonymised."
    )
    out.rule("[bold]2. Segments[/]")
    render_segments(segments, source="built-in cohort")
    out.rule("[bold]3. 30-day readmission risk (patient-grouped 5-fold CV)[/]")
    if reference.risk_metrics is not None:
        out.print(frame_table(reference.risk_metrics.set_index(reference.risk_metrics.columns[0])))
    out.rule("[bold]4. Scenarios[/]")
    _, kpis, _ = solve_with_progress(files, {"solver": solver}, cache)
    if out.width >= 40 + 30 * len(kpis):
        long = differences_frame(kpis)
        long = long[~long["kpi"].astype(str).str.startswith(HIDDEN_ROW_PREFIXES)]
        out.print(differences_table(long, title="Scenario comparison (differences against the first)"))
    else:  # a narrow terminal: the figures alone, one column per scenario
        frame = comparison_frame(kpis)
        frame = frame[~frame.index.astype(str).str.startswith(HIDDEN_ROW_PREFIXES)]
        out.print(frame_table(frame, title="Scenario comparison (a wider terminal also shows differences)"))
    err.print("[dim]Every figure: optalloc compare scenarios/home_transfusion/*.toml [--json][/]")
    exit_if_no_plan(kpis)


def register(app: typer.Typer) -> None:
    """Add ``optalloc demo`` to the main app."""

    @app.command()
    @user_errors
    def demo(
        scenario_dir: Annotated[Path, typer.Option("--scenarios", help="Folder of scenario files.")] = Path(
            "scenarios/home_transfusion"
        ),
        solver: SolverOption = Solver.auto,
    ) -> None:
        """Run the whole chain on the built-in cohort: segments, risk, and every scenario compared."""
        run_demo(scenario_dir, solver.value)
