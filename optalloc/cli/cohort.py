"""CLI commands: ``optalloc cohort ...`` (building cohorts)."""

from __future__ import annotations

from pathlib import Path

import typer

from optalloc.cli.common import IDENTIFIERS, err, out, user_errors
from optalloc.cohort.synth import TYPE_COLUMN, home_transfusion_eligible, synthesize_cohort
from optalloc.errors import OptallocError
from optalloc.io import table_format, write_table

cohort_app = typer.Typer(
    help="Build, import and inspect cohorts (transfusion, readmission stays, your own mapped tables).",
    no_args_is_help=True,
)


@cohort_app.command("synth")
@user_errors
def synth(
    out_path: Path = typer.Option(..., "--out", help="Output table (.csv, .csv.gz or .parquet)."),
    patients: int = typer.Option(5000, "--patients", help="Number of patients to synthesise."),
    seed: int = typer.Option(0, "--seed", help="Random seed; the same seed gives the same cohort."),
) -> None:
    """Write a synthetic transfusion cohort with planted patient types (column true_type)."""
    from optalloc.scenario.model import MAX_PATIENTS

    if not 1 <= patients <= MAX_PATIENTS:
        raise OptallocError(f"--patients must be between 1 and {MAX_PATIENTS:,}. Got {patients:,} instead.")
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


@cohort_app.command("import")
@user_errors
def import_cohort(
    source: str = typer.Argument(
        None, help="Cohort file (.csv, .csv.gz, .parquet), or a SQL query with --url.", show_default=False
    ),
    name: str = typer.Option(..., "--name", help="Name of the cohort in the workspace (scenarios say table = NAME)."),
    url: str | None = typer.Option(None, "--url", help="Read SOURCE as a SQL query from this SQLAlchemy URL."),
    omop: str | None = typer.Option(
        None,
        "--omop",
        help="Build a readmission cohort (one row per inpatient stay) "
        "from the OMOP CDM 5.3/5.4 behind this SQLAlchemy URL.",
        show_default=False,
    ),
    schema: str | None = typer.Option(
        None, "--schema", help="With --omop: the CDM schema (default: the URL's).", show_default=False
    ),
    out_path: Path | None = typer.Option(
        None,
        "--out",
        help="With --omop: also write the stays as CSV/Parquet (for risk train, segment, track).",
        show_default=False,
    ),
    id_column: str | None = typer.Option(
        None,
        "--id-column",
        help=f"The column that identifies the patient (default: {IDENTIFIERS}).",
        show_default=False,
    ),
    strict: bool = typer.Option(
        False,
        "--strict",
        help="Refuse a table with columns a cohort does not declare (default: drop them, with a note).",
    ),
    replace: bool = typer.Option(False, "--replace", help="Overwrite an existing cohort of the same name."),
    mapping: Path | None = typer.Option(
        None,
        "--mapping",
        help="A TOML file mapping your column names, codes and units to the domain's.",
        show_default=False,
    ),
    domain: str | None = typer.Option(
        None,
        "--domain",
        help="With --mapping: transfusion or readmission (default: the mapping's domain).",
        show_default=False,
    ),
) -> None:
    """Validate a cohort, pseudonymise its identifiers and keep it in the workspace database."""
    from optalloc.cohort.load import load_cohort_file, load_cohort_sql
    from optalloc.workspace import Workspace

    if omop:
        from optalloc.cohort.omop import read_omop

        if source is not None or url is not None:
            raise OptallocError("--omop reads the CDM itself: give no SOURCE and no --url with it.")
        if out_path is not None:
            table_format(out_path)
        built = read_omop(omop, schema)
        workspace = Workspace()
        workspace.save_cohort(name, built.stays, source=built.source, replace=replace)
        if out_path is not None:
            write_table(built.stays, out_path)
        stays = built.stays
        out.print(
            f"imported {len(stays):,} inpatient stays of {stays['patient_id'].nunique():,} patients from "
            f"{built.source} as cohort {name!r} ({built.n_deaths_excluded:,} stays ending in death left out; "
            f"{stays['readmitted_30d'].mean():.1%} readmitted within 30 days)",
            highlight=False,
        )
        if out_path is not None:
            out.print(f"wrote {out_path}", highlight=False)
        return
    if source is None:
        raise OptallocError("give a cohort file, a SQL query with --url, or an OMOP CDM with --omop.")
    workspace = Workspace()
    if not replace and name in workspace.cohort_names():  # before reading a large file
        raise OptallocError(
            f"a cohort named {name!r} exists already in the workspace. Import with --replace "
            "to overwrite it, or choose another --name."
        )
    if mapping is not None:
        if url:
            raise OptallocError("--mapping reads a file: give the file as SOURCE, without --url.")
        _import_mapped(Path(source), mapping, domain, name, replace, out_path, strict)
        return
    if domain is not None:
        raise OptallocError("--domain goes with --mapping (a file whose columns have other names).")
    cohort = (
        load_cohort_sql(source, url, id_column, strict) if url else load_cohort_file(Path(source), id_column, strict)
    )
    dropped = cohort.attrs.get("dropped_columns", [])
    workspace.save_cohort(name, cohort, source=("SQL query" if url else str(source)), replace=replace)
    if dropped:
        err.print(
            f"note: dropped {len(dropped)} column(s) a cohort does not declare, never stored: {', '.join(dropped)}",
            highlight=False,
            soft_wrap=True,
        )
    out.print(f"imported {len(cohort):,} patients as cohort {name!r} into {workspace.safe_url}", highlight=False)


