"""The one expression language: what it computes, and what it refuses (hostile input included)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.cohort.synth import synthesize_cohort
from optalloc.expressions import ExpressionError, parse
from optalloc.segments.rules import Condition
from tests.helpers.files import write_scenario

runner = CliRunner()


@pytest.fixture(scope="module")
def cohort() -> pd.DataFrame:
    return synthesize_cohort(3000, seed=2)


@pytest.mark.parametrize(
    "text",
    [
        "transfusions_per_28d >= 2 and distance_km <= 50 and not prior_reaction and frailty <= 6",
        "age >= 75 and frailty >= 5",
        "diagnosis in ['thalassaemia', 'sickle_cell_disease']",
        "diagnosis not in ('thalassaemia',) and distance_km > 20",
        "diagnosis == 'thalassaemia' or distance_km > 60",
        "(distance_km <= 50) & ~prior_reaction | (age < 30)",
        "18 <= age < 65",
        "abs(distance_km - 50) < 10",
        "distance_km * 2 / 4 + 1 >= 20 - 3 ** 2",
    ],
)
def test_conditions_match_pandas(cohort: pd.DataFrame, text: str) -> None:
    expected = np.asarray(cohort.eval(text, engine="python"), dtype=bool)
    assert np.array_equal(parse(text, "f", "s.toml").condition(cohort), expected)


def test_functions_and_quantities(cohort: pd.DataFrame) -> None:
    visits = parse("transfusions_per_28d * horizon_weeks / 4", "visits", "s.toml").quantity(
        cohort, {"horizon_weeks": 52}
    )
    assert np.allclose(visits, cohort["transfusions_per_28d"] * 13)
    capped = parse("clip(distance_km, 10, 50)", "q", "s").quantity(cohort)
    assert capped.min() >= 10 and capped.max() <= 50
    mixed = parse("where(age > 70, max(distance_km, 5), min(distance_km, 5, 3))", "q", "s").quantity(cohort)
    old = cohort["age"].to_numpy() > 70
    assert np.allclose(mixed[old], np.maximum(cohort["distance_km"].to_numpy()[old], 5))
    assert np.allclose(mixed[~old], np.minimum(cohort["distance_km"].to_numpy()[~old], 3))
    assert np.allclose(parse("log(exp(age))", "q", "s").quantity(cohort), cohort["age"])
    with pytest.raises(ExpressionError, match="row"):
        parse("1 / (age - age)", "q", "s").quantity(cohort)


def test_failing_clauses_name_what_excluded_a_row(cohort: pd.DataFrame) -> None:
    expression = parse("distance_km <= 50 and not prior_reaction", "settings.home.eligibility", "s")
    row = cohort[(cohort["distance_km"] > 50) & ~cohort["prior_reaction"]].head(1)
    assert expression.failing_clauses(row) == ["distance_km <= 50"]


def test_segment_rules_are_valid_expressions(cohort: pd.DataFrame) -> None:
    for condition in (
        Condition("age", ">=", 65.0),
        Condition("diagnosis", "==", "thalassaemia"),
        Condition("prior_reaction", "==", False),
    ):
        text = condition.expression()
        expected = np.asarray(cohort.eval(text, engine="python"), dtype=bool)
        assert np.array_equal(parse(text, "rule", "s").condition(cohort), expected), text


HOSTILE = [
    "(distance_km <= 50) & (@pd.io.common.os.system('touch {sentinel}') == 0)",
    "@cohort.to_csv('{sentinel}')",
    "age.__class__.__init__.__globals__['os'].system('touch {sentinel}')",
    "__import__('os').system('touch {sentinel}')",
    'exec(\'open("{sentinel}", "w")\')',
    "eval('1') == 1",
    "open('{sentinel}', 'w')",
    "[open('{sentinel}', 'w') for _ in [1]]",
    "(lambda: open('{sentinel}', 'w'))()",
    'f\'{{open("{sentinel}", "w")}}\'',
    "age[0]",
    "getattr(age, '__class__')",
    "abs(age, key=open)",
    "clip(age, 0, 1).__class__",
    "(x := 1)",
    "age if True else 0",
    "{{'a': 1}}",
    "distance_km in age",
    "_private > 1",
    "b'bytes' == age",
    "(" * 200 + "age" + ")" * 200,
    " + ".join(["age"] * 1000),
    "age > 1 " * 400,
]


@pytest.mark.parametrize("template", HOSTILE)
def test_hostile_expressions_are_refused_and_run_nothing(template: str, tmp_path: Path, cohort: pd.DataFrame) -> None:
    sentinel = tmp_path / "sentinel"
    text = template.format(sentinel=sentinel)
    with pytest.raises(ExpressionError) as caught:
        parse(text, "settings.home.eligibility", "hostile.toml").condition(cohort)
    message = str(caught.value)
    assert "hostile.toml" in message and "settings.home.eligibility" in message
    assert not sentinel.exists()


def test_hostile_scenario_fails_at_load_naming_file_field_and_token(tmp_path: Path) -> None:
    sentinel = tmp_path / "sentinel"
    path = write_scenario(
        tmp_path,
        f"""extends = "baseline.toml"
name = "hostile"
[cohort]
patients = 300
[settings.home]
eligibility = "(distance_km <= 50) & (@pd.io.common.os.system('touch {sentinel}') == 0)"
""",
        name="hostile.toml",
    )
    result = runner.invoke(app, ["solve", str(path), "--json"])
    assert result.exit_code == 2
    assert "hostile.toml" in result.output and "settings.home.eligibility" in result.output and "'@" in result.output
    assert not sentinel.exists()
    runs = runner.invoke(app, ["runs", "list", "--json"])
    assert json.loads(runs.stdout or "[]") == []  # nothing recorded


def test_equity_group_and_unknown_column(tmp_path: Path) -> None:
    path = write_scenario(
        tmp_path,
        """extends = "baseline.toml"
name = "typo"
[cohort]
patients = 300
[[equity]]
group = "agee >= 75"
setting = "home"
min_share = 0.1
""",
    )
    result = runner.invoke(app, ["solve", str(path)])
    assert result.exit_code == 2
    assert "equity[0].group" in result.output and "'agee'" in result.output and "distance_km" in result.output
