"""Option types shared by the command modules, with choices built from the library's registries
(so a new solver backend appears in ``--solver`` by its registry line alone)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from optalloc.allocation.registry import BACKENDS


def choices(name: str, values: tuple[str, ...]) -> Any:
    """A ``str`` Enum of ``values`` for Typer (which lists an Enum's members as the choices)."""
    return Enum(name, {value: value for value in values}, type=str)


if TYPE_CHECKING:  # what a type checker sees: a str Enum (its members are the registry's names)

    class Solver(str, Enum):
        auto = "auto"

else:  #: ``auto`` then every registered backend, as ``--solver`` choices.
    Solver = choices("Solver", ("auto", *BACKENDS))

SolverOption = Annotated[Solver, typer.Option("--solver", help="Solver backend; auto chooses by size.")]


JsonOption = Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")]


TimeLimitOption = Annotated[
    float | None, typer.Option("--time-limit", help="Seconds per solve (default: the scenario's).")
]


WorkersOption = Annotated[
    int | None, typer.Option("--workers", min=1, help="Local processes (default: every core; 1 = serial).")
]


DaskOption = Annotated[
    str | None, typer.Option("--dask", help="Run on an existing Dask cluster, e.g. tcp://10.0.0.5:8786.")
]


GapOption = Annotated[
    float | None,
    typer.Option("--gap", min=0.0, help="Relative MIP gap at which each solve may stop (default: the scenario's)."),
]


RecordOption = Annotated[bool, typer.Option("--record/--no-record", help="Record the run in the workspace database.")]
