"""A small, safe language for targets over a solved plan's key figures.

Examples::

    share_served(home) >= 0.8          # patients at home / patients eligible for home
    share_served(home) >= 80%
    patients(home) >= 200
    readmissions_avoided >= 5 and cost <= 47e6

Grammar (nothing is ever passed to ``eval``)::

    target  := clause ("and" clause)*
    clause  := metric OP number ["%"]
    metric  := NAME | NAME "(" NAME ")"
    OP      := ">=" | "<=" | ">" | "<"

Metrics: ``benefit``, ``readmissions_avoided``, ``travel_hours_saved``, ``cost``,
``patients(SETTING)``, ``share_served(SETTING)``, ``use(LIMIT)``.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from optalloc.errors import OptallocError

SCALARS = ("benefit", "readmissions_avoided", "travel_hours_saved", "cost")
FUNCTIONS = ("patients", "share_served", "use")
OPERATORS: dict[str, Callable[[float, float], bool]] = {
    ">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt,
}
_CLAUSE = re.compile(
    r"^\s*(?P<name>[a-z_]+)\s*(?:\(\s*(?P<arg>[A-Za-z_][A-Za-z0-9_]*)\s*\))?\s*"
    r"(?P<op>>=|<=|>|<)\s*(?P<num>[-+]?(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*(?P<pct>%)?\s*$"
)
_EXAMPLE = "e.g. \"share_served(home) >= 0.8\", \"patients(home) >= 200\" or \"readmissions_avoided >= 5\""


@dataclass(frozen=True)
class Clause:
    """``metric(arg) op threshold``."""

    metric: str
    arg: str | None
    op: str
    threshold: float

    @property
    def label(self) -> str:
        return f"{self.metric}({self.arg})" if self.arg else self.metric

    def value(self, kpis: Mapping[str, Any]) -> float:
        """The metric's value in a point's key figures (see :func:`optalloc.studio.points.point_kpis`)."""
        if self.metric in SCALARS:
            return float(kpis[self.metric])
        if self.metric == "patients":
            return float(kpis["patients"][self.arg])
        if self.metric == "use":
            return float(kpis["use"].get(self.arg, float("nan")))
        eligible = kpis["eligible"][self.arg]
        return float(kpis["patients"][self.arg]) / eligible if eligible else float("nan")

    def holds(self, kpis: Mapping[str, Any]) -> bool:
        value = self.value(kpis)
        return value == value and OPERATORS[self.op](value, self.threshold)


@dataclass(frozen=True)
class Target:
    """All clauses must hold."""

    text: str
    clauses: tuple[Clause, ...]

    def holds(self, kpis: Mapping[str, Any]) -> bool:
        if kpis.get("status") not in ("OPTIMAL", "FEASIBLE"):
            return False
        return all(clause.holds(kpis) for clause in self.clauses)

    def values(self, kpis: Mapping[str, Any]) -> dict[str, float]:
        """Each clause's metric value (NaN without a plan), for the sizing table."""
        out = {}
        for clause in self.clauses:
            try:
                out[clause.label] = clause.value(kpis)
            except (KeyError, TypeError):
                out[clause.label] = float("nan")
        return out


def parse_target(text: str, settings: Sequence[str], limits: Sequence[str]) -> Target:
    """Parse and check a target against the scenario's settings and limit names."""
    parts = re.split(r"\s+and\s+", text.strip())
    clauses = []
    for part in parts:
        match = _CLAUSE.match(part)
        if not match:
            raise OptallocError(f"--target {text!r}: cannot read {part.strip()!r}; write METRIC OP NUMBER, {_EXAMPLE}.")
        name, arg = match["name"], match["arg"]
        if name in SCALARS and arg is None:
            pass
        elif name in FUNCTIONS and arg is not None:
            known = limits if name == "use" else settings
            if arg not in known:
                raise OptallocError(
                    f"--target {text!r}: {name}({arg}) names no {'limit' if name == 'use' else 'setting'} "
                    f"of the scenario (known: {', '.join(known) or 'none'})."
                )
        else:
            raise OptallocError(
                f"--target {text!r}: unknown metric {part.strip()!r}; use {', '.join(SCALARS)} or "
                f"{', '.join(f + '(NAME)' for f in FUNCTIONS)}, {_EXAMPLE}."
            )
        threshold = float(match["num"].replace("_", ""))
        if match["pct"]:
            threshold /= 100.0
        clauses.append(Clause(name, arg, match["op"], threshold))
    return Target(text.strip(), tuple(clauses))
