"""OR-Library GAP reader, published optima reached by the exact backends, and the bench CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from optalloc.allocation.instances.gap import PUBLISHED_OPTIMA, file_sense, read_gap_file, solve_gap_file
from optalloc.errors import OptallocError

# the shared data sit beside the repository (../shared), as on CI
DATA = Path(__file__).resolve().parents[2].parent / "shared" / "datasets" / "gap-orlib"
pytestmark = pytest.mark.skipif(not DATA.is_dir(), reason="OR-Library GAP files not present")


def test_reader_shapes_and_sense() -> None:
    problems = read_gap_file(DATA / "gap1.txt")
    assert len(problems) == 5
    p = problems[0]
    assert (p.n_patients, p.n_settings) == (15, 5)
    assert len(p.limits) == 5 and all(lim.kind == "capacity" for lim in p.limits)
    # first numbers of gap1: profit of agent 1 for job 1 is 17, resource 8, capacity 36
    assert p.benefit[0, 0] == 17 and p.limits[0].coef[0, 0] == 8 and p.limits[0].upper == 36
    assert np.all(p.limits[0].coef[:, 1:] == 0)
    assert file_sense(DATA / "gap1.txt") == "max" and file_sense(DATA / "gapd.txt") == "min"
    d = read_gap_file(DATA / "gapd.txt")
    assert [(q.n_settings, q.n_patients) for q in d] == [(5, 100), (5, 200), (10, 100), (10, 200), (20, 100), (20, 200)]
    assert (d[0].benefit <= 0).all() and d[0].metadata["sense"] == "min"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1\n2 3\n1 2 3 4 5 6\n", "ends early while reading the resource matrix"),
        ("1 2 x", "non-numeric"),
        ("  \n", "is empty"),
        ("1\n0 3\n", "m=0, n=3; both must be positive"),
        ("1\n1 1\n5\n2\n3\n9 9\n", "2 numbers after its 1 declared instances"),  # two stray numbers
    ],
)
def test_reader_rejects_bad_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(OptallocError, match=message):
        read_gap_file(path)


def test_reader_rejects_a_missing_file_and_a_bad_sense(tmp_path: Path) -> None:
    with pytest.raises(OptallocError, match="does not exist"):
        read_gap_file(tmp_path / "missing.txt")
    with pytest.raises(OptallocError, match="'max' or 'min'"):
        read_gap_file(DATA / "gap1.txt", sense="maximise")


@pytest.mark.parametrize("solver", ["highs", "cbc"])
def test_gap1_published_optima(solver: str) -> None:
    streamed: list[dict] = []
    rows = solve_gap_file(DATA / "gap1.txt", solver, time_limit=10, on_row=streamed.append)
    assert streamed == rows  # each row reported as it ends
    assert [r["objective"] for r in rows] == list(PUBLISHED_OPTIMA["gap1"])
    assert all(r["status"] == "OPTIMAL" and r["reaches_reference"] for r in rows)
    assert all(r["bound"] == r["objective"] for r in rows)  # integral objective: bound floored


def test_minimisation_reported_in_cost(tmp_path: Path) -> None:
    # 2 agents, 3 jobs, costs; optimum by hand: capacities force job 3 to agent 2
    text = "1\n2 3\n1 1 5\n4 4 2\n1 1 3\n1 1 3\n2 3\n"
    path = tmp_path / "gapz.txt"
    path.write_text(text)
    (row,) = solve_gap_file(path, "highs", time_limit=5)
    assert row["objective"] == pytest.approx(1 + 1 + 2)
    assert row["bound"] <= row["objective"] + 1e-9  # a lower bound in the cost sense


def test_bench_cli_json_and_bad_file(tmp_path: Path) -> None:
    from optalloc.cli import app

    runner = CliRunner()
    done = runner.invoke(app, ["bench", "gap", str(DATA / "gap1.txt"), "--solver", "highs", "--json"])
    assert done.exit_code == 0, done.output
    rows = json.loads(done.stdout)
    assert [r["objective"] for r in rows] == list(PUBLISHED_OPTIMA["gap1"])
    done = runner.invoke(app, ["bench", "gap", str(DATA / "gap1.txt"), "--solver", "highs", "--time-limit", "5"])
    assert done.exit_code == 0 and "gap1-5" in done.stdout
    bad = tmp_path / "bad.txt"
    bad.write_text("3 1")
    done = runner.invoke(app, ["bench", "gap", str(bad)])
    assert done.exit_code != 0
    assert "ends early" in done.output


def test_bench_gap_runs_on_the_shipped_file_without_shared_data() -> None:
    import json

    from typer.testing import CliRunner

    from optalloc.cli import app

    result = CliRunner().invoke(app, ["bench", "gap", "--solver", "highs", "--time-limit", "20", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    assert [r["instance"] for r in rows] == [f"gap1-{k}" for k in range(1, 6)]
    assert all(r["reaches_reference"] for r in rows)
