"""Solver backends by name: adding one is writing its module and one line in :data:`BACKENDS`.

================  ==========================================================================
``highs``         HiGHS MIP from arrays; exact, best for small and medium cohorts
``cbc``           CBC through PuLP; exact, the reference the acceptance checks compare with
``cpsat``         OR-Tools CP-SAT on an integer rescaling, started from the decomposition
``decomp``        Lagrangian bound + repair MIP; certified gap, scales to millions of patients
``colgen``        Dantzig-Wolfe column generation + diving; one capacity row per setting (GAP)
================  ==========================================================================

The adapters (``backends/``) talk to one solver library each; the algorithms (``algorithms/``)
are built on the adapters and on the Lagrangian service. Both sit behind the same
:class:`~optalloc.allocation.backends.base.Backend` interface, so callers never tell them apart.
"""

from __future__ import annotations

from optalloc.allocation.algorithms.colgen import ColumnGenerationBackend
from optalloc.allocation.algorithms.decomposition import DecompositionBackend
from optalloc.allocation.algorithms.warm_cpsat import WarmStartedCpSat
from optalloc.allocation.backends.base import Backend
from optalloc.allocation.backends.cbc import CbcBackend
from optalloc.allocation.backends.highs import HighsBackend
from optalloc.errors import OptallocError

BACKENDS: dict[str, type[Backend]] = {
    "cbc": CbcBackend,
    "cpsat": WarmStartedCpSat,
    "highs": HighsBackend,
    "decomp": DecompositionBackend,
    "colgen": ColumnGenerationBackend,
}


def available_backends() -> list[str]:
    """Names of the backends whose libraries import on this machine."""
    return [name for name, cls in BACKENDS.items() if cls.is_available()]


def get_backend(name: str) -> Backend:
    """A backend instance by name; the error lists the valid names."""
    if name not in BACKENDS:
        raise OptallocError(f"The solver must be one of {', '.join(['auto', *BACKENDS])}. Got {name!r} instead.")
    cls = BACKENDS[name]
    if not cls.is_available():
        raise OptallocError(
            f"The solver {name!r} is not available on this machine (its library does not import); "
            f"use one of {', '.join(available_backends())}."
        )
    return cls()
