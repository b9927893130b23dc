"""The one interface every solver backend implements, and the options they share."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult, Run


@dataclass(frozen=True)
class SolveOptions:
    """Options every backend honours (each maps them to its own parameter names).

    ``hint`` is a feasible or near-feasible assignment (setting index per patient) a backend
    may start from; ``relative_gap`` is the gap at which a solve may stop and call the plan
    optimal.
    """

    time_limit: float = 60.0
    threads: int = 2
    relative_gap: float = 1e-6
    seed: int = 0
    hint: np.ndarray | None = None
    verbose: bool = False


class Backend(ABC):
    """A solver behind the common interface; builds its own model from the problem arrays."""

    name: ClassVar[str]
    description: ClassVar[str] = ""

    @classmethod
    def is_available(cls) -> bool:
        """True if the backend's library imports on this machine."""
        return True

    @abstractmethod
    def solve(self, problem: AllocationProblem, options: SolveOptions) -> AllocationResult:
        """Build the model from ``problem``, solve it and translate the outcome."""


class Adapter(Backend):
    """One solver library behind a template ``solve``: build its model, run it, finalise.

    This is the shape of linopy's ``Solver``: an adapter writes only :meth:`build` (the
    problem's arrays in the library's own terms) and :meth:`run` (solve and read back a
    :class:`Run`); the bound rounding, the status and the result are the shared
    :func:`~optalloc.allocation.structure.finalise`, so no two adapters can disagree on them.
    """

    def solve(self, problem: AllocationProblem, options: SolveOptions) -> AllocationResult:
        from optalloc.allocation.structure import finalise

        t0 = time.perf_counter()
        model = self.build(problem, options)
        build = time.perf_counter() - t0
        t1 = time.perf_counter()
        run = self.run(model, problem, options, build)
        return finalise(problem, self.name, run, build, time.perf_counter() - t1, options.relative_gap)

    @abstractmethod
    def build(self, problem: AllocationProblem, options: SolveOptions) -> Any:
        """The solver's model of ``problem`` (whatever the library needs to run it)."""

    @abstractmethod
    def run(self, model: Any, problem: AllocationProblem, options: SolveOptions, build_seconds: float) -> Run:
        """Solve ``model`` within the time left and say how it ended."""
