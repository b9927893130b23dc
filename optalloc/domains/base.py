"""What a kind of cohort must provide to the pipeline: its patients, one row each, and their
readmission risk.

A domain is one object in :data:`optalloc.domains.DOMAINS` (as a solver backend is one line in
the backend registry). The general stages after it (estimates, allocation, report) read only
the columns a scenario's expressions name, the ``patient_id`` pseudonym and, where known, the
observed ``readmitted_30d``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
import pandas as pd

from optalloc.scenario.loader import LoadedScenario

OUTCOME = "readmitted_30d"


class Domain(Protocol):
    """A kind of cohort: how to read its patients and score their risk."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def sources(self) -> tuple[str, ...]:
        """The ``[cohort] source`` values it can read."""
        ...

    @property
    def segment_features(self) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """Numeric and categorical columns the segmentation clusters on (None: its defaults,
        the transfusion features)."""
        ...

    def cohort(self, loaded: LoadedScenario) -> tuple[pd.DataFrame, object]:
        """One row per patient, pseudonymised and validated (``OUTCOME`` where observed), and
        whatever :meth:`risk` needs besides (the full encounter history, say), or None."""
        ...

    def risk(self, loaded: LoadedScenario, cohort: pd.DataFrame, context: object) -> Risk:
        """Readmission probability per cohort row (out-of-fold, or from a saved model)."""
        ...


@dataclass
class Risk:
    """Probabilities in cohort row order, and the cross-validated metrics where fitted here."""

    probability: np.ndarray
    metrics: pd.DataFrame | None = None
