"""Solving scenarios from the command line: the progress-reporting loop and the exit code of a
scenario without a plan, shared by ``compare`` and ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from optalloc.cli.common import err, progress
from optalloc.errors import OptallocError
from optalloc.pipeline import Outcome, PipelineCache, Prepared

if TYPE_CHECKING:
    from optalloc.allocation.summary import PlanSummary


def exit_if_no_plan(summaries: list[PlanSummary]) -> None:
    """Explain every scenario that has no plan (the infeasibility diagnosis) and exit 3.

    The numbers were already printed, so scripts still get them; the exit code tells them
    that at least one scenario could not be planned.
    """
    failed = [item for item in summaries if not item.has_plan]
    for item in failed:
        reason = item.message or "no plan was found within the time limit; allow more time (--time-limit)."
        err.print(f"[bold red]{item.scenario}: {item.status.value}.[/] {reason}", highlight=False, soft_wrap=True)
    if failed:
        raise typer.Exit(3)


def solve_with_progress(
    paths: list[Path], params: dict, cache: PipelineCache | None = None
) -> tuple[list[Prepared], list[PlanSummary], list[Outcome]]:
    """Prepare (sharing cohort and risk) and solve each scenario, with a progress bar on stderr."""
    from optalloc.scenario.loader import load_scenario
    from optalloc.studio.kpis import summarise
    from optalloc.studio.runs import solve_scenarios

    cache = cache if cache is not None else PipelineCache()
    loaded = [load_scenario(path) for path in paths]  # every file checked before any solve
    names = [item.name for item in loaded]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        files = ", ".join(str(p) for p, n in zip(paths, names) if n in repeated)
        raise OptallocError(
            f"scenario name(s) {', '.join(repr(n) for n in repeated)} appear more than once ({files}); "
            'a comparison needs one column per scenario. Give each file its own name = "...".'
        )
    outcomes = []
    with progress(True) as bar:
        task = bar.add_task("solving scenarios", total=len(paths))
        for path, scenario in zip(paths, loaded):
            bar.update(task, description=f"solving {path.name}")
            (outcome,) = solve_scenarios([scenario], params, cache)
            for note in outcome.prepared.notes:
                err.print(f"note: {note}", highlight=False, soft_wrap=True)
            outcomes.append(outcome)
            bar.advance(task)
    return [o.prepared for o in outcomes], [summarise(o) for o in outcomes], outcomes
