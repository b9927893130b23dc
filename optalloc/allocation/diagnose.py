"""Why an allocation is infeasible, and the smallest single change that fixes it.

Each finite bound of each limit is one *element* (``home_nurse_hours <= 2000`` and
``min_patients_home >= 300`` are two). The diagnosis

1. checks the LP relaxation (and, if that is feasible, the integer problem) with all elements;
2. shrinks the set of elements with a deletion filter: drop an element, keep it dropped if the
   rest is still infeasible; what remains is an irreducible infeasible set (IIS) - limits that
   clash among themselves, each one necessary;
3. for each element of the IIS, solves an elastic model with one slack on that bound only,
   minimising the slack: how far that one bound must move, the others held, for a plan to exist.

Patients with identical eligibility and limit use are merged first (a count per group), which
keeps the models exact - the integer version counts patients per group and setting - and small
for scenario cohorts built from a few segments.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.quiet import native_stdout_silenced
from optalloc.errors import InfeasibleError

Element = tuple[int, str]  # (limit index, "upper" | "lower")

#: Largest aggregated model (group x setting columns) solved with integrality in the diagnosis.
MAX_INTEGER_COLUMNS = 50_000


@dataclass(frozen=True)
class Relaxation:
    """Moving one bound of one limit from ``current`` to ``needed`` makes a plan possible."""

    limit: str
    side: str
    current: float
    needed: float | None
    unit: str = ""

    def sentence(self) -> str:
        unit = f" {self.unit}" if self.unit else ""
        if self.needed is None:
            return f"changing {self.limit} alone is not enough"
        verb = "raise" if self.side == "upper" else "lower"
        return f"{verb} {self.limit} from {_fmt(self.current)} to {_fmt(self.needed)}{unit}"


@dataclass
class Diagnosis:
    """The outcome: feasible or not, the clashing limits and the single-bound fixes."""

    feasible: bool
    conflict: list[tuple[str, str]] = field(default_factory=list)
    relaxations: list[Relaxation] = field(default_factory=list)
    message: str = ""
    integer_only: bool = False

    def error(self) -> InfeasibleError:
        return InfeasibleError(self.message)

    def raise_if_infeasible(self) -> None:
        if not self.feasible:
            raise self.error()


def _fmt(value: float) -> str:
    return f"{value:.0f}" if abs(value - round(value)) < 1e-9 or abs(value) >= 1000 else f"{value:.4g}"


class _Aggregated:
    """Patients merged by identical (allowed, limit use) rows: group counts and coefficients."""

    def __init__(self, problem: AllocationProblem) -> None:
        key = (
            np.concatenate([problem.allowed.astype(float)] + [lim.coef for lim in problem.limits], axis=1)
            if problem.limits
            else problem.allowed.astype(float)
        )
        _, first, _, counts = np.unique(key, axis=0, return_index=True, return_inverse=True, return_counts=True)
        self.counts = counts.astype(float)
        self.allowed = problem.allowed[first]
        self.coefs = [lim.coef[first] for lim in problem.limits]
        self.group, self.setting = np.nonzero(self.allowed)
        self.n_groups = int(first.shape[0])
        self.problem = problem

    def solve(
        self, active: set[Element], slack: Element | None = None, integral: bool = False, time_limit: float = 10.0
    ) -> tuple[str, float | None]:
        """Feasibility (or least slack on one element) of the model with ``active`` bounds only.

        Returns ``("feasible" | "infeasible" | "unknown", slack value)``.
        """
        import highspy

        inf = highspy.kHighsInf
        problem = self.problem
        ncol = self.group.shape[0]
        assign = sparse.csr_matrix((np.ones(ncol), (self.group, np.arange(ncol))), shape=(self.n_groups, ncol))
        rows = [assign]
        lower = [self.counts]
        upper = [self.counts]
        for k, lim in enumerate(problem.limits):
            coef = self.coefs[k][self.group, self.setting]
            rows.append(sparse.csr_matrix(coef[None, :]))
            lower.append(np.array([lim.lower if (k, "lower") in active and np.isfinite(lim.lower) else -inf]))
            upper.append(np.array([lim.upper if (k, "upper") in active and np.isfinite(lim.upper) else inf]))
        a = sparse.vstack(rows, format="csc")
        cost = np.zeros(ncol)
        col_upper = self.counts[self.group]
        if slack is not None:
            k, side = slack
            col = np.zeros((a.shape[0], 1))
            col[self.n_groups + k, 0] = -1.0 if side == "upper" else 1.0
            a = sparse.hstack([a, sparse.csc_matrix(col)], format="csc")
            cost = np.r_[cost, 1.0]
            col_upper = np.r_[col_upper, inf]
        h = highspy.Highs()
        h.setOptionValue("output_flag", False)
        h.setOptionValue("time_limit", float(time_limit))
        nc = a.shape[1]
        h.passModel(
            int(nc),
            int(a.shape[0]),
            int(a.nnz),
            1,
            1,
            0.0,
            cost,
            np.zeros(nc),
            col_upper,
            np.concatenate(lower),
            np.concatenate(upper),
            a.indptr.astype(np.int32),
            a.indices.astype(np.int32),
            a.data.astype(float),
            np.full(nc, 1 if integral else 0, dtype=np.int32),
        )
        with native_stdout_silenced():
            h.run()
        status = h.getModelStatus()
        if status == highspy.HighsModelStatus.kInfeasible:
            return "infeasible", None
        if status == highspy.HighsModelStatus.kOptimal:
            value = float(np.asarray(h.getSolution().col_value)[-1]) if slack is not None else None
            return "feasible", value
        return "unknown", None


def diagnose(problem: AllocationProblem, time_limit: float = 10.0) -> Diagnosis:
    """Name the clashing limits and the smallest single-bound relaxations.

    Parameters
    ----------
    problem : AllocationProblem
        The instance to examine.
    time_limit : float
        Seconds allowed for each of the small models solved on the way.

    Returns
    -------
    Diagnosis
        ``feasible=True`` (and an empty message) when a plan exists; otherwise the conflict,
        the relaxations and a one-paragraph ``message`` (also used by every backend's
        INFEASIBLE result and by :class:`optalloc.errors.InfeasibleError`).
    """
    agg = _Aggregated(problem)
    elements: list[Element] = []
    for k, lim in enumerate(problem.limits):
        if np.isfinite(lim.upper):
            elements.append((k, "upper"))
        if np.isfinite(lim.lower):
            elements.append((k, "lower"))
    all_active = set(elements)
    integral = agg.group.shape[0] <= MAX_INTEGER_COLUMNS
    status, _ = agg.solve(all_active, time_limit=time_limit)
    integer_only = False
    if status != "infeasible":
        if not integral:
            return Diagnosis(True)
        status, _ = agg.solve(all_active, integral=True, time_limit=time_limit)
        if status != "infeasible":
            return Diagnosis(True)
        integer_only = True

    def infeasible(active: set[Element]) -> bool:
        return agg.solve(active, integral=integer_only, time_limit=time_limit)[0] == "infeasible"

    core = list(elements)
    for element in list(core):
        trial = set(core) - {element}
        if infeasible(trial):
            core.remove(element)

    relaxations = []
    for k, side in core:
        lim = problem.limits[k]
        current = lim.upper if side == "upper" else lim.lower
        status, amount = agg.solve(all_active, slack=(k, side), integral=integral, time_limit=time_limit)
        if status != "feasible" or amount is None:
            relaxations.append(Relaxation(lim.field(side), side, current, None, lim.unit))
            continue
        needed = current + amount if side == "upper" else current - amount
        if lim.kind in ("min_patients", "places", "capacity") or lim.unit == "patients":
            needed = float(np.ceil(needed - 1e-9)) if side == "upper" else float(np.floor(needed + 1e-9))
        relaxations.append(Relaxation(lim.field(side), side, current, needed, lim.unit))

    conflict = [(problem.limits[k].name, side) for k, side in core]
    return Diagnosis(False, conflict, relaxations, _message(problem, core, relaxations, integer_only), integer_only)


def _describe(problem: AllocationProblem, element: Element) -> str:
    k, side = element
    lim = problem.limits[k]
    unit = f" {lim.unit}" if lim.unit else ""
    if side == "upper":
        return f"{lim.field(side)} (at most {_fmt(lim.upper)}{unit})"
    return f"{lim.field(side)} (at least {_fmt(lim.lower)}{unit})"


def _message(problem: AllocationProblem, core: list[Element], relaxations: list[Relaxation], integer_only: bool) -> str:
    parts = [_describe(problem, e) for e in core]
    if len(parts) == 1:
        clash = f"{parts[0]} cannot be met by any plan, whatever the other limits say"
    elif parts:
        clash = "these limits cannot all hold together: " + ", ".join(parts[:-1]) + " and " + parts[-1]
    else:
        clash = "no plan gives every patient an allowed setting"
    if integer_only:
        clash += " (a fractional plan would fit, but whole patients do not)"
    fixes = [r.sentence() for r in relaxations if r.needed is not None]
    advice = (
        "The smallest single changes that make a plan possible: " + ", or ".join(fixes) + "."
        if fixes
        else "No single limit change fixes it; relax several of them."
    )
    return f"The allocation of {problem.name} is infeasible: {clash}. {advice}"


def check_feasible(problem: AllocationProblem, time_limit: float = 10.0) -> None:
    """Raise :class:`InfeasibleError` with the diagnosis when no plan keeps every limit."""
    diagnose(problem, time_limit).raise_if_infeasible()
