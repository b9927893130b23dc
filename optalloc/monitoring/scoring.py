"""Score a loaded table (:func:`optalloc.domains.load_table`) with a saved model, and
read its groups: what ``track`` works on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from optalloc.errors import CohortError
from optalloc.risk.persistence import TrainedRiskModel
from optalloc.risk.training import Design
from optalloc.risk.validation import TOP_FRACTION


@dataclass(frozen=True)
class ScoredTable:
    """A tracked table: its rows (for groups and periods), model inputs, labels and risks."""

    frame: pd.DataFrame
    design: Design
    probability: np.ndarray
    threshold: float
    source: str

    @property
    def y(self) -> np.ndarray:
        assert self.design.y is not None
        return self.design.y


def score(model: TrainedRiskModel, frame: pd.DataFrame, design: Design, source: str) -> ScoredTable:
    """Probabilities of every row and the model's saved operating point (top 10% of training)."""
    if design.domain != model.domain:
        raise CohortError(
            f"{source}: this is a {design.domain} table but the model is a {model.domain} "
            "model. Track the model on the kind of table it was trained on."
        )
    if design.y is None:
        raise CohortError(f"{source}: no outcome column (readmitted_30d), so readmissions cannot be tracked.")
    missing = [c for c in model.features if c not in design.X.columns]
    if missing:
        raise CohortError(f"{source}: missing column(s) {', '.join(missing)} that the model was trained on.")
    probability = model.estimator.predict_proba(design.X[list(model.features)])[:, 1]
    return ScoredTable(
        frame=frame,
        design=design,
        probability=probability,
        threshold=float(model.estimator.threshold_for_top(TOP_FRACTION)),
        source=source,
    )


def group_labels(frame: pd.DataFrame, by: list[str], source: str, columns: Mapping[str, str]) -> dict[str, pd.Series]:
    """The group of each row for each ``--by`` dimension, with a clear error for a missing one.

    ``columns`` maps each group name to the column it reads: the table's domain declares them
    (``optalloc.domains.tracked_groups``), so this module names none of a dataset's.
    """
    groups = {}
    for name in by:
        if name not in columns:
            raise CohortError(f"--by must be one of {', '.join(columns)}. Got {name!r} instead.")
        column = columns[name]
        if column not in frame.columns:
            hint = {
                "segment": "add a 'segment' column (for example from 'optalloc segment --out')",
                "setting": "pass the plan with --plan PLAN.csv",
            }.get(name, f"the table needs a {column!r} column")
            raise CohortError(f"{source}: --by {name} needs the column {column!r}, which this table lacks; {hint}.")
        groups[name] = frame[column].reset_index(drop=True)
    return groups
