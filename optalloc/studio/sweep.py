"""Parameter sweeps: the benefit frontier over one or two scenario values.

``--vary resources.home_nurse_hours=0:4000:21`` solves the scenario at 21 evenly spaced levels.
Points run in ascending order in short contiguous chains spread over the workers, each solve
warm-started from the previous plan of its chain: when a limit grows, the previous plan stays
feasible, so the solver starts from a good incumbent. The frontier's slope is each limit's marginal value, read from
the solver's duals and plotted beside the frontier.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from optalloc.errors import OptallocError, ScenarioError
from optalloc.pipeline import Prepared
from optalloc.scenario.loader import LoadedScenario, with_overrides
from optalloc.studio.parallel import Execution, chunks, map_shared
from optalloc.studio.points import SolveSettings, solve_chain

_VARY = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*=\s*([^:]+):([^:]+):(\d+)\s*$")
MAX_POINTS = 10_000
CHAIN_LENGTH = 5


@dataclass(frozen=True)
class Vary:
    """One swept value: ``path`` from ``start`` to ``stop`` in ``steps`` evenly spaced points."""

    path: str
    start: float
    stop: float
    steps: int

    @property
    def values(self) -> np.ndarray:
        return np.linspace(self.start, self.stop, self.steps)

    @property
    def text(self) -> str:
        return f"{self.path}={self.start:g}:{self.stop:g}:{self.steps}"


def parse_vary(text: str, loaded: LoadedScenario | None = None) -> Vary:
    """Parse ``PATH=START:STOP:STEPS``; ``budget`` and a bare resource name are accepted as paths."""
    match = _VARY.match(text)
    if not match:
        raise OptallocError(
            f"--vary {text!r}: expected PATH=START:STOP:STEPS, e.g. "
            "'resources.home_nurse_hours=0:4000:21' or 'budget=40e6:50e6:11'."
        )
    path, start, stop, steps = match.groups()
    try:
        low, high = float(start), float(stop)
    except ValueError:
        raise OptallocError(f"--vary {text!r}: START and STOP must be numbers (e.g. 0:4000:21).") from None
    if not (np.isfinite(low) and np.isfinite(high)):
        raise OptallocError(f"--vary {text!r}: START and STOP must be finite numbers (e.g. 0:4000:21).")
    if int(steps) < 2 or int(steps) > MAX_POINTS:
        raise OptallocError(f"--vary {text!r}: STEPS must be between 2 and {MAX_POINTS}.")
    if low > high:
        raise OptallocError(f"--vary {text!r}: START must not exceed STOP (sweeps run upward).")
    if loaded is not None:
        path = resolve_path(loaded, path, "--vary")
    return Vary(path, low, high, int(steps))


def resolve_path(loaded: LoadedScenario, path: str, flag: str) -> str:
    """Accept ``home_nurse_hours`` for ``resources.home_nurse_hours``; check the path validates."""
    if "." not in path and path in loaded.scenario.resources:
        path = f"resources.{path}"
    # a field of the validated scenario (also one left at its default, such as budget), or a
    # parameter of a distribution in the file (settings.home.effect.mode)
    if not any(_has_path(tree, path.split(".")) for tree in (loaded.scenario.model_dump(), loaded.raw)):
        resources = ", ".join(f"resources.{r}" for r in loaded.scenario.resources)
        raise OptallocError(
            f"{flag} {path!r}: scenario {loaded.path} has no such value. Name a number in the "
            f"scenario by its dotted path, e.g. budget, {resources}, settings.home.effect."
        )
    return path


def _has_path(tree: Any, keys: list[str]) -> bool:
    for key in keys:
        if not isinstance(tree, dict) or key not in tree:
            return False
        tree = tree[key]
    return True


def grid(varies: Sequence[Vary]) -> list[dict[str, float]]:
    """Every combination, the last parameter varying fastest (so chains move up one limit)."""
    if not 1 <= len(varies) <= 2:
        raise OptallocError("sweep: give one or two --vary options.")
    if len(varies) == 2 and varies[0].path == varies[1].path:
        raise OptallocError(f"sweep: {varies[0].path} is varied twice; vary two different values.")
    axes = [[(v.path, float(x)) for x in v.values] for v in varies]
    return [dict(combo) for combo in itertools.product(*axes)]


def _run_chain(prepared: Prepared, task: tuple[list[dict[str, float]], SolveSettings]) -> list[tuple[dict, Any]]:
    chain, settings = task
    return solve_chain(prepared, chain, settings)


def check_overrides(loaded: LoadedScenario, points: Sequence[dict[str, float]]) -> None:
    """Validate the first and last point before shipping work (bad values fail fast, by name).

    The value came from ``--vary``, not from the file, so the error says so.
    """
    for point in (points[0], points[-1]):
        try:
            with_overrides(loaded, point)
        except ScenarioError as exc:
            values = ", ".join(f"{path}={value:g}" for path, value in point.items())
            reason = str(exc).split("invalid scenario: ", 1)[-1].removesuffix(" Correct the file and run again.")
            raise OptallocError(
                f"--vary sets {values}, which {loaded.path.name} does not accept ({reason}). "
                "Choose START:STOP within the allowed range."
            ) from None


def run_sweep(
    prepared: Prepared,
    varies: Sequence[Vary],
    solver: str = "auto",
    execution: Execution | None = None,
    time_limit: float | None = None,
    relative_gap: float | None = None,
    on_done: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Solve every grid point; one row per point with the swept values and key figures.

    ``on_done(n)`` is called with the number of points just finished (for a progress bar).
    """
    points = grid(varies)
    execution = (execution or Execution()).for_work(prepared.problem.n_patients, len(points))
    check_overrides(prepared.loaded, points)
    # Short chains: each still warm-starts point to point, and the progress bar moves (and the
    # pool balances load) every CHAIN_LENGTH points rather than once per worker.
    n_chains = max(execution.n_workers(), -(-len(points) // CHAIN_LENGTH))
    if len(varies) == 2:
        # Chains follow the inner (fast) parameter upward, one outer value after another.
        inner = varies[1].steps
        rows = [points[k : k + inner] for k in range(0, len(points), inner)]
        chain_list = [piece for row in rows for piece in chunks(row, -(-len(row) // CHAIN_LENGTH))]
    else:
        chain_list = chunks(points, n_chains)
    settings = SolveSettings(solver, execution.solver_threads(), time_limit, relative_gap)
    tasks = [(chain, settings) for chain in chain_list]
    sizes = [len(c) for c in chain_list]
    outputs = map_shared(
        _run_chain, prepared, tasks, execution, on_done=(lambda i: on_done(sizes[i])) if on_done else None
    )
    rows_out = []
    for chain, results in zip(chain_list, outputs, strict=True):
        for point, (kpis, _assignment) in zip(chain, results, strict=True):
            rows_out.append({**point, **flatten_kpis(kpis)})
    frame = pd.DataFrame(rows_out)
    return frame.sort_values([v.path for v in varies], kind="stable").reset_index(drop=True)


def flatten_kpis(kpis: dict[str, Any]) -> dict[str, Any]:
    """Nested key figures as flat CSV columns (``patients:home``, ``marginal_value:budget``)."""
    flat: dict[str, Any] = {}
    for key, value in kpis.items():
        if isinstance(value, dict):
            for name, inner in value.items():
                flat[f"{key}:{name}"] = inner
        else:
            flat[key] = value
    return flat


def plot_sweep(frame: pd.DataFrame, varies: Sequence[Vary], path: Path, title: str = "") -> Path:
    """Benefit frontier (left) and each limit's marginal value (right) against the first value
    swept; with two values, one line per level of the second."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from optalloc.io import atomic_path

    x = varies[0].path
    duals = [c for c in frame.columns if c.startswith("marginal_value:")]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    groups = [(None, frame)] if len(varies) == 1 else list(frame.groupby(varies[1].path, sort=True))
    for level, part in groups:
        label = None if level is None else f"{varies[1].path} = {level:g}"
        left.plot(part[x], part["objective"], marker="o", ms=3, label=label)
        for column in duals:
            name = column.split(":", 1)[1]
            values = part[column].astype(float)
            if np.nanmax(np.abs(values.to_numpy()), initial=0.0) > 0:
                right.plot(part[x], values, marker=".", label=name if level is None else f"{name} ({label})")
    left.set_xlabel(x)
    left.set_ylabel("benefit (objective)")
    left.set_title("Benefit frontier")
    right.set_xlabel(x)
    right.set_ylabel("marginal value (benefit per unit of the limit)")
    right.set_title("Marginal value of each limit (LP duals)")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
