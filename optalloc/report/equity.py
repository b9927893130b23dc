"""Who gets each setting: access and expected readmissions by the domain's groups (age band,
sex, race) and segment, against each group's share of the cohort.

A plan can raise the total benefit by concentrating a scarce programme on one group; the board
needs to see that. For each group the table gives its share of the cohort, its share of each
non-default setting's places, and the readmissions expected under the plan per 100 patients of
the group (risk minus what the assigned setting avoids).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from optalloc.pipeline import Outcome


def group_columns(
    cohort: pd.DataFrame,
    segments: np.ndarray | None = None,
    groups: Mapping[str, str] | None = None,
    bands: Mapping[str, tuple[Sequence[float], Sequence[str]]] | None = None,
) -> dict[str, pd.Series]:
    """The dimensions a cohort supports: the domain's groups present in it (``Declaration.groups``,
    name -> column, such as age, sex and race), then the segment.

    A group with ``bands`` (edges, labels) is shown as ``<name> band``: a numeric column cut into
    them (ordered, youngest first), a text column (Diabetes 130's ``[70-80)``) as it is.
    """
    found: dict[str, pd.Series] = {}
    for name, column in (groups or {}).items():
        if column not in cohort.columns:
            continue
        values = cohort[column]
        if name not in (bands or {}):
            found[name] = values.astype(str).reset_index(drop=True)
            continue
        edges, labels = (bands or {})[name]
        if pd.api.types.is_numeric_dtype(values):
            banded = pd.cut(values, list(edges), right=False, labels=list(labels))  # ordered: youngest first
        else:
            banded = values.astype(str)  # already banded
        found[f"{name} band"] = banded.reset_index(drop=True)
    if segments is not None:
        names = [f"S{k + 1}" for k in range(int(np.max(segments)) + 1)] if len(segments) else []
        found["segment"] = pd.Series(pd.Categorical([f"S{int(s) + 1}" for s in segments], categories=names))
    return found


def group_order(values: pd.Series) -> list:
    """The groups of a dimension in reading order: an ordered category's own order (age bands
    young to old), else sorted as text."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return [c for c in values.cat.categories if (values == c).any()]
    return sorted(pd.unique(values), key=str)


def equity_long(outcomes: list[Outcome], groups: dict[str, pd.Series]) -> pd.DataFrame:
    """One row per dimension, group, scenario and setting: the group's size, the places it
    receives, the setting's total places and the group's expected readmissions under the plan."""
    rows = []
    for outcome in outcomes:
        problem, result = outcome.prepared.problem, outcome.result
        if result.assignment is None or len(outcome.prepared.cohort) != problem.n_patients:
            continue
        assignment = result.assignment
        avoided = outcome.prepared.estimates.readmissions_avoided[np.arange(problem.n_patients), assignment]
        expected = np.asarray(outcome.prepared.risk, dtype=float) - avoided
        totals = np.bincount(assignment, minlength=problem.n_settings)
        for dimension, values in groups.items():
            labels = values.to_numpy()
            for group in group_order(values):
                mask = labels == group
                placed = np.bincount(assignment[mask], minlength=problem.n_settings)
                for j, setting in enumerate(problem.settings):
                    rows.append(
                        {
                            "dimension": dimension,
                            "group": str(group),
                            "scenario": outcome.prepared.loaded.name,
                            "setting": setting,
                            "default": j == problem.default_setting,
                            "group_patients": int(mask.sum()),
                            "cohort_patients": problem.n_patients,
                            "placed": int(placed[j]),
                            "setting_places": int(totals[j]),
                            "expected_readmissions": float(expected[mask].sum()),
                        }
                    )
    return pd.DataFrame(rows)
