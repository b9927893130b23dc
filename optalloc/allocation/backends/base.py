"""The one interface every solver backend implements, and the options they share."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult


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
