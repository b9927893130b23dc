"""Lagrangian decomposition for large cohorts: a proven bound, then a small repair MIP.

The bound is the Lagrangian dual of the coupling rows (``optalloc/allocation/lagrangian.py``).

At the optimal ``u`` almost every patient has a strict best setting; only about as many
patients as there are coupling rows are split in the LP. The plan keeps each patient's best
setting, frees the patients with the smallest margin between their best and second-best
reduced benefit, and solves a repair MIP (HiGHS) over the freed patients with the limits
shifted by the use of the held ones. The certified gap is ``(L(u*) - objective) / |L(u*)|``.
If the gap is still above target and time remains, a large-neighbourhood search re-solves a
few dozen patients at a time exactly (those of a few random settings) and keeps improvements;
on small instances, where the repair covers everybody, the repair MIP's own bound also counts.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace

import numpy as np

from optalloc.allocation.backends.base import Backend, SolveOptions
from optalloc.allocation.backends.highs import HighsBackend
from optalloc.allocation.lagrangian import LagrangianOracle, solve_dual
from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult, RepairRound, SolverReport, relative_gap
from optalloc.allocation.structure import (
    better_plan,
    infeasible_result,
    no_plan_result,
    plan_result,
    subproblem,
)


@dataclass(frozen=True)
class Repair:
    """What the repair step found: the best plan (None if no round found one), its objective,
    the whole problem's bound when a round covered every patient, and each round."""

    assignment: np.ndarray | None
    objective: float
    whole_bound: float | None
    rounds: tuple[RepairRound, ...]


@dataclass(frozen=True)
class Polish:
    """The plan after the neighbourhood search, its objective, rounds tried and accepted, gain."""

    assignment: np.ndarray
    objective: float
    rounds: int
    accepted: int
    gain: float


