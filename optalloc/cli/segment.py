"""CLI command: ``optalloc segment DATA`` - segments, their rules and profiles.

``DATA`` is a transfusion cohort (one row per patient, :mod:`optalloc.cohort.schema`), a
Diabetes 130 encounter file, recognised by its ``encounter_id``, ``patient_nbr`` and
``readmitted`` columns, or any other table of one row per patient: it is segmented on the columns
``--numeric`` and ``--categorical`` name, else on every column that can be a feature
(:mod:`optalloc.segments.infer`, which says on stderr what it used and left out). The latter is read by :func:`optalloc.cohort.diabetes130.load_diabetes130`
(checked, identifiers pseudonymised) and segmented one row per patient, the patient's first
encounter (:mod:`optalloc.domains.diabetes130`); no output holds ``patient_nbr`` or
``encounter_id``: ``--out`` writes the keyed pseudonym ``patient_id``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import typer

from optalloc.cli.common import err, print_json, progress, user_errors
from optalloc.cli.render import render_segments
from optalloc.cohort.load import is_cohort_table, load_cohort_file, load_patient_table
from optalloc.errors import OptallocError
from optalloc.io import check_output, table_columns, write_table

if TYPE_CHECKING:  # the segmentation pulls in scikit-learn: imported when a segment command runs
    from optalloc.segments import SegmentationResult


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
    return [
        {k: (None if pd.isna(v) else v) if not isinstance(v, list | tuple) else v for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


def result_payload(result: SegmentationResult, n_patients: int, seed: int) -> dict[str, Any]:
    """The JSON document ``--json`` prints: k, the k table, and one entry per segment."""
    rules = result.rules.drop(columns=["name"]).set_index("segment")
    segments = []
    for profile in _records(result.profiles):
        rule = rules.loc[profile["segment"]]
        segments.append(
            {
                **profile,
                "rule": {
                    "expression": rule["expression"],
                    "words": rule["words"],
                    "n_conditions": int(rule["n_conditions"]),
                    "coverage": _number(rule["coverage"]),
                    "precision": _number(rule["precision"]),
                    "matched": rule["matched"],
                    "heldout_coverage": _number(rule.get("heldout_coverage")),
                    "heldout_precision": _number(rule.get("heldout_precision")),
                    "note": rule.get("note", ""),
                },
            }
        )
    return {
        "n_patients": n_patients,
        "seed": seed,
        "k": result.k,
        "verdict": result.verdict,
        "k_table": _records(result.k_table),
        "segments": segments,
    }


def _number(value: Any) -> float | None:
    """A rate as a float, or None where ``--shareable`` blanked it (it would give a count back)."""
    return None if value is None or (isinstance(value, float) and pd.isna(value)) else float(value)


def _columns(path: Path) -> list[str]:
    """Column names of a table file, or none if it cannot be read (read_table then says why)."""
    try:
        return table_columns(path)
    except Exception:
        return []


def _names(text: str | None) -> tuple[str, ...]:
    return tuple(name.strip() for name in (text or "").split(",") if name.strip())


def _never_use() -> set[str]:
    """No domain reads a table of one's own, but what any domain never uses (identifiers,
    outcomes, planted types) is no feature there either, named or inferred."""
    from optalloc.domains import DOMAINS

    return {c for d in DOMAINS.values() for c in d.declaration.never_use}


def _inferred(cohort: pd.DataFrame) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every column that can be a feature, said on stderr with what is left out and why."""
    from optalloc.segments.infer import infer_features

    found = infer_features(cohort, never_use=_never_use())
    if not found.numeric and not found.categorical:
        raise OptallocError(
            f"No column of the table can be a segmentation feature ({found.describe()}). Name the "
            "features with --numeric and --categorical, or fill in the missing values."
        )
    err.print(found.describe(), highlight=False, markup=False)
    return found.numeric, found.categorical


