"""Loader for the Diabetes 130-US hospitals data (Strack et al. 2014), one row per encounter.

The published file marks missing values with ``?``, stores admission and discharge codes as
integers explained by ``IDs_mapping.csv``, and carries two real identifiers (``encounter_id``,
``patient_nbr``). The loader checks every column the risk models read *before* any model is fit,
so a wrong file fails in a second with a paragraph naming the file, column and row, not after
minutes of training with a cryptic pandas error.

What the loader returns never contains either identifier: ``patient_nbr`` becomes the keyed
pseudonym ``patient_id`` (:func:`optalloc.privacy.pseudonymize`) and ``encounter_id`` becomes
``encounter_order``, the rank of the encounter in time order, which is all the history features
need.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from optalloc.cohort.schema import first_bad_row
from optalloc.errors import CohortError, OptallocError, shown
from optalloc.io import read_table
from optalloc.privacy import pseudonymize_column

DATA_DIR = Path(__file__).resolve().parent.parent / "data" / "diabetes130"
DEV_DATA_PATH = DATA_DIR / "diabetic_data_dev.csv.gz"
IDS_MAPPING_PATH = DATA_DIR / "IDs_mapping.csv"

# Discharge dispositions meaning death or hospice (see IDs_mapping.csv): such a patient cannot
# be readmitted, so keeping them would teach the model that the sickest patients are safe.
DEATH_OR_HOSPICE_DISPOSITIONS: tuple[int, ...] = (11, 19, 20, 21)
READMITTED_VALUES: tuple[str, ...] = ("<30", ">30", "NO")
CODE_COLUMNS: tuple[str, ...] = ("admission_type_id", "discharge_disposition_id", "admission_source_id")
MEDICATION_COLUMNS: tuple[str, ...] = (
    "metformin",
    "repaglinide",
    "nateglinide",
    "chlorpropamide",
    "glimepiride",
    "acetohexamide",
    "glipizide",
    "glyburide",
    "tolbutamide",
    "pioglitazone",
    "rosiglitazone",
    "acarbose",
    "miglitol",
    "troglitazone",
    "tolazamide",
    "examide",
    "citoglipton",
    "insulin",
    "glyburide-metformin",
    "glipizide-metformin",
    "glimepiride-pioglitazone",
    "metformin-rosiglitazone",
    "metformin-pioglitazone",
)
MEDICATION_VALUES: tuple[str, ...] = ("No", "Steady", "Up", "Down")
INTEGER_COLUMNS: tuple[str, ...] = (
    "time_in_hospital",
    "num_lab_procedures",
    "num_procedures",
    "num_medications",
    "number_outpatient",
    "number_emergency",
    "number_inpatient",
    "number_diagnoses",
)
DIAGNOSIS_CODE_COLUMNS: tuple[str, ...] = ("diag_1", "diag_2", "diag_3")
TEXT_COLUMNS: tuple[str, ...] = (
    "race",
    "gender",
    "age",
    "payer_code",
    "medical_specialty",
    *DIAGNOSIS_CODE_COLUMNS,
    "max_glu_serum",
    "A1Cresult",
    "change",
    "diabetesMed",
)
REQUIRED_COLUMNS: tuple[str, ...] = (
    ("encounter_id", "patient_nbr")
    + TEXT_COLUMNS
    + CODE_COLUMNS
    + INTEGER_COLUMNS
    + MEDICATION_COLUMNS
    + ("readmitted",)
)
LABEL = "readmitted_30d"
#: ICD-9-CM as the published file writes it: leading zeros dropped (8 is 008), up to two decimals.
ICD9_SHAPE = r"\d{1,3}(\.\d{1,2})?|V\d{1,2}(\.\d{1,2})?|E\d{3}(\.\d)?"


@dataclass(frozen=True)
class Diabetes130Data:
    """A loaded, checked, pseudonymised encounter table and what was dropped on the way.

    Attributes
    ----------
    encounters : pandas.DataFrame
        One row per kept encounter in time order (``encounter_order`` ascending), with
        ``patient_id`` (pseudonym), the published clinical columns, ``readmitted`` and the
        label ``readmitted_30d`` (``readmitted == "<30"``). No ``encounter_id``/``patient_nbr``.
    n_excluded : int
        Encounters dropped because the patient died or went to hospice (dispositions 11, 19,
        20, 21 by default).
    source : str
        The file the table came from, for messages.
    sha256 : str
        SHA-256 of the file's bytes, recorded with any model trained on it.
    code_tables : dict
        ``{column: {code: description}}`` from ``IDs_mapping.csv``.
    """

    encounters: pd.DataFrame
    n_excluded: int
    source: str
    sha256: str
    code_tables: dict[str, dict[int, str]]

    @property
    def n_encounters(self) -> int:
        return len(self.encounters)

    @property
    def n_patients(self) -> int:
        return int(self.encounters["patient_id"].nunique())


def file_sha256(path: Path | str) -> str:
    """SHA-256 of a file's bytes, read in chunks so large files do not fill memory."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_code_tables(path: Path | str = IDS_MAPPING_PATH) -> dict[str, dict[int, str]]:
    """Parse ``IDs_mapping.csv``: three ``id,description`` tables separated by blank rows.

    Returns ``{table_name: {code: description}}`` keyed by the header of each block
    (``admission_type_id``, ``discharge_disposition_id``, ``admission_source_id``).
    """
    source = Path(path)
    if not source.exists():
        raise CohortError(
            f"{source}: no such code-table file. Point to the IDs_mapping.csv published with "
            "the Diabetes 130 data (a copy ships in optalloc/data/diabetes130/)."
        )
    tables: dict[str, dict[int, str]] = {}
    current: str | None = None
    with open(source, newline="", encoding="utf-8") as handle:
        for line_number, row in enumerate(csv.reader(handle), start=1):
            if not row or not any(cell.strip() for cell in row):
                current = None
                continue
            first = row[0].strip()
            if current is None:
                current = first
                tables[current] = {}
                continue
            try:
                code = int(first)
            except ValueError:
                raise CohortError(
                    f"{source}: line {line_number} of table {current!r} has the code {first!r}, "
                    "which is not a whole number. Restore the published IDs_mapping.csv."
                ) from None
            tables[current][code] = row[1].strip() if len(row) > 1 else ""
    missing = [name for name in CODE_COLUMNS if name not in tables]
    if missing:
        raise CohortError(
            f"{source}: no code table for {', '.join(missing)}. The file needs one block per "
            f"coded column ({', '.join(CODE_COLUMNS)}) with that name as its header; "
            "restore the published IDs_mapping.csv."
        )
    return tables


