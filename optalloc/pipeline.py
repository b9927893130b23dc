"""The fixed sequence every command runs: validate scenario, load cohort, score risk, estimate,
build, solve, report. Cohort and risk depend only on their own scenario sections, so a
:class:`PipelineCache` lets compare, sweep and sizing compute them once for many scenarios.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optalloc.allocation.auto import solve as solve_problem
from optalloc.allocation.backends.base import SolveOptions
from optalloc.allocation.build import build_problem
from optalloc.allocation.greedy import greedy_allocation
from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult
from optalloc.cohort.demand import Demand, scale_cohort
from optalloc.domains import Domain, get_domain
from optalloc.errors import ScenarioError
from optalloc.estimates import Estimates, estimate
from optalloc.expressions import ExpressionError
from optalloc.scenario.loader import LoadedScenario, load_scenario
from optalloc.scenario.model import Scenario


@dataclass
class PipelineCache:
    """Cohorts and risk vectors already computed, keyed by the scenario sections they depend on."""

    cohorts: dict[str, pd.DataFrame] = field(default_factory=dict)
    risks: dict[str, np.ndarray] = field(default_factory=dict)
    risk_metrics: dict[str, pd.DataFrame] = field(default_factory=dict)
    contexts: dict[str, object] = field(default_factory=dict)  # what a domain's risk needs besides
    segmentations: dict[str, Any] = field(default_factory=dict)  # SegmentationResult per cohort and [segments]


@dataclass
class Prepared:
    """Everything known about a scenario before solving."""

    loaded: LoadedScenario
    cohort: pd.DataFrame
    risk: np.ndarray
    risk_metrics: pd.DataFrame | None
    estimates: Estimates
    problem: AllocationProblem
    seconds: dict[str, float]
    segmentation: Any = None
    """The scenario's own segmentation (``[segments]``): a
    :class:`~optalloc.segments.SegmentationResult` whose labels are the cohort's ``segment``."""

    @property
    def notes(self) -> list[str]:
        """What the scenario assumed that a planner should know: a setting nobody may use."""
        found = []
        for j, name in enumerate(self.problem.settings):
            if name != self.loaded.scenario.default_setting and not self.problem.allowed[:, j].any():
                found.append(
                    f"{self.loaded.path.name}: no patient may use setting {name!r} (its eligibility matches nobody"
                    " in the cohort, or pins exclude everyone); the plan leaves it empty."
                )
        return found


@dataclass
class Outcome:
    """A solved scenario: the optimiser's plan and the current-practice greedy plan beside it."""

    prepared: Prepared
    result: AllocationResult
    greedy: AllocationResult | None


def _cohort_key(loaded: LoadedScenario) -> str:
    spec = loaded.scenario.cohort
    if spec.source in ("file", "vendored"):
        where = f"file:{loaded.resolve(spec.path or '')}" if spec.source == "file" else "vendored"
    elif spec.source == "workspace":
        where = f"workspace:{spec.table}"
    else:
        where = f"synthetic:{spec.patients}:{spec.seed}"
    return f"{spec.domain}|{where}"


def domain_of(loaded: LoadedScenario) -> Domain:
    """The scenario's kind of cohort, checked against the source it names."""
    domain = get_domain(loaded.scenario.cohort.domain, f"{loaded.path.name}: ", loaded.path.parent)
    if loaded.scenario.cohort.source not in domain.sources:
        raise ScenarioError(
            f"{loaded.path.name}: cohort.source {loaded.scenario.cohort.source!r} does not fit the "
            f"{domain.name} domain ({domain.description}); use one of {', '.join(domain.sources)}."
        )
    return domain


def score_risk(
    loaded: LoadedScenario, cohort: pd.DataFrame, context: object = None
) -> tuple[np.ndarray, pd.DataFrame | None]:
    """30-day readmission probabilities: from a saved model if the scenario names one, else
    out-of-fold probabilities of models fitted on the cohort itself."""
    scored = domain_of(loaded).risk(loaded, cohort, context)
    return scored.probability, scored.metrics


