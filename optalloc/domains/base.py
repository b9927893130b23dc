"""What a kind of cohort must provide to the pipeline: its patients, one row each, their
readmission risk, and a :class:`Declaration` of what its columns are and mean.

A domain is one object in :data:`optalloc.domains.DOMAINS` (as a solver backend is one line in
the backend registry). The general stages after it (estimates, allocation, priority, report)
read only the columns a scenario's expressions or the domain's declaration name, the
``patient_id`` pseudonym and, where known, the observed ``readmitted_30d``: a dataset's column
names live in its domain module, so a new kind of cohort changes nothing else.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd

from optalloc.cohort.schema import Column
from optalloc.scenario.loader import LoadedScenario
from optalloc.segments.profile import Profiling

OUTCOME = "readmitted_30d"
#: Quantities of a domain that says nothing of visits: one episode per patient, no travel.
ONE_EPISODE = {"visits": "1", "units_per_visit": "1", "distance_km": "0"}
#: The priority components a domain may declare beside risk and benefit (which every domain has).
PRIORITY_INPUTS: tuple[str, ...] = ("burden", "need")
#: Equity and tracking groups of a domain that names none: the columns most cohorts call them by.
DEFAULT_GROUPS: Mapping[str, str] = {"age": "age", "sex": "sex", "race": "race"}
#: Age bands of the equity tables (lower edges; the last band open), young to old.
AGE_BANDS: tuple[tuple[float, ...], tuple[str, ...]] = (
    (0, 45, 65, 75, 85, np.inf),
    ("<45", "45-64", "65-74", "75-84", "85+"),
)


@dataclass(frozen=True)
class Declaration:
    """What a domain's cohort holds, for the stages that must not know any dataset.

    ``priority`` maps ``burden`` and ``need`` to an expression in the safe language of
    :mod:`optalloc.expressions` over the cohort's columns (one number per patient, larger
    means more); a component left out is left out of the score, whose weights then share
    the rest. A TOML-declared domain states the same in its ``[priority]`` table.
    """

    columns: tuple[Column, ...]
    """Its columns: kind, range, categories; ``required`` ones must be in every table."""
    identifiers: tuple[str, ...]
    """Columns that identify a person or an encounter: pseudonymised on loading, never shown."""
    risk_features: tuple[str, ...]
    """What the default risk model reads (empty: the model's own feature builder decides)."""
    never_use: tuple[str, ...]
    """Never a feature for risk or segmentation: identifiers, labels, planted types."""
    risk_models: tuple[str, ...]
    """Models cross-validated when a scenario names no saved one, the best scoring the cohort
    (names in :data:`optalloc.risk.models.MODEL_NAMES`)."""
    lace: bool
    """Whether the LACE index applies (the cohort has stay, acuity, comorbidity and ER visits)."""
    words: Mapping[str, str] = field(default_factory=dict)
    """Column -> the plain words its rules and profiles use for it."""
    profile: Profiling = field(default_factory=Profiling)
    """How its segments are profiled and named: columns averaged, (high, low) name words, count
    nouns, category phrases, shares, the top category, terminal headers (none: generic)."""
    priority: Mapping[str, str] = field(default_factory=dict)
    """Priority component (``burden``, ``need``) -> expression over the cohort's columns."""
    quantities: Mapping[str, str] = field(default_factory=lambda: dict(ONE_EPISODE))
    """The ``[quantities]`` a scenario of this domain uses unless it states its own: visits over
    the horizon, units per visit and distance (expressions over the cohort's columns)."""

    groups: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_GROUPS))
    """Group name -> the column it reads, for the equity tables and ``optalloc track --by``
    (``"sex": "gender"``); those absent from a cohort are skipped."""
    bands: Mapping[str, tuple[tuple[float, ...], tuple[str, ...]]] = field(default_factory=lambda: {"age": AGE_BANDS})
    """Group name -> (edges, labels) banding its numeric column (``age band``); a column that is
    already text (Diabetes 130's ``[70-80)``) is shown as it is."""
    kept: tuple[str, ...] = ()
    """Columns its cohort carries beside the model's features (for groups and eligibility),
    which the model card does not list as predictors."""

    def segment_options(self) -> dict[str, Any]:
        """What :func:`optalloc.segments.segment_cohort` needs of the domain: the words of its
        rules, how its profiles are named and what is never a feature."""
        return {"words": self.words, "profiling": self.profile, "never_use": self.never_use}

    def required_columns(self) -> tuple[str, ...]:
        """The columns a table of this domain cannot do without."""
        return tuple(c.name for c in self.columns if c.required)


class Domain(Protocol):
    """A kind of cohort: how to read its patients and score their risk.

    A domain whose tables ``optalloc risk``, ``track`` and ``forecast`` read also has ``tables``
    (:class:`~optalloc.domains.tables.TableKind` each: how a file of that kind is recognised and
    loaded); one without reads cohorts only through its scenarios.
    """

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

    @property
    def declaration(self) -> Declaration:
        """Its columns, identifiers, features, model, words and priority inputs."""
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
