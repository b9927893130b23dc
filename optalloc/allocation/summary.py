"""One typed summary of a solved plan: what every command, record and report reads of a solve.

``solve``, ``compare``, ``sweep``, ``size``, ``uncertainty``, the run records, the report, the
studio and ``--json`` all read a :class:`PlanSummary`, so a figure has one name and one
meaning everywhere. It is built from the solver-neutral problem and result plus the plan's
outcome totals (which the estimates stage computes), and it turns into the plain JSON shape
of ``--json`` and the run records with :meth:`PlanSummary.to_dict` (and back with
:meth:`PlanSummary.from_dict`, for comparing with a recorded run).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from optalloc.allocation.problem import AllocationProblem
from optalloc.allocation.result import AllocationResult, Status, relative_gap
from optalloc.errors import OptallocError


def _number(value: Any, missing: float) -> float:
    """A recorded number (JSON stores NaN and infinities as null) back as a float."""
    return missing if value is None else float(value)


@dataclass(frozen=True)
class LimitUse:
    """One limit of a plan: where the scenario states it, its unit, bounds, use and price.

    ``origin`` is the scenario field the limit comes from (``resources.home_nurse_hours``,
    ``settings.home.max_patients``, ``budget``), so a table can send the reader to the line to
    change. ``use`` is NaN without a plan; an absent bound is infinite.
    """

    name: str
    origin: str
    kind: str
    unit: str
    lower: float
    upper: float
    use: float
    slack: float
    binding: bool
    marginal_value: float

    @property
    def shown_limit(self) -> float:
        """The upper limit, or the floor of a limit that only has a lower bound."""
        return self.upper if math.isfinite(self.upper) else self.lower

    def to_dict(self) -> dict[str, Any]:
        return {
            "origin": self.origin,
            "kind": self.kind,
            "unit": self.unit,
            "use": self.use,
            "lower": self.lower,
            "limit": self.upper,
            "slack": self.slack,
            "binding": self.binding,
            "marginal_value": self.marginal_value,
        }

    @classmethod
    def from_dict(cls, name: str, item: Mapping[str, Any]) -> LimitUse:
        return cls(
            name=name,
            origin=str(item.get("origin") or name),
            kind=str(item.get("kind", "resource")),
            unit=str(item.get("unit", "")),
            lower=_number(item.get("lower"), -math.inf),
            upper=_number(item.get("limit"), math.inf),
            use=_number(item.get("use"), math.nan),
            slack=_number(item.get("slack"), math.inf),
            binding=bool(item.get("binding", False)),
            marginal_value=_number(item.get("marginal_value"), math.nan),
        )


@dataclass(frozen=True)
class GreedyComparison:
    """The current-practice (greedy) plan's benefit and what the optimal plan gains over it."""

    status: Status
    objective: float | None
    gain: float | None
    gain_pct: float | None

    @classmethod
    def of(cls, greedy: AllocationResult, objective: float | None) -> GreedyComparison:
        g_obj = greedy.objective if greedy.status.has_plan else None
        gain = (objective - g_obj) if (g_obj is not None and objective is not None) else None
        pct = (100.0 * gain / abs(g_obj)) if gain is not None and g_obj else None
        return cls(greedy.status, g_obj, gain, pct)

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status.value, "objective": self.objective, "gain": self.gain, "gain_pct": self.gain_pct}

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> GreedyComparison:
        return cls(Status(item["status"]), item.get("objective"), item.get("gain"), item.get("gain_pct"))


