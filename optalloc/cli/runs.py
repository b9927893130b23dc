"""``optalloc runs list`` and ``optalloc runs show ID [--json] [--rerun]``: the run record."""

from __future__ import annotations

from typing import Annotated, Any

import pandas as pd
import typer
from rich.table import Table

from optalloc.cli.common import out, print_json, progress, user_errors
from optalloc.cli.options import JsonOption
from optalloc.cli.render import fmt


def _show_results(record: dict[str, Any]) -> None:
    """The recorded results in the same shape the original command printed."""
    kind, results = record["kind"], record["results"]
    if kind in ("solve", "compare"):
        from optalloc.allocation.summary import PlanSummary
        from optalloc.cli.render import differences_table
        from optalloc.studio.kpis import differences_frame

        summaries = [PlanSummary.from_dict(item) for item in results]
        out.print(differences_table(differences_frame(summaries), title="Recorded results"))
    elif kind == "sweep":
        from optalloc.cli.render import sweep_table

        paths = [text.split("=", 1)[0] for text in record["params"]["vary"]]
        out.print(sweep_table(pd.DataFrame(results), paths, "Recorded sweep"))
    elif kind == "size":
        from optalloc.cli.render import size_table

        out.print(
            size_table(
                results["around"],
                f"Recorded sizing: {results['path']} = {fmt(results['level'])} for {results['target']}",
            )
        )
    elif kind == "uncertainty":
        from optalloc.cli.render import uncertainty_tables

        for table in uncertainty_tables(results):
            out.print(table)


@user_errors
def list_runs(
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many recent runs.")] = 20,
    kind: Annotated[
        str | None,
        typer.Option("--kind", help="Only runs of this command (solve, compare, sweep, size, uncertainty)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The most recent runs first."""
    from optalloc.workspace import Workspace

    rows = Workspace().list_runs(limit=limit, kind=kind)
    if as_json:
        print_json(rows)
        return
    table = Table(title="Recorded runs", title_justify="left", header_style="bold")
    for column in ("id", "when (UTC)", "command", "scenarios", "version", "commit", "seconds"):
        table.add_column(column, justify="right" if column in ("id", "seconds") else "left")
    for row in rows:
        table.add_row(
            str(row["id"]),
            row["created_at"],
            row["kind"],
            ", ".join(row["scenario_names"]),
            row["code_version"],
            (row["git_commit"] or "-")[:14],
            fmt(row["seconds"]),
        )
    out.print(table)
    if not rows:
        out.print("no runs recorded yet; solve, compare, sweep, size and uncertainty record theirs.")


@user_errors
def show(
    run_id: Annotated[int, typer.Argument(help="Run id (see 'optalloc runs list').")],
    rerun: Annotated[
        bool, typer.Option("--rerun", help="Re-run from the stored scenarios and report whether the numbers match.")
    ] = False,
    rtol: Annotated[float, typer.Option("--rtol", help="Relative tolerance when comparing numbers on --rerun.")] = 1e-5,
    as_json: JsonOption = False,
) -> None:
    """Show a recorded run (scenarios, hashes, code version, timings, results); optionally re-run it."""
    from optalloc.studio.runs import rerun as rerun_record
    from optalloc.workspace import Workspace

    record = Workspace().get_run(run_id)
    check = None
    if rerun:
        with progress() as bar:
            bar.add_task(f"re-running run {run_id} ({record['kind']})", total=None)
            check = rerun_record(record, rtol)
    if as_json:
        payload = dict(record)
        if check is not None:
            payload["rerun"] = {k: v for k, v in check.items() if k != "results"}
        print_json(payload)
        if check is not None and not check["matches"]:
            raise typer.Exit(1)
        return
    out.print(
        f"[bold]run {record['id']}[/]: {record['kind']} of {', '.join(record['scenario_names'])} "
        f"at {record['created_at']} UTC, optalloc {record['code_version']} "
        f"(commit {record['git_commit'] or 'unknown'}), {fmt(record['seconds'])} s"
    )
    for item in record["scenarios"]:
        out.print(
            f"  {item['name']}: {item['path']} (scenario hash {item['text_hash'][:12]}, "
            f"cohort hash {record['cohort_hashes'].get(item['name'], '?')[:12]})",
            highlight=False,
        )
    out.print(f"  parameters: {record['params']}", highlight=False)
    _show_results(record)
    if check is not None:
        if check["matches"]:
            out.print(f"[green]re-run matches[/] (every number within rtol {rtol:g}).")
        else:
            out.print(f"[red]re-run differs[/] ({len(check['differences'])} differences):")
            for line in check["differences"][:30]:
                out.print(f"  {line}", highlight=False)
            raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add the ``runs`` sub-app."""
    runs_app = typer.Typer(
        help="Recorded runs: list them, show one, re-run it and check the numbers.", no_args_is_help=True
    )

    runs_app.command("list")(list_runs)
    runs_app.command("show")(show)
    app.add_typer(runs_app, name="runs")
