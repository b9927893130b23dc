"""The transfusion domain: the built-in synthetic cohort or a file or workspace table in its
schema (:mod:`optalloc.cohort.schema`), risk fitted on the cohort itself or a saved model."""

from __future__ import annotations

import pandas as pd

from optalloc.domains.base import Risk
from optalloc.scenario.loader import LoadedScenario


class TransfusionDomain:
    name: str = "transfusion"
    description: str = "patients needing regular red-cell transfusion (the built-in synthetic cohort's schema)"
    sources: tuple[str, ...] = ("synthetic", "file", "workspace")
    segment_features: tuple[tuple[str, ...], tuple[str, ...]] | None = None  # the segmentation's defaults

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
