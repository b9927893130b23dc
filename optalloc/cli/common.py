"""What every CLI command shares: consoles, error handling, progress bars, JSON output.

Tables go to stdout; progress bars and error paragraphs go to stderr, so ``--json`` output
stands alone on stdout and can be piped.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from optalloc.errors import InfeasibleError, OptallocError
from optalloc.io import jsonable

out = Console()
err = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error paragraph to stderr and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def user_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Turn :class:`OptallocError` into a clear message and exit code 2, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except InfeasibleError as exc:  # the scenario is consistent but no plan exists: exit 3
            raise fail(str(exc), code=3) from None
        except OptallocError as exc:
            raise fail(str(exc)) from None

    return wrapper


def to_json(payload: Any) -> str:
    return json.dumps(jsonable(payload), indent=2)


def print_json(payload: Any) -> None:
    """Write JSON alone to stdout (no Rich markup or wrapping)."""
    typer.echo(to_json(payload))


@contextmanager
def progress(enabled: bool = True) -> Iterator[Progress]:
    """A Rich progress bar on stderr; silent when stderr is not a terminal or when disabled."""
    bar = Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not enabled,
    )
    with bar:
        yield bar
