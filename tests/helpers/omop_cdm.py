"""A small OMOP CDM, built in any SQLAlchemy database from the published DDL (tables and
columns as in the OHDSI CommonDataModel v5.4 DDL; v5.3's ``discharge_to_concept_id`` on request),
with four hand-made persons whose stays, labels and counts can be checked by hand, plus a seeded
random population so that a risk model can be trained on it."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
from sqlalchemy import Engine, text

DDL = {
    "person": """person_id integer NOT NULL, gender_concept_id integer NOT NULL, year_of_birth integer NOT NULL,
        month_of_birth integer NULL, day_of_birth integer NULL, birth_datetime TIMESTAMP NULL,
        race_concept_id integer NOT NULL, ethnicity_concept_id integer NOT NULL, location_id integer NULL,
        provider_id integer NULL, care_site_id integer NULL, person_source_value varchar(50) NULL,
        gender_source_value varchar(50) NULL, gender_source_concept_id integer NULL,
        race_source_value varchar(50) NULL, race_source_concept_id integer NULL,
        ethnicity_source_value varchar(50) NULL, ethnicity_source_concept_id integer NULL""",
    "visit_occurrence": """visit_occurrence_id integer NOT NULL, person_id integer NOT NULL,
        visit_concept_id integer NOT NULL, visit_start_date date NOT NULL, visit_start_datetime TIMESTAMP NULL,
        visit_end_date date NOT NULL, visit_end_datetime TIMESTAMP NULL, visit_type_concept_id integer NOT NULL,
        provider_id integer NULL, care_site_id integer NULL, visit_source_value varchar(50) NULL,
        visit_source_concept_id integer NULL, admitted_from_concept_id integer NULL,
        admitted_from_source_value varchar(50) NULL, {discharge}_concept_id integer NULL,
        {discharge}_source_value varchar(50) NULL, preceding_visit_occurrence_id integer NULL""",
    "condition_occurrence": """condition_occurrence_id integer NOT NULL, person_id integer NOT NULL,
        condition_concept_id integer NOT NULL, condition_start_date date NOT NULL,
        condition_start_datetime TIMESTAMP NULL, condition_end_date date NULL, condition_end_datetime TIMESTAMP NULL,
        condition_type_concept_id integer NOT NULL, condition_status_concept_id integer NULL,
        stop_reason varchar(20) NULL, provider_id integer NULL, visit_occurrence_id integer NULL,
        visit_detail_id integer NULL, condition_source_value varchar(50) NULL,
        condition_source_concept_id integer NULL, condition_status_source_value varchar(50) NULL""",
    "death": """person_id integer NOT NULL, death_date date NOT NULL, death_datetime TIMESTAMP NULL,
        death_type_concept_id integer NULL, cause_concept_id integer NULL, cause_source_value varchar(50) NULL,
        cause_source_concept_id integer NULL""",
    "concept": """concept_id integer NOT NULL, concept_name varchar(255) NOT NULL, domain_id varchar(20) NOT NULL,
        vocabulary_id varchar(20) NOT NULL, concept_class_id varchar(20) NOT NULL, standard_concept varchar(1) NULL,
        concept_code varchar(50) NOT NULL, valid_start_date date NOT NULL, valid_end_date date NOT NULL,
        invalid_reason varchar(1) NULL""",
}
INPATIENT, ER_INPATIENT, ER, OUTPATIENT = 9201, 262, 9203, 9202
CODES = {  # source concept id -> (vocabulary, code)
    1001: ("ICD10CM", "I50.9"),
    1002: ("ICD10CM", "E11.9"),
    1003: ("ICD9CM", "428.0"),
    1004: ("ICD10CM", "J44.1"),
    1005: ("ICD10CM", "C78.0"),
    1006: ("ICD10CM", "N18.3"),
    1007: ("ICD10CM", "S72.0"),
    1008: ("ICD10CM", "Z00.0"),
}


def _d(text_date: str) -> date:
    return date.fromisoformat(text_date)


HAND = {
    # person: (gender, year_of_birth, race), visits (id, concept, start, end, [source concept ids]), death
    1: (
        (8507, 1950, 8527),
        [
            (11, INPATIENT, "2020-01-01", "2020-01-05", [1001, 1002]),
            (12, INPATIENT, "2020-01-20", "2020-01-22", [1004]),
        ],
        None,
    ),
    2: (
        (8532, 1940, 8516),
        [
            (21, ER, "2019-12-01", "2019-12-01", []),
            (22, ER_INPATIENT, "2020-02-01", "2020-02-03", [1003]),
            (23, INPATIENT, "2020-03-10", "2020-03-12", []),
            (24, OUTPATIENT, "2020-03-01", "2020-03-01", [1008]),
        ],
        None,
    ),
    3: ((8532, 1960, 8527), [(31, INPATIENT, "2020-04-01", "2020-04-10", [1005])], "2020-04-10"),
    4: (
        (8507, 1970, 0),
        [(41, INPATIENT, "2020-05-01", "2020-05-03", [1006]), (42, INPATIENT, "2020-05-03", "2020-05-06", [1007])],
        None,
    ),
}


def build_cdm(
    engine: Engine,
    schema: str | None = None,
    upper: bool = False,
    version: str = "5.4",
    random_persons: int = 0,
    seed: int = 0,
) -> None:
    """Create the tables (upper-case names with ``upper``) and fill them."""
    discharge = "discharged_to" if version == "5.4" else "discharge_to"

    def name(table: str) -> str:
        full = table.upper() if upper else table
        return f"{schema}.{full}" if schema else full

    def cols(table: str) -> str:
        ddl = DDL[table].format(discharge=discharge)
        return ddl.upper() if upper else ddl

    persons, visits, conditions, deaths = [], [], [], []
    for pid, ((gender, year, race), stays, death) in HAND.items():
        persons.append((pid, gender, year, race))
        for vid, concept, start, end, codes in stays:
            visits.append((vid, pid, concept, _d(start), _d(end)))
            conditions += [(len(conditions) + 1, pid, vid, _d(start), cid) for cid in codes]
        if death:
            deaths.append((pid, _d(death)))
    rng = np.random.default_rng(seed)
    vid = 1000
    for pid in range(100, 100 + random_persons):
        frail = rng.random() < 0.3
        persons.append(
            (pid, int(rng.choice([8507, 8532])), int(rng.integers(1930, 2000)), int(rng.choice([8527, 8516, 8515])))
        )
        day = _d("2018-01-01") + timedelta(days=int(rng.integers(0, 400)))
        for _ in range(int(rng.integers(1, 6 if frail else 3))):
            vid += 1
            concept = int(rng.choice([INPATIENT, ER_INPATIENT, ER], p=[0.5, 0.3, 0.2]))
            los = 0 if concept == ER else int(rng.integers(1, 12 if frail else 5))
            visits.append((vid, pid, concept, day, day + timedelta(days=los)))
            codes = rng.choice(list(CODES), size=int(rng.integers(1, 4 if frail else 2)), replace=False)
            conditions += [(len(conditions) + 1, pid, vid, day, int(c)) for c in codes]
            gap = int(rng.integers(3, 40)) if frail else int(rng.integers(20, 300))
            day = day + timedelta(days=los + gap)
    with engine.begin() as connection:
        if schema:
            connection.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
        for table in DDL:
            connection.execute(text(f"CREATE TABLE {name(table)} ({cols(table)})"))
        c = (lambda s: s.upper()) if upper else (lambda s: s)
        connection.execute(
            text(
                f"INSERT INTO {name('person')} ({c('person_id, gender_concept_id, year_of_birth, race_concept_id, ethnicity_concept_id')}) "
                "VALUES (:p, :g, :y, :r, 0)"
            ),
            [{"p": p, "g": g, "y": y, "r": r} for p, g, y, r in persons],
        )
        connection.execute(
            text(
                f"INSERT INTO {name('visit_occurrence')} ({c('visit_occurrence_id, person_id, visit_concept_id, visit_start_date, visit_end_date, visit_type_concept_id')}) "
                "VALUES (:v, :p, :c, :s, :e, 32817)"
            ),
            [{"v": v, "p": p, "c": k, "s": s, "e": e} for v, p, k, s, e in visits],
        )
        connection.execute(
            text(
                f"INSERT INTO {name('condition_occurrence')} ({c('condition_occurrence_id, person_id, condition_concept_id, condition_start_date, condition_type_concept_id, visit_occurrence_id, condition_source_value, condition_source_concept_id')}) "
                "VALUES (:i, :p, 0, :s, 32817, :v, :code, :cid)"
            ),
            [{"i": i, "p": p, "v": v, "s": s, "code": CODES[cid][1], "cid": cid} for i, p, v, s, cid in conditions],
        )
        if deaths:
            connection.execute(
                text(f"INSERT INTO {name('death')} ({c('person_id, death_date')}) VALUES (:p, :d)"),
                [{"p": p, "d": d} for p, d in deaths],
            )
        connection.execute(
            text(
                f"INSERT INTO {name('concept')} ({c('concept_id, concept_name, domain_id, vocabulary_id, concept_class_id, concept_code, valid_start_date, valid_end_date')}) "
                "VALUES (:i, :n, 'Condition', :voc, 'Code', :code, :a, :b)"
            ),
            [
                {"i": i, "n": code, "voc": voc, "code": code, "a": _d("1970-01-01"), "b": _d("2099-12-31")}
                for i, (voc, code) in CODES.items()
            ],
        )
