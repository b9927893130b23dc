"""The studio's work without a browser: what may change, solving a change, recording it,
re-running the record, comparing with a recorded run, the moves and the downloads."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from optalloc.allocation.result import Status
from optalloc.app.session import StudioSession, controls
from optalloc.errors import OptallocError
from optalloc.studio.runs import rerun
from optalloc.workspace import Workspace
from tests.helpers.report import small_scenarios


@pytest.fixture
def session(tmp_path: Path) -> tuple[StudioSession, Path]:
    (path,) = small_scenarios(tmp_path / "s", (1500,))
    return StudioSession(tmp_path / "s"), path


def test_controls_are_the_limits_budget_and_programme_effects(session) -> None:
    studio, path = session
    found = {c.key: c for c in controls(studio.load(path))}
    assert found["resources.home_nurse_hours"].value == 1500
    assert found["resources.home_nurse_hours"].high == 4500
    assert found["budget"].value == 47_000_000
    assert "settings.home.effect" in found and "settings.clinic.effect" not in found  # the default has none
    assert found["settings.home.effect"].high == 1.0


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"resources.unknown": 3.0}, "'resources.unknown' is not a number the studio may change"),
        ({"resources.home_nurse_hours": None}, "resources.home_nurse_hours is empty"),
        ({"settings.home.effect": 1.5}, "effect"),
    ],
)
def test_a_bad_change_is_refused_by_name(session, values, message) -> None:
    studio, path = session
    with pytest.raises(OptallocError, match=message.replace("(", r"\(").replace(")", r"\)")):
        studio.solve(path, values)
    assert Workspace().list_runs() == []  # nothing recorded


def test_a_change_is_solved_recorded_and_reruns_from_its_record(session) -> None:
    studio, path = session
    base = studio.baseline(path)
    more = studio.solve(path, {"resources.home_nurse_hours": 3000.0})
    assert more.summary.objective > base.summary.objective
    assert more.summary.limit("home_nurse_hours").upper == 3000
    assert more.summary.limit("home_nurse_hours").origin == "resources.home_nurse_hours"
    record = Workspace().get_run(more.run_id)
    assert record["params"]["studio"]["changes"] == {"resources.home_nurse_hours": 3000.0}
    again = rerun(record)
    assert again["matches"], again["differences"]

    moves = studio.moves(base, more)
    added = more.summary.patients_per_setting["home"] - base.summary.patients_per_setting["home"]
    gained = (
        moves.by_move.query("to == 'home'")["patients"].sum()
        - moves.by_move.query("`from` == 'home'")["patients"].sum()
    )
    assert gained == added > 0
    assert moves.by_segment["patients"].sum() == len(moves.patients)

    diff = studio.compare_with_run(base.run_id, more)
    benefit = diff[(diff["kpi"] == "benefit") & diff["diff"].notna()]
    assert benefit["diff"].iloc[0] == pytest.approx(more.summary.objective - base.summary.objective)

    plan = pd.read_csv(io.StringIO(studio.plan_csv(more)))
    assert len(plan) == 600 and set(plan["setting"]) <= {"clinic", "home"}
    html = studio.report_html(more)
    assert "h1500 (changed)" in html and "h1500" in html


def test_a_plan_from_before_a_restart_is_refused(session) -> None:
    studio, _ = session
    with pytest.raises(OptallocError, match="solve again"):
        studio.get("not-a-token")


def test_an_empty_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(OptallocError, match="no scenario files"):
        StudioSession(tmp_path).scenarios()


def test_serve_refuses_a_missing_folder(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from optalloc.cli import app

    result = CliRunner().invoke(app, ["serve", "--scenarios", str(tmp_path / "none")])
    assert result.exit_code == 2
    assert "no such folder" in result.output


def test_an_infeasible_change_is_solved_and_said_not_crashed(session) -> None:
    studio, path = session
    base = studio.baseline(path)
    stuck = studio.solve(path, {"settings.home.effect": 0.3, "budget": 1.0})
    assert stuck.summary.status == Status.INFEASIBLE and "budget" in stuck.summary.message
    assert studio.moves(base, stuck) is None
    with pytest.raises(OptallocError, match="no plan to download"):
        studio.plan_csv(stuck)