def _check_columns(raw: pd.DataFrame, source: str) -> None:
    missing = [c for c in REQUIRED_COLUMNS if c not in raw.columns]
    if missing:
        raise CohortError(
            f"{source}: missing column(s) {', '.join(missing)}. A Diabetes 130 file needs the "
            "columns exactly as published by Strack et al. (2014), header included; re-export "
            "the file with those column names and load it again."
        )
    if raw.empty:
        raise CohortError(f"{source}: the table has no rows. Load a file with at least one encounter.")


def _check_identifiers(raw: pd.DataFrame, source: str) -> pd.Series:
    for column in ("encounter_id", "patient_nbr"):
        empty = raw[column].isna()
        if empty.any():
            raise CohortError(
                f"{source}: column {column!r} is empty at row {first_bad_row(empty)}. Every encounter "
                f"needs its {column}; fill it in or drop the row."
            )
    order = pd.to_numeric(raw["encounter_id"], errors="coerce")
    bad = order.isna()
    if bad.any():
        row = first_bad_row(bad)
        raise CohortError(
            f"{source}: column 'encounter_id' must be a number but row {row} holds "
            f"{shown(raw['encounter_id'].iloc[row - 1])}. Correct the value and load again."
        )
    dup = order.duplicated()
    if dup.any():
        raise CohortError(
            f"{source}: the encounter at row {first_bad_row(dup)} repeats an earlier encounter_id. "
            "Keep one row per encounter (remove the duplicate) and load again."
        )
    return order


def _check_codes(
    raw: pd.DataFrame, tables: dict[str, dict[int, str]], source: str, mapping_source: str
) -> dict[str, pd.Series]:
    codes: dict[str, pd.Series] = {}
    for column in CODE_COLUMNS:
        values = pd.to_numeric(raw[column], errors="coerce")
        known = values.isin(list(tables[column]))
        if not known.all():
            row = first_bad_row(~known)
            raise CohortError(
                f"{source}: column {column!r} at row {row} holds the code "
                f"{shown(raw[column].iloc[row - 1])}, which the code table {mapping_source} does not "
                f"define. Use one of its codes ({', '.join(map(str, sorted(tables[column])))}) "
                "or add the new code with its description to the table."
            )
        codes[column] = values.astype("int64")
    return codes