def prepare(
    scenario: str | Path | LoadedScenario, cache: PipelineCache | None = None, demand: Demand | None = None
) -> Prepared:
    """Run every stage up to (not including) the solve.

    ``demand`` rescales the cohort group by group to a forecast (``size --demand``) before risk
    and estimates, so every later stage sees the future cohort.
    """
    cache = cache if cache is not None else PipelineCache()
    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    seconds: dict[str, float] = {}

    start = time.perf_counter()
    cohort_key = _cohort_key(loaded)
    if demand is not None:
        cohort_key += f"|demand:{demand.column}:{sorted(demand.targets.items())}"
    if cohort_key not in cache.cohorts:
        cohort, context = domain_of(loaded).cohort(loaded)
        if demand is not None:
            cohort, context = scale_cohort(cohort, demand, seed=loaded.scenario.cohort.seed or 0), None
        cache.cohorts[cohort_key] = cohort
        cache.contexts[cohort_key] = context
    cohort = cache.cohorts[cohort_key]
    seconds["cohort"] = time.perf_counter() - start

    start = time.perf_counter()
    risk_key = f"{cohort_key}|{loaded.scenario.risk.model}|{loaded.scenario.risk.seed}"
    if risk_key not in cache.risks:
        cache.risks[risk_key], metrics = score_risk(loaded, cohort, cache.contexts.get(cohort_key))
        if metrics is not None:
            cache.risk_metrics[risk_key] = metrics
    risk = cache.risks[risk_key]
    seconds["risk"] = time.perf_counter() - start

    segments = loaded.scenario.segments
    segmentation = None
    if segments is not None:
        start = time.perf_counter()
        taken = [c for c in SEGMENT_COLUMNS if c in cohort.columns]
        if taken:
            raise ScenarioError(
                f"{loaded.path.name}: [segments] writes the columns {', '.join(SEGMENT_COLUMNS)}, but the cohort "
                f"has {', '.join(taken)} already. Rename that column in the records, or drop [segments]."
            )
        segments_key = f"{risk_key}|segments:{segments.k}:{segments.seed}"
        if segments_key not in cache.segmentations:
            cache.segmentations[segments_key] = segment_domain_cohort(
                domain_of(loaded), cohort, segments.k, segments.seed, where=f"{loaded.path.name}: [segments]"
            )
        segmentation = cache.segmentations[segments_key]
        cohort = cohort.assign(**segment_columns(segmentation.labels, risk))
        seconds["segments"] = time.perf_counter() - start

    start = time.perf_counter()
    try:
        estimates = estimate(cohort, risk, loaded, domain_of(loaded).declaration.quantities)
        problem = build_problem(loaded, estimates, cohort)
    except ExpressionError as error:
        if segments is None and error.token in SEGMENT_COLUMNS:
            raise ExpressionError(
                error.source,
                error.field,
                error.text,
                error.problem,
                error.token,
                f"{', '.join(SEGMENT_COLUMNS)} exist once the scenario segments its cohort: add a [segments] "
                'table (k = "auto" or a number of segments).',
            ) from None
        raise
    seconds["build"] = time.perf_counter() - start
    return Prepared(loaded, cohort, risk, cache.risk_metrics.get(risk_key), estimates, problem, seconds, segmentation)


def segment_domain_cohort(
    domain: Domain, cohort: pd.DataFrame, k: int | str = "auto", seed: int = 0, where: str = "", **options: Any
) -> Any:
    """Segment a cohort on the features its domain declares (those present; numeric ones must be
    numbers), with rules and profiles in the domain's words: a
    :class:`~optalloc.segments.SegmentationResult`. ``where`` names the caller in the error
    raised when the cohort holds none of the features."""
    from optalloc.segments import segment_cohort  # scikit-learn: only when segmenting

    options = {**domain.declaration.segment_options(), **options}
    features = domain.segment_features
    if features is None:
        return segment_cohort(cohort, k, seed, **options)
    numeric = [c for c in features[0] if c in cohort.columns and pd.api.types.is_numeric_dtype(cohort[c])]
    categorical = [c for c in features[1] if c in cohort.columns]
    if not numeric and not categorical:
        raise ScenarioError(
            f"{where or domain.name}: the cohort holds none of the {domain.name} domain's segmentation features "
            f"({', '.join([*features[0], *features[1]])}), so it cannot be segmented. Load records with them, "
            "or drop the segmentation."
        )
    return segment_cohort(cohort, k, seed, numeric=numeric, categorical=categorical, profile_means=numeric, **options)


