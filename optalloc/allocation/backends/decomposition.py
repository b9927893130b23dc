"""Lagrangian decomposition for large cohorts: a proven bound, then a small repair MIP.

Relaxing the few coupling rows with multipliers ``u`` (one per limit, ``u_k >= 0`` prices an
upper bound, ``u_k <= 0`` a lower bound) leaves one independent choice per patient::

    L(u) = sum_i max_{s allowed} (benefit[i, s] - sum_k u_k coef_k[i, s])
           + sum_k max(upper_k * u_k, lower_k * u_k)

``L(u)`` is an upper bound on the optimum for every ``u`` in its domain, and its minimum equals
the LP relaxation bound; the minimising ``u`` are the LP dual prices of the limits. ``L`` is
convex and piecewise linear in a few dozen variables, and each evaluation is one vectorised
argmax over the patients, so it is minimised by Kelley's cutting-plane method with a box trust
region (the master is a tiny LP solved with HiGHS). Large cohorts first solve the dual on a
random sample of patients (bounds scaled to the sample), which puts the multipliers close to
their optimum before any full-size evaluation.

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
from dataclasses import dataclass

import numpy as np

from optalloc.allocation.backends.base import (Backend, SolveOptions, better_plan, infeasible_result, plan_result,
                                               subproblem)
from optalloc.allocation.backends.quiet import native_stdout_silenced
from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult, Status, relative_gap


class LagrangianOracle:
    """Evaluates ``L(u)`` and a subgradient in scaled units.

    Each limit row is divided by the mean magnitude of its non-zero coefficients, so that the
    multipliers of hours, euros and patient counts have similar sizes; ``to_original`` maps
    them back. The coefficients are stored per setting as dense ``(rows touching s, n)``
    blocks, so building the reduced benefits is one matrix-vector product per setting.
    """

    def __init__(self, base: np.ndarray, blocks: list[tuple[np.ndarray, np.ndarray]],
                 lower: np.ndarray, upper: np.ndarray, scale: np.ndarray) -> None:
        self.base = base                # (m, n) benefit, -inf where not allowed
        self.blocks = blocks            # per setting: (row indices, (len, n) scaled coefs)
        self.lower = lower              # scaled bounds
        self.upper = upper
        self.scale = scale              # scaled coef = coef * scale
        self.n_rows = lower.shape[0]

    @classmethod
    def from_problem(cls, problem: AllocationProblem) -> LagrangianOracle:
        n, m = problem.n_patients, problem.n_settings
        base = np.where(problem.allowed, problem.benefit, -np.inf).T.copy()
        k_rows = len(problem.limits)
        scale = np.ones(k_rows)
        touches = np.zeros((k_rows, m), dtype=bool)
        for k, limit in enumerate(problem.limits):
            used = (limit.coef != 0) & problem.allowed
            touches[k] = used.any(axis=0)
            if used.any():
                scale[k] = 1.0 / float(np.abs(limit.coef[used]).mean())
        blocks = []
        for s in range(m):
            rows = np.flatnonzero(touches[:, s])
            block = np.empty((rows.shape[0], n))
            for r, k in enumerate(rows):
                block[r] = problem.limits[k].coef[:, s] * scale[k]
            blocks.append((rows, block))
        lower = np.array([lim.lower for lim in problem.limits], dtype=float) * scale
        upper = np.array([lim.upper for lim in problem.limits], dtype=float) * scale
        return cls(base, blocks, lower, upper, scale)

    def sample(self, idx: np.ndarray, fraction: float) -> LagrangianOracle:
        """The oracle of a patient sample with every bound scaled by ``fraction``."""
        blocks = [(rows, block[:, idx]) for rows, block in self.blocks]
        return LagrangianOracle(self.base[:, idx], blocks, self.lower * fraction,
                                self.upper * fraction, self.scale)

    @property
    def n_patients(self) -> int:
        return int(self.base.shape[1])

    def domain(self) -> tuple[np.ndarray, np.ndarray]:
        """``u_k >= 0`` without a lower bound, ``u_k <= 0`` without an upper bound."""
        lo = np.where(np.isfinite(self.lower), -np.inf, 0.0)
        hi = np.where(np.isfinite(self.upper), np.inf, 0.0)
        return lo, hi

    def reduced(self, u: np.ndarray) -> np.ndarray:
        """``benefit - u . coef`` as an ``(m, n)`` array."""
        red = self.base.copy()
        for s, (rows, block) in enumerate(self.blocks):
            if rows.size and np.any(u[rows] != 0):
                red[s] -= u[rows] @ block
        return red

    @staticmethod
    def choose(red: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Best setting and its reduced benefit per patient (contiguous passes, no axis-0 argmax)."""
        best = red[0].copy()
        choice = np.zeros(red.shape[1], dtype=np.int64)
        for s in range(1, red.shape[0]):
            better = red[s] > best
            choice[better] = s
            np.maximum(best, red[s], out=best)
        return choice, best

    def activity(self, choice: np.ndarray) -> np.ndarray:
        """Scaled row activity ``A x`` of a choice vector."""
        r = np.zeros(self.n_rows)
        for s, (rows, block) in enumerate(self.blocks):
            if rows.size:
                mask = (choice == s).astype(np.float64)
                r[rows] += block @ mask
        return r

    def bound_term(self, u: np.ndarray) -> float:
        up = np.where(u > 0, u * np.where(np.isfinite(self.upper), self.upper, 0.0), 0.0)
        lo = np.where(u < 0, u * np.where(np.isfinite(self.lower), self.lower, 0.0), 0.0)
        return float(up.sum() + lo.sum())

    def evaluate(self, u: np.ndarray) -> tuple[float, np.ndarray, float, np.ndarray]:
        """``(L(u), activity of the maximiser, its benefit, the maximiser)``."""
        choice, best = self.choose(self.reduced(u))
        h = float(best.sum())
        r = self.activity(choice)
        return h + self.bound_term(u), r, h + float(u @ r), choice


