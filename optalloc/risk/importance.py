"""Which features a trained model leans on: permutation importance on a sample of whole patients.

Kept in the library (not the CLI) so ``risk explain``, a notebook and the report compute it the
same way: shuffling one feature at a time and measuring how much AUROC drops says what the model
uses, in the data it is applied to, without trusting the model's own coefficients.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from optalloc.errors import CohortError
from optalloc.risk.persistence import TrainedRiskModel
from optalloc.risk.training import Design


def patient_sample(design: Design, max_rows: int, seed: int) -> np.ndarray:
    """Row mask of whole patients, drawn (seeded) until about ``max_rows`` rows."""
    rng = np.random.default_rng(seed)
    patients = np.unique(design.groups)
    rng.shuffle(patients)
    mean_rows = design.n_rows / len(patients)
    chosen = set(patients[: max(1, int(max_rows / mean_rows))])
    return np.fromiter((g in chosen for g in design.groups), dtype=bool, count=design.n_rows)


def permutation_importance_table(
    trained: TrainedRiskModel,
    design: Design,
    max_rows: int = 5000,
    repeats: int = 3,
    seed: int = 0,
    source: str = "data",
) -> tuple[pd.DataFrame, int]:
    """AUROC drop (mean and sd over ``repeats`` shuffles) per feature, largest first, and the
    number of rows it was measured on."""
    from sklearn.inspection import permutation_importance

    if design.y is None:
        raise CohortError(f"{source}: no outcome column, so importance cannot be measured on it.")
    mask = patient_sample(design, max_rows, seed)
    X, y = design.X.loc[mask, trained.features], design.y[mask]
    if np.unique(y).size < 2:
        raise CohortError(f"{source}: the sample has a single outcome class; raise --max-rows.")
    result = permutation_importance(trained.estimator, X, y, scoring="roc_auc", n_repeats=repeats, random_state=seed)
    table = pd.DataFrame(
        {"feature": trained.features, "auroc_drop": result.importances_mean, "std": result.importances_std}
    ).sort_values("auroc_drop", ascending=False)
    return table.reset_index(drop=True), int(mask.sum())
