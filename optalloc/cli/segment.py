"""CLI command: ``optalloc segment DATA`` - segments, their rules and profiles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import typer
from rich.table import Table

from optalloc.cli.common import err, out, print_json, progress, user_errors
from optalloc.cohort.schema import validate_cohort
from optalloc.errors import OptallocError
from optalloc.io import read_table, table_format, write_table
from optalloc.segments import SegmentationResult, segment_cohort


def _parse_k(value: str) -> int | str:
    if value.strip().lower() == "auto":
        return "auto"
    try:
        k = int(value)
    except ValueError:
        raise OptallocError(f"--k must be 'auto' or a whole number of segments. Got {value!r} instead.") from None
    if k < 1:
        raise OptallocError(f"--k must be at least 1. Got {k} instead.")
    return k


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    return [{k: (None if pd.isna(v) else v) if not isinstance(v, list | tuple) else v
             for k, v in row.items()} for row in frame.to_dict(orient="records")]


def result_payload(result: SegmentationResult, n_patients: int, seed: int) -> dict[str, Any]:
    """The JSON document ``--json`` prints: k, the k table, and one entry per segment."""
    rules = result.rules.drop(columns=["name"]).set_index("segment")
    segments = []
    for profile in _records(result.profiles):
        rule = rules.loc[profile["segment"]]
        segments.append({
            **profile,
            "rule": {
                "expression": rule["expression"], "words": rule["words"],
                "n_conditions": int(rule["n_conditions"]), "coverage": float(rule["coverage"]),
                "precision": float(rule["precision"]), "matched": rule["matched"],
            },
        })
    return {"n_patients": n_patients, "seed": seed, "k": result.k,
            "k_table": _records(result.k_table), "segments": segments}


def _fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "-"
    return format(value, spec) if isinstance(value, int | float) else str(value)


def render_segments(result: SegmentationResult, source: str = "cohort") -> None:
    """Print the k-selection table, the segment profiles and the rules (Rich, stdout)."""
    k_table = Table(title=f"Choosing the number of segments ({source})", title_justify="left")
    for name in ("k", "PAC", "consensus", "silhouette", "smallest", "why"):
        k_table.add_column(name, justify="left" if name == "why" else "right")
    for row in result.k_table.itertuples():
        style = "bold green" if row.chosen else None
        k_table.add_row(str(row.k), f"{row.pac:.3f}", f"{row.consensus_index:.3f}",
                        _fmt(row.silhouette, ".3f"), f"{row.min_segment_share:.1%}", row.reason, style=style)
    out.print(k_table)
    table = Table(title=f"{result.k} segments", title_justify="left")
    for name in ("#", "name", "patients", "share", "readmitted", "age", "tx/28d", "km", "frailty"):
        table.add_column(name, justify="left" if name == "name" else "right")
    for row in result.profiles.to_dict(orient="records"):
        table.add_row(
            str(row["segment"]), str(row["name"]), _fmt(row["n"], ","), _fmt(row["share"], ".1%"),
            _fmt(row.get("readmission_rate"), ".1%"), _fmt(row.get("mean_age"), ".0f"),
            _fmt(row.get("mean_transfusions_per_28d"), ".2f"), _fmt(row.get("mean_distance_km"), ".0f"),
            _fmt(row.get("mean_frailty"), ".1f"),
        )
    out.print(table)
    rules = Table(title="Rules (expression usable as a scenario eligibility filter)", title_justify="left")
    for name in ("#", "rule", "coverage", "precision"):
        rules.add_column(name, justify="left" if name == "rule" else "right")
    for row in result.rules.itertuples():
        rules.add_row(str(row.segment), f"{row.words}\n[dim]{row.expression}[/]",
                      f"{row.coverage:.0%}", f"{row.precision:.0%}")
    out.print(rules)


@user_errors
def segment(
    data: Path = typer.Argument(..., help="Cohort table (.csv, .csv.gz or .parquet)."),
    k: str = typer.Option("auto", "--k", help="Number of segments, or 'auto' to choose by stability."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the clustering and rule search."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON alone on stdout."),
    out_path: Path | None = typer.Option(None, "--out", help="Write patient_id and segment per patient."),
    shareable: bool = typer.Option(False, "--shareable", help="Suppress counts below 11 in profiles."),
) -> None:
    """Find patient segments, describe each by a rule of at most 3 conditions and a profile."""
    k_value = _parse_k(k)
    if out_path is not None:
        table_format(out_path)  # a bad extension fails before the work
    cohort = validate_cohort(read_table(data), source=str(data))
    with progress(enabled=not as_json) as bar:
        task = bar.add_task("segmenting", total=None)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        result = segment_cohort(cohort, k=k_value, seed=seed, shareable=shareable, progress=report)
    if out_path is not None:
        write_table(result.assignments(cohort), out_path)
        err.print(f"wrote {len(cohort):,} segment assignments to {out_path}", highlight=False)
    if as_json:
        print_json(result_payload(result, len(cohort), seed))
    else:
        render_segments(result, source=str(data))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("segment")(segment)
