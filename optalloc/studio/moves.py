"""Which patients two plans place differently, and how many per segment and per move.

``optalloc compare A B --moves`` (and the web studio, later) show what a what-if changes for
people, not just in totals: the patients (by pseudonym) whose setting differs, counted by
``from -> to`` and, where the cohort has segments, by segment.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Moves:
    """Patients whose setting differs, and their counts by move and by segment."""

    patients: pd.DataFrame  # patient_id, from, to (and segment)
    by_move: pd.DataFrame  # from, to, patients
    by_segment: pd.DataFrame  # segment, patients (empty without segments)


def plan_moves(plan_a: pd.DataFrame, plan_b: pd.DataFrame, segments: pd.Series | None = None) -> Moves:
    """Compare two plans (``patient_id``, ``setting``) over the patients both hold.

    ``segments`` maps patient_id to segment (a Series indexed by patient_id).
    """
    a = plan_a.set_index("patient_id")["setting"].astype(str)
    b = plan_b.set_index("patient_id")["setting"].astype(str)
    both = a.index.intersection(b.index)
    moved = both[(a.loc[both] != b.loc[both]).to_numpy()]
    patients = pd.DataFrame({"patient_id": moved, "from": a.loc[moved].to_numpy(), "to": b.loc[moved].to_numpy()})
    if segments is not None:
        patients["segment"] = segments.reindex(moved).to_numpy()
    by_move = (
        patients.groupby(["from", "to"])
        .size()
        .rename("patients")
        .reset_index()
        .sort_values("patients", ascending=False, kind="stable")
        .reset_index(drop=True)
    )
    by_segment = (
        patients.groupby("segment").size().rename("patients").reset_index()
        if segments is not None
        else pd.DataFrame(columns=["segment", "patients"])
    )
    return Moves(
        patients=patients.sort_values(["from", "to", "patient_id"]).reset_index(drop=True),
        by_move=by_move,
        by_segment=by_segment,
    )
