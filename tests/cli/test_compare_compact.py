"""``optalloc compare`` on a narrow terminal: one compact table with the differences folded in,
the full layout when it fits or when ``--wide`` asks for it."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from rich.console import Console
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cli.render import comparison_tables, folded
from tests.helpers.files import SCENARIOS

runner = CliRunner()


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """Baseline, community centre and more home nurses, shrunk to 300 patients."""
    folder = tmp_path_factory.mktemp("scenarios")
    for path in SCENARIOS.glob("*.toml"):
        text = path.read_text()
        if path.stem == "baseline":
            text = text.replace("patients = 5000", "patients = 300")
        (folder / path.name).write_text(text)
    return [str(folder / f"{name}.toml") for name in ("baseline", "community_centre", "more_home_nurses")]


def _compare(files: list[str], columns: int, *extra: str) -> str:
    result = runner.invoke(
        app, ["compare", *files, "--solver", "cbc", "--no-record", *extra], env={"COLUMNS": str(columns)}
    )
    assert result.exit_code == 0, result.output
    return result.stdout


def _row(text: str, label: str) -> str:
    (line,) = [line for line in text.splitlines() if line.startswith(label)]
    return line


def test_narrow_terminal_gets_one_compact_table_with_the_differences(files: list[str]) -> None:
    payload = json.loads(_compare(files, 80, "--json"))
    counts = {item["scenario"]: item["patients_per_setting"] for item in payload}
    text = _compare(files, 80)
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text and "against the first" not in text  # nothing cut short, not the full layout
    assert sum("Scenarios vs baseline (the difference in brackets)" in line for line in lines) == 1  # one table
    header = "\n".join(lines[:4])
    for name in ("baseline", "community", "centre", "more home", "nurses"):
        assert name in header
    # every scenario's home count, and the difference from the baseline's where there is one
    home = _row(text, "n home")
    base = counts["baseline"].get("home", 0)
    for name in ("baseline", "community_centre", "more_home_nurses"):
        n = counts[name].get("home", 0)
        assert f"{n:,}" in home
        assert (f"({n - base:+,})" in home) == (n != base)
    community = counts["community_centre"]["community"]
    assert f"{community:,} ({community:+,})" in _row(text, "n community")


def test_wide_terminal_keeps_the_full_layout(files: list[str]) -> None:
    text = _compare(files[:2], 160)
    assert "differences against the first" in text and "difference in brackets" not in text
    assert "vs baseline" in text.splitlines()[2]  # a column of differences
    assert max(len(line) for line in text.splitlines()) <= 160


def test_wide_flag_forces_the_full_layout_on_a_narrow_terminal(files: list[str]) -> None:
    text = _compare(files[:2], 80, "--wide")
    assert "differences against the first" in text and "difference in brackets" not in text
    assert "vs baseline" in text.splitlines()[2]  # a column of differences
    assert "…" not in text  # at its natural width, not squeezed into 80 columns


def _long(n_scenarios: int) -> pd.DataFrame:
    rows = []
    for k in range(n_scenarios):
        for kpi, value in (("patients: home", 1_000 + 37 * k), ("cost", 46_000_000.0 + 12_345.0 * k)):
            diff = None if k == 0 else value - (1_000 if kpi.startswith("patients") else 46_000_000.0)
            rows.append(
                {"kpi": kpi, "scenario": f"what_if_{k}", "value": value, "diff": diff, "diff_pct": None, "better": 0}
            )
    return pd.DataFrame(rows)


def test_too_many_scenarios_for_one_table_are_split_each_with_the_reference() -> None:
    long = _long(9)
    tables = comparison_tables(long, 80)
    assert len(tables) > 1
    console = Console(width=200, record=True, file=io.StringIO())
    for table in tables:
        headers = [str(column.header) for column in table.columns]
        assert headers[1] == "what if 0"
        console.print(table)
    assert max(len(line.rstrip()) for line in console.export_text().splitlines()) <= 80
    shown = [str(column.header) for table in tables for column in table.columns[2:]]
    assert shown == [f"what if {k}" for k in range(1, 9)]
    assert len(comparison_tables(_long(2), 80)) == 1
    assert len(comparison_tables(_long(1), 20)) == 1


def test_a_difference_is_folded_beside_its_value() -> None:
    assert folded(512, 37.0, 0) == "512 [blue](+37)[/]"
    assert folded(46_789_216.0, -39_225.0, -1) == "46,789,216 [green](-39,225)[/]"
    assert folded(512, 0.0, 1) == "512"  # equal: the value alone
    assert folded("OPTIMAL", None, 0) == "OPTIMAL"
