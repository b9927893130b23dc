"""The browser studio's work, without the browser: scenarios, their editable numbers, solving
a changed copy, recording it, comparing it, the moves, and the downloads.

Kept apart from the Dash layout so every step is a plain function a test can call, and the web
layer only parses inputs and renders what this returns. One local user: solved plans live in
this process (keyed by a token the page keeps); every solve is recorded in the workspace
database exactly as ``optalloc solve`` records it.
"""

from __future__ import annotations

import copy
import dataclasses
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from optalloc.allocation.summary import PlanSummary
from optalloc.errors import OptallocError, ScenarioError
from optalloc.pipeline import Outcome, PipelineCache, domain_of, prepare, segment_domain_cohort, solve_prepared
from optalloc.report import ReportOptions, assemble, render_html
from optalloc.report.content import limits_section, settings_section
from optalloc.scenario.loader import LoadedScenario, from_raw, load_scenario
from optalloc.studio.kpis import differences_frame, summarise
from optalloc.studio.moves import Moves, plan_moves
from optalloc.studio.plan_export import plan_table


@dataclass(frozen=True)
class Control:
    """One number a planner may change: where it sits in the scenario, its label and range."""

    key: str  # dotted path in the scenario table, e.g. "resources.home_nurse_hours"
    label: str
    value: float
    low: float
    high: float
    step: float


@dataclass
class Solved:
    """A solved copy of a scenario, with its key figures and run id."""

    token: str
    outcome: Outcome
    summary: PlanSummary
    run_id: int | None
    seconds: float


def _set(raw: dict[str, Any], key: str, value: float) -> None:
    parts = key.split(".")
    node = raw
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


def controls(loaded: LoadedScenario) -> list[Control]:
    """The limits (resources and budget) and each setting's effect, with slider ranges: limits
    from none to three times the scenario's value, effects over 0..1."""
    raw = loaded.raw
    found: list[Control] = []
    for name, value in (raw.get("resources") or {}).items():
        if isinstance(value, int | float) and not isinstance(value, bool):
            found.append(
                Control(f"resources.{name}", name.replace("_", " "), float(value), 0.0, 3.0 * value, _step(value))
            )
    budget = raw.get("budget")
    if isinstance(budget, int | float) and not isinstance(budget, bool):
        found.append(Control("budget", "budget (EUR)", float(budget), 0.0, 2.0 * budget, _step(budget)))
    for name, spec in (raw.get("settings") or {}).items():
        effect = spec.get("effect") if isinstance(spec, dict) else None
        if isinstance(effect, int | float) and not isinstance(effect, bool) and not spec.get("default"):
            found.append(
                Control(f"settings.{name}.effect", f"{name} effect (risk reduction)", float(effect), 0.0, 1.0, 0.01)
            )
    return found


