"""A domain a user declares in a TOML file, for a kind of cohort optalloc does not ship.

    name = "outpatients"
    description = "Outpatient clinic attenders"
    identifier = "clinic_number"        # pseudonymised on loading; never stored in clear
    outcome = "readmitted_30d"          # optional: the observed 30-day outcome (true/false)
    [columns.age]
    kind = "int"                        # int, float, bool or category
    min = 18
    max = 110
    description = "age in years"
    [columns.sex]
    kind = "category"
    categories = ["F", "M"]
    [risk]
    features = ["age", "sex", "missed_appointments"]
    [priority]                          # optional: burden and need, each an expression in the
    burden = "missed_appointments"      # safe language over the declared columns (larger: more)
    need = "age / 10"
    [profile]                           # optional: how segments are profiled and named
    means = ["age", "missed_appointments"]          # averaged per segment
    top = ["sex"]                                   # most common value and its share
    [profile.names]                                 # (at least the threshold, below it)
    missed_appointments = ["often missing", "attending"]
    [profile.counts]                                # a count named by its threshold
    missed_appointments = "missed appointments"     # "no ...", "3+ ..."

A scenario names the file: ``[cohort] domain = "outpatients.domain.toml"`` with
``source = "file"`` and ``path``. The cohort is validated against the declared columns (kinds,
ranges, categories; each problem named by row), undeclared columns are dropped, and the risk is
the out-of-fold probability of a calibrated logistic regression over the declared features,
cross-validated with folds by patient (or a saved model the scenario names). Column
descriptions are the words its rules and profiles use; without ``[priority]`` the priority
score is risk and benefit alone; without ``[profile]`` segments are named ``high <column>`` and
``low <column>`` and profiles average the clustering's numeric features.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from optalloc.cohort.schema import Column, validate_cohort
from optalloc.domains.base import DEFAULT_GROUPS, OUTCOME, PRIORITY_INPUTS, Declaration, Risk
from optalloc.errors import ScenarioError
from optalloc.expressions import parse
from optalloc.scenario.loader import LoadedScenario
from optalloc.segments.profile import Profiling

KINDS = ("int", "float", "bool", "category")
BOUND = 1e12


@dataclass(frozen=True)
class DeclaredDomain:
    """A domain read from a TOML declaration (see the module docstring)."""

    name: str
    description: str
    identifier: str
    outcome: str | None
    columns: tuple[Column, ...]
    features: tuple[str, ...]
    priority: tuple[tuple[str, str], ...] = ()
    sources: tuple[str, ...] = ("file",)
    profile: Profiling = field(default_factory=Profiling)

    @property
    def declaration(self) -> Declaration:
        """What the file declares, in the form every domain gives it."""
        names = {c.name for c in self.columns}
        never = (self.identifier, OUTCOME) if self.outcome is None else (self.identifier, self.outcome, OUTCOME)
        return Declaration(
            columns=self.all_columns(),
            identifiers=(self.identifier,),
            risk_features=self.features,
            never_use=never,
            risk_models=("lr",),
            lace=False,
            words={c.name: c.description for c in self.columns},
            priority=dict(self.priority),
            profile=self.profile,
            groups={**DEFAULT_GROUPS, **({"sex": "gender"} if "gender" in names and "sex" not in names else {})},
        )

    @property
    def segment_features(self) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """The risk features, numeric and categorical apart."""
        kinds = {c.name: c.kind for c in self.columns}
        numeric = tuple(f for f in self.features if kinds[f] != "category")
        return numeric, tuple(f for f in self.features if kinds[f] == "category")

    def cohort(self, loaded: LoadedScenario) -> tuple[pd.DataFrame, object]:
        from optalloc.cohort.load import pseudonymize_identifiers
        from optalloc.io import read_table

        path = loaded.resolve(loaded.scenario.cohort.path or "")
        frame = read_table(path, dtype={self.identifier: str})
        if self.identifier not in frame.columns:
            raise ScenarioError(f"{path}: no identifier column {self.identifier!r}, which domain {self.name} declares.")
        frame = pseudonymize_identifiers(frame, str(path), self.identifier, unique=True)
        if self.outcome and self.outcome in frame.columns:
            frame = frame.rename(columns={self.outcome: OUTCOME})
        keep = ["patient_id", *[c.name for c in self.columns if c.name in frame.columns]]
        if OUTCOME in frame.columns:
            keep.append(OUTCOME)
        checked = validate_cohort(frame[keep], str(path), self.all_columns(), f"A {self.name} cohort")
        return checked, None

    def all_columns(self) -> tuple[Column, ...]:
        outcome = (Column(OUTCOME, "bool", "observed 30-day outcome", required=False),) if self.outcome else ()
        return (Column("patient_id", "id", "patient pseudonym"), *self.columns, *outcome)

    def risk(self, loaded: LoadedScenario, cohort: pd.DataFrame, context: object) -> Risk:
        from optalloc.risk.training import Design, compare_models

        if loaded.scenario.risk.model:
            from optalloc import risk

            return Risk(risk.predict_cohort(loaded.resolve(loaded.scenario.risk.model), cohort))
        if OUTCOME not in cohort.columns:
            raise ScenarioError(
                f"{loaded.path.name}: the {self.name} cohort has no outcome column, so no risk model can be "
                'fitted on it; declare outcome = "<column>" in the domain file or name a saved model in [risk].'
            )
        kinds = {c.name: c.kind for c in self.columns}
        numeric = [f for f in self.features if kinds[f] in ("int", "float", "bool")]
        categorical = [f for f in self.features if kinds[f] == "category"]
        X = cohort[list(self.features)].copy()
        for column in numeric:
            X[column] = X[column].astype(float)
        design = Design(
            X=X,
            y=cohort[OUTCOME].to_numpy(dtype=int),
            groups=cohort["patient_id"].to_numpy(),
            domain=self.name,
            numeric=numeric,
            categorical=categorical,
            sha256="",
        )
        with threadpool_limits(limits=1):
            comparison = compare_models(design, ["lr"], seed=loaded.scenario.risk.seed, n_splits=5, n_boot=0)
        return Risk(comparison.results["lr"].probability, comparison.table.reset_index())


def read_declared_domain(path: Path) -> DeclaredDomain:
    """Read and check a domain declaration; every mistake names the file and the key."""
    try:
        raw: dict[str, Any] = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError:
        raise ScenarioError(f"{path}: no such domain file; check cohort.domain in the scenario.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ScenarioError(f"{path}: not valid TOML ({exc}).") from None
    unknown = sorted(
        set(raw) - {"name", "description", "identifier", "outcome", "columns", "risk", "priority", "profile"}
    )
    if unknown:
        raise ScenarioError(f"{path}: unknown key(s) {', '.join(unknown)} in a domain file.")
    for key in ("name", "identifier"):
        if not isinstance(raw.get(key), str) or not raw[key]:
            raise ScenarioError(f"{path}: '{key}' is required (text).")
    columns = []
    for name, spec in (raw.get("columns") or {}).items():
        kind = spec.get("kind") if isinstance(spec, dict) else None
        if kind not in KINDS:
            raise ScenarioError(f"{path}: columns.{name}.kind must be one of {', '.join(KINDS)} (got {kind!r}).")
        categories = tuple(str(c) for c in spec.get("categories", ()))
        if kind == "category" and not categories:
            raise ScenarioError(f"{path}: columns.{name} is a category: list its categories = [...].")
        low, high = float(spec.get("min", -BOUND)), float(spec.get("max", BOUND))
        if not (np.isfinite(low) and np.isfinite(high) and low <= high):
            raise ScenarioError(f"{path}: columns.{name}: min {low:g} and max {high:g} are not a range.")
        columns.append(Column(name, kind, str(spec.get("description", name)), low, high, categories))
    if not columns:
        raise ScenarioError(f"{path}: declare at least one column under [columns.NAME].")
    features = tuple((raw.get("risk") or {}).get("features", [c.name for c in columns]))
    undeclared = [f for f in features if f not in {c.name for c in columns}]
    if undeclared:
        raise ScenarioError(f"{path}: risk.features names {', '.join(undeclared)}, not declared under [columns].")
    priority = raw.get("priority") or {}
    odd = sorted(set(priority) - set(PRIORITY_INPUTS)) if isinstance(priority, dict) else ["(not a table)"]
    if odd:
        raise ScenarioError(
            f"{path}: [priority] may hold {' and '.join(PRIORITY_INPUTS)} (expressions over the declared "
            f"columns), not {', '.join(odd)}."
        )
    for component, text in priority.items():
        parse(text, f"priority.{component}", str(path), names=[c.name for c in columns])
    return DeclaredDomain(
        name=raw["name"],
        description=str(raw.get("description", raw["name"])),
        identifier=raw["identifier"],
        outcome=raw.get("outcome"),
        columns=tuple(columns),
        features=features,
        priority=tuple((k, str(v)) for k, v in priority.items()),
        profile=_read_profile(raw.get("profile") or {}, path, [c.name for c in columns]),
    )


def _read_profile(raw: Any, path: Path, columns: list[str]) -> Profiling:
    """The ``[profile]`` table: columns averaged and shown by their top value, and the words of
    segment names; every column named must be declared."""
    if not isinstance(raw, dict) or set(raw) - {"means", "top", "names", "counts"}:
        raise ScenarioError(f"{path}: [profile] may hold means, top, names and counts.")
    means, top = tuple(map(str, raw.get("means", ()))), tuple(map(str, raw.get("top", ())))
    names = {str(k): v for k, v in (raw.get("names") or {}).items()}
    counts = {str(k): str(v) for k, v in (raw.get("counts") or {}).items()}
    undeclared = sorted({*means, *top, *names, *counts} - set(columns))
    if undeclared:
        raise ScenarioError(f"{path}: [profile] names {', '.join(undeclared)}, not declared under [columns].")
    odd = [k for k, v in names.items() if not (isinstance(v, list) and len(v) == 2)]
    if odd:
        raise ScenarioError(f'{path}: profile.names.{odd[0]} must be two words: ["when high", "when low"].')
    return Profiling(means=means, top=top, names={k: (str(v[0]), str(v[1])) for k, v in names.items()}, counts=counts)
