"""A readmission cohort from an OMOP CDM (v5.3 or v5.4) database, through any SQLAlchemy URL.

What is built, one row per index stay:

* **Index stays**: ``visit_occurrence`` rows of inpatient visits (concept 9201) and
  emergency-then-inpatient visits (262), with a start and an end date. Stays ending in death
  (a ``death`` date from the admission to the discharge day) are excluded and counted.
* **Label** ``readmitted_30d``: the person has another inpatient (9201/262) stay starting 1 to 30
  days after the index discharge date: all-cause, any hospital in the CDM. A stay starting on
  the discharge day is taken as a transfer, not a readmission.
* **Features**: age at admission (years, from ``year_of_birth``), gender and race (concept
  names for the standard concepts 8507/8532 and the OMB race concepts), length of stay (days),
  whether the stay began in the emergency room (262), inpatient stays and emergency visits
  (9203, 262) in the 365 days (and ER visits in the 182 days, for LACE) before admission, and
  the stay's diagnoses.
* **Diagnoses** come from ``condition_occurrence`` rows of the stay (by ``visit_occurrence_id``),
  through their *source* ICD codes (``condition_source_value``), tagged ICD-9-CM or ICD-10-CM by
  the source concept's vocabulary when the ``concept`` table has it and by the code's shape
  otherwise. The risk stage turns them into condition groups and a Charlson index (Quan et al.
  2005 coding for both revisions). ``concept_ancestor`` is not used: the source codes are what
  the published Charlson algorithms are written in, and they need no vocabulary download.
* **Identifiers**: ``person_id`` becomes the keyed pseudonym ``patient_id``; visit ids are not kept.

Table and column names are matched without regard to case (real CDMs differ: ``PERSON`` in
one, ``person`` in another), and ``discharged_to_concept_id`` (v5.4) or
``discharge_to_concept_id`` (v5.3) are both optional.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optalloc.errors import CohortError, shown
from optalloc.io import redact_url
from optalloc.privacy import pseudonymize_column

INPATIENT, ER_INPATIENT, ER = 9201, 262, 9203
GENDERS = {8507: "Male", 8532: "Female"}
RACES = {
    8527: "White",
    8516: "Black or African American",
    8515: "Asian",
    8557: "Native Hawaiian or Other Pacific Islander",
    8657: "American Indian or Alaska Native",
}
REQUIRED = {
    "person": ("person_id", "gender_concept_id", "year_of_birth"),
    "visit_occurrence": ("visit_occurrence_id", "person_id", "visit_concept_id", "visit_start_date", "visit_end_date"),
    "condition_occurrence": ("person_id", "visit_occurrence_id", "condition_source_value"),
}
OPTIONAL = {
    "person": ("race_concept_id",),
    "condition_occurrence": ("condition_source_concept_id",),
    "death": ("person_id", "death_date"),
    "concept": ("concept_id", "vocabulary_id"),
}
READMISSION_WINDOW_DAYS = 30


@dataclass(frozen=True)
class OmopCohort:
    """Index stays with features and label, and what was left out on the way."""

    stays: pd.DataFrame
    n_deaths_excluded: int
    source: str
    sha256: str


def _read_tables(url: str, schema: str | None) -> tuple[dict[str, pd.DataFrame], str]:
    """The CDM tables needed, with lower-case column names, matched without regard to case."""
    from sqlalchemy import MetaData, Table, create_engine, inspect, select
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError
    from sqlalchemy.pool import NullPool

    shown = redact_url(url)
    try:
        engine = create_engine(url, poolclass=NullPool)  # every connection closed when released
        names = {name.lower(): name for name in inspect(engine).get_table_names(schema=schema)}
    except (ArgumentError, SQLAlchemyError, ModuleNotFoundError, ValueError) as exc:
        raise CohortError(
            f"{shown}: the OMOP database could not be opened ({exc.__class__.__name__}: "
            f"{str(exc).splitlines()[0]}). Check the URL, the server and --schema."
        ) from None
    missing = [t for t in REQUIRED if t not in names]
    if missing:
        where = f"schema {schema!r}" if schema else "the default schema"
        raise CohortError(
            f"{shown}: {where} has no OMOP table(s) {', '.join(missing)} (found: "
            f"{', '.join(sorted(names)) or 'none'}). Point --schema at the CDM schema."
        )
    tables: dict[str, pd.DataFrame] = {}
    with engine.connect() as connection:
        for table in (*REQUIRED, *[t for t in OPTIONAL if t not in REQUIRED]):
            if table not in names:
                continue
            reflected = Table(names[table], MetaData(), schema=schema, autoload_with=connection)
            columns = {c.name.lower(): c for c in reflected.columns}
            wanted = list(REQUIRED.get(table, ())) + list(OPTIONAL.get(table, ()))
            if table == "visit_occurrence":
                wanted += ["discharged_to_concept_id", "discharge_to_concept_id"]
            absent = [c for c in REQUIRED.get(table, ()) if c not in columns]
            if absent:
                raise CohortError(
                    f"{shown}: table {names[table]} lacks the column(s) {', '.join(absent)} "
                    "that the OMOP CDM defines. Check the CDM version (5.3 or 5.4)."
                )
            chosen = [columns[c].label(c) for c in wanted if c in columns]
            if table == "concept":
                # only the vocabularies of the source concepts the conditions use
                query = select(*chosen).where(columns["vocabulary_id"].in_(["ICD9CM", "ICD10CM", "ICD10"]))
            else:
                query = select(*chosen)
            tables[table] = pd.read_sql_query(query, connection)
    return tables, shown


def _dates(frame: pd.DataFrame, column: str, table: str, source: str) -> pd.Series:
    values = pd.to_datetime(frame[column], errors="coerce")
    bad = values.isna() & frame[column].notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
        raise CohortError(f"{source}: {table}.{column} row {row} is not a date ({shown(frame[column].iloc[row - 1])}).")
    return values.dt.normalize()


def _icd_tag(code: str, vocabulary: object) -> str:
    """``ICD9CM:428.0`` or ``ICD10CM:I50.9``: the vocabulary when known, else the code's shape."""
    if isinstance(vocabulary, str) and vocabulary.upper().startswith("ICD9"):
        return f"ICD9CM:{code}"
    if isinstance(vocabulary, str) and vocabulary.upper().startswith("ICD10"):
        return f"ICD10CM:{code}"
    text = code.strip().upper()
    if re.fullmatch(r"\d{3}(\.\d{0,2})?|V\d{2}(\.\d{0,2})?|E\d{3}(\.\d)?", text):
        return f"ICD9CM:{text}"
    return f"ICD10CM:{text}"