@user_errors
def segment(
    data: Path = typer.Argument(
        ..., help="Cohort table (.csv, .csv.gz or .parquet), or a Diabetes 130 encounter file."
    ),
    k: str = typer.Option("auto", "--k", help="Number of segments, or 'auto' to choose by stability."),
    seed: int = typer.Option(0, "--seed", help="Random seed of the clustering and rule search."),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON alone on stdout."),
    out_path: Path | None = typer.Option(None, "--out", help="Write patient_id and segment per patient."),
    shareable: bool = typer.Option(False, "--shareable", help="Suppress counts below 11 in profiles."),
    min_precision: float = typer.Option(
        0.7, "--min-precision", min=0.0, max=1.0, help="Held-out precision a rule must reach to be shown as usable."
    ),
    numeric: str | None = typer.Option(
        None, "--numeric", help="Numeric feature columns, comma-separated (any table; default: inferred)."
    ),
    categorical: str | None = typer.Option(
        None, "--categorical", help="Categorical feature columns, comma-separated (any table; default: inferred)."
    ),
) -> None:
    """Find patient segments, describe each by a rule of at most 3 conditions and a profile."""
    from optalloc.domains import diabetes130, get_domain
    from optalloc.segments import segment_cohort

    k_value = _parse_k(k)
    check_output(out_path)  # a bad extension, a folder or an unwritable place fails before the work
    columns = _columns(data)
    chosen = (_names(numeric), _names(categorical)) if numeric is not None or categorical is not None else None
    diabetes = diabetes130.looks_like_diabetes130(columns)
    if diabetes and chosen is not None:
        raise OptallocError(
            f"{data}: a Diabetes 130 file is segmented on its planner features (one row per patient); "
            "--numeric and --categorical are for tables of your own. Leave them out."
        )
    features: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    if diabetes:
        # Checked and pseudonymised by the project loader; one row per patient (first encounter).
        cohort = diabetes130.load_planner_frame(data, which="first")
    elif chosen is None and is_cohort_table(columns):
        cohort = load_cohort_file(data)  # validated, identifiers pseudonymised
    else:  # a table of the planner's own: identifiers pseudonymised, features named or inferred
        cohort = load_patient_table(data)
        features = chosen if chosen is not None else _inferred(cohort)
    headers: Mapping[str, tuple[str, str]] | None = None  # a table of one's own: its column names
    with progress(enabled=not as_json) as bar:
        task = bar.add_task("segmenting", total=None)

        def report(stage: str, done: int, total: int) -> None:
            bar.update(task, description=stage, completed=done, total=total)

        if diabetes:
            headers = diabetes130.PROFILING.headers
            result = diabetes130.segment_diabetes(
                cohort, k=k_value, seed=seed, shareable=shareable, progress=report, min_precision=min_precision
            )
        elif features is not None:
            result = segment_cohort(
                cohort,
                k_value,
                seed,
                numeric=features[0],
                categorical=features[1],
                never_use=tuple(_never_use()),
                profile_means=features[0],
                shareable=shareable,
                progress=report,
                min_precision=min_precision,
            )
        else:  # a table in the transfusion cohort's schema, written in its domain's words
            declaration = get_domain("transfusion").declaration
            headers = declaration.profile.headers
            result = segment_cohort(
                cohort,
                k_value,
                seed,
                shareable=shareable,
                progress=report,
                min_precision=min_precision,
                **declaration.segment_options(),
            )
    if out_path is not None:
        write_table(result.assignments(cohort), out_path)
        err.print(f"wrote {len(cohort):,} segment assignments to {out_path}", highlight=False)
    if as_json:
        payload = result_payload(result, len(cohort), seed)
        payload["data_format"] = "diabetes130" if diabetes else "table" if features is not None else "cohort"
        print_json(payload)
    else:
        source = f"{data}, Diabetes 130: first encounter of each patient" if diabetes else str(data)
        render_segments(result, source=source, headers=headers)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("segment")(segment)
