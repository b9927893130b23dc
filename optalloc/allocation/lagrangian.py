"""The Lagrangian dual of the allocation problem, as a service for adapters and algorithms.

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

The exact adapters take their marginal values from :func:`lagrangian_prices` on large cohorts;
the decomposition (``algorithms/decomposition.py``) builds its plan on :func:`solve_dual`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.quiet import native_stdout_silenced


class LagrangianOracle:
    """Evaluates ``L(u)`` and a subgradient in scaled units.

    Each limit row is divided by the mean magnitude of its non-zero coefficients, so that the
    multipliers of hours, euros and patient counts have similar sizes; ``to_original`` maps
    them back. The coefficients are stored per setting as dense ``(rows touching s, n)``
    blocks, so building the reduced benefits is one matrix-vector product per setting.
    """

    def __init__(
        self,
        base: np.ndarray,
        blocks: list[tuple[np.ndarray, np.ndarray]],
        lower: np.ndarray,
        upper: np.ndarray,
        scale: np.ndarray,
    ) -> None:
        self.base = base  # (m, n) benefit, -inf where not allowed
        self.blocks = blocks  # per setting: (row indices, (len, n) scaled coefs)
        self.lower = lower  # scaled bounds
        self.upper = upper
        self.scale = scale  # scaled coef = coef * scale
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
            for r, k in enumerate(rows):  # type: ignore[assignment]
                block[r] = problem.limits[k].coef[:, s] * scale[k]
            blocks.append((rows, block))
        lower = np.array([lim.lower for lim in problem.limits], dtype=float) * scale
        upper = np.array([lim.upper for lim in problem.limits], dtype=float) * scale
        return cls(base, blocks, lower, upper, scale)

    def sample(self, idx: np.ndarray, fraction: float) -> LagrangianOracle:
        """The oracle of a patient sample with every bound scaled by ``fraction``."""
        blocks = [(rows, block[:, idx]) for rows, block in self.blocks]
        return LagrangianOracle(self.base[:, idx], blocks, self.lower * fraction, self.upper * fraction, self.scale)

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
        return np.stack([self._reduced_row(s, u) for s in range(len(self.blocks))])

    def _reduced_row(self, s: int, u: np.ndarray) -> np.ndarray:
        """Row ``s`` of :meth:`reduced` (the base row itself when no priced limit touches it)."""
        rows, block = self.blocks[s]
        if rows.size and np.any(u[rows] != 0):
            return self.base[s] - u[rows] @ block
        return self.base[s]

    def choose_reduced(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`choose` of :meth:`reduced`, a setting at a time: the same numbers without
        building the ``(m, n)`` array each dual step (on 1M x 6, a 48 MB copy saved 40 times)."""
        best = self._reduced_row(0, u).copy()
        choice = np.zeros(best.shape[0], dtype=np.int64)
        for s in range(1, len(self.blocks)):
            row = self._reduced_row(s, u)
            choice[row > best] = s
            np.maximum(best, row, out=best)
        return choice, best

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
        choice, best = self.choose_reduced(u)
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


class _CuttingPlaneMaster:
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
                if np.isfinite(bound):  # w_k - bound * u_k >= 0
                    self.h.addRow(0.0, inf, 2, np.array([k + kk, kk], dtype=np.int32), np.array([1.0, -bound]))
            if not np.isfinite(oracle.upper[kk]) and not np.isfinite(oracle.lower[kk]):
                self.h.changeColBounds(k + kk, 0.0, 0.0)

    def add_cut(self, r: np.ndarray, benefit: float) -> None:
        """``t + r . u >= B``: the benefit of one choice vector bounds ``h(u)`` from below."""
        k = self.k
        self.h.addRow(benefit, self.hs.kHighsInf, k + 1, np.r_[np.arange(k), 2 * k].astype(np.int32), np.r_[r, 1.0])

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


def minimise_dual(
    oracle: LagrangianOracle,
    u0: np.ndarray,
    radius: float,
    tol: float = 1e-6,
    max_iter: int = 300,
    time_limit: float = 30.0,
) -> DualResult:
    """Kelley's cutting planes with a box trust region around the best point (a proximal-like
    stabilisation: serious steps move the centre, null steps only add a cut and shrink the box).

    Stops when the model predicts less than ``tol * |L|`` of further decrease inside the box.
    """
    t0 = time.perf_counter()
    dom_lo, dom_hi = oracle.domain()
    center = np.clip(u0, dom_lo, dom_hi)
    master = _CuttingPlaneMaster(oracle)
    value, r, benefit, _ = oracle.evaluate(center)
    master.add_cut(r, benefit)
    converged = unbounded = False
    radius0 = radius
    it = 0
    for it in range(1, max_iter + 1):  # noqa: B007 - the count is reported after the loop
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
    values = problem.allowed_benefits()
    spread = float(values.max() - values.min()) if values.size else 1.0
    return max(spread, 1e-3 * max(1.0, float(np.abs(values).max()) if values.size else 1.0))


def solve_dual(
    problem: AllocationProblem,
    oracle: LagrangianOracle,
    seed: int,
    tol: float,
    time_limit: float,
    sample_size: int = 20_000,
) -> DualResult:
    """Dual solve, warm-started on a random sample when the cohort is large."""
    radius = _initial_radius(problem)
    u0 = np.zeros(oracle.n_rows)
    t0 = time.perf_counter()
    iterations = 0
    n = oracle.n_patients
    if n > 3 * sample_size:
        idx = np.sort(np.random.default_rng(seed).choice(n, size=sample_size, replace=False))
        pre = minimise_dual(oracle.sample(idx, sample_size / n), u0, radius, tol=1e-5, time_limit=0.3 * time_limit)
        iterations += pre.iterations
        u0 = pre.u
        radius = max(0.05 * float(np.max(np.abs(u0))) if u0.size else 0.0, 1e-4 * radius)
    result = minimise_dual(oracle, u0, radius, tol=tol, time_limit=time_limit - (time.perf_counter() - t0))
    result.iterations += iterations
    result.seconds = time.perf_counter() - t0
    return result


def lagrangian_prices(
    problem: AllocationProblem, seed: int = 0, time_limit: float = 30.0
) -> tuple[dict[str, float], float]:
    """LP dual prices of the limits and the LP bound, from the Lagrangian dual alone.

    The exact backends use this instead of their own LP relaxation on large cohorts, where a
    simplex solve of the relaxation is slower than the whole decomposition.
    """
    oracle = LagrangianOracle.from_problem(problem)
    dual = solve_dual(problem, oracle, seed, 2e-7, time_limit)
    prices = {lim.name: float(dual.u[k] * oracle.scale[k]) for k, lim in enumerate(problem.limits)}
    return prices, dual.bound