def _prior_counts(index: pd.DataFrame, events: pd.DataFrame, days: int) -> np.ndarray:
    """Per index stay: the person's events starting in the ``days`` before admission."""
    if events.empty:
        return np.zeros(len(index), dtype=int)
    merged = index[["row", "person_id", "start"]].merge(
        events[["person_id", "event_start", "event_id"]], on="person_id"
    )
    window = (merged["event_start"] < merged["start"]) & (
        merged["event_start"] >= merged["start"] - pd.Timedelta(days=days)
    )
    counts = merged.loc[window].groupby("row")["event_id"].nunique()
    return counts.reindex(index["row"], fill_value=0).to_numpy(dtype=int)


def build_stays(tables: dict[str, pd.DataFrame], source: str, key: bytes | None = None) -> OmopCohort:
    """Index stays, features and labels from the CDM tables (see the module docstring)."""
    person, visits = tables["person"], tables["visit_occurrence"].copy()
    visits["start"] = _dates(visits, "visit_start_date", "visit_occurrence", source)
    visits["end"] = _dates(visits, "visit_end_date", "visit_occurrence", source)
    visits["concept"] = pd.to_numeric(visits["visit_concept_id"], errors="coerce")
    inpatient = visits[visits["concept"].isin([INPATIENT, ER_INPATIENT]) & visits["start"].notna()].copy()
    inpatient["end"] = inpatient["end"].fillna(inpatient["start"])
    if inpatient.empty:
        raise CohortError(
            f"{source}: visit_occurrence has no inpatient stay (visit_concept_id 9201 or 262); "
            "there is nothing to build a readmission cohort from."
        )
    inpatient = inpatient.sort_values(["person_id", "start", "end", "visit_occurrence_id"]).reset_index(drop=True)
    inpatient["row"] = np.arange(len(inpatient))

    # label: the person's next inpatient stay starting 1..30 days after this discharge
    pairs = inpatient[["row", "person_id", "end"]].merge(
        inpatient[["person_id", "start"]].rename(columns={"start": "next_start"}), on="person_id"
    )
    gap = (pairs["next_start"] - pairs["end"]).dt.days
    readmitted = pairs.loc[(gap >= 1) & (gap <= READMISSION_WINDOW_DAYS), "row"].unique()
    inpatient["readmitted_30d"] = inpatient["row"].isin(readmitted)

    # deaths in hospital are not index stays (nobody can be readmitted)
    n_deaths = 0
    if "death" in tables and not tables["death"].empty:
        death = tables["death"].copy()
        death["death"] = _dates(death, "death_date", "death", source)
        merged = inpatient[["row", "person_id", "start", "end"]].merge(death[["person_id", "death"]], on="person_id")
        died = merged.loc[(merged["death"] >= merged["start"]) & (merged["death"] <= merged["end"]), "row"].unique()
        n_deaths = int(len(died))
        inpatient = inpatient[~inpatient["row"].isin(died)]

    ers = visits[visits["concept"].isin([ER, ER_INPATIENT])].rename(
        columns={"start": "event_start", "visit_occurrence_id": "event_id"}
    )
    stays_before = inpatient.rename(columns={"start": "event_start", "visit_occurrence_id": "event_id"})
    people = person.drop_duplicates("person_id").set_index("person_id")
    out = pd.DataFrame({"person_id": inpatient["person_id"].to_numpy()})
    births = pd.to_numeric(people["year_of_birth"], errors="coerce").reindex(inpatient["person_id"]).to_numpy()
    out["age"] = inpatient["start"].dt.year.to_numpy() - births
    gender = pd.to_numeric(people["gender_concept_id"], errors="coerce").reindex(inpatient["person_id"])
    out["gender"] = gender.map(GENDERS).fillna("Unknown").to_numpy()
    if "race_concept_id" in people.columns:
        race = pd.to_numeric(people["race_concept_id"], errors="coerce").reindex(inpatient["person_id"])
        out["race"] = race.map(RACES).fillna("Unknown").to_numpy()
    else:
        out["race"] = "Unknown"
    out["admission_date"] = inpatient["start"].dt.date.astype(str).to_numpy()
    out["discharge_date"] = inpatient["end"].dt.date.astype(str).to_numpy()
    out["length_of_stay"] = (inpatient["end"] - inpatient["start"]).dt.days.to_numpy()
    out["acute_admission"] = (inpatient["concept"] == ER_INPATIENT).to_numpy()
    out["inpatient_visits_365d"] = _prior_counts(inpatient, stays_before, 365)
    out["er_visits_365d"] = _prior_counts(inpatient, ers, 365)
    out["er_visits_182d"] = _prior_counts(inpatient, ers, 182)
    out["diagnosis_codes"] = _diagnoses(tables, inpatient)
    out["readmitted_30d"] = inpatient["readmitted_30d"].to_numpy()
    if out["age"].isna().any():
        row = int(np.flatnonzero(out["age"].isna().to_numpy())[0])
        raise CohortError(
            f"{source}: person {row + 1}'s year_of_birth is missing or not a number; every index stay needs an age."
        )
    out["age"] = out["age"].astype(int)
    out.insert(0, "patient_id", pseudonymize_column(out.pop("person_id").astype(str), key))
    out.insert(1, "encounter_order", np.arange(1, len(out) + 1))
    out = out.sort_values(["admission_date", "patient_id"], kind="stable").reset_index(drop=True)
    out["encounter_order"] = np.arange(1, len(out) + 1)
    digest = hashlib.sha256(pd.util.hash_pandas_object(out, index=False).to_numpy().tobytes()).hexdigest()
    return OmopCohort(stays=out, n_deaths_excluded=n_deaths, source=source, sha256=digest)