@dataclass
class DualResult:
    """Outcome of minimising ``L``: best multipliers (scaled units) and the bound they prove."""

    u: np.ndarray
    bound: float
    iterations: int
    converged: bool
    seconds: float
    unbounded: bool = False


class _Master:
    """Kelley master ``min t + sum_k w_k`` over cuts ``t >= B_j - r_j . u``, in HiGHS."""

    def __init__(self, oracle: LagrangianOracle) -> None:
        import highspy

        self.hs = highspy
        self.k = oracle.n_rows
        self.h = highspy.Highs()
        self.h.setOptionValue("output_flag", False)
        inf = highspy.kHighsInf
        k = self.k
        self.dom_lo, self.dom_hi = oracle.domain()
        # columns: u (k), w (k), t
        cost = np.r_[np.zeros(k), np.ones(k), 1.0]
        lb = np.r_[np.where(np.isfinite(self.dom_lo), self.dom_lo, -inf), np.full(k, -inf), -inf]
        ub = np.r_[np.where(np.isfinite(self.dom_hi), self.dom_hi, inf), np.full(k, inf), inf]
        self.h.addVars(2 * k + 1, lb, ub)
        self.h.changeColsCost(2 * k + 1, np.arange(2 * k + 1, dtype=np.int32), cost)
        for kk in range(k):
            for bound in (oracle.upper[kk], oracle.lower[kk]):
                if np.isfinite(bound):   # w_k - bound * u_k >= 0
                    self.h.addRow(0.0, inf, 2, np.array([k + kk, kk], dtype=np.int32),
                                  np.array([1.0, -bound]))
            if not np.isfinite(oracle.upper[kk]) and not np.isfinite(oracle.lower[kk]):
                self.h.changeColBounds(k + kk, 0.0, 0.0)

    def add_cut(self, r: np.ndarray, benefit: float) -> None:
        """``t + r . u >= B``: the benefit of one choice vector bounds ``h(u)`` from below."""
        k = self.k
        self.h.addRow(benefit, self.hs.kHighsInf, k + 1, np.r_[np.arange(k), 2 * k].astype(np.int32),
                      np.r_[r, 1.0])

    def minimise(self, center: np.ndarray, radius: float) -> tuple[np.ndarray, float] | None:
        lo = np.maximum(self.dom_lo, center - radius)
        hi = np.minimum(self.dom_hi, center + radius)
        self.h.changeColsBounds(self.k, np.arange(self.k, dtype=np.int32), lo, hi)
        with native_stdout_silenced():
            self.h.run()
        if self.h.getModelStatus() != self.hs.HighsModelStatus.kOptimal:
            return None
        x = np.asarray(self.h.getSolution().col_value)
        return x[: self.k].copy(), float(self.h.getInfo().objective_function_value)