def _step(value: float) -> float:
    """A slider step of about 1/300 of the range, rounded to 1, 2 or 5 times a power of ten."""
    import math

    raw = max(abs(value) * 3 / 300, 1e-9)
    power = 10 ** math.floor(math.log10(raw))
    return float(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


class StudioSession:
    """Scenarios of one folder, solved on demand, cohorts and risk computed once per cohort."""

    def __init__(self, folder: Path, record: bool = True, workspace: str | None = None) -> None:
        self.folder = Path(folder)
        self.record = record
        self.workspace = workspace
        self.cache = PipelineCache()
        self.solved: dict[str, Solved] = {}
        self.base: dict[str, Solved] = {}
        self.segments: dict[str, pd.Series] = {}
        self.lock = threading.Lock()  # one solve at a time: the cache is not thread-safe

    def scenarios(self) -> list[Path]:
        """The scenario files of the folder (and its sub-folders), sorted."""
        found = sorted(self.folder.rglob("*.toml"))
        if not found:
            raise OptallocError(f"{self.folder}: no scenario files (*.toml). Start the studio with --scenarios FOLDER.")
        return found

    def load(self, path: Path | str) -> LoadedScenario:
        return load_scenario(Path(path))

    def changed(self, loaded: LoadedScenario, values: dict[str, float | None]) -> LoadedScenario:
        """The scenario with the planner's numbers in place (validated as a file would be)."""
        allowed = {c.key for c in controls(loaded)}
        raw = copy.deepcopy(loaded.raw)
        for key, value in values.items():
            if key not in allowed:
                raise OptallocError(f"{loaded.path.name}: {key!r} is not a number the studio may change.")
            if value is None:
                raise OptallocError(f"{loaded.path.name}: {key} is empty; give it a number.")
            _set(raw, key, float(value))
        return from_raw(raw, loaded.path)

    def solve(self, path: Path | str, values: dict[str, float | None] | None = None) -> Solved:
        """Solve the scenario with ``values`` changed, record the run, keep the plan."""
        with self.lock:
            start = time.perf_counter()
            loaded = self.load(path)
            if values:
                loaded = self.changed(loaded, values)
            prepared = prepare(loaded, self.cache)
            outcome = solve_prepared(prepared)
            summary = summarise(outcome)
            run_id = None
            if self.record:
                from optalloc.studio.runs import record_run

                params = {"solver": "auto", "time_limit": None, "studio": {"changes": values or {}}}
                timings = {**prepared.seconds, "solve": outcome.result.seconds}
                run_id = record_run("solve", [prepared], params, [summary.to_dict()], timings, url=self.workspace)
            solved = Solved(secrets.token_hex(8), outcome, summary, run_id, time.perf_counter() - start)
            self.solved[solved.token] = solved
            if not values:
                self.base[str(Path(path).resolve())] = solved
            return solved

    def baseline(self, path: Path | str) -> Solved:
        """The scenario as written, solved once per session."""
        key = str(Path(path).resolve())
        return self.base[key] if key in self.base else self.solve(path)

    def get(self, token: str) -> Solved:
        if token not in self.solved:
            raise OptallocError("That plan is no longer held by the studio (it was restarted); solve again.")
        return self.solved[token]

    def moves(self, base: Solved, other: Solved) -> Moves | None:
        """Who the changed plan places differently from the scenario as written (None when
        either has no plan)."""
        a, b = base.outcome, other.outcome
        if not (a.result.status.has_plan and b.result.status.has_plan):
            return None
        plan_a = a.result.plan(a.prepared.problem)
        plan_b = b.result.plan(b.prepared.problem)
        return plan_moves(plan_a, plan_b, self.segments_for(a))

    def segments_for(self, outcome: Outcome) -> pd.Series | None:
        cohort = outcome.prepared.cohort
        if len(cohort) != outcome.prepared.problem.n_patients or cohort.shape[1] < 3:
            return None
        from optalloc.studio.runs import cohort_hash

        key = cohort_hash(cohort)
        if key not in self.segments:
            result = outcome.prepared.segmentation  # the scenario's own [segments], if it has them
            if result is None:
                try:
                    result = segment_domain_cohort(domain_of(outcome.prepared.loaded), cohort, "auto", 0)
                except ScenarioError:  # the cohort holds none of its domain's segmentation features
                    return None
            names = result.profiles.set_index("segment")["name"]
            labels = [f"S{int(s) + 1} {names.loc[s]}" for s in result.labels]
            self.segments[key] = pd.Series(labels, index=cohort["patient_id"].to_numpy())
        return self.segments[key]

    def recorded_runs(self, limit: int = 30) -> list[dict[str, Any]]:
        """Recorded solve and compare runs, newest first (id, kind, created, scenarios)."""
        from optalloc.workspace import Workspace

        runs = Workspace(self.workspace).list_runs(limit=limit)
        return [r for r in runs if r.get("kind") in ("solve", "compare")]

    def compare_with_run(self, run_id: int, solved: Solved) -> pd.DataFrame:
        """The differences of this plan's key figures against a recorded run's first scenario."""
        from optalloc.workspace import Workspace

        record = Workspace(self.workspace).get_run(run_id)
        results = record.get("results") or []
        if not results:
            raise OptallocError(f"run {run_id} holds no scenario results to compare with.")
        recorded = PlanSummary.from_dict(results[0])
        recorded = dataclasses.replace(recorded, scenario=f"run {run_id}: {recorded.scenario or '?'}")
        current = dataclasses.replace(solved.summary, scenario=f"now: {solved.summary.scenario}")
        return differences_frame([recorded, current])

    @staticmethod
    def plan_csv(solved: Solved) -> str:
        """The plan as ``optalloc solve --out plan.csv`` writes it."""
        if not solved.outcome.result.status.has_plan:
            summary = solved.summary
            raise OptallocError(f"{summary.scenario}: {summary.status.value}, so there is no plan to download.")
        return plan_table(solved.outcome).to_csv(index=False)

    def report_html(self, solved: Solved, shareable: bool = False) -> str:
        """The HTML report of the scenario as written and this changed copy."""
        base = self.baseline(solved.outcome.prepared.loaded.path)
        outcomes = [base.outcome] if base.token == solved.token else [base.outcome, _renamed(solved.outcome)]
        report = assemble(outcomes, ReportOptions(shareable=shareable, title="optalloc studio report"))
        return render_html(report)


def _renamed(outcome: Outcome) -> Outcome:
    """The changed copy under its own name in a comparison with the original."""
    loaded = outcome.prepared.loaded
    scenario = loaded.scenario.model_copy(update={"name": f"{loaded.scenario.name} (changed)"})
    renamed = LoadedScenario(scenario, loaded.path, loaded.raw, loaded.text_hash, loaded.distributions)
    prepared = copy.copy(outcome.prepared)
    prepared.loaded = renamed
    return Outcome(prepared, outcome.result, outcome.greedy)


def charts_of(summaries: list[PlanSummary], outcomes: list[Outcome]) -> list[dict[str, Any]]:
    """The report's settings and limits charts for these plans."""
    from optalloc.report.content import Hider

    hider = Hider(ReportOptions())
    return settings_section(summaries, hider).charts + limits_section(outcomes).charts
