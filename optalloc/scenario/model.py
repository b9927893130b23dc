"""The validated scenario: one source of defaults for every stage.

A scenario file states the world a plan is made for: the cohort, the care settings with what
each costs and uses per visit, the limits on staff hours, equipment and budget, and the policy
constraints. Unknown keys, negative capacities and references to settings or resources that do
not exist are rejected before any expensive step.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Upper ends of what a scenario may state: far above any real programme, low enough that no
# number can overflow a solver or allocate absurd memory (``cost_per_visit = 1e308`` and
# ``patients = 1e11`` were accepted once and crashed later). Infinity and NaN are refused
# everywhere (``allow_inf_nan=False`` below).
MAX_PATIENTS = 10_000_000  # one cohort
MAX_AMOUNT = 1e12  # a resource limit or the budget over the horizon
MAX_PER_VISIT = 1e7  # cost of one visit or of one patient's set-up, EUR
MAX_HOURS_PER_VISIT = 1e3  # staff hours per visit, per unit or per km
MAX_WEIGHT = 1e6  # objective and priority weights
MAX_HORIZON_WEEKS = 520  # ten years
MAX_SPEED_KMH = 300
MAX_TIME_LIMIT = 7 * 24 * 3600  # one week, in seconds

Amount = Annotated[float, Field(ge=0, le=MAX_AMOUNT)]
PerVisit = Annotated[float, Field(ge=0, le=MAX_PER_VISIT)]
Hours = Annotated[float, Field(ge=0, le=MAX_HOURS_PER_VISIT)]
Weight = Annotated[float, Field(ge=0, le=MAX_WEIGHT)]


class Strict(BaseModel):
    """Base for every scenario section: unknown keys are errors, models are frozen, and no
    number may be infinite or NaN."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class CohortSpec(Strict):
    """Where the patients come from: the built-in synthesiser, a file, or the workspace."""

    domain: str = Field("transfusion", description="kind of cohort (optalloc.domains): transfusion or readmission")
    source: Literal["synthetic", "file", "workspace", "vendored"] = Field(
        "synthetic", description="vendored: the shipped Diabetes 130 records (readmission domain)"
    )
    patients: int = Field(5000, gt=0, le=MAX_PATIENTS, description="number of synthetic patients")
    seed: int = 0
    path: str | None = Field(None, description="cohort file (CSV/Parquet), relative to the scenario")
    table: str | None = Field(None, description="cohort name in the workspace database")

    @model_validator(mode="after")
    def _source_has_location(self) -> CohortSpec:
        if self.source == "file" and not self.path:
            raise ValueError("source = 'file' needs path = '<cohort.csv>'")
        if self.source == "workspace" and not self.table:
            raise ValueError("source = 'workspace' needs table = '<cohort name>'")
        return self


class RiskSpec(Strict):
    """Readmission risk: out-of-fold probabilities from models fitted on the cohort, or a saved model."""

    model: str | None = Field(None, description="saved model file (optalloc risk train); relative to the scenario")
    seed: int = 0


class ObjectiveSpec(Strict):
    """How outcomes add up to the benefit the optimiser maximises."""

    readmission_weight: Weight = 1.0
    travel_hour_weight: Weight = 0.0
    unit: str = "readmissions avoided"


class SettingSpec(Strict):
    """A care setting: what a patient's care there costs, uses and achieves over the horizon."""

    label: str = ""
    default: bool = False
    effect: Annotated[float, Field(ge=-1.0, le=1.0)] | str = Field(
        0.0,
        description="relative reduction of 30-day readmission risk: a number, or an expression over the "
        "cohort's columns and 'risk' (optalloc.expressions) giving one per patient",
    )
    cost_per_visit: PerVisit = 0.0
    cost_per_km: PerVisit = Field(0.0, description="cost per km of the patient's distance, per visit")
    cost_per_patient: PerVisit = 0.0
    staff_hours_per_visit: dict[str, Hours] = Field(default_factory=dict)
    staff_hours_per_unit: dict[str, Hours] = Field(
        default_factory=dict, description="extra hours per red-cell unit given at a visit"
    )
    staff_travel_hours_per_km: dict[str, Hours] = Field(
        default_factory=dict, description="staff travel hours per km of the patient's distance, per visit"
    )
    equipment_per_patient: dict[str, Hours] = Field(default_factory=dict)
    patient_travel_share: float = Field(
        1.0, ge=0.0, le=1.0, description="share of the clinic trip the patient still makes"
    )
    eligibility: str | None = Field(None, description="condition over cohort columns (optalloc.expressions)")
    min_patients: int | None = Field(None, ge=0, le=MAX_PATIENTS)
    max_patients: int | None = Field(None, ge=0, le=MAX_PATIENTS)

    def resources_used(self) -> set[str]:
        return (
            set(self.staff_hours_per_visit)
            | set(self.staff_hours_per_unit)
            | set(self.staff_travel_hours_per_km)
            | set(self.equipment_per_patient)
        )


