"""Per patient and care setting: what care would need, cost and achieve over the horizon.

For patient ``i`` with ``v_i`` visits over the horizon, ``u_i`` units per visit and distance
``d_i`` km (the scenario's ``[quantities]`` expressions; those it leaves out are its cohort's
domain's, e.g. the transfusion domain's ``transfusions_per_28d * horizon_weeks / 4``,
``units_per_visit`` and ``distance_km``), in setting ``s``::

    hours[r, i, s]  = v_i * (hours_per_visit[s, r] + u_i * hours_per_unit[s, r]
                             + d_i * travel_hours_per_km[s, r])   + equipment_per_patient[s, r]
    cost[i, s]      = v_i * (cost_per_visit[s] + d_i * cost_per_km[s]) + cost_per_patient[s]
    readm[i, s]     = risk_i * effect[i, s]              (30-day readmissions avoided)
    travel[i, s]    = (1 - patient_travel_share[s]) * v_i * 2 d_i / speed   (patient hours saved)
    benefit[i, s]   = readmission_weight * readm[i, s] + travel_hour_weight * travel[i, s]

A resource may be staff hours or equipment units; the formula adds whichever the setting
declares. ``effect`` is a number or an expression over the cohort's columns and ``risk`` (a larger
effect for the frailest, say). Eligibility comes from each setting's expression; the default
setting is always allowed. Every expression goes through :mod:`optalloc.expressions`.
"""

from __future__ import annotations

from collections.abc import Mapping
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


def evaluate_expression(
    cohort: pd.DataFrame, expression: str, field: str, loaded: LoadedScenario, risk: np.ndarray | None = None
) -> np.ndarray:
    """A scenario's condition as one true/false per patient, through the one safe language
    (:mod:`optalloc.expressions`): nothing in a scenario file can run code. ``risk`` (the
    patient's predicted readmission probability) may be named too, as in ``"risk >= 0.15"``."""
    from optalloc.expressions import parse

    parsed = parse(expression, field, str(loaded.path))
    frame = cohort
    if risk is not None and "risk" in parsed.names and "risk" not in cohort.columns:
        frame = cohort[[c for c in cohort.columns if c in parsed.names]].assign(risk=np.asarray(risk, dtype=float))
    return parsed.condition(frame)


def _constants(loaded: LoadedScenario) -> dict[str, float]:
    return {"horizon_weeks": loaded.scenario.horizon_weeks, "travel_speed_kmh": loaded.scenario.travel_speed_kmh}


def patient_quantities(
    cohort: pd.DataFrame, loaded: LoadedScenario, defaults: Mapping[str, str]
) -> list[tuple[str, np.ndarray]]:
    """Visits, units per visit and distance per patient, from the scenario's ``[quantities]``
    (those it does not state: the domain's ``defaults``); a negative value is refused naming
    the field and the row."""
    from optalloc.expressions import parse

    out = []
    for name, text in loaded.scenario.quantities.items(defaults):
        expression = parse(text, f"quantities.{name}", str(loaded.path))
        values = expression.quantity(cohort, _constants(loaded))
        if (values < 0).any():
            row = int(np.flatnonzero(values < 0)[0]) + 1
            raise expression.error(f"gives {values[row - 1]:g} for row {row}", None, "It must not be negative.")
        out.append((name, values))
    return out


def setting_effect(cohort: pd.DataFrame, risk: np.ndarray, setting: str, loaded: LoadedScenario) -> np.ndarray | float:
    """The setting's relative risk reduction: its number, or its expression per patient
    (over the cohort's columns and ``risk``), each value within -1..1."""
    from optalloc.expressions import parse

    effect = loaded.scenario.settings[setting].effect
    if not isinstance(effect, str):
        return effect
    expression = parse(effect, f"settings.{setting}.effect", str(loaded.path))
    values = expression.quantity(cohort, {**_constants(loaded), "risk": np.asarray(risk, dtype=float)})
    outside = (values < -1.0) | (values > 1.0)
    if outside.any():
        row = int(np.flatnonzero(outside)[0]) + 1
        raise expression.error(
            f"gives {values[row - 1]:g} for row {row}", None, "An effect is a relative risk reduction, from -1 to 1."
        )
    return values


def estimate(
    cohort: pd.DataFrame, risk: np.ndarray, loaded: LoadedScenario, quantities: Mapping[str, str]
) -> Estimates:
    """Compute every per-patient, per-setting quantity of the scenario (see module docstring);
    ``quantities`` are the domain's expressions for what ``[quantities]`` leaves unstated."""
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
    visits, units, distance = (quantity for _, quantity in patient_quantities(cohort, loaded, quantities))
    round_trip_hours = 2.0 * distance / scenario.travel_speed_kmh

    cost = np.empty((n, m))
    readmissions = np.empty((n, m))
    travel = np.empty((n, m))
    eligible = np.ones((n, m), dtype=bool)
    usage = {name: np.zeros((n, m)) for name in scenario.resources}
    for j, (name, spec) in enumerate(scenario.settings.items()):
        cost[:, j] = visits * (spec.cost_per_visit + distance * spec.cost_per_km) + spec.cost_per_patient
        readmissions[:, j] = risk * setting_effect(cohort, risk, name, loaded)
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
            eligible[:, j] = evaluate_expression(cohort, spec.eligibility, f"settings.{name}.eligibility", loaded, risk)
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