def _check_values(raw: pd.DataFrame, source: str) -> None:
    for column in INTEGER_COLUMNS:
        numeric = pd.to_numeric(raw[column], errors="coerce")
        bad = numeric.isna() | (numeric < 0) | (numeric != np.round(numeric))
        if bad.any():
            row = first_bad_row(bad)
            raise CohortError(
                f"{source}: column {column!r} must be a whole number of zero or more but row "
                f"{row} holds {shown(raw[column].iloc[row - 1])}. Correct the value and load again."
            )
    for column in MEDICATION_COLUMNS:
        bad = ~raw[column].isin(MEDICATION_VALUES)
        if bad.any():
            row = first_bad_row(bad)
            raise CohortError(
                f"{source}: column {column!r} at row {row} holds {shown(raw[column].iloc[row - 1])}; "
                f"medication columns take {', '.join(MEDICATION_VALUES)}. Correct the value."
            )
    bad = ~raw["age"].astype("string").str.fullmatch(r"\[\d+-\d+\)").fillna(False).astype(bool)
    if bad.any():  # the features read the band's lower end; anything else would become NaN
        row = first_bad_row(bad)
        raise CohortError(
            f"{source}: column 'age' at row {row} holds {shown(raw['age'].iloc[row - 1])}; it must be a "
            "ten-year band such as [70-80) (the published coding). Recode the value and load again."
        )
    bounds = raw["age"].astype("string").str.extract(r"\[(\d+)-(\d+)\)").astype(float)
    bad = ~((bounds[1] - bounds[0] == 10) & (bounds[0] % 10 == 0) & bounds[0].between(0, 90))
    if bad.any():  # e.g. [80-70) or [110-120): well formed, but no band of the published coding
        row = first_bad_row(bad)
        raise CohortError(
            f"{source}: column 'age' at row {row} holds {shown(raw['age'].iloc[row - 1])}, which is no ten-year band "
            "from [0-10) to [90-100) (the published coding). Recode the value and load again."
        )
    for column in DIAGNOSIS_CODE_COLUMNS:
        text = raw[column].astype("string")
        bad = text.notna() & ~text.str.fullmatch(ICD9_SHAPE).fillna(False).astype(bool)
        if bad.any():  # a code of no ICD-9 shape would silently fall into "other"
            row = first_bad_row(bad)
            raise CohortError(
                f"{source}: column {column!r} at row {row} holds {shown(raw[column].iloc[row - 1])}, which is not an "
                "ICD-9-CM code (e.g. 428, 250.83, V45 or E909; ? when missing). Correct the value and load again."
            )
    bad = ~raw["readmitted"].isin(READMITTED_VALUES)
    if bad.any():
        row = first_bad_row(bad)
        raise CohortError(
            f"{source}: column 'readmitted' at row {row} holds {shown(raw['readmitted'].iloc[row - 1])}; "
            f"it must be one of {', '.join(READMITTED_VALUES)} (the published coding). Recode "
            "the value or drop the row, then load again."
        )


def load_diabetes130(
    path: Path | str | None = None,
    mapping_path: Path | str | None = None,
    *,
    exclude_dispositions: Iterable[int] = DEATH_OR_HOSPICE_DISPOSITIONS,
    key: bytes | None = None,
) -> Diabetes130Data:
    """Read, check and pseudonymise a Diabetes 130 encounter file.

    Parameters
    ----------
    path : path, optional
        CSV (optionally gzipped) or Parquet in the published format. Defaults to the vendored
        developer part, so the package works without any external data folder.
    mapping_path : path, optional
        ``IDs_mapping.csv``; defaults to the vendored copy.
    exclude_dispositions : iterable of int
        Discharge dispositions to drop (death and hospice by default), counted in
        ``n_excluded`` so a report can state how many were removed.
    key : bytes, optional
        Pseudonym key; ``None`` uses the workspace key (see :mod:`optalloc.privacy`).

    Returns
    -------
    Diabetes130Data

    Raises
    ------
    CohortError
        A missing column, an unknown code or label, or a non-numeric count; the message names
        the file, column and (1-based data) row.
    """
    source_path = Path(path) if path is not None else DEV_DATA_PATH
    mapping = Path(mapping_path) if mapping_path is not None else IDS_MAPPING_PATH
    source = str(source_path)
    tables = read_code_tables(mapping)
    try:
        raw = read_table(source_path, dtype=str, keep_default_na=False, na_values=["?"])
    except OptallocError as exc:
        raise CohortError(str(exc)) from exc
    # "?" is the published missing mark; the CSV reader drops it, a Parquet copy keeps it as text
    raw = raw.astype(object).where(raw.notna() & (raw != "?"), None)
    _check_columns(raw, source)
    order = _check_identifiers(raw, source)
    codes = _check_codes(raw, tables, source, str(mapping))
    _check_values(raw, source)

    frame = pd.DataFrame({"patient_id": pseudonymize_column(raw["patient_nbr"], key)})
    frame["encounter_order"] = order.rank(method="first").astype("int64").to_numpy()
    for column in TEXT_COLUMNS:
        frame[column] = raw[column].astype("string").str.strip()
    for column, values in codes.items():
        frame[column] = values.to_numpy()
    for column in INTEGER_COLUMNS:
        frame[column] = pd.to_numeric(raw[column]).astype("int64").to_numpy()
    for column in MEDICATION_COLUMNS:
        frame[column] = raw[column].astype("string").to_numpy()
    frame["readmitted"] = raw["readmitted"].astype("string").to_numpy()
    frame[LABEL] = (frame["readmitted"] == "<30").to_numpy(dtype=bool)

    excluded = frame["discharge_disposition_id"].isin(list(exclude_dispositions))
    kept = frame.loc[~excluded].sort_values("encounter_order", kind="stable")
    kept = kept.reset_index(drop=True)
    return Diabetes130Data(
        encounters=kept,
        n_excluded=int(excluded.sum()),
        source=source,
        sha256=file_sha256(source_path),
        code_tables=tables,
    )
