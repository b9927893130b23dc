"""Hospital stays for a readmission programme (``optalloc cohort import --omop`` or ``--mapping``
writes them): what tells such a table from others, how it is read, and its model inputs.

The readmission domain reads these tables (:mod:`optalloc.domains.readmission`); the columns are
named here, not in :mod:`optalloc.risk`, which fits and validates whatever design it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from optalloc.domains.base import OUTCOME
from optalloc.domains.kinds import READMISSION
from optalloc.errors import CohortError

if TYPE_CHECKING:  # the training stack loads when a table is read
    from optalloc.risk.training import Design


#: Hospital stays for a readmission programme (an OMOP CDM through ``optalloc.cohort.omop``):
#: the columns every such table carries, then what the model reads.
STAY_COLUMNS: dict[str, str] = {
    "age": "number",
    "gender": "text",
    "length_of_stay": "number",
    "acute_admission": "boolean",
    "inpatient_visits_365d": "number",
    "er_visits_365d": "number",
    "er_visits_182d": "number",
    "diagnosis_codes": "text",
}
STAY_CATEGORICAL: tuple[str, ...] = ("gender", "race", "acute_admission")


#: What tells a stays table (``cohort import --omop`` or ``--mapping``) from other tables.
STAY_MARKERS = frozenset({"diagnosis_codes", "length_of_stay", "inpatient_visits_365d"})


def is_stay_table(columns: Sequence[str]) -> bool:
    """A readmission stays table (as ``cohort import --omop`` writes), told by its columns."""
    return set(columns) >= STAY_MARKERS


def load_stays(path: Path | None) -> tuple[pd.DataFrame, Design]:
    """A stays table, identifiers pseudonymised, and its model inputs (every stay column checked)."""
    from optalloc.cohort.load import pseudonymize_identifiers
    from optalloc.io import read_table

    stays = pseudonymize_identifiers(read_table(path or "", dtype={"patient_id": str}), str(path))
    return stays, readmission_design(stays, str(path))


def readmission_design(stays: pd.DataFrame, source: str = "stays", sha256: str | None = None) -> Design:
    """Featurise hospital stays: their columns, the Charlson index and diagnosis groups of their
    tagged ICD codes, and LACE (every input of LACE is in the stays, with ER visits in the
    previous six months as published)."""
    from optalloc.cohort.schema import booleans, numbers
    from optalloc.risk.charlson import tagged_features
    from optalloc.risk.lace import lace_score
    from optalloc.risk.persistence import frame_sha256
    from optalloc.risk.training import Design

    missing = [c for c in STAY_COLUMNS if c not in stays.columns]
    if missing:
        raise CohortError(
            f"{source}: missing column(s) {', '.join(missing)} that a readmission stays table "
            "needs (see optalloc/cohort/omop.py for what each holds)."
        )
    X = pd.DataFrame(index=stays.index)
    for column, kind in STAY_COLUMNS.items():
        if kind == "number":
            X[column] = numbers(stays[column], source, column).astype(float)
    X = pd.concat([X, tagged_features(stays["diagnosis_codes"])], axis=1)
    acute = booleans(stays["acute_admission"], source, "acute_admission")
    X["lace"] = lace_score(X["length_of_stay"], acute, X["charlson"], X["er_visits_182d"]).astype(float)
    X["gender"] = stays["gender"].astype(str)
    X["race"] = stays["race"].astype(str) if "race" in stays.columns else "Unknown"
    X["acute_admission"] = np.where(acute, "yes", "no")
    y = None
    if OUTCOME in stays.columns:
        y = booleans(stays[OUTCOME], source, OUTCOME).astype(int)
    numeric = [c for c in X.columns if c not in STAY_CATEGORICAL]
    order = stays["encounter_order"].to_numpy() if "encounter_order" in stays.columns else None
    return Design(
        X=X[numeric + list(STAY_CATEGORICAL)].reset_index(drop=True),
        y=y,
        groups=stays["patient_id"].to_numpy(),
        domain=READMISSION,
        numeric=numeric,
        categorical=list(STAY_CATEGORICAL),
        sha256=sha256 or frame_sha256(stays),
        order=order,
    )