class QuantitiesSpec(Strict):
    """The per-patient quantities the estimates are built from, as expressions over the cohort's
    columns and the scenario's ``horizon_weeks`` and ``travel_speed_kmh``. Those not stated are
    the cohort's domain's (``optalloc.domains``: transfusion visits from ``transfusions_per_28d``;
    one episode and no travel for discharges); a scenario states them to make its assumptions
    explicit or change them."""

    visits: str | None = Field(None, description="visits per patient over the horizon")
    units_per_visit: str | None = Field(None, description="units (red-cell units, doses) given per visit")
    distance_km: str | None = Field(None, description="distance from the patient's home to the hospital, km")

    def stated(self) -> dict[str, str | None]:
        """Each quantity's expression as the scenario states it (None: left to the domain)."""
        return {"visits": self.visits, "units_per_visit": self.units_per_visit, "distance_km": self.distance_km}

    def items(self, defaults: Mapping[str, str]) -> list[tuple[str, str]]:
        """Each quantity's expression: the scenario's, else the domain's ``defaults``."""
        return [(name, text if text is not None else defaults[name]) for name, text in self.stated().items()]


class EquitySpec(Strict):
    """At least ``min_share`` of the patients matching ``group`` are served in ``setting``."""

    group: str = Field(description='condition selecting the group, e.g. "age >= 75"')
    setting: str
    min_share: float = Field(ge=0.0, le=1.0)
    name: str | None = None


class PrioritySpec(Strict):
    """Weights of the priority score that orders patients in the greedy current-practice plan
    (see :mod:`optalloc.segments.priority`)."""

    risk: Weight = 0.3
    benefit: Weight = 0.4
    burden: Weight = 0.15
    need: Weight = 0.15

    @model_validator(mode="after")
    def _not_all_zero(self) -> PrioritySpec:
        if self.risk + self.benefit + self.burden + self.need <= 0:
            raise ValueError("at least one priority weight must be positive")
        return self


class SegmentsSpec(Strict):
    """Segment the cohort before the plan is built: consensus clustering on the features its
    domain declares (:mod:`optalloc.segments`). Eligibility, effects and equity groups may then
    read ``segment`` (0 is the largest segment) and ``segment_risk_rank`` (1 is the segment
    whose patients' mean predicted 30-day risk is highest), e.g.
    ``eligibility = "segment_risk_rank <= 2"``."""

    k: int | Literal["auto"] = Field("auto", description='number of segments, or "auto" to choose it')
    seed: int = Field(0, ge=0, description="random state of the clustering")

    @field_validator("k")
    @classmethod
    def _at_least_two(cls, value: int | str) -> int | str:
        if isinstance(value, int) and not 2 <= value <= 15:
            raise ValueError(f"segments.k must be 'auto' or between 2 and 15 (got {value})")
        return value


class SolverSpec(Strict):
    time_limit: float = Field(60.0, gt=0, le=MAX_TIME_LIMIT)
    relative_gap: float = Field(1e-6, ge=0, le=1)


