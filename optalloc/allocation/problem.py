"""The solver-neutral allocation problem.

Patients ``i = 1..n`` go to exactly one of the settings ``s = 1..m``. With ``x[i, s]`` binary::

    maximise    sum_{i,s} benefit[i, s] * x[i, s]
    subject to  sum_s x[i, s] = 1                              for every patient i
                x[i, s] = 0                                    where allowed[i, s] is False
                lower_k <= sum_{i,s} coef_k[i, s] * x[i, s] <= upper_k   for every limit k

Every policy a planner states (staff hours per role, equipment, per-setting places, budget,
minimum patients per setting, an equity floor for a group) is one such coupling row; patients
pinned to a setting have a single allowed column. The problem holds only arrays, so backends
build their models from them directly, and the generalized assignment problem is the special
case with one capacity row per setting.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from optalloc.errors import NonFiniteError

INF = float("inf")


@dataclass(frozen=True)
class Limit:
    """One coupling row ``lower <= sum coef * x <= upper``.

    Parameters
    ----------
    name : str
        Identifier used in reports and scenario files (``home_nurse_hours``, ``budget``).
    coef : ndarray of shape (n_patients, n_settings)
        Use of the limit by each patient in each setting.
    upper, lower : float
        Bounds; ``inf`` / ``-inf`` when absent.
    kind : str
        ``resource``, ``budget``, ``places``, ``min_patients``, ``equity`` or ``capacity``;
        lets reports group limits and the infeasibility diagnosis say what kind of limit clashes.
    unit : str
        What one unit of the row measures (``hours``, ``units``, ``patients``, ``EUR``).
    origin : str
        Where the limit comes from in the scenario (``resources.home_nurse_hours``, ``budget``,
        ``settings.home``, ``equity[0]``), so messages name the field a planner edits rather
        than an internal row name; see :meth:`field`.
    """

    name: str
    coef: np.ndarray
    upper: float = INF
    lower: float = -INF
    kind: str = "resource"
    unit: str = ""
    origin: str = ""

    def field(self, side: str) -> str:
        """The scenario field behind one side (``"upper"`` or ``"lower"``) of the limit."""
        if not self.origin:
            return self.name
        if self.kind == "places":
            return f"{self.origin}.{'max' if side == 'upper' else 'min'}_patients"
        if self.kind == "equity":
            return f"{self.origin}.min_share"
        return self.origin

    def usage(self, assignment: np.ndarray) -> float:
        """Row activity for an assignment vector (setting index per patient)."""
        rows = np.arange(self.coef.shape[0])
        return float(self.coef[rows, assignment].sum())

    def usage_of(self, assignment: np.ndarray, patients: np.ndarray) -> float:
        """Row activity of the given patients only (``assignment`` covers every patient)."""
        return float(self.coef[patients, assignment[patients]].sum())


@dataclass(frozen=True)
class AllocationProblem:
    """Arrays that fully state one allocation instance; see the module docstring for the maths.

    ``default_setting`` (an index into ``settings``) is the fallback a heuristic may use; the
    optimiser treats it like any other allowed setting.
    """

    patient_ids: np.ndarray
    settings: tuple[str, ...]
    benefit: np.ndarray
    allowed: np.ndarray
    limits: tuple[Limit, ...] = ()
    default_setting: int = 0
    name: str = "allocation"
    objective_unit: str = "benefit"
    metadata: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, m = self.benefit.shape
        if len(self.patient_ids) != n or len(self.settings) != m:
            raise ValueError(
                f"benefit has shape {self.benefit.shape} but there are {len(self.patient_ids)} "
                f"patients and {len(self.settings)} settings"
            )
        if self.allowed.shape != (n, m):
            raise ValueError(f"allowed has shape {self.allowed.shape}, expected {(n, m)}")
        for limit in self.limits:
            if limit.coef.shape != (n, m):
                raise ValueError(f"limit {limit.name!r} has shape {limit.coef.shape}, expected {(n, m)}")
        refuse_non_finite(self)
        stranded = ~self.allowed.any(axis=1)
        if stranded.any():
            first = int(np.flatnonzero(stranded)[0])
            raise ValueError(
                f"patient {self.patient_ids[first]} has no allowed setting; every patient must be "
                "allowed at least one setting (normally the default clinic)"
            )

    @property
    def n_patients(self) -> int:
        return int(self.benefit.shape[0])

    @property
    def n_settings(self) -> int:
        return int(self.benefit.shape[1])

    def allowed_benefits(self) -> np.ndarray:
        """Benefits of the allowed (patient, setting) pairs, row by row: a view when every pair
        is allowed (a full estimates table), not a copy of millions of values."""
        return self.benefit.ravel() if self.allowed.all() else self.benefit[self.allowed]

    def objective_value(self, assignment: np.ndarray) -> float:
        """Total benefit of an assignment vector."""
        return float(self.benefit[np.arange(self.n_patients), assignment].sum())

    def violations(self, assignment: np.ndarray, tol: float = 1e-6) -> dict[str, float]:
        """Limits an assignment breaks, with the amount by which each is exceeded (empty if feasible)."""
        broken: dict[str, float] = {}
        if not self.allowed[np.arange(self.n_patients), assignment].all():
            broken["allowed"] = float((~self.allowed[np.arange(self.n_patients), assignment]).sum())
        for limit in self.limits:
            use = limit.usage(assignment)
            scale = max(
                1.0,
                abs(limit.upper) if np.isfinite(limit.upper) else 1.0,
                abs(limit.lower) if np.isfinite(limit.lower) else 1.0,
            )
            if use > limit.upper + tol * scale:
                broken[limit.name] = use - limit.upper
            elif use < limit.lower - tol * scale:
                broken[limit.name] = limit.lower - use
        return broken

    def is_feasible(self, assignment: np.ndarray, tol: float = 1e-6) -> bool:
        return not self.violations(assignment, tol)


def refuse_non_finite(problem: AllocationProblem) -> None:
    """Raise :class:`NonFiniteError` on the first NaN or infinite number a solver would get.

    Checked: every benefit coefficient, every coefficient of every limit (staff hours and
    equipment by resource, cost for the budget, ...), and the bounds, where a NaN, an upper
    bound of ``-inf``, a lower bound of ``+inf`` or a limit with no finite bound at all (its
    capacity missing) is refused; ``+inf`` above or ``-inf`` below is how a side without a bound
    is written. Every problem passes here (built from a scenario or an estimates table, a
    sweep's variant, a decomposition's subproblem), so no route reaches a solver unchecked.
    """
    arrays = [("the benefit (objective coefficient)", problem.benefit)]
    for limit in problem.limits:
        column = "cost" if limit.kind == "budget" else limit.name
        place = f"limit {limit.name!r}" + (f", scenario field {limit.origin!r}" if limit.origin else "")
        arrays.append((f"the {column} coefficient ({place})", limit.coef))
    for what, values in arrays:
        bad = ~np.isfinite(values)
        if bad.any():
            i, j = (int(k[0]) for k in np.nonzero(bad))
            raise NonFiniteError(
                problem.name,
                what,
                values[i, j],
                setting=problem.settings[j],
                patient=str(problem.patient_ids[i]),
                count=int(bad.sum()),
            )
    for limit in problem.limits:
        for side, value, wrong in (("upper", limit.upper, -INF), ("lower", limit.lower, INF)):
            if np.isnan(value) or value == wrong:
                raise NonFiniteError(problem.name, f"the {side} bound of {_place(limit, side)}", value)
        if not (np.isfinite(limit.upper) or np.isfinite(limit.lower)):
            raise NonFiniteError(problem.name, f"the capacity of {_place(limit, 'upper')}", limit.upper)


def _place(limit: Limit, side: str) -> str:
    return f"limit {limit.name!r}" + (f" (scenario field {limit.field(side)!r})" if limit.origin else "")
