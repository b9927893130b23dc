"""The one typed summary of a solved plan: origins and units from the scenario, the JSON shape,
reading a record back, and the flat row a sweep writes."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from optalloc.allocation.summary import PlanSummary
from optalloc.cli import app
from optalloc.io import jsonable
from optalloc.pipeline import solve_prepared
from optalloc.studio.kpis import summarise
from tests.helpers.files import SCENARIOS
from tests.helpers.studio import small_file, small_prepared

pytestmark = pytest.mark.usefixtures("fast_risk")


def _field(raw: dict, path: str) -> object:
    node: object = raw
    for part in path.split("."):
        assert isinstance(node, dict) and part in node, f"{path} is not a field of the scenario"
        node = node[part]
    return node


@pytest.fixture(scope="module")
def centre() -> PlanSummary:
    prepared = small_prepared(SCENARIOS / "community_centre.toml")
    return summarise(solve_prepared(prepared, solver="highs"))


def test_each_limit_names_the_scenario_field_it_comes_from(centre: PlanSummary) -> None:
    prepared = small_prepared(SCENARIOS / "community_centre.toml")
    raw = prepared.loaded.raw
    for item in centre.limits:
        if item.kind == "equity":
            continue
        stated = _field(raw, item.origin)
        if item.kind in ("places", "min_patients"):
            assert item.shown_limit == pytest.approx(float(stated))  # the number the planner wrote
    origins = {item.origin for item in centre.limits}
    assert "settings.community.max_patients" in origins
    assert "resources.home_nurse_hours" in origins
    assert centre.limit("home_nurse_hours").unit == "hours"  # used in staff-hour terms
    assert centre.limit("transport_boxes").unit == "units"  # equipment
    assert centre.limit("budget").unit == "EUR"


def test_units_stated_in_the_scenario_reach_the_summary() -> None:
    prepared = small_prepared(units={"transport_boxes": "boxes", "budget": "GBP"})
    summary = summarise(solve_prepared(prepared, solver="highs"))
    assert summary.limit("transport_boxes").unit == "boxes" and summary.limit("budget").unit == "GBP"


def test_a_unit_for_an_unknown_resource_is_refused() -> None:
    from optalloc.errors import ScenarioError

    with pytest.raises(ScenarioError, match=r"units\.nurse_hourz"):
        small_prepared(units={"nurse_hourz": "hours"})


def test_summary_reads_back_from_its_json_shape(centre: PlanSummary) -> None:
    again = PlanSummary.from_dict(jsonable(centre.to_dict()))
    assert jsonable(again.to_dict()) == jsonable(centre.to_dict())
    assert again.status is centre.status and again.gap == pytest.approx(centre.gap)
    assert again.greedy is not None and again.greedy.gain == pytest.approx(centre.greedy.gain)


def test_a_record_without_newer_fields_still_reads(centre: PlanSummary) -> None:
    old = jsonable(centre.to_dict())
    old.pop("eligible")
    for info in old["resources"].values():
        info.pop("origin")
        info["limit"] = None if info["limit"] is None else info["limit"]
    again = PlanSummary.from_dict(old)
    assert [item.origin for item in again.limits] == [item.name for item in centre.limits]
    assert again.eligible == {}
    assert all(math.isinf(item.upper) for item in again.limits if old["resources"][item.name]["limit"] is None)


def test_the_flat_row_has_a_column_per_setting_and_limit(centre: PlanSummary) -> None:
    row = centre.flat()
    for setting, count in centre.patients_per_setting.items():
        assert row[f"patients:{setting}"] == count
    for item in centre.limits:
        assert row[f"use:{item.name}"] == item.use and row[f"marginal_value:{item.name}"] == item.marginal_value
    assert row["benefit"] == centre.objective and row["status"] == centre.status.value


def test_solve_json_carries_origins_and_the_same_figures(tmp_path) -> None:
    path = small_file(tmp_path, SCENARIOS / "community_centre.toml", "centre")
    run = CliRunner().invoke(app, ["solve", str(path), "--json", "--no-record", "--solver", "highs"])
    assert run.exit_code == 0, run.output
    payload = json.loads(run.stdout)
    summary = PlanSummary.from_dict(payload)
    assert summary.limit("community_patients").origin == "settings.community.max_patients"
    assert summary.objective == pytest.approx(payload["objective"])


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (lambda d: d.pop("status"), "no 'status'"),
        (lambda d: d.update(status="DONE"), "'DONE' is not a valid Status"),
        (lambda d: d.update(resources={"budget": 3}), "cannot be read"),
    ],
)
def test_a_damaged_record_is_refused_by_what_is_wrong(centre: PlanSummary, damage, message) -> None:
    from optalloc.errors import OptallocError

    record = jsonable(centre.to_dict())
    damage(record)
    with pytest.raises(OptallocError, match=message):
        PlanSummary.from_dict(record)
