"""``optalloc demo``: the whole chain on the built-in cohort, rendered for a first look."""

from __future__ import annotations

from pathlib import Path

from optalloc.cli.common import err, out, progress
from optalloc.cli.render import frame_table
from optalloc.errors import OptallocError
from optalloc.pipeline import PipelineCache, prepare, solve_prepared
from optalloc.scenario.report import comparison_frame, scenario_kpis
from optalloc.segments import segment_cohort


def scenario_files(folder: Path) -> list[Path]:
    """The folder's scenarios, baseline first, so it is the reference of the comparison."""
    files = sorted(folder.glob("*.toml"), key=lambda p: (p.stem != "baseline", p.name))
    if not files:
        raise OptallocError(
            f"{folder}: no scenario files (*.toml) here. Run the demo from the repository root "
            "or pass --scenarios DIR."
        )
    return files


def run_demo(folder: Path, solver: str) -> None:
    """Segments, risk metrics and the comparison of every scenario in ``folder``."""
    from optalloc.cli.segment import render_segments

    files = scenario_files(folder)
    cache = PipelineCache()
    with progress() as bar:
        task = bar.add_task("preparing the built-in cohort", total=None)
        reference = prepare(files[0], cache)
        bar.update(task, description="segmenting")
        segments = segment_cohort(reference.cohort, k="auto", seed=reference.loaded.scenario.cohort.seed)
    out.rule("[bold]1. Cohort[/]")
    out.print(f"{len(reference.cohort):,} synthetic transfusion patients "
              f"(seed {reference.loaded.scenario.cohort.seed}); identifiers pseudonymised.")
    out.rule("[bold]2. Segments[/]")
    render_segments(segments, source="built-in cohort")
    out.rule("[bold]3. 30-day readmission risk (patient-grouped 5-fold CV)[/]")
    if reference.risk_metrics is not None:
        out.print(frame_table(reference.risk_metrics.set_index(reference.risk_metrics.columns[0])))
    out.rule("[bold]4. Scenarios[/]")
    kpis = []
    with progress() as bar:
        task = bar.add_task("solving scenarios", total=len(files))
        for path in files:
            bar.update(task, description=f"solving {path.name}")
            kpis.append(scenario_kpis(solve_prepared(prepare(path, cache), solver=solver)))
            bar.advance(task)
    out.print(frame_table(comparison_frame(kpis), title="Scenario comparison (first column is the reference)"))
    err.print("[dim]Try: optalloc compare scenarios/home_transfusion/*.toml --json[/]")
