"""CLI command: ``optalloc report SCENARIO... --out report.html [--shareable]``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from optalloc.cli.common import err, out, progress, record, user_errors
from optalloc.cli.options import RecordOption, Solver, SolverOption, TimeLimitOption
from optalloc.cli.solving import exit_if_no_plan
from optalloc.errors import OptallocError


@user_errors
def report(
    scenarios: Annotated[list[Path], typer.Argument(help="Scenario TOML files; the first is the reference.")],
    out_path: Annotated[Path, typer.Option("--out", help="The HTML file to write (self-contained, works offline).")],
    shareable: Annotated[
        bool,
        typer.Option("--shareable", help="Hide counts under --min-count and every figure that would give one back."),
    ] = False,
    min_count: Annotated[
        int, typer.Option("--min-count", min=2, help="Smallest count a shareable report shows (11 as CMS; 5 as OHDSI).")
    ] = 11,
    sweep: Annotated[
        Path | None, typer.Option("--sweep", help="A sweep CSV ('optalloc sweep --csv') to draw its frontier.")
    ] = None,
    segments: Annotated[
        bool, typer.Option("--segments/--no-segments", help="Segment the reference cohort and describe the groups.")
    ] = True,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the segmentation and the bootstrap intervals.")] = 0,
    title: Annotated[str, typer.Option("--title", help="The report's title.")] = "optalloc: allocation report",
    solver: SolverOption = Solver.auto,
    time_limit: TimeLimitOption = None,
    keep: RecordOption = True,
) -> None:
    """Write one offline HTML report of the scenarios for boards and clinical leads.

    It holds the comparison, plans, limits, certificate, segments, the risk model card, equity and
    (with --sweep) the frontier.
    """
    from optalloc.io import check_output
    from optalloc.report import ReportOptions, build_report, write_report
    from optalloc.studio.kpis import summarise

    check_output(out_path, (".html", ".htm"))
    if sweep is not None and not sweep.exists():
        raise OptallocError(
            f"{sweep}: no such sweep file. Write one with 'optalloc sweep SCENARIO --vary ... --csv FILE'."
        )
    start = time.perf_counter()
    options = ReportOptions(shareable=shareable, min_count=min_count, title=title)
    steps = len(scenarios) + 2 + (1 if segments else 0)
    with progress() as bar:
        task = bar.add_task("report", total=steps)

        def step(text: str) -> None:
            bar.update(task, description=text, advance=1)

        built, outcomes = build_report(
            scenarios, options, solver.value, time_limit, sweep_csv=sweep, segments=segments, seed=seed, step=step
        )
        step("writing the HTML")
        write_report(built, out_path)
    summaries = [summarise(o) for o in outcomes]
    if keep:
        params = {"solver": solver.value, "time_limit": time_limit, "report": str(out_path)}
        results = [item.to_dict() for item in summaries]
        record("compare", [o.prepared for o in outcomes], params, results, {"total": time.perf_counter() - start})
    for note in built.notes[1 if shareable else 0 :]:
        err.print(f"note: {note}", highlight=False, soft_wrap=True)
    size = out_path.stat().st_size / 1e6
    out.print(
        f"wrote {out_path} ({size:.1f} MB, {len(built.sections)} sections"
        f"{', shareable: counts under ' + str(min_count) + ' hidden' if shareable else ''})",
        highlight=False,
    )
    exit_if_no_plan(summaries)


def register(app: typer.Typer) -> None:
    app.command("report")(report)
