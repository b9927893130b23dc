"""Targets over a solved plan's key figures, in the one expression language of scenarios.

Examples::

    share_served(home) >= 0.8          # patients at home / patients eligible for home
    share_served(home) >= 80%
    patients(home) >= 200
    readmissions_avoided >= 5 and cost <= 47e6

A target is an expression of :mod:`optalloc.expressions` (so nothing is ever passed to
``eval``) over the metrics ``benefit``, ``readmissions_avoided``, ``travel_hours_saved``,
``cost`` and the functions ``patients(SETTING)``, ``share_served(SETTING)``, ``use(LIMIT)``,
whose argument is a setting or limit name. ``80%`` reads as 0.8.
"""

from __future__ import annotations

import ast
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from optalloc.allocation.result import Status
from optalloc.allocation.summary import LimitUse, PlanSummary
from optalloc.errors import OptallocError
from optalloc.expressions import FUNCTIONS, Expression, ExpressionError, Function, parse

SCALARS = ("benefit", "readmissions_avoided", "travel_hours_saved", "cost")
TARGET_FUNCTIONS = ("patients", "share_served", "use")
_EXAMPLE = 'e.g. "share_served(home) >= 0.8", "patients(home) >= 200" or "readmissions_avoided >= 5"'


def _unbound(*_: str) -> float:  # replaced by the plan's figures at evaluation
    return float("nan")


_PARSE_FUNCTIONS = {**FUNCTIONS, **{name: Function(_unbound, 1, 1, takes_names=True) for name in TARGET_FUNCTIONS}}


def _bound(summary: PlanSummary) -> dict[str, Function]:
    """The target functions reading one plan's key figures."""

    def patients(setting: str) -> float:
        return float(summary.patients_per_setting[setting])

    def share_served(setting: str) -> float:
        eligible = summary.eligible[setting]
        return float(summary.patients_per_setting[setting]) / eligible if eligible else float("nan")

    def use(limit: str) -> float:
        return summary.limit(limit).use if limit in summary.limit_names else float("nan")

    return {
        **FUNCTIONS,
        "patients": Function(patients, 1, 1, True),
        "share_served": Function(share_served, 1, 1, True),
        "use": Function(use, 1, 1, True),
    }


@dataclass(frozen=True)
class Target:
    """A checked target; :meth:`holds` evaluates it over one point's key figures."""

    text: str
    expression: Expression

    def _evaluate(self, expression: Expression, summary: PlanSummary) -> Any:
        bound = dataclasses.replace(expression, functions=_bound(summary))
        known = {"benefit", *summary.outcomes}
        return bound.evaluate({name: summary.figure(name) for name in SCALARS if name in known})

    def holds(self, summary: PlanSummary) -> bool:
        """True when the plan exists and the target is true on its figures."""
        if not summary.has_plan:
            return False
        try:
            return bool(np.asarray(self._evaluate(self.expression, summary)))
        except (KeyError, TypeError):
            return False

    def values(self, summary: PlanSummary) -> dict[str, float]:
        """The left-hand side of each clause (NaN without a plan), for the sizing table."""
        out = {}
        for clause in self.expression.clauses():
            body = clause.tree.body
            side = body.left if isinstance(body, ast.Compare) else body
            label = ast.get_source_segment(clause.text, side) or ast.unparse(side)
            part = dataclasses.replace(clause, text=label, tree=ast.Expression(side))
            try:
                out[label] = float(np.asarray(self._evaluate(part, summary)))
            except (KeyError, TypeError, ValueError, ExpressionError):
                out[label] = float("nan")
        return out


def parse_target(text: str, settings: Sequence[str], limits: Sequence[str]) -> Target:
    """Parse and check a target against the scenario's settings and limit names."""
    try:
        expression = parse(text, "--target", "--target", functions=_PARSE_FUNCTIONS)
    except ExpressionError as exc:
        raise OptallocError(
            f"--target {text!r}: cannot read it: {exc.problem}"
            + (f" at {exc.token!r}" if exc.token else "")
            + f"; {_EXAMPLE}."
        ) from None
    unknown = sorted(expression.names - set(SCALARS))
    if unknown:
        raise OptallocError(
            f"--target {text!r}: unknown metric {unknown[0]!r}; use {', '.join(SCALARS)} or "
            f"{', '.join(f + '(NAME)' for f in TARGET_FUNCTIONS)}, {_EXAMPLE}."
        )
    for node in ast.walk(expression.tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in TARGET_FUNCTIONS:
            name, arg = node.func.id, node.args[0].id  # type: ignore[attr-defined]
            known = limits if name == "use" else settings
            if arg not in known:
                kind = "limit" if name == "use" else "setting"
                raise OptallocError(
                    f"--target {text!r}: {name}({arg}) names no {kind} of the scenario "
                    f"(known: {', '.join(known) or 'none'})."
                )
    probe = PlanSummary(
        scenario="probe",
        file="",
        status=Status.OPTIMAL,
        solver="",
        objective=1.0,
        bound=1.0,
        seconds=0.0,
        objective_unit="",
        patients=len(settings),
        patients_per_setting=dict.fromkeys(settings, 1),
        eligible=dict.fromkeys(settings, 1),
        outcomes=dict.fromkeys(SCALARS[1:], 1.0),
        limits=tuple(LimitUse(name, name, "resource", "", -np.inf, 1.0, 1.0, 0.0, True, 0.0) for name in limits),
    )
    value = np.asarray(Target(text.strip(), expression)._evaluate(expression, probe))
    if value.dtype != bool:
        raise OptallocError(f"--target {text!r}: is not a condition; compare a metric with a number, {_EXAMPLE}.")
    return Target(text.strip(), expression)
