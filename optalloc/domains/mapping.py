"""A hospital's own table read as a domain's cohort: column names, codes and units mapped by a
TOML file, so no one has to rename a spreadsheet by hand.

    domain = "transfusion"
    [columns]              # the cohort's column = your column
    patient_id = "MRN"
    haemoglobin_g_dl = "Hb (g/L)"
    [codes.sex]            # your code = the cohort's value
    Male = "M"
    Female = "F"
    [units]                # multiply your values by this to get the cohort's unit
    haemoglobin_g_dl = 0.1 # g/L -> g/dL

Every problem is an error naming the mapping or data file, the column, the row and the fix:
a mapped column missing from the data, a required column left unmapped, a code the mapping
does not know, a unit factor applied to text. Ranges are then checked by the domain's own
validation (a haemoglobin of 95 g/dL is refused by row).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from optalloc.errors import CohortError, shown


@dataclass(frozen=True)
class Mapping:
    """What a mapping file says (see the module docstring)."""

    path: Path
    domain: str
    columns: dict[str, str] = field(default_factory=dict)
    codes: dict[str, dict[str, str]] = field(default_factory=dict)
    units: dict[str, float] = field(default_factory=dict)


def required_columns(domain: str) -> tuple[str, ...]:
    """The columns a domain's cohort cannot do without, as the domain declares them."""
    from optalloc.domains import DOMAINS

    if domain not in DOMAINS:
        raise CohortError(f"--domain {domain!r}: a mapping can target {' or '.join(DOMAINS)}.")
    return DOMAINS[domain].declaration.required_columns()


def read_mapping(path: Path, domain: str | None = None) -> Mapping:
    """Read and check a mapping file's shape (not yet against any data)."""
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise CohortError(f"{path}: the mapping file cannot be read ({exc}).") from None
    except tomllib.TOMLDecodeError as exc:
        raise CohortError(f"{path}: not valid TOML ({exc}). Fix the line it names.") from None
    unknown = sorted(set(raw) - {"domain", "columns", "codes", "units"})
    if unknown:
        raise CohortError(
            f"{path}: unknown section(s) {', '.join(unknown)}; a mapping has domain, [columns], [codes.X], [units]."
        )
    chosen = domain or raw.get("domain") or "transfusion"
    if raw.get("domain") and domain and raw["domain"] != domain:
        raise CohortError(f"{path}: the mapping is for the {raw['domain']!r} domain, but --domain says {domain!r}.")
    columns = raw.get("columns", {})
    codes = raw.get("codes", {})
    units = raw.get("units", {})
    if not all(isinstance(v, str) for v in columns.values()):
        raise CohortError(f'{path}: every entry of [columns] is cohort_column = "your column" (text).')
    for column, table in codes.items():
        if not isinstance(table, dict) or not all(isinstance(v, str | bool | int) for v in table.values()):
            raise CohortError(f'{path}: [codes.{column}] maps your codes to the cohort\'s values: Male = "M".')
    for column, factor in units.items():
        if isinstance(factor, bool) or not isinstance(factor, int | float) or not np.isfinite(factor) or factor <= 0:
            raise CohortError(f"{path}: [units] {column} = {shown(factor)}: give a positive number to multiply by.")
    required_columns(chosen)  # a known domain
    return Mapping(
        Path(path),
        chosen,
        dict(columns),
        {k: {str(a): b for a, b in v.items()} for k, v in codes.items()},
        {k: float(v) for k, v in units.items()},
    )


def apply_mapping(frame: pd.DataFrame, mapping: Mapping, source: str) -> pd.DataFrame:
    """The table with the cohort's column names, codes and units; unmapped columns left as they are."""
    missing = sorted(theirs for theirs in mapping.columns.values() if theirs not in frame.columns)
    if missing:
        raise CohortError(
            f"{mapping.path.name} maps to column(s) {', '.join(repr(m) for m in missing)}, which {source} does not "
            f"have (its columns: {', '.join(map(str, frame.columns))}). Correct [columns] in the mapping."
        )
    renamed = frame.rename(columns={theirs: ours for ours, theirs in mapping.columns.items()})
    unmapped = [c for c in required_columns(mapping.domain) if c not in renamed.columns]
    if unmapped:
        raise CohortError(
            f"{source}: no column for {', '.join(unmapped)} (required by the {mapping.domain} domain). Add "
            f'{unmapped[0]} = "<your column>" under [columns] in {mapping.path.name}.'
        )
    for column, table in mapping.codes.items():
        if column not in renamed.columns:
            raise CohortError(
                f"{mapping.path.name}: [codes.{column}] names a column the table does not have after mapping."
            )
        text = renamed[column].astype(str).str.strip()
        known = text.isin(list(table)) | text.isin([str(v) for v in table.values()])
        if not known.all():
            row = int(np.flatnonzero(~known.to_numpy())[0]) + 1
            raise CohortError(
                f"{source}: row {row}, column {column}: the code {shown(renamed[column].iloc[row - 1])} is not in "
                f"[codes.{column}] of {mapping.path.name} (known: {', '.join(table)}). Add it to the mapping."
            )
        renamed[column] = text.map(lambda v, t=table: t.get(v, v))
    for column, factor in mapping.units.items():
        if column not in renamed.columns:
            raise CohortError(
                f"{mapping.path.name}: [units] names {column}, which the table does not have after mapping."
            )
        values = pd.to_numeric(renamed[column], errors="coerce")
        bad = values.isna() & renamed[column].notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
            raise CohortError(
                f"{source}: row {row}, column {column}: {shown(renamed[column].iloc[row - 1])} is not a number, so "
                f"the unit factor {factor:g} of {mapping.path.name} cannot apply. Correct the value."
            )
        renamed[column] = values * factor
    return renamed
