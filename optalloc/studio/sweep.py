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
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from optalloc.allocation.summary import PlanSummary
from optalloc.errors import OptallocError, ScenarioError
from optalloc.pipeline import Prepared
from optalloc.scenario.loader import LoadedScenario, with_overrides
from optalloc.studio.parallel import Execution, chunks, map_shared
from optalloc.studio.points import SolveSettings, solve_chain

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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


def _run_chain(
    prepared: Prepared, task: tuple[list[dict[str, float]], SolveSettings]
) -> list[tuple[PlanSummary, np.ndarray | None]]:
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
            reason = "; ".join(exc.problems) or str(exc)
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
        for point, (summary, _assignment) in zip(chain, results, strict=True):
            rows_out.append({**point, **summary.flat()})
    frame = pd.DataFrame(rows_out).sort_values([v.path for v in varies], kind="stable").reset_index(drop=True)
    frame.attrs["units"] = sweep_units(prepared, varies)  # for the plot's axis labels
    return frame


# Okabe-Ito: told apart with every common colour-vision deficiency; with line styles and
# markers that also differ, so every line reads in greyscale print.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442")
LINE_STYLES = ("-", "--", ":", "-.")
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
# Units of swept scenario values that are not a limit, by their last name.
VALUE_UNITS = {
    "effect": "relative risk reduction",
    "cost_per_visit": "EUR",
    "cost_per_km": "EUR per km",
    "cost_per_patient": "EUR",
    "max_patients": "patients",
    "min_patients": "patients",
    "horizon_weeks": "weeks",
    "travel_speed_kmh": "km/h",
    "budget": "EUR",
    "min_share": "share of the group",
}
SINGULAR = {"hours": "hour", "units": "unit", "patients": "patient", "boxes": "box"}
PER_THOUSAND = ("EUR",)  # marginal values of these units are shown per 1,000 (per euro is unreadably small)


def sweep_units(prepared: Prepared, varies: Sequence[Vary]) -> dict[str, Any]:
    """The units a sweep's plot labels its axes with: the benefit's, each limit's, each swept value's."""
    from optalloc.studio.points import limit_target

    limits = {limit.name: limit.unit for limit in prepared.problem.limits}
    swept = {}
    for vary in varies:
        target = limit_target(prepared.problem, vary.path)
        swept[vary.path] = limits[target[0]] if target and target[0] in limits else value_unit(vary.path)
    return {"objective": prepared.problem.objective_unit, "limits": limits, "swept": swept}


def value_unit(path: str) -> str:
    """A swept value's unit from its name (``hours`` for ``resources.home_nurse_hours``), or ''."""
    last = path.split(".")[-1]
    if last in VALUE_UNITS:
        return VALUE_UNITS[last]
    return next((unit for unit in ("hours", "patients", "boxes") if last.endswith(unit)), "")


def _labelled(name: str, unit: str) -> str:
    return f"{name} ({unit})" if unit else name


def plain_numbers(axis: Any) -> None:
    """Tick labels as plain numbers with thousands separators and as many decimals as the tick
    spacing needs (``12,000``, ``0.0015``): never an offset or a ``1e7`` above the axis."""
    from matplotlib.ticker import FuncFormatter

    def text(value: float, _position: int | None) -> str:
        ticks = np.asarray(axis.get_majorticklocs(), dtype=float)
        tolerance = 1e-6 * float(np.ptp(ticks)) if len(ticks) > 1 else 1e-12
        # the fewest decimals that show every tick exactly (2.5 and 7.5 need one, 0.0015 four)
        decimals = next((d for d in range(9) if np.allclose(np.round(ticks, d), ticks, rtol=0, atol=tolerance)), 8)
        return "0" if value == 0 else f"{value:,.{decimals}f}"

    axis.set_major_formatter(FuncFormatter(text))


def sweep_figure(
    frame: pd.DataFrame, varies: Sequence[Vary], title: str = "", units: dict[str, Any] | None = None
) -> Figure:
    """The sweep as a figure: the benefit frontier, then one panel of marginal values per unit
    of the limits (benefit per hour, per 1,000 EUR, ...: quantities in different units never
    share an axis), all against the first value swept; with two values, one line per level of
    the second. ``units`` as from :func:`sweep_units` (else ``frame.attrs["units"]``, else
    guessed from the names)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    units = units or frame.attrs.get("units") or {}
    limit_units: dict[str, str] = units.get("limits", {})
    benefit_unit = units.get("objective") or "objective value"
    x = varies[0].path
    x_label = _labelled(x, units.get("swept", {}).get(x) or value_unit(x))
    groups = [(None, frame)] if len(varies) == 1 else list(frame.groupby(varies[1].path, sort=True))
    by_unit: dict[str, list[str]] = {}
    for column in (c for c in frame.columns if c.startswith("marginal_value:")):
        values = frame[column].to_numpy(dtype=float)
        if np.nanmax(np.abs(values), initial=0.0) > 0:  # limits that never bind say nothing here
            name = column.split(":", 1)[1]
            by_unit.setdefault(limit_units.get(name) or value_unit(name) or "unit", []).append(name)
    panels = 1 + len(by_unit)
    fig, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.5), squeeze=False)
    frontier, *marginal = axes[0]
    for k, (level, part) in enumerate(groups):
        label = None if level is None else f"{varies[1].path} = {level:,.6g}"
        frontier.plot(
            part[x],
            part["objective"],
            color=PALETTE[k % len(PALETTE)],
            ls=LINE_STYLES[k % len(LINE_STYLES)],
            marker=MARKERS[k % len(MARKERS)],
            ms=4,
            label=label,
        )
    frontier.set_ylabel(f"benefit ({benefit_unit})")
    frontier.set_title("Benefit frontier")
    for axis, (unit, names) in zip(marginal, by_unit.items(), strict=True):
        scale = 1000.0 if unit in PER_THOUSAND else 1.0
        per = f"1,000 {unit}" if scale != 1.0 else SINGULAR.get(unit, unit)
        line = 0
        for level, part in groups:
            for name in names:
                label = name if level is None else f"{name}, {varies[1].path} = {level:,.6g}"
                axis.plot(
                    part[x],
                    part[f"marginal_value:{name}"].astype(float) * scale,
                    color=PALETTE[line % len(PALETTE)],
                    ls=LINE_STYLES[line % len(LINE_STYLES)],
                    marker=MARKERS[line % len(MARKERS)],
                    ms=4,
                    label=label,
                )
                line += 1
        axis.set_ylabel(f"marginal value ({benefit_unit} per {per})")
        axis.set_title(f"Marginal value per {per} (LP duals)")
    for axis in axes[0]:
        axis.set_xlabel(x_label)
        axis.grid(alpha=0.3)
        plain_numbers(axis.xaxis)
        plain_numbers(axis.yaxis)
        if axis.get_legend_handles_labels()[0]:
            axis.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_sweep(
    frame: pd.DataFrame, varies: Sequence[Vary], path: Path, title: str = "", units: dict[str, Any] | None = None
) -> Path:
    """Write :func:`sweep_figure` as PNG, atomically."""
    import matplotlib.pyplot as plt

    from optalloc.io import atomic_path

    fig = sweep_figure(frame, varies, title, units)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)
    return path
