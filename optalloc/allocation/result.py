"""What every backend returns. Solver status codes never leave a backend."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np
import pandas as pd

from optalloc.allocation.problem import AllocationProblem


class Status(str, Enum):
    """Outcome of a solve, in the words a planner reads."""

    OPTIMAL = "OPTIMAL"  # proven optimal within the requested relative gap
    FEASIBLE = "FEASIBLE"  # a plan that keeps every limit, optimality not proven
    INFEASIBLE = "INFEASIBLE"  # the limits cannot all hold
    NO_SOLUTION = "NO_SOLUTION"  # stopped (time limit) before any plan was found
    ERROR = "ERROR"

    @property
    def has_plan(self) -> bool:
        return self in (Status.OPTIMAL, Status.FEASIBLE)


def relative_gap(objective: float | None, bound: float | None) -> float | None:
    """Certified relative gap ``(bound - objective) / max(1, |bound|)`` of a maximisation."""
    if objective is None or bound is None or not np.isfinite(bound):
        return None
    return max(0.0, (bound - objective) / max(1.0, abs(bound)))


@dataclass
class AllocationResult:
    """A plan (``assignment[i]`` is the setting index of patient ``i``) with its certificate.

    ``duals`` maps a limit name to its marginal value: the change of the optimal objective per
    unit of the limit's bound, from the LP relaxation or a Lagrange multiplier.
    """

    status: Status
    solver: str
    objective: float | None
    bound: float | None
    assignment: np.ndarray | None
    solve_seconds: float
    build_seconds: float = 0.0
    duals: dict[str, float] = field(default_factory=dict)
    message: str = ""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def gap(self) -> float | None:
        if not self.status.has_plan:
            return None
        return relative_gap(self.objective, self.bound)

    @property
    def seconds(self) -> float:
        return self.build_seconds + self.solve_seconds

    def certificate(self) -> dict[str, object]:
        """What every report shows of a solve: status, solver, objective, bound, gap, seconds."""
        return {
            "status": self.status.value,
            "solver": self.solver,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "seconds": self.seconds,
        }

    def patients_per_setting(self, problem: AllocationProblem) -> dict[str, int]:
        if self.assignment is None:
            return dict.fromkeys(problem.settings, 0)
        counts = np.bincount(self.assignment, minlength=problem.n_settings)
        return {name: int(counts[j]) for j, name in enumerate(problem.settings)}

    def limit_table(self, problem: AllocationProblem) -> pd.DataFrame:
        """One row per limit: kind, unit, bounds, use, slack, whether it binds, marginal value."""
        rows = []
        for limit in problem.limits:
            use = limit.usage(self.assignment) if self.assignment is not None else float("nan")
            slack_up = limit.upper - use if np.isfinite(limit.upper) else float("inf")
            slack_low = use - limit.lower if np.isfinite(limit.lower) else float("inf")
            slack = min(slack_up, slack_low)
            scale = max(1.0, abs(limit.upper) if np.isfinite(limit.upper) else abs(limit.lower))
            rows.append(
                {
                    "limit": limit.name,
                    "kind": limit.kind,
                    "unit": limit.unit,
                    "lower": limit.lower,
                    "upper": limit.upper,
                    "use": use,
                    "slack": slack,
                    "binding": bool(
                        (np.isfinite(slack) and slack <= 1e-6 * scale + 1e-9)
                        or abs(self.duals.get(limit.name, 0.0)) > 1e-9
                    ),
                    "marginal_value": self.duals.get(limit.name, float("nan")),
                }
            )
        return pd.DataFrame(
            rows, columns=["limit", "kind", "unit", "lower", "upper", "use", "slack", "binding", "marginal_value"]
        )

    def plan(self, problem: AllocationProblem) -> pd.DataFrame:
        """One row per patient: pseudonymous id and assigned setting."""
        if self.assignment is None:
            raise ValueError("no plan: the solve ended with status " + self.status.value)
        return pd.DataFrame(
            {
                "patient_id": problem.patient_ids,
                "setting": np.asarray(problem.settings, dtype=object)[self.assignment],
            }
        )
