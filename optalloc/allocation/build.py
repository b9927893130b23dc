"""Turning a scenario and its estimates into the solver-neutral :class:`AllocationProblem`.

One function per family of coupling rows, each with its formula, so a reader can check the
model against the scenario file line by line. Building never solves.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optalloc.allocation.problem import INF, AllocationProblem, Limit
from optalloc.errors import ScenarioError
from optalloc.estimates import Estimates, evaluate_expression
from optalloc.privacy import resolve_patient
from optalloc.scenario.loader import LoadedScenario


def resource_limits(loaded: LoadedScenario, estimates: Estimates) -> list[Limit]:
    """``sum_{i,s} usage[r, i, s] x[i, s] <= resources[r]`` for every declared resource ``r``."""
    return [
        Limit(
            name=name,
            coef=estimates.usage[name],
            upper=float(amount),
            kind="resource",
            unit=loaded.scenario.unit_of(name),
            origin=f"resources.{name}",
        )
        for name, amount in loaded.scenario.resources.items()
    ]


def budget_limit(loaded: LoadedScenario, estimates: Estimates) -> list[Limit]:
    """``sum_{i,s} cost[i, s] x[i, s] <= budget`` when the scenario states a budget."""
    if loaded.scenario.budget is None:
        return []
    return [
        Limit(
            name="budget",
            coef=estimates.cost,
            upper=float(loaded.scenario.budget),
            kind="budget",
            unit=loaded.scenario.unit_of("budget"),
            origin="budget",
        )
    ]


def setting_place_limits(loaded: LoadedScenario, estimates: Estimates) -> list[Limit]:
    """``min_patients[s] <= sum_i x[i, s] <= max_patients[s]`` for settings that state them."""
    limits = []
    n, m = estimates.benefit.shape
    for j, (name, spec) in enumerate(loaded.scenario.settings.items()):
        if spec.max_patients is None and spec.min_patients is None:
            continue
        coef = np.zeros((n, m))
        coef[:, j] = 1.0
        limits.append(
            Limit(
                name=f"{name}_patients",
                coef=coef,
                upper=float(spec.max_patients) if spec.max_patients is not None else INF,
                lower=float(spec.min_patients) if spec.min_patients is not None else -INF,
                kind="places",
                unit="patients",
                origin=f"settings.{name}",
            )
        )
    return limits


def equity_floors(loaded: LoadedScenario, estimates: Estimates, cohort: pd.DataFrame | None) -> list[Limit]:
    """``sum_{i in G} x[i, s] >= min_share * |G|`` for each equity rule (group ``G``, setting ``s``)."""
    limits = []
    if loaded.scenario.equity and cohort is None:
        raise ScenarioError(
            f"{loaded.path}: field 'equity' needs patient records to select its groups, but the "
            "plan is made from precomputed estimates alone. Drop the equity rules or solve from a cohort."
        )
    n, m = estimates.benefit.shape
    settings = list(estimates.settings)
    for k, rule in enumerate(loaded.scenario.equity):
        group = evaluate_expression(cohort, rule.group, f"equity[{k}].group", loaded)
        if not group.any():
            raise ScenarioError(
                f"{loaded.path}: field 'equity[{k}].group' = {rule.group!r} matches no patient of the cohort, "
                "so its floor means nothing. Check the condition (and the cohort), or drop the rule."
            )
        coef = np.zeros((n, m))
        coef[group, settings.index(rule.setting)] = 1.0
        limits.append(
            Limit(
                name=rule.name or f"equity_{k}_{rule.setting}",
                coef=coef,
                lower=float(np.ceil(rule.min_share * group.sum() - 1e-9)),
                kind="equity",
                unit="patients",
                origin=f"equity[{k}]",
            )
        )
    return limits


def allowed_matrix(loaded: LoadedScenario, estimates: Estimates) -> np.ndarray:
    """Eligibility, with the default setting always allowed and pinned patients fixed."""
    scenario = loaded.scenario
    settings = list(estimates.settings)
    allowed = estimates.eligible.copy()
    allowed[:, settings.index(scenario.default_setting)] = True
    if scenario.pins:
        position = {pid: i for i, pid in enumerate(estimates.patient_ids)}
        for key, setting in scenario.pins.items():
            pseudonym = resolve_patient(key, position)
            if pseudonym is None:
                raise ScenarioError(
                    f"{loaded.path}: field 'pins': patient {key} (pseudonymised) is not in the cohort. "
                    "Pin patients by the id shown in optalloc's output, or by their original id."
                )
            i = position[pseudonym]
            allowed[i, :] = False
            allowed[i, settings.index(setting)] = True
    return allowed


def build_problem(loaded: LoadedScenario, estimates: Estimates, cohort: pd.DataFrame | None) -> AllocationProblem:
    """Assemble every constraint family of the scenario into one problem."""
    limits = (
        resource_limits(loaded, estimates)
        + budget_limit(loaded, estimates)
        + setting_place_limits(loaded, estimates)
        + equity_floors(loaded, estimates, cohort)
    )
    settings = list(estimates.settings)
    return AllocationProblem(
        patient_ids=estimates.patient_ids,
        settings=estimates.settings,
        benefit=estimates.benefit,
        allowed=allowed_matrix(loaded, estimates),
        limits=tuple(limits),
        default_setting=settings.index(loaded.scenario.default_setting),
        name=loaded.scenario.name,
        objective_unit=loaded.scenario.objective.unit,
    )