SEGMENT_COLUMNS = ("segment", "segment_risk_rank")


def segment_columns(labels: np.ndarray, risk: np.ndarray) -> dict[str, np.ndarray]:
    """The columns a scenario's expressions read once the cohort is segmented: ``segment``
    (0 is the largest) and ``segment_risk_rank`` (1 is the segment with the highest mean
    predicted risk; ties by segment number)."""
    labels = np.asarray(labels, dtype=int)
    k = int(labels.max()) + 1 if len(labels) else 0
    sizes = np.bincount(labels, minlength=k)
    mean_risk = np.bincount(labels, weights=np.asarray(risk, dtype=float), minlength=k) / np.maximum(sizes, 1)
    rank = np.empty(k, dtype=int)
    rank[np.lexsort((np.arange(k), -mean_risk))] = np.arange(1, k + 1)
    segment, segment_risk_rank = SEGMENT_COLUMNS
    return {segment: labels, segment_risk_rank: rank[labels]}


def prepare_from_estimates(scenario: str | Path | LoadedScenario, estimates_path: str | Path) -> Prepared:
    """Skip cohort, risk and estimates: take a researcher's long estimates table as it is."""
    from optalloc.estimates_io import read_estimates

    loaded = scenario if isinstance(scenario, LoadedScenario) else load_scenario(scenario)
    if loaded.scenario.segments is not None:
        raise ScenarioError(
            f"{loaded.path}: [segments] needs patient records to segment, but the plan is made from "
            "precomputed estimates alone. Drop [segments] (and what reads segment or segment_risk_rank), "
            "or solve from a cohort."
        )
    start = time.perf_counter()
    estimates = read_estimates(estimates_path, loaded)
    problem = build_problem(loaded, estimates, None)
    cohort = pd.DataFrame({"patient_id": estimates.patient_ids})
    risk = np.full(len(cohort), np.nan)
    return Prepared(loaded, cohort, risk, None, estimates, problem, {"build": time.perf_counter() - start})


def current_practice_priority(prepared: Prepared) -> np.ndarray | None:
    """The scenario's priority score per patient, from the inputs its domain declares; None
    when the records lack them (precomputed estimates: no cohort columns, no risk), in which
    case the greedy plan orders by benefit gain."""
    cohort, problem = prepared.cohort, prepared.problem
    if np.isnan(prepared.risk).any():
        return None
    inputs = domain_of(prepared.loaded).declaration.priority
    if not _reads_only(inputs, cohort.columns):
        return None
    from optalloc.segments.priority import PriorityWeights, priority_score  # scikit-learn: only here

    best = np.where(problem.allowed, problem.benefit, -np.inf).max(axis=1)
    gain = best - problem.benefit[:, problem.default_setting]
    weights = PriorityWeights(**prepared.loaded.scenario.priority.model_dump())
    return priority_score(cohort, prepared.risk, gain, weights, inputs=inputs)


def _reads_only(inputs: Mapping[str, str], columns: pd.Index) -> bool:
    """True if every priority expression reads only ``columns`` (a declared domain's mistakes
    are caught where it is read; this is about a table that is not a cohort)."""
    from optalloc.expressions import parse

    return all(parse(text, f"priority.{name}", "domain").names <= set(columns) for name, text in inputs.items())


def scenario_options(
    scenario: Scenario, time_limit: float | None = None, relative_gap: float | None = None, **others: Any
) -> SolveOptions:
    """The scenario's ``[solver]`` settings, with whatever the caller overrides (a CLI flag, a
    sweep's settings); the one place solver options are made from a scenario."""
    return SolveOptions(
        time_limit=time_limit or scenario.solver.time_limit,
        relative_gap=scenario.solver.relative_gap if relative_gap is None else relative_gap,
        **others,
    )


def solve_prepared(prepared: Prepared, solver: str = "auto", time_limit: float | None = None) -> Outcome:
    """Solve the prepared problem, warm-started from the greedy current-practice plan, which is
    kept for comparison."""
    greedy = greedy_allocation(prepared.problem, current_practice_priority(prepared))
    hint = greedy.assignment if greedy.status.has_plan else None
    options = scenario_options(prepared.loaded.scenario, time_limit, hint=hint)
    result = solve_problem(prepared.problem, solver=solver, options=options)
    return Outcome(prepared, result, greedy)