def _import_mapped(
    source: Path, mapping_path: Path, domain: str | None, name: str, replace: bool, out_path: Path | None, strict: bool
) -> None:
    """``cohort import FILE --mapping MAP.toml``: map, pseudonymise, validate, store."""
    from optalloc.cohort.load import prepare_cohort, pseudonymize_identifiers
    from optalloc.domains.mapping import apply_mapping, read_mapping
    from optalloc.io import read_table
    from optalloc.workspace import Workspace

    if out_path is not None:
        table_format(out_path)
    mapping = read_mapping(mapping_path, domain)
    ids = [theirs for ours, theirs in mapping.columns.items() if ours == "patient_id"]
    frame = apply_mapping(read_table(source, dtype=dict.fromkeys(ids, str)), mapping, str(source))
    if mapping.domain == "transfusion":
        cohort = prepare_cohort(frame, source=str(source), strict=strict)
    else:
        from optalloc.domains.stays import readmission_design

        cohort = pseudonymize_identifiers(frame, str(source), unique=False)
        readmission_design(cohort, str(source))  # every stay column checked, by row
    Workspace().save_cohort(name, cohort, source=f"{source} mapped by {mapping_path.name}", replace=replace)
    if out_path is not None:
        write_table(cohort, out_path)
    what = "patients" if mapping.domain == "transfusion" else "stays"
    out.print(
        f"imported {len(cohort):,} {what} as {mapping.domain} cohort {name!r} (mapped by {mapping_path.name})",
        highlight=False,
    )
    if out_path is not None:
        out.print(f"wrote {out_path}", highlight=False)


@cohort_app.command("list")
@user_errors
def list_cohorts() -> None:
    """Every cohort in the workspace database: size, source and import date."""
    from rich.table import Table

    from optalloc.workspace import Workspace

    cohorts = Workspace().cohorts()
    if not cohorts:
        out.print("no cohorts yet: optalloc cohort import FILE --name NAME", highlight=False)
        return
    table = Table(title="cohorts in the workspace", title_justify="left")
    for header in ("name", "patients", "source", "imported"):
        table.add_column(header, justify="right" if header == "patients" else "left", overflow="fold")
    for item in cohorts:
        size = f"{item['patients']:,}" if item["patients"] is not None else "?"
        table.add_row(item["name"], size, item["source"] or "", (item["imported_at"] or "")[:16].replace("T", " "))
    out.print(table)


@cohort_app.command("delete")
@user_errors
def delete_cohort(name: str = typer.Argument(..., help="Name of the cohort to delete.")) -> None:
    """Delete a cohort from the workspace database."""
    from optalloc.workspace import Workspace

    Workspace().drop_cohort(name)
    out.print(f"deleted cohort {name!r}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(cohort_app, name="cohort")