class DecompositionBackend(Backend):
    """Lagrangian bound plus repair MIP, then neighbourhood search; scales to millions of patients.

    Parameters
    ----------
    dual_tol : float
        Relative accuracy to which ``L(u)`` is minimised.
    repair_size : int or None
        Patients freed in the first repair MIP (default ``max(300, 60 * limits)``).
    target_gap : float or None
        Certified gap at which to stop improving (default: the options' gap, but no smaller
        than 1e-4; the repair MIPs are solved to a fifth of it).
    polish : bool
        While time remains and the gap is above target, improve the plan by large-neighbourhood
        search: free about ``polish_size`` patients (those of a few random settings, or a random
        sample), re-solve them exactly with the rest held, keep improvements. Stops after
        ``polish_stall`` rounds without improvement. Off for quick warm starts.
    repair_share, polish_round_seconds : float
        Time caps: the repair MIP gets at most ``repair_share`` of the time limit (at least 2 s),
        each neighbourhood MIP at most ``polish_round_seconds``.
    """

    name = "decomp"
    description = "Lagrangian relaxation (cutting-plane dual) + HiGHS repair MIP + LNS; proven bound"

    def __init__(
        self,
        dual_tol: float = 2e-7,
        repair_size: int | None = None,
        target_gap: float | None = None,
        polish: bool = True,
        polish_size: int = 120,
        polish_stall: int = 40,
        repair_share: float = 0.4,
        polish_round_seconds: float = 2.0,
    ) -> None:
        self.dual_tol = dual_tol
        self.repair_size = repair_size
        self.target_gap = target_gap
        self.polish = polish
        self.polish_size = polish_size
        self.polish_stall = polish_stall
        self.repair_share = repair_share
        self.polish_round_seconds = polish_round_seconds

    @classmethod
    def is_available(cls) -> bool:
        return HighsBackend.is_available()

    def solve(self, problem: AllocationProblem, options: SolveOptions) -> AllocationResult:
        t0 = time.perf_counter()
        oracle = LagrangianOracle.from_problem(problem)
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        dual = solve_dual(problem, oracle, options.seed, self.dual_tol, 0.5 * options.time_limit)
        if dual.unbounded:
            # L(u) falling without limit is the dual image of an infeasible LP: confirm and explain.
            infeasible = self._infeasible(problem, build, t1)
            if infeasible is not None:
                return infeasible
        duals = {lim.name: float(dual.u[k] * oracle.scale[k]) for k, lim in enumerate(problem.limits)}
        red = oracle.reduced(dual.u)
        choice, _ = oracle.choose(red)
        order = np.sort(red, axis=0)
        margin = order[-1] - order[-2] if red.shape[0] > 1 else np.full(red.shape[1], np.inf)
        margin = np.nan_to_num(margin, nan=np.inf, posinf=np.inf)
        del red, order
        target = self.target_gap if self.target_gap is not None else max(options.relative_gap, 1e-4)
        size = self.repair_size or max(300, 60 * len(problem.limits))
        bound = dual.bound
        repair = self._repair(problem, choice, margin, size, bound, target, options, t1)
        assignment, objective = repair.assignment, repair.objective
        report = SolverReport(
            lp_bound=dual.bound,
            dual_iterations=dual.iterations,
            dual_seconds=dual.seconds,
            dual_converged=dual.converged,
            repair=repair.rounds,
        )
        whole_bound = repair.whole_bound
        if whole_bound is not None:  # the repair covered every patient: its MIP bound is global
            bound = min(bound, whole_bound)
        if options.hint is not None:  # never return less than the plan the caller started from
            start = better_plan(problem, assignment, options.hint)
            if start is not None and (assignment is None or problem.objective_value(start) > objective):
                assignment, objective = start, problem.objective_value(start)
                report = replace(report, plan_from="hint")
        if assignment is None:
            infeasible = self._infeasible(problem, build, t1)
            if infeasible is not None:
                return infeasible
            return no_plan_result(
                self.name,
                bound,
                time.perf_counter() - t1,
                build,
                duals,
                message="the repair MIP found no plan within the time limit",
                report=report,
            )
        if self.polish and relative_gap(objective, bound) > target:  # type: ignore[operator]
            polished = self._polish(problem, assignment, objective, bound, target, options, t1)
            assignment, objective = polished.assignment, polished.objective
            report = replace(
                report, polish_rounds=polished.rounds, polish_accepted=polished.accepted, polish_gain=polished.gain
            )
        return plan_result(
            problem, self.name, assignment, bound, time.perf_counter() - t1, build, duals, options.relative_gap, report
        )

    def _infeasible(self, problem: AllocationProblem, build: float, t1: float) -> AllocationResult | None:
        from optalloc.allocation.diagnose import diagnose

        diagnosis = diagnose(problem)
        if diagnosis.feasible:
            return None
        return infeasible_result(problem, self.name, build, time.perf_counter() - t1, diagnosis=diagnosis)

    @staticmethod
    def _sub_solve(problem, free, base, use, options, time_limit, relative_gap, hint):
        """Exact MIP over the ``free`` patients, the others held at ``base`` (total use ``use``)."""
        held_use = use - np.array([lim.usage_of(base, free) for lim in problem.limits])
        sub = subproblem(problem, free, held_use=held_use)
        sub_opts = SolveOptions(
            time_limit=time_limit, threads=options.threads, relative_gap=relative_gap, seed=options.seed, hint=hint
        )
        return HighsBackend(duals=False, diagnose=False).solve(sub, sub_opts)

    def _repair(
        self,
        problem: AllocationProblem,
        choice: np.ndarray,
        margin: np.ndarray,
        size: int,
        bound: float,
        target: float,
        options: SolveOptions,
        t1: float,
    ) -> Repair:
        """Free the smallest-margin patients (``margin``: how far each patient's best setting
        leads its second at the dual prices), solve the repair MIP around the price-optimal
        ``choice``, enlarge while it pays, until ``target`` gap against ``bound``.

        Returns the plan, its objective, each round and, when the repair covered every patient
        and ended with a bound, that bound (then valid for the whole problem).
        """
        n = problem.n_patients
        order = np.argsort(margin, kind="stable")
        best, best_value, whole_bound = None, -np.inf, None
        rounds = 0
        history: list[RepairRound] = []
        size = min(size, n)
        while True:
            rounds += 1
            remaining = options.time_limit - (time.perf_counter() - t1)
            if remaining <= 0.05 and best is not None:
                break
            free = np.sort(order[:size])
            base = best if best is not None else choice
            use = np.array([lim.usage(base) for lim in problem.limits])
            scale = float(np.abs(problem.benefit[free]).max(axis=1).sum()) or 1.0
            # a fifth of the target gap, in the units of the freed patients' objective
            sub_gap = float(np.clip(0.2 * target * max(1.0, abs(bound)) / scale, 1e-6, 1e-2))
            # the repair's own optimality matters less than the LP bound's gap: cap its time
            cap = max(2.0, self.repair_share * options.time_limit)
            res = self._sub_solve(
                problem,
                free,
                base,
                use,
                options,
                min(max(remaining, 0.5), cap),
                sub_gap,
                best[free] if best is not None else None,
            )
            history.append(RepairRound(int(size), res.status, round(res.seconds, 3)))
            if res.status.has_plan:
                candidate = base.copy()
                candidate[free] = res.assignment
                value = problem.objective_value(candidate)
                if problem.is_feasible(candidate) and value > best_value + 1e-12 * max(1.0, abs(value)):
                    improved = best is not None
                    best, best_value = candidate, value
                    if size >= n and res.bound is not None:
                        whole_bound = float(res.bound)
                    gap = relative_gap(value, bound)
                    if (gap is not None and gap <= target) or (improved and rounds >= 4) or size >= n:
                        break
                elif best is not None:
                    break
            if size >= n or rounds >= 5:
                break
            size = min(n, size * 4)
        return Repair(best, best_value, whole_bound, tuple(history))

    def _polish(
        self,
        problem: AllocationProblem,
        assignment: np.ndarray,
        objective: float,
        bound: float,
        target: float,
        options: SolveOptions,
        t1: float,
    ) -> Polish:
        """Large-neighbourhood search: re-solve the patients of a few random settings exactly,
        until ``target`` gap against ``bound`` or ``polish_stall`` rounds without a gain."""
        n, m = problem.n_patients, problem.n_settings
        rng = np.random.default_rng(options.seed)
        use = np.array([lim.usage(assignment) for lim in problem.limits])
        stall = rounds = accepted = 0
        start = objective
        while stall < self.polish_stall:
            remaining = options.time_limit - (time.perf_counter() - t1)
            gap = relative_gap(objective, bound)
            if remaining <= 0.1 or (gap is not None and gap <= target):
                break
            rounds += 1
            # about `size` patients: those of k random settings (k ~ size * m / n), or, one round
            # in four, a random sample of the whole cohort
            size = min(self.polish_size, max(20, n // 2))
            if rounds % 4 == 0:
                pool = rng.choice(n, size=min(size, n), replace=False)
            else:
                k = int(np.clip(round(size * m / n * rng.uniform(0.7, 1.3)), 2, m))
                settings = rng.choice(m, size=k, replace=False)
                pool = np.flatnonzero(np.isin(assignment, settings))
                if pool.size > size:
                    pool = rng.choice(pool, size=size, replace=False)
            if pool.size == 0:
                stall += 1
                continue
            free = np.sort(pool)
            res = self._sub_solve(
                problem,
                free,
                assignment,
                use,
                options,
                min(remaining, self.polish_round_seconds),
                1e-9,
                assignment[free],
            )
            stall += 1
            if res.status.has_plan:
                candidate = assignment.copy()
                candidate[free] = res.assignment
                value = problem.objective_value(candidate)
                if value > objective + 1e-9 * max(1.0, abs(objective)) and problem.is_feasible(candidate):
                    assignment, objective = candidate, value
                    use = np.array([lim.usage(assignment) for lim in problem.limits])
                    stall, accepted = 0, accepted + 1
        return Polish(assignment, objective, rounds, accepted, objective - start)
