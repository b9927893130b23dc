"""CLI command: ``optalloc reveal PLAN --records ORIGINAL_FILE`` (the only way back to identities)."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from optalloc.cli.common import IDENTIFIERS, err, out, user_errors
from optalloc.errors import OptallocError


def reveal(
    plan_path: Path = typer.Argument(..., help="A plan written by 'optalloc solve --out' (patient_id pseudonyms)."),
    records: Path = typer.Option(..., "--records", help="The original records the cohort was imported from."),
    id_column: str = typer.Option(
        None,
        "--id-column",
        help=f"The identifier column of the records (default: {IDENTIFIERS}).",
        show_default=False,
    ),
    out_path: Path = typer.Option(
        ..., "--out", help="Where to write the plan with identifiers (CSV/Parquet, created readable by you only)."
    ),
) -> None:
    """Join a plan back to the original identifiers, for the people allowed to act on it.

    A pseudonym cannot be reversed: this recomputes the pseudonym of every identifier in the
    original records with the workspace key and joins on it, so it needs both the records and
    the key. The output holds real identifiers; it is written owner-only (0600).
    """
    from optalloc.cohort.load import IDENTIFIER_COLUMNS
    from optalloc.io import check_output, read_table, write_table
    from optalloc.privacy import pseudonymize_column

    check_output(out_path)
    plan = read_table(plan_path, dtype={"patient_id": str})
    if "patient_id" not in plan.columns:
        raise OptallocError(f"{plan_path}: a plan needs a patient_id column (as 'optalloc solve --out' writes).")
    original = read_table(records, dtype=str)
    column = id_column or next((c for c in IDENTIFIER_COLUMNS if c in original.columns), None)
    if column is None or column not in original.columns:
        raise OptallocError(
            f"{records}: no identifier column{f' {id_column!r}' if id_column else ''}; name it with --id-column."
        )
    ids = original[column].astype(str).str.strip()
    lookup = dict(zip(pseudonymize_column(ids), ids, strict=True))
    found = plan["patient_id"].map(lookup)
    if found.isna().all():
        raise OptallocError(
            f"{plan_path}: none of its patients is in {records} under this workspace's key. Check "
            "that the records are the ones imported and that OPTALLOC_PSEUDONYM_KEY (or "
            "OPTALLOC_PSEUDONYM_KEY_FILE) is the key used then."
        )
    revealed = plan.copy()
    revealed.insert(1, column, found)
    write_table(revealed, out_path)
    os.chmod(out_path, 0o600)
    missing = int(found.isna().sum())
    out.print(
        f"wrote {len(revealed):,} patients with their {column} to {out_path} (owner-only)"
        + (f"; {missing:,} not found in the records" if missing else ""),
        highlight=False,
    )
    err.print(
        "note: this file holds real identifiers; keep it where the plan's users are allowed to see them.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's command to the main app."""
    app.command("reveal")(user_errors(reveal))
