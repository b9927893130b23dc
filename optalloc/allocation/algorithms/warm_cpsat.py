"""CP-SAT started from the decomposition: the backend registered as ``cpsat``.

CP-SAT alone rarely proves these optima and, from 10k patients, often returns only its hint;
the decomposition gives it, within a few seconds, a plan to start from, the LP bound (always
valid, whatever CP-SAT's integer rescaling does) and the limits' marginal values.
"""

from __future__ import annotations

import time
from dataclasses import replace

from optalloc.allocation.algorithms.decomposition import DecompositionBackend
from optalloc.allocation.backends.base import Backend, SolveOptions
from optalloc.allocation.backends.cpsat import CpSatBackend, Prior
from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult, Status
from optalloc.allocation.structure import better_plan


class WarmStartedCpSat(Backend):
    """The decomposition's plan, bound and prices, then CP-SAT.

    Parameters
    ----------
    warm_start : bool
        Start from the better of ``options.hint`` and the decomposition's plan (else from the
        hint alone; the bound and prices still come from the decomposition).
    """

    name = "cpsat"
    description = "OR-Tools CP-SAT on an integer rescaling; hint from the decomposition"

    def __init__(self, warm_start: bool = True) -> None:
        self.warm_start = warm_start

    @classmethod
    def is_available(cls) -> bool:
        return CpSatBackend.is_available() and DecompositionBackend.is_available()

    def solve(self, problem: AllocationProblem, options: SolveOptions) -> AllocationResult:
        t_start = time.perf_counter()
        pre = DecompositionBackend().solve(
            problem,
            SolveOptions(
                time_limit=min(10.0, 0.3 * options.time_limit),
                threads=options.threads,
                relative_gap=options.relative_gap,
                seed=options.seed,
            ),
        )
        if pre.status == Status.INFEASIBLE:
            return replace(pre, solver=self.name)
        hint = options.hint
        if self.warm_start:
            hint = better_plan(problem, options.hint, pre.assignment)
            if hint is None:
                hint = options.hint
        lp_bound = pre.report.lp_bound
        prior = Prior(
            hint=hint,
            lp_bound=lp_bound,
            duals=pre.duals,
            seconds=time.perf_counter() - t_start,
            repair_hint=options.hint is not None,
        )
        return CpSatBackend(prior).solve(problem, options)
