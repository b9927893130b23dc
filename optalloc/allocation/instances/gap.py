"""OR-Library generalized assignment (GAP) files as allocation problems.

Format (J.E. Beasley's OR-Library): the number of instances, then per instance ``m n``
(agents, jobs), an ``m x n`` cost-or-profit matrix, an ``m x n`` resource matrix and ``m``
capacities, all whitespace separated. Agents become settings and jobs become patients, with one
``capacity`` limit per agent. ``gap1``-``gap12`` are maximisation of profit; ``gapa``-``gapd``
minimisation of cost, which is solved as maximisation of the negated cost and reported back in
the original sense (objective and bound both turned round).

Reference values vendored here: the optimal values OR-Library publishes for gap1-gap12 (solved
as maximisation), and the best known (mostly proven optimal) values of types A-D reported in
the GAP literature (Yagiura, Ibaraki and Glover; types A-C are solved to optimality in seconds
by any MIP solver, which the tests and benchmarks check).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from optalloc.allocation.problem import AllocationProblem, Limit
from optalloc.errors import OptallocError

#: gap1.txt of OR-Library, shipped with the package (see its ATTRIBUTION.md).
SHIPPED_GAP_FILE = Path(__file__).resolve().parents[2] / "data" / "gap-orlib" / "gap1.txt"

#: Published optimal values (maximisation) of OR-Library gap1..gap12, five instances each.

PUBLISHED_OPTIMA: dict[str, tuple[int, ...]] = {
    "gap1": (336, 327, 339, 341, 326),
    "gap2": (434, 436, 420, 419, 428),
    "gap3": (580, 564, 573, 570, 564),
    "gap4": (656, 644, 673, 647, 664),
    "gap5": (563, 558, 564, 568, 559),
    "gap6": (761, 759, 758, 752, 747),
    "gap7": (942, 949, 968, 945, 951),
    "gap8": (1133, 1134, 1141, 1117, 1127),
    "gap9": (709, 717, 712, 723, 706),
    "gap10": (958, 963, 960, 947, 947),
    "gap11": (1139, 1178, 1195, 1171, 1171),
    "gap12": (1451, 1449, 1433, 1447, 1446),
}

#: Best known values (minimisation) of types A-D, instances 5x100, 5x200, 10x100, 10x200,
#: 20x100, 20x200 in file order.
BEST_KNOWN: dict[str, tuple[int, ...]] = {
    "gapa": (1698, 3235, 1360, 2623, 1158, 2339),
    "gapb": (1843, 3552, 1407, 2827, 1166, 2339),
    "gapc": (1931, 3456, 1402, 2806, 1243, 2391),
    "gapd": (6353, 12742, 6347, 12430, 6185, 12235),
}


def file_sense(path: str | Path) -> str:
    """``"max"`` for gap1..gap12, ``"min"`` for gapa..gapd (by file name)."""
    stem = Path(path).stem.lower()
    return "min" if stem in BEST_KNOWN or (stem.startswith("gap") and stem[3:4].isalpha()) else "max"


def reference_values(path: str | Path) -> tuple[int, ...] | None:
    """Published optimum (gap1-12) or best known value (gapa-d) per instance, if vendored."""
    stem = Path(path).stem.lower()
    return PUBLISHED_OPTIMA.get(stem) or BEST_KNOWN.get(stem)


def read_gap_file(path: str | Path, sense: str | None = None) -> list[AllocationProblem]:
    """Read every instance of an OR-Library GAP file.

    Parameters
    ----------
    path : path of the file.
    sense : ``"max"`` or ``"min"``; by default from the file name (see :func:`file_sense`).

    Returns
    -------
    list of AllocationProblem
        ``metadata`` holds ``sense`` and ``instance`` (e.g. ``gap1-3``); ``benefit`` is the
        profit, or the negated cost for minimisation.

    Raises
    ------
    OptallocError
        If the file is missing or does not follow the format (with what was expected where).
    """
    path = Path(path)
    if not path.is_file():
        raise OptallocError(f"GAP file {str(path)!r} does not exist; pass an OR-Library file such as gap1.txt.")
    sense = sense or file_sense(path)
    if sense not in ("max", "min"):
        raise OptallocError(f"The sense must be 'max' or 'min'. Got {sense!r} instead.")
    try:
        tokens = np.array(path.read_text().split(), dtype=float)
    except ValueError as exc:
        raise OptallocError(
            f"GAP file {str(path)!r} holds a non-numeric token ({exc}); the OR-Library format is numbers only."
        ) from None
    if tokens.size == 0:
        raise OptallocError(f"GAP file {str(path)!r} is empty.")
    pos = 0

    def take(count: int, what: str) -> np.ndarray:
        nonlocal pos
        if pos + count > tokens.size:
            raise OptallocError(
                f"GAP file {str(path)!r} ends early while reading {what} "
                f"(needed {count} numbers at position {pos}, {tokens.size - pos} left)."
            )
        out = tokens[pos : pos + count]
        pos += count
        return out

    n_instances = int(take(1, "the number of instances")[0])
    problems = []
    for p in range(n_instances):
        m, n = (int(v) for v in take(2, f"the sizes of instance {p + 1}"))
        if m <= 0 or n <= 0:
            raise OptallocError(f"Instance {p + 1} of {str(path)!r} has sizes m={m}, n={n}; both must be positive.")
        value = take(m * n, f"the cost matrix of instance {p + 1}").reshape(m, n)
        resource = take(m * n, f"the resource matrix of instance {p + 1}").reshape(m, n)
        capacity = take(m, f"the capacities of instance {p + 1}")
        limits = []
        for a in range(m):
            coef = np.zeros((n, m))
            coef[:, a] = resource[a]
            limits.append(
                Limit(f"capacity_agent{a + 1}", coef, upper=float(capacity[a]), kind="capacity", unit="resource")
            )
        name = f"{path.stem}-{p + 1}"
        problems.append(
            AllocationProblem(
                patient_ids=np.array([f"job{j + 1}" for j in range(n)]),
                settings=tuple(f"agent{a + 1}" for a in range(m)),
                benefit=(value.T.copy() if sense == "max" else -value.T.copy()),
                allowed=np.ones((n, m), dtype=bool),
                limits=tuple(limits),
                default_setting=0,
                name=name,
                objective_unit="profit" if sense == "max" else "cost",
                metadata={"sense": sense, "instance": name},
            )
        )
    if pos != tokens.size:
        raise OptallocError(
            f"GAP file {str(path)!r} has {tokens.size - pos} numbers after its "
            f"{n_instances} declared instances; is the instance count right?"
        )
    return problems


def solve_gap_file(
    path: str | Path,
    solver: str = "auto",
    time_limit: float = 60.0,
    relative_gap: float = 1e-6,
    threads: int = 2,
    on_row: Callable[[dict[str, object]], None] | None = None,
) -> list[dict[str, object]]:
    """Solve every instance of a GAP file; one row per instance.

    ``on_row`` is called with each row as soon as its instance is solved (a file of six 60-s
    instances otherwise shows nothing for six minutes).

    Returns
    -------
    list of dict
        ``instance``, ``objective``, ``bound`` (both in the file's own sense: for minimisation
        the bound is a lower bound), ``status``, ``seconds``, ``gap``, ``reference`` (published
        optimum or best known), ``reaches_reference`` and ``solver``.
    """
    from optalloc.allocation.auto import solve
    from optalloc.allocation.backends.base import SolveOptions

    problems = read_gap_file(path)
    refs = reference_values(path)
    rows = []
    for p, problem in enumerate(problems):
        sign = 1.0 if problem.metadata["sense"] == "max" else -1.0
        t0 = time.perf_counter()
        result = solve(problem, solver, SolveOptions(time_limit=time_limit, relative_gap=relative_gap, threads=threads))
        seconds = time.perf_counter() - t0
        objective = None if result.objective is None else sign * result.objective
        bound = None if result.bound is None else sign * result.bound
        reference = refs[p] if refs is not None and p < len(refs) else None
        reaches = None
        if reference is not None and objective is not None:
            reaches = bool(sign * (objective - reference) >= -1e-6)
        rows.append(
            {
                "instance": problem.metadata["instance"],
                "objective": objective,
                "bound": bound,
                "status": result.status.value,
                "seconds": seconds,
                "gap": result.gap,
                "reference": reference,
                "reaches_reference": reaches,
                "solver": result.solver,
            }
        )
        if on_row is not None:
            on_row(rows[-1])
    return rows
