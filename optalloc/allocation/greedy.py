"""The current-practice baseline: fill each setting by priority until a limit binds.

Planners today start everyone at the default clinic; first they meet any floor (a minimum number
of patients in a setting, an equity share) with the patients who count towards it and take the
least capacity; then, setting by setting (in the order the scenario lists them), they move the
highest-priority eligible patients there until the next move would break an upper limit. The optimum is reported beside this plan so the gain of optimising
is visible; it must never be worse.
"""

from __future__ import annotations

import time

import numpy as np

from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult, SolverReport, Status


def _usage(problem: AllocationProblem, assignment: np.ndarray) -> np.ndarray:
    return np.array([lim.usage(assignment) for lim in problem.limits])


#: Candidates whose moves are summed at a time (then twice as many): a setting's prefix usually
#: stops long before its last candidate, so the rest is never gathered nor summed.
PREFIX_CHUNK = 65_536


def _prefix_stop(
    problem: AllocationProblem, use: np.ndarray, upper: np.ndarray, candidates: np.ndarray, s: int
) -> tuple[np.ndarray, int]:
    """Cumulative row use if ``candidates`` move to ``s`` in order (up to the first that does not
    fit, or all), and how many fit under the uppers.

    Summed chunk by chunk, each chunk's running sum continued from the last one's final value:
    the same sequential additions as one ``cumsum`` over all candidates, so the same numbers.
    """
    d = problem.default_setting
    tol = 1e-9 * np.maximum(1.0, np.abs(np.where(np.isfinite(upper), upper, 0.0)))
    ceiling = (upper + tol)[:, None]
    parts: list[np.ndarray] = []
    start, size, running = 0, PREFIX_CHUNK, None
    while start < candidates.size:
        chunk = candidates[start : start + size]
        delta = np.stack([lim.coef[chunk, s] - lim.coef[chunk, d] for lim in problem.limits])
        if running is None:
            sums = np.cumsum(delta, axis=1)
        else:
            sums = np.cumsum(np.concatenate([running[:, None], delta], axis=1), axis=1)[:, 1:]
        cum = use[:, None] + sums
        parts.append(cum)
        breaks = (cum > ceiling).any(axis=0)
        if breaks.any():
            return np.concatenate(parts, axis=1), start + int(np.argmax(breaks))
        running, start, size = sums[:, -1], start + chunk.size, 2 * size
    return np.concatenate(parts, axis=1), candidates.size


def _capacity_share(problem: AllocationProblem, s: int) -> np.ndarray:
    """Each patient's use of setting ``s`` as a summed share of every finite upper limit."""
    share = np.zeros(problem.n_patients)
    for limit in problem.limits:
        if np.isfinite(limit.upper) and limit.upper > 0:
            share += np.maximum(limit.coef[:, s], 0.0) / limit.upper
    return share


def _meet_floors(problem: AllocationProblem, assignment: np.ndarray) -> None:
    """Move default-setting patients who count towards an unmet floor until it holds.

    Floors over the fewest patients go first (an equity group before a setting's overall
    minimum), since patients moved for a narrow floor also count towards a broad one. A quota is
    filled with the patients who use the least capacity (the summed share of every upper limit),
    as a planner meeting a quota picks patients quick to serve; priority then drives the rest.
    """
    d, rows = problem.default_setting, np.arange(problem.n_patients)
    upper = np.array([lim.upper for lim in problem.limits], dtype=float)
    floors = [k for k, limit in enumerate(problem.limits) if np.isfinite(limit.lower)]
    floors.sort(key=lambda k: int((problem.limits[k].coef != 0).any(axis=1).sum()))
    for k in floors:
        limit = problem.limits[k]
        for s in range(problem.n_settings):
            use = _usage(problem, assignment)
            if s == d or use[k] >= limit.lower - 1e-9:
                continue
            counts = limit.coef[:, s] - limit.coef[rows, assignment]
            candidates = np.flatnonzero((assignment == d) & problem.allowed[:, s] & (counts > 0))
            if candidates.size == 0:
                continue
            key = -_capacity_share(problem, s)[candidates]
            candidates = candidates[np.argsort(-key, kind="stable")]
            cum, fits = _prefix_stop(problem, use, upper, candidates, s)
            reached = np.flatnonzero(cum[k] >= limit.lower - 1e-9)
            stop = min(fits, int(reached[0]) + 1 if reached.size else candidates.size)
            assignment[candidates[:stop]] = s


def greedy_allocation(problem: AllocationProblem, priority: np.ndarray | None = None) -> AllocationResult:
    """Fill the non-default settings in order, patients by descending priority.

    Parameters
    ----------
    problem : AllocationProblem
        The instance; patients not allowed the default start at their best allowed setting.
    priority : ndarray of shape (n_patients,), optional
        Order in which patients are offered each setting (higher first). By default a patient's
        priority for setting ``s`` is the benefit gain ``benefit[i, s] - benefit[i, default]``.
        Only moves with a positive gain are made, as a planner would.

    Returns
    -------
    AllocationResult
        ``solver="greedy"``, status FEASIBLE, objective of the plan and no bound; INFEASIBLE
        (with the attempted plan in ``report.attempted_assignment``) when the plan misses a
        lower bound or the all-default start already breaks an upper bound.

    Notes
    -----
    Each setting is filled as a prefix of the priority order: the prefix stops at the first
    patient whose move would push any upper limit over (``cumsum`` of the moves' row deltas),
    which is "until a limit binds" without a loop over patients.
    """
    t0 = time.perf_counter()
    n, m = problem.n_patients, problem.n_settings
    rows = np.arange(n)
    d = problem.default_setting
    fallback = np.where(problem.allowed, problem.benefit, -np.inf).argmax(axis=1)
    assignment = np.where(problem.allowed[:, d], d, fallback).astype(np.int64)
    upper = np.array([lim.upper for lim in problem.limits], dtype=float)
    if priority is not None:
        priority = np.asarray(priority, dtype=float)
        if priority.shape != (n,):
            raise ValueError(f"priority must have shape ({n},), got {priority.shape}")

    _meet_floors(problem, assignment)
    use = _usage(problem, assignment)
    for s in range(m):
        if s == d:
            continue
        gain = problem.benefit[:, s] - problem.benefit[rows, assignment]
        candidates = np.flatnonzero((assignment == d) & problem.allowed[:, s] & (gain > 0))
        if candidates.size == 0:
            continue
        key = gain[candidates] if priority is None else priority[candidates]
        candidates = candidates[np.argsort(-key, kind="stable")]
        stop = candidates.size
        if problem.limits:
            cum, stop = _prefix_stop(problem, use, upper, candidates, s)
            if stop:  # the running use after the last move that fits
                use = cum[:, stop - 1]
        assignment[candidates[:stop]] = s

    seconds = time.perf_counter() - t0
    objective = problem.objective_value(assignment)
    broken = problem.violations(assignment)
    if broken:
        listed = ", ".join(f"{name} by {amount:.4g}" for name, amount in broken.items())
        return AllocationResult(
            Status.INFEASIBLE,
            "greedy",
            None,
            None,
            None,
            seconds,
            message=f"The priority-order plan breaks {listed}.",
            report=SolverReport(attempted_assignment=assignment, attempted_objective=objective),
        )
    return AllocationResult(
        Status.FEASIBLE,
        "greedy",
        objective,
        None,
        assignment,
        seconds,
        report=SolverReport(priority="benefit gain" if priority is None else "given"),
    )
