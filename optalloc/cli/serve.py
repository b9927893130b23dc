"""CLI command: ``optalloc serve [--port P]``, the scenario studio in the browser."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optalloc.cli.common import err, user_errors
from optalloc.cli.options import RecordOption
from optalloc.errors import OptallocError


@user_errors
def serve(
    scenarios: Annotated[
        Path, typer.Option("--scenarios", help="Folder of scenario TOML files the studio offers.")
    ] = Path("scenarios"),
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8050,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on; the default keeps the studio on this machine.")
    ] = "127.0.0.1",
    keep: RecordOption = True,
) -> None:
    """Start the scenario studio in the browser, at http://HOST:PORT.

    Choose a scenario, change limits, effects and budget, solve, compare with recorded runs, see
    who moves, and download the plan and the report.
    """
    from optalloc.app.session import StudioSession
    from optalloc.app.web import create_app

    if not scenarios.is_dir():
        raise OptallocError(
            f"{scenarios}: no such folder. Give the folder of your scenario files with --scenarios "
            "(the repository's examples are in scenarios/)."
        )
    app = create_app(StudioSession(scenarios, record=keep))
    err.print(f"optalloc studio on http://{host}:{port}/ (Ctrl-C stops it)", highlight=False)
    try:
        app.run(host=host, port=port, debug=False)
    except OSError as exc:
        raise OptallocError(f"cannot listen on {host}:{port} ({exc.strerror}); choose another --port.") from None


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