class Scenario(Strict):
    """A what-if world; see ``scenarios/home_transfusion/baseline.toml`` for a commented example."""

    name: str
    description: str = ""
    extends: str | None = None
    horizon_weeks: float = Field(52.0, gt=0, le=MAX_HORIZON_WEEKS)
    travel_speed_kmh: float = Field(40.0, gt=0, le=MAX_SPEED_KMH)
    cohort: CohortSpec = CohortSpec()
    risk: RiskSpec = RiskSpec()
    objective: ObjectiveSpec = ObjectiveSpec()
    quantities: QuantitiesSpec = QuantitiesSpec()
    settings: dict[str, SettingSpec]
    resources: dict[str, Amount] = Field(default_factory=dict, description="limit per resource over the horizon")
    budget: Amount | None = None
    units: dict[str, str] = Field(
        default_factory=dict,
        description="the unit a report shows for a resource or the budget, e.g. { transport_boxes = "
        '"boxes", budget = "GBP" } (default: hours for a resource the settings use in staff-hour terms, '
        "units for equipment, EUR for the budget)",
    )
    segments: SegmentsSpec | None = None
    equity: list[EquitySpec] = Field(default_factory=list)
    pins: dict[str, str] = Field(default_factory=dict, description="patient id -> setting")
    priority: PrioritySpec = PrioritySpec()
    solver: SolverSpec = SolverSpec()

    @field_validator("resources")
    @classmethod
    def _no_nan(cls, value: dict[str, float]) -> dict[str, float]:
        for key, amount in value.items():
            if math.isnan(amount):
                raise ValueError(f"resource {key!r} is NaN")
        return value

    @model_validator(mode="after")
    def _references_exist(self) -> Scenario:
        if not self.settings:
            raise ValueError("at least one setting is needed")
        defaults = [name for name, spec in self.settings.items() if spec.default]
        if len(defaults) != 1:
            raise ValueError(
                f"exactly one setting must have default = true (found {len(defaults)}: {', '.join(defaults) or 'none'})"
            )
        for name, spec in self.settings.items():
            for resource in sorted(spec.resources_used()):
                if resource not in self.resources:
                    raise ValueError(
                        f"settings.{name} uses resource {resource!r}, which is not declared under "
                        f"[resources] (declared: {', '.join(sorted(self.resources)) or 'none'})"
                    )
            if (
                spec.min_patients is not None
                and spec.max_patients is not None
                and spec.min_patients > spec.max_patients
            ):
                raise ValueError(f"settings.{name}: min_patients exceeds max_patients")
        if "budget" in self.resources and "budget" not in self.used_resources():
            raise ValueError(
                "resources.budget is declared but no setting uses it (the budget is a top-level key: "
                "put 'budget = ...' above the first [table])"
            )
        for key in self.units:
            if key != "budget" and key not in self.resources:
                raise ValueError(
                    f"units.{key}: no resource of that name (declared: {', '.join(sorted(self.resources)) or 'none'}, "
                    "or budget)"
                )
        known = ", ".join(self.settings)
        for k, rule in enumerate(self.equity):
            if rule.setting not in self.settings:
                raise ValueError(f"equity[{k}].setting: unknown setting {rule.setting!r} (known: {known})")
        for patient, setting in self.pins.items():
            if setting not in self.settings:
                raise ValueError(f"pins.{patient}: unknown setting {setting!r} (known: {known})")
        return self

    def used_resources(self) -> set[str]:
        """The resources some setting's per-visit, per-unit, travel or equipment terms use."""
        return set().union(*(spec.resources_used() for spec in self.settings.values()))

    def unit_of(self, name: str) -> str:
        """The unit of a resource (or ``budget``) as stated under ``[units]``, else what the
        settings' terms make it: hours for staff-hour terms, units for equipment per patient."""
        if name in self.units:
            return self.units[name]
        if name == "budget":
            return "EUR"
        specs = self.settings.values()
        if any(
            name in spec.staff_hours_per_visit
            or name in spec.staff_hours_per_unit
            or name in spec.staff_travel_hours_per_km
            for spec in specs
        ):
            return "hours"
        if any(name in spec.equipment_per_patient for spec in specs):
            return "units"
        return ""  # used only in an --estimates table: the table's own unit, which the scenario may state

    def unused_resources(self) -> list[str]:
        """Declared resources no setting uses: an error when optalloc estimates the use (the
        limit would bind nothing), fine with ``--estimates``, whose table gives each one's use."""
        used = self.used_resources()
        return [name for name in self.resources if name not in used]

    @property
    def default_setting(self) -> str:
        return next(name for name, spec in self.settings.items() if spec.default)
