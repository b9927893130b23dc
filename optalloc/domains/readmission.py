"""The readmission domain: hospital discharges (Diabetes 130 records, or a stays table such as
``optalloc cohort import --omop`` writes), one index discharge per patient.

Every encounter is read (deaths and discharges to hospice left out by the loader) and the
model learns from all of them; the plan is made for each patient's first discharge in the
records, as studies of these data do (Strack et al. 2014). The latest discharge would be the
wrong choice: a readmission after it would itself be a later encounter, so its label is biased
towards "not readmitted" (4.8 % against 11 % over all encounters in the shipped records).
Risk is the out-of-fold probability of a logistic regression cross-validated over all
encounters with folds by patient (no patient in two folds), or a saved model's.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from optalloc.domains.base import OUTCOME, Risk
from optalloc.errors import ScenarioError
from optalloc.scenario.loader import LoadedScenario

#: Model fitted when the scenario names no saved model: fast on 80,000 encounters and calibrated.
READMISSION_MODEL = "lr"
#: Encounter columns kept beside the model features, for equity groups and eligibility.
KEPT_COLUMNS = ("age",)


class ReadmissionDomain:
    name: str = "readmission"
    description: str = "hospital discharges with a 30-day readmission outcome (Diabetes 130, OMOP-derived stays)"
    sources: tuple[str, ...] = ("vendored", "file", "workspace")
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
        from optalloc.risk.training import load_table, readmission_design

        spec = loaded.scenario.cohort
        if spec.source == "workspace":  # a stays table imported with --mapping or --omop
            from optalloc.workspace import Workspace

            stays = Workspace().load_cohort(spec.table or "")
            return stays, readmission_design(stays, f"workspace cohort {spec.table}")
        path = None if spec.source == "vendored" else loaded.resolve(spec.path or "")
        return load_table(path)

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
        if getattr(design, "domain", None) == "transfusion":
            raise ScenarioError(
                f"{loaded.path.name}: cohort.path holds a transfusion cohort, not discharges; set "
                'cohort.domain = "transfusion" or give Diabetes 130 records or a stays table.'
            )
        rows = self._index_rows(encounters)
        features = design.X.iloc[rows].reset_index(drop=True)  # type: ignore[attr-defined]
        table = encounters.iloc[rows].reset_index(drop=True)
        cohort = features.assign(patient_id=table["patient_id"].to_numpy())
        for column in KEPT_COLUMNS:
            if column in table.columns:
                cohort[column] = table[column].to_numpy()
        if OUTCOME in table.columns:
            cohort[OUTCOME] = table[OUTCOME].to_numpy(dtype=bool)
        return cohort, (encounters, design, rows)

    def risk(self, loaded: LoadedScenario, cohort: pd.DataFrame, context: object) -> Risk:
        from optalloc.risk.training import compare_models

        encounters, design, rows = cast(tuple[pd.DataFrame, Any, np.ndarray], context)
        spec = loaded.scenario.risk
        if spec.model:
            from optalloc import risk

            return Risk(risk.predict_cohort(loaded.resolve(spec.model), encounters)[rows])
        with threadpool_limits(limits=1):
            comparison = compare_models(design, [READMISSION_MODEL], seed=spec.seed, n_splits=5, n_boot=0)
        probability = comparison.results[READMISSION_MODEL].probability[rows]
        metrics = comparison.table.reset_index()
        return Risk(probability, metrics)


DOMAIN = ReadmissionDomain()
