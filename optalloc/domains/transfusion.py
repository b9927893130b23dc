"""The transfusion domain: the built-in synthetic cohort or a file or workspace table in its
schema (:mod:`optalloc.cohort.schema`), risk fitted on the cohort itself or a saved model.

Its priority inputs (what a home-transfusion service weighs beside risk and benefit):

``burden``
    Care burden the patient carries today: visits per 28 days times the round trip
    (``transfusions_per_28d * (2 * distance_km + 60 * units_per_visit)``: chair time, about an
    hour per unit, is counted like 60 km of travel), the burden a home service removes.
``need``
    Clinical need for regular transfusion: units per 28 days, weighted up by 10 % per g/dL of
    pre-transfusion haemoglobin below 9.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from optalloc.cohort.schema import COHORT_COLUMNS, FEATURE_COLUMNS
from optalloc.domains.base import OUTCOME, Declaration, Risk
from optalloc.domains.tables import TableKind
from optalloc.scenario.loader import LoadedScenario
from optalloc.segments.profile import Profiling

if TYPE_CHECKING:  # the training stack loads when a table is read
    from optalloc.risk.training import Design

#: What its tables' designs and models record as their kind (``risk.training.TRANSFUSION``).
TRANSFUSION = "transfusion"

#: How its segments are profiled and named ("Thalassaemia, younger", "Remote, frequent transfusions").
PROFILING = Profiling(
    means=(
        "age",
        "transfusions_per_28d",
        "units_per_visit",
        "haemoglobin_g_dl",
        "distance_km",
        "frailty",
        "comorbidity_count",
        "admissions_past_year",
        "ed_visits_past_year",
    ),
    # short phrases for a condition's direction: (at least the threshold, below it)
    names={
        "age": ("older", "younger"),
        "distance_km": ("remote", "nearby"),
        "transfusions_per_28d": ("frequent transfusions", "occasional transfusions"),
        "units_per_visit": ("multi-unit visits", "single-unit visits"),
        "haemoglobin_g_dl": ("higher Hb", "low Hb"),
        "frailty": ("frail", "fit"),
        "comorbidity_count": ("multimorbid", "few comorbidities"),
        "admissions_past_year": ("frequent admissions", "few admissions"),
        "ed_visits_past_year": ("frequent ED visits", "few ED visits"),
        "prior_reaction": ("prior reaction", "no prior reaction"),
    },
    shares={"male": ("sex", "M"), "prior_reaction": ("prior_reaction", None)},
    top=("diagnosis",),
    headers={
        "age": ("age", ".0f"),
        "transfusions_per_28d": ("tx/28d", ".2f"),
        "distance_km": ("km", ".0f"),
        "frailty": ("frailty", ".1f"),
    },
)

DECLARATION = Declaration(
    columns=COHORT_COLUMNS,
    identifiers=("patient_id",),
    risk_features=FEATURE_COLUMNS,
    never_use=("patient_id", OUTCOME, "true_type"),  # true_type: the synthesiser's planted answer
    risk_models=("lr", "hgb"),  # optalloc.risk.cohort.COHORT_MODELS, the better one scoring
    lace=False,  # no length of stay, acuity or ER visits of an index stay
    words={
        "age": "age",
        "sex": "sex",
        "diagnosis": "diagnosis",
        "transfusions_per_28d": "transfusions per 28 days",
        "units_per_visit": "units per visit",
        "haemoglobin_g_dl": "haemoglobin (g/dL)",
        "distance_km": "distance to the unit (km)",
        "frailty": "frailty score",
        "comorbidity_count": "comorbidities",
        "prior_reaction": "a prior transfusion reaction",
        "admissions_past_year": "admissions in the past year",
        "ed_visits_past_year": "ED visits in the past year",
        # category values as people write them
        "ckd_anaemia": "CKD anaemia",
        "myelodysplastic_syndrome": "MDS",
        "chemotherapy_anaemia": "chemotherapy-induced anaemia",
        "sickle_cell_disease": "sickle cell disease",
    },
    profile=PROFILING,
    groups={"age": "age", "sex": "sex"},
    quantities={
        "visits": "transfusions_per_28d * horizon_weeks / 4",
        "units_per_visit": "units_per_visit",
        "distance_km": "distance_km",
    },
    priority={
        "burden": "transfusions_per_28d * (2 * distance_km + 60 * units_per_visit)",
        "need": "transfusions_per_28d * units_per_visit * (1 + 0.1 * max(9 - haemoglobin_g_dl, 0))",
    },
)


def load_cohort_table(path: Path | None) -> tuple[pd.DataFrame, Design]:
    """A cohort file in this schema, validated and pseudonymised, and its model inputs."""
    from optalloc.cohort.load import load_cohort_file
    from optalloc.errors import CohortError, OptallocError
    from optalloc.risk.training import transfusion_design

    try:
        cohort = load_cohort_file(path or "")  # identifiers pseudonymised like every other loader
    except OptallocError as exc:
        raise CohortError(str(exc)) from exc
    return cohort, transfusion_design(cohort, str(path))


#: Cohort files in this schema; tried for any table no domain recognises, as its loader names
#: the columns missing.
TABLE = TableKind(
    TRANSFUSION, lambda columns: set(DECLARATION.required_columns()) <= set(columns), load_cohort_table, fallback=True
)


class TransfusionDomain:
    name: str = "transfusion"
    description: str = "patients needing regular red-cell transfusion (the built-in synthetic cohort's schema)"
    sources: tuple[str, ...] = ("synthetic", "file", "workspace")
    # None: the segmentation's own defaults, which are this schema's features (the report
    # segments with profile means only when a domain lists features of its own)
    segment_features: tuple[tuple[str, ...], tuple[str, ...]] | None = None
    declaration: Declaration = DECLARATION
    tables: tuple[TableKind, ...] = (TABLE,)

    def cohort(self, loaded: LoadedScenario) -> tuple[pd.DataFrame, object]:
        from optalloc.cohort.load import load_cohort_file, prepare_cohort

        spec = loaded.scenario.cohort
        if spec.source == "file":
            return load_cohort_file(loaded.resolve(spec.path or "")), None
        if spec.source == "workspace":
            from optalloc.workspace import Workspace

            table = Workspace().load_cohort(spec.table or "")
            return prepare_cohort(table, source=f"workspace cohort {spec.table}", pseudonymised=True), None
        from optalloc.cohort.synth import synthesize_cohort

        return prepare_cohort(synthesize_cohort(spec.patients, spec.seed), source="synthetic cohort"), None

    def risk(self, loaded: LoadedScenario, cohort: pd.DataFrame, context: object) -> Risk:
        from optalloc import risk

        spec = loaded.scenario.risk
        if spec.model:
            return Risk(risk.predict_cohort(loaded.resolve(spec.model), cohort))
        scored = risk.cohort_risk(cohort, seed=spec.seed)
        return Risk(scored.probability, scored.metrics)


DOMAIN = TransfusionDomain()