def minimise_dual(oracle: LagrangianOracle, u0: np.ndarray, radius: float, tol: float = 1e-6,
                  max_iter: int = 300, time_limit: float = 30.0) -> DualResult:
    """Kelley's cutting planes with a box trust region around the best point (a proximal-like
    stabilisation: serious steps move the centre, null steps only add a cut and shrink the box).

    Stops when the model predicts less than ``tol * |L|`` of further decrease inside the box.
    """
    t0 = time.perf_counter()
    dom_lo, dom_hi = oracle.domain()
    center = np.clip(u0, dom_lo, dom_hi)
    master = _Master(oracle)
    value, r, benefit, _ = oracle.evaluate(center)
    master.add_cut(r, benefit)
    converged = unbounded = False
    radius0 = radius
    it = 0
    for it in range(1, max_iter + 1):
        if time.perf_counter() - t0 > time_limit:
            break
        solved = master.minimise(center, radius)
        if solved is None:
            break
        u, model_value = solved
        predicted = value - model_value
        if predicted <= tol * max(1.0, abs(value)):
            converged = True
            break
        new_value, r, benefit, _ = oracle.evaluate(u)
        master.add_cut(r, benefit)
        box_active = np.max(np.abs(u - center)) >= 0.999 * radius
        decrease = value - new_value
        if decrease >= 0.1 * predicted:
            center, value = u, new_value
            if box_active and decrease >= 0.5 * predicted:
                radius *= 2.0
            elif box_active:
                radius *= 1.5
        else:
            radius = max(radius * 0.6, 1e-9 * radius0)
        if radius > 1e7 * max(1.0, radius0):
            unbounded = True
            break
    return DualResult(center, value, it, converged, time.perf_counter() - t0, unbounded)


def _initial_radius(problem: AllocationProblem) -> float:
    values = problem.benefit[problem.allowed]
    spread = float(values.max() - values.min()) if values.size else 1.0
    return max(spread, 1e-3 * max(1.0, float(np.abs(values).max()) if values.size else 1.0))


