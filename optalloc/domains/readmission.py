"""The readmission domain: hospital discharges (Diabetes 130 records, or a stays table such as
``optalloc cohort import --omop`` writes), one index discharge per patient.

Every encounter is read (deaths and discharges to hospice left out by the loader) and the
model learns from all of them; the plan is made for each patient's first discharge in the
records, as studies of these data do (Strack et al. 2014). The latest discharge would be the
wrong choice: a readmission after it would itself be a later encounter, so its label is biased
towards "not readmitted" (4.8 % against 11 % over all encounters in the shipped records).
Risk is the out-of-fold probability of a logistic regression cross-validated over all
encounters with folds by patient (no patient in two folds), or a saved model's.

Its priority inputs (what a discharge planner weighs beside risk and benefit), read from
columns both of its tables have (Diabetes 130 features and a stays table's alike):

``burden``
    The LACE index (length of stay, acuity of admission, Charlson comorbidity, ER visits in
    the previous six months; van Walraven et al., CMAJ 2010): how much hospital care the
    discharge carries, the bedside measure discharge teams already use to pick patients for
    follow-up. Risk is the model's probability; LACE is the care the stay itself stands for.
``need``
    The Charlson comorbidity index: the chronic illness a follow-up programme (medication
    reconciliation, a nurse call) works on, whatever the model thinks of this stay.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from optalloc.cohort.schema import Column
from optalloc.domains import diabetes130
from optalloc.domains.base import OUTCOME, Declaration, Risk
from optalloc.domains.diabetes130 import PROFILING as PLANNER_PROFILING
from optalloc.domains.kinds import READMISSION
from optalloc.domains.stays import is_stay_table, load_stays, readmission_design
from optalloc.domains.tables import TableKind, kind_of
from optalloc.errors import ScenarioError
from optalloc.scenario.loader import LoadedScenario

if TYPE_CHECKING:  # the training stack loads when a table is read
    pass


#: Model fitted when the scenario names no saved model: fast on 80,000 encounters and calibrated.
READMISSION_MODEL = "lr"
#: Identifiers of its sources: Diabetes 130's patient and encounter numbers, OMOP's person_id.
IDENTIFIERS = ("patient_id", "patient_nbr", "encounter_id", "person_id")

#: How its segments are named: the Diabetes 130 planner words, and those of the encounter
#: features and stays-table columns its segmentation reads (admission type codes of Diabetes
#: 130's IDs_mapping: 1 emergency, 2 urgent, 3 elective, 4 newborn, 7 trauma centre).
PROFILING = replace(
    PLANNER_PROFILING,
    means=(
        *PLANNER_PROFILING.means,
        "time_in_hospital",
        "num_medications",
        "number_inpatient",
        "number_emergency",
        "charlson",
    ),
    names={
        **PLANNER_PROFILING.names,
        "time_in_hospital": ("long stay", "short stay"),
        "num_medications": ("many medications", "few medications"),
        "charlson": ("comorbid", "few comorbidities"),
        "acute_admission": ("acute admission", "planned admission"),
    },
    counts={
        **PLANNER_PROFILING.counts,
        "number_inpatient": "prior inpatient stays",
        "inpatient_visits_365d": "prior inpatient stays",
        "number_emergency": "prior ED visits",
        "er_visits_365d": "prior ED visits",
    },
    phrases={
        **PLANNER_PROFILING.phrases,
        ("admission_type", "1"): "emergency admission",
        ("admission_type", "2"): "urgent admission",
        ("admission_type", "3"): "elective admission",
        ("admission_type", "4"): "newborn admission",
        ("admission_type", "7"): "trauma-centre admission",
        ("admission_type", "unknown"): "admission type unknown",
    },
    nouns={**PLANNER_PROFILING.nouns, "diag_1_group": "diagnosis"},
    headers={
        **PLANNER_PROFILING.headers,
        "time_in_hospital": ("days", ".1f"),
        "num_medications": ("meds", ".1f"),
        "number_inpatient": ("inpat.", ".2f"),
        "number_emergency": ("ED", ".2f"),
        "charlson": ("Charlson", ".1f"),
    },
)

DECLARATION = Declaration(
    # a stays table (cohort import --omop or --mapping); Diabetes 130 files keep their own
    # published columns, which optalloc.cohort.diabetes130 checks
    columns=(
        Column("patient_id", "id", "patient identifier; pseudonymised on import"),
        Column("age", "int", "age at admission, years", 0, 120),
        Column("gender", "category", "administrative sex"),
        Column("length_of_stay", "float", "days from admission to discharge", 0, 365),
        Column("acute_admission", "bool", "admitted as an emergency"),
        Column("inpatient_visits_365d", "int", "inpatient stays in the 365 days before", 0, 365),
        Column("er_visits_365d", "int", "emergency visits in the 365 days before", 0, 365),
        Column("er_visits_182d", "int", "emergency visits in the 182 days before (LACE)", 0, 182),
        Column("diagnosis_codes", "text", "the stay's ICD codes, tagged (ICD9:428.0;ICD10:I50)"),
        Column("race", "category", "race as recorded", required=False),
        Column(OUTCOME, "bool", "observed: readmitted within 30 days of discharge", required=False),
    ),
    identifiers=IDENTIFIERS,
    risk_features=(),  # its source's feature builder decides: domains.encounters or domains.stays
    never_use=(*IDENTIFIERS, OUTCOME, "readmitted", "encounter_order"),
    risk_models=(READMISSION_MODEL,),
    lace=True,
    words={
        "age": "age",
        "age_years": "age (band midpoint)",
        "length_of_stay": "days in hospital",
        "time_in_hospital": "days in hospital",
        "num_medications": "medications",
        "number_inpatient": "inpatient stays in the prior year",
        "inpatient_visits_365d": "inpatient stays in the prior year",
        "number_emergency": "ED visits in the prior year",
        "er_visits_365d": "ED visits in the prior year",
        "charlson": "Charlson comorbidity index",
        "lace": "LACE index",
        "admission_type": "admission",
        "acute_admission": "an acute admission",
        "diag_1_group": "primary diagnosis group",
    },
    priority={"burden": "lace", "need": "charlson"},
    profile=PROFILING,
    groups={"age": "age", "sex": "gender", "race": "race"},
    kept=("age",),  # the encounter's age (a band in Diabetes 130) beside the model's age_years
)


class ReadmissionDomain:
    name: str = "readmission"
    description: str = "hospital discharges with a 30-day readmission outcome (Diabetes 130, OMOP-derived stays)"
    sources: tuple[str, ...] = ("vendored", "file", "workspace")
    declaration: Declaration = DECLARATION
    tables: tuple[TableKind, ...] = (diabetes130.TABLE, TableKind(READMISSION, is_stay_table, load_stays))
    # what a discharge planner would group patients by: age, stay, medicines, prior use, the
    # Charlson index, how they were admitted and the main diagnosis group; Diabetes 130 names and
    # stays-table names (OMOP, a mapped export) both listed, the segmentation takes those present
    segment_features: tuple[tuple[str, ...], tuple[str, ...]] | None = (
        (
            "age_years",
            "age",
            "time_in_hospital",
            "length_of_stay",
            "num_medications",
            "number_inpatient",
            "inpatient_visits_365d",
            "number_emergency",
            "er_visits_365d",
            "charlson",
        ),
        ("admission_type", "acute_admission", "diag_1_group"),
    )

    def _encounters(self, loaded: LoadedScenario) -> tuple[pd.DataFrame, object]:
        spec = loaded.scenario.cohort
        if spec.source == "workspace":  # a stays table imported with --mapping or --omop
            from optalloc.workspace import Workspace

            stays = Workspace().load_cohort(spec.table or "")
            return stays, readmission_design(stays, f"workspace cohort {spec.table}")
        path = None if spec.source == "vendored" else loaded.resolve(spec.path or "")
        kind = kind_of(path, self.tables)
        if kind is None:
            raise ScenarioError(
                f"{loaded.path.name}: cohort.path holds neither Diabetes 130 records nor a stays table (a transfusion "
                'cohort? set cohort.domain = "transfusion").'
            )
        return kind.load(path)

    def _index_rows(self, encounters: pd.DataFrame) -> np.ndarray:
        """Row number of each patient's first discharge, in the records' order."""
        order = (
            encounters["encounter_order"] if "encounter_order" in encounters else pd.Series(np.arange(len(encounters)))
        )
        first = (
            pd.DataFrame(
                {
                    "patient": encounters["patient_id"].to_numpy(),
                    "order": order.to_numpy(),
                    "row": np.arange(len(encounters)),
                }
            )
            .sort_values(["patient", "order"], kind="stable")
            .groupby("patient", sort=False)["row"]
            .first()
        )
        return np.sort(first.to_numpy())

    def cohort(self, loaded: LoadedScenario) -> tuple[pd.DataFrame, object]:
        encounters, design = self._encounters(loaded)
        rows = self._index_rows(encounters)
        features = design.X.iloc[rows].reset_index(drop=True)  # type: ignore[attr-defined]
        table = encounters.iloc[rows].reset_index(drop=True)
        cohort = features.assign(patient_id=table["patient_id"].to_numpy())
        for column in self.declaration.kept:
            if column in table.columns:
                cohort[column] = table[column].to_numpy()
        if OUTCOME in table.columns:
            cohort[OUTCOME] = table[OUTCOME].to_numpy(dtype=bool)
        return cohort, (encounters, design, rows)

    def risk(self, loaded: LoadedScenario, cohort: pd.DataFrame, context: object) -> Risk:
        from optalloc.risk.training import compare_models

        _, design, rows = cast(tuple[pd.DataFrame, Any, np.ndarray], context)
        spec = loaded.scenario.risk
        if spec.model:
            from optalloc import risk

            return Risk(risk.predict_cohort(loaded.resolve(spec.model), design.X)[rows])  # its features, built here
        with threadpool_limits(limits=1):
            models = list(self.declaration.risk_models)
            comparison = compare_models(design, models, seed=spec.seed, n_splits=5, n_boot=0)
        probability = comparison.results[models[0]].probability[rows]
        metrics = comparison.table.reset_index()
        return Risk(probability, metrics)


DOMAIN = ReadmissionDomain()
