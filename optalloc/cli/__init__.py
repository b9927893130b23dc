"""The ``optalloc`` command: a thin layer that parses, calls the library and renders.

Each command group lives in its own module exposing ``register(app)``.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="optalloc",
    help="Allocate patients to care settings under staff, equipment and budget limits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = ("cohort", "solve", "risk", "segment", "bench", "explain", "studio", "runs", "track", "forecast", "reveal")

for _name in COMMAND_MODULES:
    importlib.import_module(f"optalloc.cli.{_name}").register(app)


def main() -> None:
    app()
