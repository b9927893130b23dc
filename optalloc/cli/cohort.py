"""CLI commands: ``optalloc cohort ...`` (building cohorts)."""

from __future__ import annotations

from pathlib import Path

import typer

from optalloc.cli.common import err, out, user_errors
from optalloc.cohort.synth import TYPE_COLUMN, home_transfusion_eligible, synthesize_cohort
from optalloc.errors import OptallocError
from optalloc.io import table_format, write_table

cohort_app = typer.Typer(help="Build and inspect transfusion cohorts.", no_args_is_help=True)


@cohort_app.command("synth")
@user_errors
def synth(
    out_path: Path = typer.Option(..., "--out", help="Output table (.csv, .csv.gz or .parquet)."),
    patients: int = typer.Option(5000, "--patients", help="Number of patients to synthesise."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same cohort."),
) -> None:
    """Write a synthetic transfusion cohort with planted patient types (column true_type)."""
    if patients < 1:
        raise OptallocError(f"--patients must be at least 1. Got {patients} instead.")
    table_format(out_path)  # fail on a bad extension before the work
    cohort = synthesize_cohort(patients, seed=seed)
    write_table(cohort, out_path)
    eligible = float(home_transfusion_eligible(cohort).mean())
    types = cohort[TYPE_COLUMN].value_counts().sort_index()
    err.print(f"wrote {len(cohort):,} patients to {out_path} (seed {seed})", highlight=False)
    for name, count in types.items():
        out.print(f"  {name:<26} {count:>8,}  {count / len(cohort):6.1%}", highlight=False)
    out.print(f"  home-transfusion eligible  {eligible:6.1%}", highlight=False)
    out.print(f"  readmitted within 30 days  {cohort['readmitted_30d'].mean():6.1%}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(cohort_app, name="cohort")
