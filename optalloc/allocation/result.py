"""What every backend returns. Solver status codes never leave a backend."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum
from typing import Any

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


@dataclass(frozen=True)
class RepairRound:
    """One exact re-solve of the decomposition's repair step: how many patients it freed, how it
    ended and how long it took."""

    patients: int
    status: Status
    seconds: float


@dataclass(frozen=True)
class SolverReport:
    """How a backend reached its result, beyond the certificate every result carries.

    Each backend fills the fields it knows and leaves the others ``None``; nothing here changes
    what the plan is, so reports and tables may ignore it. The fields are named, typed and
    documented so that a reader never has to guess which backend wrote which key.
    """

    # -- any backend --------------------------------------------------------------------------
    requested_solver: str | None = None  # what the caller asked for ("auto" picks a backend)
    plan_from: str | None = None  # where the returned plan came from: "cpsat", "hint", "warm start"
    lp_bound: float | None = None  # the LP relaxation's (or Lagrangian dual's) bound on the objective
    backend_status: str | None = None  # the solver's own status word, for logs only
    # -- HiGHS and CBC ------------------------------------------------------------------------
    nodes: int | None = None  # branch-and-bound nodes explored
    log_summary: dict[str, float] | None = None  # what CBC's closing summary says (objective, lower bound, gap)
    # -- CP-SAT -------------------------------------------------------------------------------
    exact_integer_model: bool | None = None  # every limit row scaled to integers without rounding
    objective_scale: float | None = None  # factor that made the benefits integers
    pre_seconds: float | None = None  # the decomposition run before CP-SAT for its hint and bound
    cpsat_objective: float | None = None  # CP-SAT's own best plan, before comparing with the hint
    hint_objective: float | None = None  # the hint's objective, when the hint kept every limit
    cpsat_bound: float | None = None  # CP-SAT's proven bound, rescaled
    # -- Lagrangian decomposition -------------------------------------------------------------
    dual_iterations: int | None = None
    dual_seconds: float | None = None
    dual_converged: bool | None = None
    repair: tuple[RepairRound, ...] = ()  # the repair MIPs, in order
    polish_rounds: int | None = None  # large-neighbourhood rounds tried
    polish_accepted: int | None = None  # rounds that improved the plan
    polish_gain: float | None = None  # objective gained by polishing
    # -- column generation --------------------------------------------------------------------
    warm_objective: float | None = None  # the decomposition's plan that warm-started it
    root_lp: float | None = None  # the master LP at the root
    root_columns: int | None = None
    root_seconds: float | None = None
    root_converged: bool | None = None
    dives: int | None = None  # dives tried
    best_dive: int | None = None  # the dive that found the returned plan
    # -- greedy current practice --------------------------------------------------------------
    priority: str | None = None  # the order it filled settings in ("benefit gain" or "given")
    attempted_assignment: np.ndarray | None = field(default=None, compare=False)  # a plan that broke a limit
    attempted_objective: float | None = None
    # -- an infeasible problem ----------------------------------------------------------------
    diagnosis: Any = field(default=None, compare=False)  # the :class:`~optalloc.allocation.diagnose.Diagnosis`

    def as_dict(self) -> dict[str, object]:
        """The fields that were set, as plain values (for benchmarks' JSON and logs)."""
        out: dict[str, object] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if value is None or value == () or item.name in ("attempted_assignment", "diagnosis"):
                continue
            if item.name == "repair":
                value = [{"patients": r.patients, "status": r.status.value, "seconds": r.seconds} for r in value]
            out[item.name] = value
        return out


@dataclass(frozen=True)
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
    report: SolverReport = field(default_factory=SolverReport)

    @property
    def gap(self) -> float | None:
        if not self.status.has_plan:
            return None
        return relative_gap(self.objective, self.bound)

    @property
    def seconds(self) -> float:
        return self.build_seconds + self.solve_seconds

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


@dataclass(frozen=True)
class Run:
    """How one solver run ended, in solver-neutral terms, for the one finishing step.

    ``assignment`` is the plan found (None: none); ``proven`` says whether the solver itself
    proved it optimal (None: let the certified gap decide); ``infeasible`` that the solver
    proved no plan keeps every limit (``explain``: diagnose which limits clash).
    ``seconds_before`` is time spent for this run before it started (a warm start's), counted
    in the result's seconds.
    """

    assignment: np.ndarray | None = None
    bound: float | None = None
    duals: dict[str, float] = field(default_factory=dict)
    proven: bool | None = None
    infeasible: bool = False
    explain: bool = True
    report: SolverReport = field(default_factory=SolverReport)
    message: str = ""
    seconds_before: float = 0.0
