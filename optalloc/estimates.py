"""Per patient and care setting: what care would need, cost and achieve over the horizon.

For patient ``i`` with ``v_i = transfusions_per_28d * horizon_weeks / 4`` visits, ``u_i`` units
per visit and distance ``d_i`` km, in setting ``s``::

    hours[r, i, s]  = v_i * (hours_per_visit[s, r] + u_i * hours_per_unit[s, r]
                             + d_i * travel_hours_per_km[s, r])   + equipment_per_patient[s, r]
    cost[i, s]      = v_i * (cost_per_visit[s] + d_i * cost_per_km[s]) + cost_per_patient[s]
    readm[i, s]     = risk_i * effect[s]                 (30-day readmissions avoided)
    travel[i, s]    = (1 - patient_travel_share[s]) * v_i * 2 d_i / speed   (patient hours saved)
    benefit[i, s]   = readmission_weight * readm[i, s] + travel_hour_weight * travel[i, s]

A resource may be staff hours or equipment units; the formula adds whichever the setting
declares. Eligibility comes from each setting's expression; the default setting is always allowed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from optalloc.errors import ScenarioError
from optalloc.scenario.loader import LoadedScenario


@dataclass(frozen=True)
class Estimates:
    """Arrays of shape (n_patients, n_settings), one per quantity, columns in ``settings`` order."""

    patient_ids: np.ndarray
    settings: tuple[str, ...]
    benefit: np.ndarray
    cost: np.ndarray
    readmissions_avoided: np.ndarray
    travel_hours_saved: np.ndarray
    eligible: np.ndarray
    usage: dict[str, np.ndarray]

    def plan_totals(self, assignment: np.ndarray | None) -> dict[str, float]:
        """Readmissions avoided, patient travel hours saved and cost of a plan (NaN without one)."""
        if assignment is None:
            nan = float("nan")
            return {"readmissions_avoided": nan, "travel_hours_saved": nan, "cost": nan}
        rows = np.arange(len(assignment))
        return {
            "readmissions_avoided": float(self.readmissions_avoided[rows, assignment].sum()),
            "travel_hours_saved": float(self.travel_hours_saved[rows, assignment].sum()),
            "cost": float(self.cost[rows, assignment].sum()),
        }

    def long_table(self) -> pd.DataFrame:
        """One row per patient and setting: the format ``optalloc solve --estimates`` reads back."""
        n, m = self.benefit.shape
        frame = pd.DataFrame(
            {
                "patient_id": np.repeat(self.patient_ids, m),
                "setting": np.tile(np.asarray(self.settings, dtype=object), n),
                "eligible": self.eligible.ravel(),
                "benefit": self.benefit.ravel(),
                "cost": self.cost.ravel(),
                "readmissions_avoided": self.readmissions_avoided.ravel(),
                "travel_hours_saved": self.travel_hours_saved.ravel(),
            }
        )
        for name, values in self.usage.items():
            frame[name] = values.ravel()
        return frame


def evaluate_expression(cohort: pd.DataFrame, expression: str, field: str, loaded: LoadedScenario) -> np.ndarray:
    """A scenario's condition as one true/false per patient, through the one safe language
    (:mod:`optalloc.expressions`): nothing in a scenario file can run code."""
    from optalloc.expressions import parse

    return parse(expression, field, str(loaded.path)).condition(cohort)


def estimate(cohort: pd.DataFrame, risk: np.ndarray, loaded: LoadedScenario) -> Estimates:
    """Compute every per-patient, per-setting quantity of the scenario (see module docstring)."""
    scenario = loaded.scenario
    unused = scenario.unused_resources()
    if unused:
        raise ScenarioError(
            f"{loaded.path.name}: resources.{unused[0]} is declared but no setting uses it, so its limit "
            "would hold nothing back. Give a setting a use of it (staff_hours_per_visit, "
            "staff_hours_per_unit, staff_travel_hours_per_km or equipment_per_patient) or remove it; "
            "with 'solve --estimates' the table's column of that name gives its use."
        )
    settings = tuple(scenario.settings)
    n, m = len(cohort), len(settings)
    visits = cohort["transfusions_per_28d"].to_numpy(float) * scenario.horizon_weeks / 4.0
    units = cohort["units_per_visit"].to_numpy(float)
    distance = cohort["distance_km"].to_numpy(float)
    round_trip_hours = 2.0 * distance / scenario.travel_speed_kmh

    cost = np.empty((n, m))
    readmissions = np.empty((n, m))
    travel = np.empty((n, m))
    eligible = np.ones((n, m), dtype=bool)
    usage = {name: np.zeros((n, m)) for name in scenario.resources}
    for j, (name, spec) in enumerate(scenario.settings.items()):
        cost[:, j] = visits * (spec.cost_per_visit + distance * spec.cost_per_km) + spec.cost_per_patient
        readmissions[:, j] = risk * spec.effect
        travel[:, j] = (1.0 - spec.patient_travel_share) * visits * round_trip_hours
        for resource, hours in spec.staff_hours_per_visit.items():
            usage[resource][:, j] += visits * hours
        for resource, hours in spec.staff_hours_per_unit.items():
            usage[resource][:, j] += visits * units * hours
        for resource, hours in spec.staff_travel_hours_per_km.items():
            usage[resource][:, j] += visits * distance * hours
        for resource, amount in spec.equipment_per_patient.items():
            usage[resource][:, j] += amount
        if spec.eligibility and not spec.default:
            eligible[:, j] = evaluate_expression(cohort, spec.eligibility, f"settings.{name}.eligibility", loaded)
    weights = scenario.objective
    benefit = weights.readmission_weight * readmissions + weights.travel_hour_weight * travel
    return Estimates(
        patient_ids=cohort["patient_id"].to_numpy(object),
        settings=settings,
        benefit=benefit,
        cost=cost,
        readmissions_avoided=readmissions,
        travel_hours_saved=travel,
        eligible=eligible,
        usage=usage,
    )
