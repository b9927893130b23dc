"""ortools and highspy both ship HiGHS; highspy 1.12 beside ortools 9.15 must work in one
process, in either import order, with every backend solving in the same process."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from optalloc.allocation.problem import AllocationProblem, Limit

SCRIPT = """
import importlib, numpy as np
for module in {order!r}:
    importlib.import_module(module)
from optalloc.allocation.backends.base import SolveOptions
from optalloc.allocation.registry import BACKENDS
from optalloc.allocation.problem import AllocationProblem, Limit
coef = np.zeros((3, 2)); coef[:, 1] = 1.0
p = AllocationProblem(np.arange(3), ("a", "b"), np.array([[1., 3.], [1., 2.], [1., 4.]]),
                      np.ones((3, 2), bool), (Limit("cap", coef, upper=2.0),))
for name, cls in BACKENDS.items():
    r = cls().solve(p, SolveOptions(time_limit=5))
    assert abs(r.objective - 8.0) < 1e-9, (name, r)
print("ok", sorted(BACKENDS))
"""


@pytest.mark.parametrize(
    "order", [("ortools.sat.python.cp_model", "highspy"), ("highspy", "ortools.sat.python.cp_model")]
)
def test_fresh_process_either_import_order(order) -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(order=order)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "ok ['cbc', 'colgen', 'cpsat', 'decomp', 'highs']" in done.stdout


def test_every_backend_in_this_process() -> None:
    import highspy  # noqa: F401
    from ortools.sat.python import cp_model  # noqa: F401

    from optalloc.allocation.backends.base import SolveOptions
    from optalloc.allocation.registry import BACKENDS, available_backends

    assert set(available_backends()) == {"cbc", "cpsat", "highs", "decomp", "colgen"}
    coef = np.zeros((4, 3))
    coef[:, 2] = 1.0
    problem = AllocationProblem(
        np.arange(4),
        ("a", "b", "c"),
        np.arange(12, dtype=float).reshape(4, 3),
        np.ones((4, 3), bool),
        (Limit("c_places", coef, upper=1.0),),
    )
    for name, cls in BACKENDS.items():
        result = cls().solve(problem, SolveOptions(time_limit=5))
        # one patient to c (the one with the largest c-b gain: all equal 1 -> any), others to b
        assert result.objective == pytest.approx(sum(row[1] for row in problem.benefit) + 1.0), name
