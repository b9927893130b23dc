"""The ``optalloc`` command: a thin layer that parses, calls the library and renders.

Each command group lives in its own module exposing ``register(app)``.
"""

from __future__ import annotations

import importlib
import sys

import typer


def _hide_flag_metavars() -> None:
    """Typer 0.29 shows ``<bool>`` after every on/off flag, which takes no value; show nothing."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich
    if getattr(shown, "_optalloc", False):
        return

    def display_type_rich(self: TyperOption, ctx: object) -> str | None:
        return None if getattr(self, "is_flag", False) else shown(self, ctx)  # type: ignore[arg-type]

    display_type_rich._optalloc = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_hide_flag_metavars()

app = typer.Typer(
    name="optalloc",
    help="Allocate patients to care settings under staff, equipment and budget limits.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

COMMAND_MODULES = (
    "cohort",
    "solve",
    "demo",
    "risk",
    "segment",
    "bench",
    "explain",
    "studio",
    "runs",
    "track",
    "forecast",
    "reveal",
    "report",
    "serve",
)


@app.callback()
def _global_options(
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress lines or bars (errors still print)."),
) -> None:
    """Allocate patients to care settings under staff, equipment and budget limits."""
    from optalloc.cli.common import QUIET

    QUIET["on"] = quiet


for _name in COMMAND_MODULES:
    importlib.import_module(f"optalloc.cli.{_name}").register(app)


def main() -> None:
    """Entry point: Ctrl-C and SIGTERM stop the work, remove temporary folders and write no
    output (:mod:`optalloc.interrupts`); an interrupted command exits with 130."""
    from optalloc import interrupts

    interrupts.install()
    try:
        app()
    except SystemExit:
        if interrupts.exit_code() is None:
            raise
        sys.stderr.write("interrupted: stopped, and nothing was written.\n")
        raise SystemExit(130) from None
    if interrupts.exit_code() is not None:  # an interrupt swallowed on its way
        sys.stderr.write("interrupted: stopped, and nothing was written.\n")
        raise SystemExit(130)