def _diagnoses(tables: dict[str, pd.DataFrame], inpatient: pd.DataFrame) -> np.ndarray:
    """Each stay's distinct source ICD codes, tagged with their revision, joined by ``;``."""
    conditions = tables["condition_occurrence"]
    conditions = conditions[
        conditions["condition_source_value"].notna()
        & conditions["visit_occurrence_id"].isin(inpatient["visit_occurrence_id"])
    ].copy()
    vocabulary = pd.Series(index=conditions.index, dtype=object)
    if "concept" in tables and "condition_source_concept_id" in conditions.columns:
        lookup = tables["concept"].set_index("concept_id")["vocabulary_id"]
        ids = pd.to_numeric(conditions["condition_source_concept_id"], errors="coerce")
        vocabulary = ids.map(lookup)
    conditions["tagged"] = [_icd_tag(str(c), v) for c, v in zip(conditions["condition_source_value"], vocabulary)]
    joined = conditions.groupby("visit_occurrence_id")["tagged"].agg(lambda s: ";".join(sorted(set(s))))
    return inpatient["visit_occurrence_id"].map(joined).fillna("").to_numpy(dtype=object)


def read_omop(url: str, schema: str | None = None, key: bytes | None = None) -> OmopCohort:
    """Build the readmission cohort of the CDM behind ``url`` (see the module docstring)."""
    tables, shown = _read_tables(url, schema)
    return build_stays(tables, shown + (f" (schema {schema})" if schema else ""), key)
