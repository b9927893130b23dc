"""From scenario files to a :class:`Report`: solve, segment, check the risk, assemble sections."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

import optalloc
from optalloc.errors import OptallocError, ScenarioError
from optalloc.pipeline import (
    Outcome,
    PipelineCache,
    Prepared,
    domain_of,
    prepare,
    segment_domain_cohort,
    solve_prepared,
)
from optalloc.report import content
from optalloc.report.content import ReportOptions, Section
from optalloc.report.equity import equity_long, group_columns
from optalloc.report.model_card import ModelCard, model_card
from optalloc.studio.kpis import summarise

Step = Callable[[str], None]


@dataclass
class Report:
    """Everything the HTML shows, already hidden where it must be."""

    title: str
    created: str
    scenarios: list[str]
    sections: list[Section]
    notes: list[str] = field(default_factory=list)
    shareable: bool = False
    min_count: int = 11
    version: str = optalloc.__version__


def segment_reference(reference: Prepared, seed: int) -> object:
    """The reference scenario's own segments (its ``[segments]``, which its plan and equity rules
    read), else its cohort segmented on the features its domain declares (hidden later by the
    report's own rules, so never pre-suppressed here); None for a cohort without them."""
    if reference.segmentation is not None:
        return reference.segmentation
    try:
        return segment_domain_cohort(domain_of(reference.loaded), reference.cohort, "auto", seed)
    except ScenarioError:  # no segmentation features: the report goes without segments
        return None


def reference_groups(reference: Prepared, segmentation: object | None) -> dict[str, pd.Series]:
    """The reference cohort's patients by the groups its domain declares (age band, sex, race)
    and segment (none for a cohort that is only an estimates table)."""
    if len(reference.cohort) != reference.problem.n_patients:
        return {}
    declaration = domain_of(reference.loaded).declaration
    return group_columns(reference.cohort, getattr(segmentation, "labels", None), declaration.groups, declaration.bands)


def assemble(
    outcomes: Sequence[Outcome],
    options: ReportOptions,
    segmentation: object | None = None,
    sweep: pd.DataFrame | None = None,
    sweep_source: str = "",
    card: ModelCard | None = None,
) -> Report:
    """The report of solved scenarios (the first is the reference for differences, the risk
    card and the segments)."""
    outcomes = list(outcomes)
    if not outcomes:
        raise OptallocError("A report needs at least one scenario.")
    hider = content.Hider(options)
    summaries = [summarise(o) for o in outcomes]
    reference = outcomes[0].prepared
    groups = reference_groups(reference, segmentation)
    sections = [
        content.comparison_section(summaries, hider),
        content.settings_section(summaries, hider),
        content.limits_section(outcomes),
        content.certificate_section(summaries),
    ]
    if segmentation is not None:
        headers = domain_of(reference.loaded).declaration.profile.headers
        sections.append(content.segments_section(segmentation, hider, headers))
    sections.append(content.risk_section(card or model_card(reference, groups), hider))
    sections.append(content.equity_section(equity_long(outcomes, groups), hider))
    if sweep is not None:
        sections.append(content.sweep_section(sweep, summaries[0], sweep_source))
    notes = [note for o in outcomes for note in o.prepared.notes]
    if options.shareable:
        notes.insert(
            0,
            f"Shareable report: every count of 1 to {options.min_count - 1} patients is shown as "
            f"<{options.min_count}, with a second cell hidden wherever a total would give it back, and rates "
            f"over fewer than {options.min_count} patients are hidden too.",
        )
    return Report(
        title=options.title,
        created=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        scenarios=[o.prepared.loaded.name for o in outcomes],
        sections=sections,
        notes=notes,
        shareable=options.shareable,
        min_count=options.min_count,
    )


def read_sweep(path: Path) -> pd.DataFrame:
    """A sweep CSV as ``optalloc sweep --csv`` writes it; anything else is refused by name."""
    from optalloc.io import read_table

    frame = read_table(path)
    needed = {"status", "objective"}
    if frame.empty or not needed <= set(frame.columns) or frame.columns[0] in ("status", "objective"):
        raise OptallocError(
            f"{path}: not a sweep table. The report reads the CSV that 'optalloc sweep ... --csv FILE' writes "
            "(the swept value first, then status, objective, limit:* and marginal_value:* columns)."
        )
    return frame


def build_report(
    paths: Sequence[Path],
    options: ReportOptions,
    solver: str = "auto",
    time_limit: float | None = None,
    sweep_csv: Path | None = None,
    segments: bool = True,
    seed: int = 0,
    step: Step | None = None,
) -> tuple[Report, list[Outcome]]:
    """Solve the scenarios (sharing cohort and risk), segment the reference cohort, assemble."""
    from optalloc.scenario.loader import load_scenario

    say = step or (lambda _: None)
    sweep = read_sweep(sweep_csv) if sweep_csv is not None else None  # refuse a bad file before solving
    loaded = [load_scenario(p) for p in paths]
    cache = PipelineCache()
    say("reading the cohort and scoring risk")
    prepared = [prepare(item, cache) for item in loaded]  # cohort and risk computed once
    reference = prepared[0]
    # The exact solver (CBC) runs as a child process, so two threads solve two scenarios at once
    # while this thread segments the cohort and checks the risk model (5 transfusion scenarios:
    # 12.6 s for the whole report one step after another, 10 s so).
    with ThreadPoolExecutor(max_workers=max(1, min(2, os.cpu_count() or 1))) as pool:
        futures = [pool.submit(solve_prepared, ready, solver, time_limit) for ready in prepared]
        segmentation = None
        if segments and len(reference.cohort) == reference.problem.n_patients and reference.cohort.shape[1] > 1:
            say("segmenting the cohort")
            segmentation = segment_reference(reference, seed)
        say("checking the risk model")
        card = model_card(reference, reference_groups(reference, segmentation), seed=seed)
        outcomes = []
        for ready, future in zip(prepared, futures):
            outcomes.append(future.result())
            say(f"solved {ready.loaded.path.name}")
    report = assemble(outcomes, options, segmentation, sweep, str(sweep_csv or ""), card=card)
    return report, outcomes