@dataclass(frozen=True)
class PlanSummary:
    """A solved plan's key figures: certificate, patients per setting, outcomes, limits.

    ``outcomes`` are the plan's totals named by the estimates stage (``readmissions_avoided``,
    ``travel_hours_saved``, ``cost``); ``eligible`` counts the patients each setting may take.
    ``benefit`` is the objective (NaN without a plan), the name targets and sweeps use.
    """

    scenario: str
    file: str
    status: Status
    solver: str
    objective: float | None
    bound: float | None
    seconds: float
    objective_unit: str
    patients: int
    patients_per_setting: Mapping[str, int]
    eligible: Mapping[str, int]
    outcomes: Mapping[str, float]
    limits: tuple[LimitUse, ...]
    greedy: GreedyComparison | None = None
    message: str = ""
    wall_seconds: float | None = field(default=None, compare=False)

    @classmethod
    def of(
        cls,
        problem: AllocationProblem,
        result: AllocationResult,
        outcomes: Mapping[str, float],
        scenario: str = "",
        file: str = "",
        greedy: AllocationResult | None = None,
        wall_seconds: float | None = None,
    ) -> PlanSummary:
        """Summarise ``result`` of ``problem`` (``outcomes``: the plan's totals)."""
        table = result.limit_table(problem)
        origins = {
            limit.name: limit.field("upper" if math.isfinite(limit.upper) else "lower") for limit in problem.limits
        }
        limits = tuple(
            LimitUse(
                name=str(row.limit),
                origin=origins[str(row.limit)],
                kind=str(row.kind),
                unit=str(row.unit),
                lower=float(row.lower),
                upper=float(row.upper),
                use=float(row.use),
                slack=float(row.slack),
                binding=bool(row.binding),
                marginal_value=float(row.marginal_value),
            )
            for row in table.itertuples()
        )
        return cls(
            scenario=scenario,
            file=file,
            status=result.status,
            solver=result.solver,
            objective=result.objective,
            bound=result.bound,
            seconds=result.seconds,
            objective_unit=problem.objective_unit,
            patients=problem.n_patients,
            patients_per_setting=result.patients_per_setting(problem),
            eligible={name: int(problem.allowed[:, j].sum()) for j, name in enumerate(problem.settings)},
            outcomes=dict(outcomes),
            limits=limits,
            greedy=None if greedy is None else GreedyComparison.of(greedy, result.objective),
            message=result.message,
            wall_seconds=wall_seconds,
        )

    @property
    def has_plan(self) -> bool:
        return self.status.has_plan

    @property
    def gap(self) -> float | None:
        return relative_gap(self.objective, self.bound) if self.has_plan else None

    @property
    def benefit(self) -> float:
        return float(self.objective) if self.has_plan and self.objective is not None else math.nan

    def figure(self, name: str) -> float:
        """``benefit`` or one of the ``outcomes`` by name (what targets and draws read)."""
        return self.benefit if name == "benefit" else float(self.outcomes[name])

    def limit(self, name: str) -> LimitUse:
        """The limit called ``name`` (KeyError naming the known ones otherwise)."""
        for item in self.limits:
            if item.name == name:
                return item
        raise KeyError(f"{name!r} is not a limit of {self.scenario or 'this plan'}; known: {self.limit_names}")

    @property
    def limit_names(self) -> list[str]:
        return [item.name for item in self.limits]

    def certificate(self) -> dict[str, Any]:
        """Status, solver, objective, bound, gap, seconds: what every report shows of a solve."""
        return {
            "status": self.status.value,
            "solver": self.solver,
            "objective": self.objective,
            "bound": self.bound,
            "gap": self.gap,
            "seconds": self.seconds,
        }

    def to_dict(self) -> dict[str, Any]:
        """The ``--json`` and run-record shape (limits keyed by name under ``resources``)."""
        return {
            "scenario": self.scenario,
            "file": self.file,
            **self.certificate(),
            "objective_unit": self.objective_unit,
            "patients": self.patients,
            "patients_per_setting": dict(self.patients_per_setting),
            "eligible": dict(self.eligible),
            "outcomes": dict(self.outcomes),
            "resources": {item.name: item.to_dict() for item in self.limits},
            "greedy": None if self.greedy is None else self.greedy.to_dict(),
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, item: Mapping[str, Any]) -> PlanSummary:
        """A summary read back from :meth:`to_dict`'s shape (a run record, a ``--json`` file).

        A record that is not that shape (edited by hand, or damaged) is refused naming what is
        wrong, never half read.
        """
        try:
            return cls._from_dict(item)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            what = f"no {exc}" if isinstance(exc, KeyError) else str(exc)
            raise OptallocError(
                f"A recorded plan summary ({item.get('scenario', '?') if isinstance(item, Mapping) else '?'}) "
                f"cannot be read: {what}. It was written by another version or damaged; solve the "
                "scenario again to record it anew."
            ) from None

    @classmethod
    def _from_dict(cls, item: Mapping[str, Any]) -> PlanSummary:
        greedy = item.get("greedy")
        return cls(
            scenario=str(item.get("scenario", "")),
            file=str(item.get("file", "")),
            status=Status(item["status"]),
            solver=str(item.get("solver", "")),
            objective=item.get("objective"),
            bound=item.get("bound"),
            seconds=float(item.get("seconds") or 0.0),
            objective_unit=str(item.get("objective_unit", "")),
            patients=int(item.get("patients") or 0),
            patients_per_setting={k: int(v) for k, v in (item.get("patients_per_setting") or {}).items()},
            eligible={k: int(v) for k, v in (item.get("eligible") or {}).items()},
            outcomes={k: _number(v, math.nan) for k, v in (item.get("outcomes") or {}).items()},
            limits=tuple(LimitUse.from_dict(name, info) for name, info in (item.get("resources") or {}).items()),
            greedy=GreedyComparison.from_dict(greedy) if greedy else None,
            message=str(item.get("message", "")),
        )

    def flat(self) -> dict[str, Any]:
        """One flat row (``patients:home``, ``use:budget``, ``marginal_value:budget``): a sweep's
        or a sizing's CSV columns."""
        row: dict[str, Any] = dict(self.certificate())
        row.update({f"patients:{name}": n for name, n in self.patients_per_setting.items()})
        row.update({f"eligible:{name}": n for name, n in self.eligible.items()})
        if self.has_plan:
            row.update({f"use:{item.name}": item.use for item in self.limits})
        row.update({f"limit:{item.name}": item.shown_limit for item in self.limits})
        row.update({f"marginal_value:{item.name}": item.marginal_value for item in self.limits})
        row["benefit"] = self.benefit
        row.update(self.outcomes)
        if self.wall_seconds is not None:
            row["wall_seconds"] = self.wall_seconds
        return row