def solve_dual(problem: AllocationProblem, oracle: LagrangianOracle, seed: int, tol: float,
               time_limit: float, sample_size: int = 20_000) -> DualResult:
    """Dual solve, warm-started on a random sample when the cohort is large."""
    radius = _initial_radius(problem)
    u0 = np.zeros(oracle.n_rows)
    t0 = time.perf_counter()
    iterations = 0
    n = oracle.n_patients
    if n > 3 * sample_size:
        idx = np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))
        pre = minimise_dual(oracle.sample(idx, sample_size / n), u0, radius, tol=1e-5,
                            time_limit=0.3 * time_limit)
        iterations += pre.iterations
        u0 = pre.u
        radius = max(0.05 * float(np.max(np.abs(u0))) if u0.size else 0.0, 1e-4 * radius)
    result = minimise_dual(oracle, u0, radius, tol=tol, time_limit=time_limit - (time.perf_counter() - t0))
    result.iterations += iterations
    result.seconds = time.perf_counter() - t0
    return result


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

    def __init__(self, dual_tol: float = 2e-7, repair_size: int | None = None,
                 target_gap: float | None = None, polish: bool = True, polish_size: int = 120,
                 polish_stall: int = 40, repair_share: float = 0.4, polish_round_seconds: float = 2.0) -> None:
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
        from optalloc.allocation.backends.highs import HighsBackend

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
        extra: dict[str, object] = {"dual_iterations": dual.iterations, "dual_seconds": dual.seconds,
                                    "dual_converged": dual.converged, "lp_bound": dual.bound}
        target = self.target_gap if self.target_gap is not None else max(options.relative_gap, 1e-4)
        size = self.repair_size or max(300, 60 * len(problem.limits))
        bound = dual.bound
        assignment, objective, whole_bound = self._repair(problem, choice, margin, size, bound, target,
                                                          options, t1, extra)
        if whole_bound is not None:   # the repair covered every patient: its MIP bound is global
            bound = min(bound, whole_bound)
        if options.hint is not None:  # never return less than the plan the caller started from
            start = better_plan(problem, assignment, options.hint)
            if start is not None and (assignment is None or problem.objective_value(start) > objective):
                assignment, objective = start, problem.objective_value(start)
                extra["plan_from"] = "hint"
        if assignment is None:
            infeasible = self._infeasible(problem, build, t1)
            if infeasible is not None:
                return infeasible
            return AllocationResult(Status.NO_SOLUTION, self.name, None, bound, None,
                                    time.perf_counter() - t1, build, duals,
                                    message="the repair MIP found no plan within the time limit", extra=extra)
        if self.polish and relative_gap(objective, bound) > target:
            assignment, objective = self._polish(problem, assignment, objective, bound, target, options,
                                                 t1, extra)
        return plan_result(problem, self.name, assignment, bound, time.perf_counter() - t1,
                           build, duals, options.relative_gap, extra)

    def _infeasible(self, problem: AllocationProblem, build: float, t1: float) -> AllocationResult | None:
        from optalloc.allocation.diagnose import diagnose

        diagnosis = diagnose(problem)
        if diagnosis.feasible:
            return None
        return infeasible_result(problem, self.name, build, time.perf_counter() - t1, diagnosis=diagnosis)

    @staticmethod
    def _sub_solve(problem, free, base, use, options, time_limit, relative_gap, hint):
        """Exact MIP over the ``free`` patients, the others held at ``base`` (total use ``use``)."""
        from optalloc.allocation.backends.highs import HighsBackend

        held_use = use - np.array([lim.usage_of(base, free) for lim in problem.limits])
        sub = subproblem(problem, free, held_use=held_use)
        sub_opts = SolveOptions(time_limit=time_limit, threads=options.threads, relative_gap=relative_gap,
                                seed=options.seed, hint=hint)
        return HighsBackend(duals=False, diagnose=False).solve(sub, sub_opts)

    def _repair(self, problem, choice, margin, size, bound, target, options, t1, extra):
        """Free the smallest-margin patients, solve the repair MIP, enlarge while it pays.

        Returns the plan, its objective and, when the repair covered every patient and ended
        with a bound, that bound (then valid for the whole problem).
        """
        n = problem.n_patients
        order = np.argsort(margin, kind="stable")
        best, best_value, whole_bound = None, -np.inf, None
        rounds = 0
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
            res = self._sub_solve(problem, free, base, use, options, min(max(remaining, 0.5), cap), sub_gap,
                                  best[free] if best is not None else None)
            extra[f"repair_{rounds}"] = {"patients": int(size), "status": res.status.value,
                                         "seconds": round(res.seconds, 3)}
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
                    if gap <= target or (improved and rounds >= 4) or size >= n:
                        break
                elif best is not None:
                    break
            if size >= n or rounds >= 5:
                break
            size = min(n, size * 4)
        extra["repair_patients"] = int(size)
        extra["repair_rounds"] = rounds
        return best, best_value, whole_bound

    def _polish(self, problem, assignment, objective, bound, target, options, t1, extra):
        """Large-neighbourhood search: re-solve the patients of a few random settings exactly."""
        n, m = problem.n_patients, problem.n_settings
        rng = np.random.default_rng(options.seed)
        use = np.array([lim.usage(assignment) for lim in problem.limits])
        stall = rounds = accepted = 0
        start = objective
        while stall < self.polish_stall:
            remaining = options.time_limit - (time.perf_counter() - t1)
            if remaining <= 0.1 or relative_gap(objective, bound) <= target:
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
            res = self._sub_solve(problem, free, assignment, use, options,
                                  min(remaining, self.polish_round_seconds), 1e-9,
                                  assignment[free])
            stall += 1
            if res.status.has_plan:
                candidate = assignment.copy()
                candidate[free] = res.assignment
                value = problem.objective_value(candidate)
                if value > objective + 1e-9 * max(1.0, abs(objective)) and problem.is_feasible(candidate):
                    assignment, objective = candidate, value
                    use = np.array([lim.usage(assignment) for lim in problem.limits])
                    stall, accepted = 0, accepted + 1
        extra["polish"] = {"rounds": rounds, "accepted": accepted, "gain": objective - start}
        return assignment, objective


def lagrangian_prices(problem: AllocationProblem, seed: int = 0,
                      time_limit: float = 30.0) -> tuple[dict[str, float], float]:
    """LP dual prices of the limits and the LP bound, from the Lagrangian dual alone.

    The exact backends use this instead of their own LP relaxation on large cohorts, where a
    simplex solve of the relaxation is slower than the whole decomposition.
    """
    oracle = LagrangianOracle.from_problem(problem)
    dual = solve_dual(problem, oracle, seed, 2e-7, time_limit)
    prices = {lim.name: float(dual.u[k] * oracle.scale[k]) for k, lim in enumerate(problem.limits)}
    return prices, dual.bound
