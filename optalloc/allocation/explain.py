"""Why a patient got their setting, and what one more unit of each limit is worth.

With the limits priced at their marginal values ``u_k`` (``result.duals``: LP dual prices or
Lagrange multipliers, in objective units per unit of the limit), a setting's *reduced benefit*
for a patient is::

    benefit[i, s] - sum_k u_k * coef_k[i, s]

The optimiser gives almost every patient the allowed setting with the highest reduced benefit;
the few exceptions are patients on the margin, where the LP splits them between settings. The
explanation shows the prices at work: the benefit of each setting, what its resource use costs
at those prices, and the runner-up.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult
from optalloc.errors import OptallocError


@dataclass
class PatientExplanation:
    """One patient's settings side by side (``table``), the chosen one and the runner-up."""

    patient_id: object
    chosen: str | None
    runner_up: str | None
    table: pd.DataFrame
    objective_unit: str

    def summary(self) -> str:
        """One sentence a planner can read."""
        if self.chosen is None:
            return f"Patient {self.patient_id} has no plan (the solve ended without one)."
        rows = self.table.set_index("setting")
        text = (
            f"Patient {self.patient_id} goes to {self.chosen} "
            f"(reduced benefit {rows.loc[self.chosen, 'reduced_benefit']:.4g} {self.objective_unit})"
        )
        if self.runner_up is not None:
            text += f"; runner-up {self.runner_up} ({rows.loc[self.runner_up, 'reduced_benefit']:.4g})"
        return text + "."


def _patient_index(problem: AllocationProblem, patient_id: object) -> int:
    ids = np.asarray(problem.patient_ids)
    hits = np.flatnonzero(ids == patient_id)
    if hits.size == 0 and not isinstance(patient_id, str):
        hits = np.flatnonzero(ids.astype(str) == str(patient_id))
    if hits.size == 0 and isinstance(patient_id, str):
        hits = np.flatnonzero(ids.astype(str) == patient_id)
    if hits.size == 0:
        raise OptallocError(
            f"Patient {patient_id!r} is not in the problem {problem.name!r}; "
            f"use one of its patient ids (for example {ids[0]!r})."
        )
    return int(hits[0])


def explain_patient(problem: AllocationProblem, result: AllocationResult, patient_id: object) -> PatientExplanation:
    """Benefit, eligibility, priced resource use and reduced benefit of every setting.

    Parameters
    ----------
    problem, result : the solved instance and its result (``result.duals`` are the prices).
    patient_id : an element of ``problem.patient_ids`` (compared as a string if need be).

    Returns
    -------
    PatientExplanation
        ``table`` has one row per setting: ``setting``, ``allowed``, ``benefit``,
        ``resource_cost`` (prices times use), ``reduced_benefit`` (benefit minus cost), one
        ``use:<limit>`` column per limit the patient would use there, and ``chosen`` /
        ``runner_up`` flags. The runner-up is the allowed setting with the highest reduced
        benefit other than the chosen one.
    """
    i = _patient_index(problem, patient_id)
    m = problem.n_settings
    prices = np.array([result.duals.get(lim.name, 0.0) for lim in problem.limits], dtype=float)
    use = np.array([lim.coef[i] for lim in problem.limits]).reshape(len(problem.limits), m)
    cost = prices @ use if problem.limits else np.zeros(m)
    reduced = problem.benefit[i] - cost
    allowed = problem.allowed[i]
    chosen = int(result.assignment[i]) if result.assignment is not None else None
    ranked = [s for s in np.argsort(-np.where(allowed, reduced, -np.inf), kind="stable") if allowed[s]]
    runner = next((int(s) for s in ranked if s != chosen), None)
    table = pd.DataFrame(
        {
            "setting": list(problem.settings),
            "allowed": allowed.astype(bool),
            "benefit": problem.benefit[i].astype(float),
            "resource_cost": cost,
            "reduced_benefit": np.where(allowed, reduced, np.nan),
        }
    )
    for k, lim in enumerate(problem.limits):
        if np.any(use[k] != 0):
            table[f"use:{lim.name}"] = use[k]
    table["chosen"] = [s == chosen for s in range(m)]
    table["runner_up"] = [s == runner for s in range(m)]
    return PatientExplanation(
        patient_id=problem.patient_ids[i],
        chosen=problem.settings[chosen] if chosen is not None else None,
        runner_up=problem.settings[runner] if runner is not None else None,
        table=table,
        objective_unit=problem.objective_unit,
    )


def marginal_value_sentences(problem: AllocationProblem, result: AllocationResult, tol: float = 1e-9) -> list[str]:
    """Plain words for each limit's marginal value, e.g.
    "one more home_nurse_hours (hours) is worth 0.004 benefit".

    A positive price is the gain from raising an upper bound by one unit; a negative one is the
    cost of a lower bound (floors), said as the gain of lowering it by one unit.
    """
    unit_obj = problem.objective_unit
    sentences = []
    for lim in problem.limits:
        value = result.duals.get(lim.name)
        unit = f" ({lim.unit})" if lim.unit else ""
        if value is None or not np.isfinite(value):
            sentences.append(f"{lim.name}{unit}: no marginal value from this solve.")
        elif value > tol:
            sentences.append(f"one more {lim.name}{unit} is worth {value:.3g} {unit_obj}")
        elif value < -tol:
            sentences.append(f"one fewer required {lim.name}{unit} is worth {-value:.3g} {unit_obj}")
        else:
            sentences.append(f"{lim.name}{unit} does not bind: one more is worth nothing now")
    return sentences
