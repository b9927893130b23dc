"""What every CLI command shares: consoles, error handling, progress bars, JSON output.

Tables go to stdout; progress bars and error paragraphs go to stderr, so ``--json`` output
stands alone on stdout and can be piped.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from optalloc.cohort.load import IDENTIFIER_COLUMNS
from optalloc.errors import InfeasibleError, OptallocError
from optalloc.io import jsonable

#: The identifier columns the loaders take as the patient's when none is named (``--id-column``),
#: as a help text lists them: "patient_id, mrn, patient_nbr or person_id".
IDENTIFIERS = f"{', '.join(IDENTIFIER_COLUMNS[:-1])} or {IDENTIFIER_COLUMNS[-1]}"

out = Console()
err = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def fail(message: str, code: int = 2) -> typer.Exit:
    """Print one error paragraph to stderr and return the Exit to raise."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
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


QUIET = {"on": False}  # set by the global --quiet flag
PLAIN_INTERVAL = 10.0  # seconds between plain progress lines


class PlainProgress:
    """Progress for a log or a pipe: one plain line on stderr every ``PLAIN_INTERVAL`` seconds
    (done/total, elapsed, estimate), with the same calls as Rich's ``Progress``."""

    def __init__(self) -> None:
        self.tasks: dict[int, dict[str, Any]] = {}
        self.started = time.monotonic()
        self.last = self.started

    def add_task(self, description: str, total: float | None = None, **_: Any) -> int:
        task = len(self.tasks)
        self.tasks[task] = {"description": description, "total": total, "completed": 0.0}
        return task

    def update(
        self,
        task: int,
        description: str | None = None,
        total: float | None = None,
        advance: float | None = None,
        completed: float | None = None,
        **_: Any,
    ) -> None:
        item = self.tasks[task]
        if description is not None:
            item["description"] = description
        if total is not None:
            item["total"] = total
        if completed is not None:
            item["completed"] = completed
        if advance:
            item["completed"] += advance
        self._maybe_print(item)

    def advance(self, task: int, advance: float = 1) -> None:
        self.update(task, advance=advance)

    def _maybe_print(self, item: dict[str, Any]) -> None:
        now = time.monotonic()
        if now - self.last < PLAIN_INTERVAL:
            return
        self.last = now
        elapsed = now - self.started
        done, total = item["completed"], item["total"]
        if total:
            left = elapsed / done * (total - done) if done else float("nan")
            estimate = f", about {left:.0f} s left" if left == left else ""
            line = f"{item['description']}: {done:g}/{total:g} after {elapsed:.0f} s{estimate}"
        else:
            line = f"{item['description']}: {done:g} done after {elapsed:.0f} s"
        sys.stderr.write(line + "\n")
        sys.stderr.flush()


@contextmanager
def progress(enabled: bool = True) -> Iterator[Any]:
    """A Rich progress bar on a terminal's stderr; plain lines every 10 s when stderr is a log
    or a pipe; nothing with ``--quiet`` or when disabled (``--json`` keeps stdout clean either way)."""
    if not enabled or QUIET["on"]:
        enabled = False
    elif not err.is_terminal:
        yield PlainProgress()
        return
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


def record(
    kind: str, prepared: list, params: dict[str, Any], results: Any, timings: dict[str, float], quiet: bool = False
) -> int | None:
    """Record a run; a database that cannot be written is a warning, never a lost result.

    ``quiet`` drops the "recorded as run N" line (with ``--json`` the id is in the payload, and
    stderr stays empty for callers that merge it with stdout).
    """
    from rich.markup import escape
    from sqlalchemy.exc import SQLAlchemyError

    from optalloc.errors import OptallocError
    from optalloc.studio.runs import record_run

    try:
        run_id = record_run(kind, prepared, params, results, timings)
    except (OptallocError, SQLAlchemyError, OSError) as exc:
        err.print(
            f"[yellow]warning:[/] the results above stand, but the run was not recorded: {escape(str(exc))}",
            soft_wrap=True,
        )
        return None
    if not quiet:
        err.print(f"recorded as run {run_id} (optalloc runs show {run_id})", highlight=False)
    return run_id
