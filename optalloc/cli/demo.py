"""``optalloc demo``: the whole chain on the built-in cohort, rendered for a first look."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from optalloc.cli.common import err, out, progress, user_errors
from optalloc.cli.options import Solver, SolverOption
from optalloc.cli.render import frame_table
from optalloc.errors import OptallocError
from optalloc.pipeline import PipelineCache, domain_of, prepare, segment_domain_cohort

if TYPE_CHECKING:
    from optalloc.allocation.summary import PlanSummary

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


def run_demo(folder: Path, solver: str, readmission: Path | None = None) -> None:
    """Segments, risk metrics and the comparison of every scenario in ``folder``; then, given
    ``readmission``, the readmission case on real records."""
    from optalloc.cli.render import render_segments
    from optalloc.cli.solving import exit_if_no_plan

    files = scenario_files(folder)
    cache = PipelineCache()
    with progress() as bar:
        bar.add_task("building the cohort and fitting risk models", total=None)
        reference = prepare(files[0], cache)
    with progress() as bar:
        bar.add_task("segmenting", total=None)
        domain = domain_of(reference.loaded)
        declaration = domain.declaration
        segments = segment_domain_cohort(domain, reference.cohort, "auto", reference.loaded.scenario.cohort.seed or 0)
    out.rule("[bold]1. Cohort[/]")
    out.print(
        f"{len(reference.cohort):,} synthetic transfusion patients "
        f"(seed {reference.loaded.scenario.cohort.seed}); identifiers pseudonymised."
    )
    out.rule("[bold]2. Segments[/]")
    render_segments(segments, source="built-in cohort", headers=declaration.profile.headers)
    out.rule("[bold]3. 30-day readmission risk (patient-grouped 5-fold CV)[/]")
    if reference.risk_metrics is not None:
        out.print(frame_table(reference.risk_metrics.set_index(reference.risk_metrics.columns[0])))
    out.rule("[bold]4. Scenarios[/]")
    kpis = _compare(files, solver, cache)
    err.print(f"[dim]Every figure: optalloc compare {folder}/*.toml [--json][/]")
    if readmission is not None:
        out.rule("[bold]5. Real records: readmission prevention on the Diabetes 130 discharges[/]")
        out.print(
            "56,060 patients' first discharges from the shipped UCI records; five post-discharge programmes whose "
            "effects cite their trials (scenarios/readmission/baseline.toml).",
            highlight=False,
        )
        kpis += _compare(scenario_files(readmission), solver, PipelineCache())
    exit_if_no_plan(kpis)


def _compare(files: list[Path], solver: str, cache: PipelineCache) -> list[PlanSummary]:
    """Solve the scenarios and print their comparison (compact on a narrow terminal)."""
    from optalloc.cli.render import print_comparison
    from optalloc.cli.solving import solve_with_progress
    from optalloc.studio.kpis import differences_frame, limit_units

    _, summaries, _ = solve_with_progress(files, {"solver": solver}, cache)
    long = differences_frame(summaries)
    long = long[~long["kpi"].astype(str).str.startswith(HIDDEN_ROW_PREFIXES)]
    print_comparison(long, units=limit_units(summaries))
    return summaries


@user_errors
def demo(
    scenario_dir: Annotated[Path, typer.Option("--scenarios", help="Folder of scenario files.")] = Path(
        "scenarios/home_transfusion"
    ),
    solver: SolverOption = Solver.auto,
    readmission: Annotated[
        bool,
        typer.Option(
            "--readmission/--no-readmission",
            help="Also the readmission case on the shipped Diabetes 130 records (about 40 s more).",
        ),
    ] = True,
) -> None:
    """Run the whole chain on the built-in cohort (segments, risk, every scenario compared),
    then the readmission case on real records."""
    real = scenario_dir.parent / "readmission"
    run_demo(scenario_dir, solver.value, real if readmission and real.is_dir() else None)


def register(app: typer.Typer) -> None:
    """Add ``optalloc demo`` to the main app."""
    app.command()(demo)
