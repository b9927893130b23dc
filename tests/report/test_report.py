"""The HTML report: its sections and figures, shareable suppression, the CLI and its refusals."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from optalloc.report import ReportOptions, build_report, render_html
from optalloc.report.shareable import hidden_counts, hidden_rates
from tests.helpers.report import small_scenarios

runner = CliRunner()


def test_small_counts_hidden_with_a_partner_when_the_total_is_shown() -> None:
    hide = hidden_counts([590, 7, 3, 0], 11)
    # 7 and 3 are small; together 10 < 11, so the next smallest (590) is hidden too
    assert hide.tolist() == [True, True, True, False]
    hide = hidden_counts([500, 80, 4, 0], 11)
    assert hide.tolist() == [False, True, True, False]  # 4 alone would be total - 580
    assert hidden_counts([500, 80, 4], 11, total_shown=False).tolist() == [False, False, True]
    assert not hidden_counts([500, 80, 11, 0], 11).any()
    assert hidden_counts([3, 9], 5).tolist() == [True, True]
    assert hidden_rates([False, False, True], [100, 4, 50], 11).tolist() == [False, True, True]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    import os

    os.environ["OPTALLOC_PSEUDONYM_KEY"] = "test-key"
    folder = tmp_path_factory.mktemp("report")
    paths = small_scenarios(folder, (150, 3000))
    report, outcomes = build_report(paths, ReportOptions(shareable=True, min_count=11), seed=0)
    plain, _ = build_report(paths, ReportOptions(), seed=0)
    return report, plain, outcomes


def _section(report, key):
    return next(s for s in report.sections if s.key == key)


def test_report_has_every_section_with_figures_from_the_solves(built) -> None:
    _, plain, outcomes = built
    keys = [s.key for s in plain.sections]
    assert keys == ["comparison", "settings", "limits", "certificate", "segments", "risk", "equity"]
    certificate = _section(plain, "certificate").tables[0]
    for row, outcome in zip(certificate.rows, outcomes):
        assert row[0] == outcome.prepared.loaded.name
        assert row[3] == f"{outcome.result.objective:,.5g}"
    risk = _section(plain, "risk")
    assert {"Data source", "Outcome", "Predictors", "Validation design", "Performance by subgroup"} <= {
        term for term, _ in risk.items
    }
    auroc_row = risk.tables[0].rows[0]
    low, high = (float(x) for x in auroc_row[2].split(" to "))
    assert low <= float(auroc_row[1]) <= high
    equity = _section(plain, "equity")
    assert [t.caption for t in equity.tables] == ["By age band.", "By sex.", "By segment."]
    # One row per group and scenario: as narrow as the programmes however many scenarios there are.
    sex = equity.tables[1]
    assert sex.columns == [
        "group",
        "patients",
        "cohort share",
        "scenario",
        "share of home places",
        "readmissions per 100",
    ]
    assert [row[3] for row in sex.rows] == [o.prepared.loaded.scenario.name for o in outcomes] * 2
    assert [row[0] for row in sex.rows] == ["F", "", "M", ""]


def test_shareable_report_hides_a_small_setting_and_its_partner(built) -> None:
    report, plain, outcomes = built
    counts = outcomes[0].result.patients_per_setting(outcomes[0].prepared.problem)
    assert 0 < counts["home"] < 11, counts  # the scenario was made so
    plain_row = _section(plain, "settings").tables[0].rows[0]
    shared_row = _section(report, "settings").tables[0].rows[0]
    assert plain_row[2] == str(counts["home"])
    assert shared_row[2] == "<11"
    assert shared_row[1] == "<11"  # clinic too: the total 600 minus clinic would give home back
    spec = _section(report, "settings").charts[0]
    data = next(iter(spec["datasets"].values()))
    assert not [d for d in data if d["scenario"] == "h150" and d["setting"] in ("home", "clinic")]
    comparison = _section(report, "comparison").tables[0]
    home = next(r for r in comparison.rows if r[0] == "patients: home")
    assert home[1] == "<11" and "(" not in home[2]  # no difference against a hidden count
    html = render_html(report)
    assert "counts under 11 hidden" in html


def test_report_html_is_self_contained(built) -> None:
    report, _, _ = built
    html = render_html(report)
    assert not re.search(r"<script[^>]+src=", html)
    assert not re.search(r"<link[^>]+href=\"?https?:", html)
    assert "vegaEmbed" in html
    specs = json.loads(re.search(r"const optallocCharts = (\{.*?\});\n", html, re.S).group(1))
    assert len(specs) >= 6
    for spec in specs.values():
        encodings = [spec["encoding"]] if "encoding" in spec else [layer["encoding"] for layer in spec["layer"]]
        quantitative = [
            e[axis]
            for e in encodings
            for axis in ("x", "y")
            if e.get(axis, {}).get("type") == "quantitative" and "title" in e[axis]
        ]
        assert quantitative and all(axis["title"] for axis in quantitative), spec.get("title")


def test_cli_report_writes_html_and_records(tmp_path: Path) -> None:
    paths = small_scenarios(tmp_path / "s", (1500,))
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", *map(str, paths), "--out", str(out), "--no-segments"])
    assert result.exit_code == 0, result.output
    text = out.read_text()
    assert "Risk model card" in text and "Patient segments" not in text
    runs = runner.invoke(app, ["runs", "list", "--json"])
    assert json.loads(runs.stdout)[0]["kind"] == "compare"


def test_cli_report_sweep_frontier(tmp_path: Path) -> None:
    (path,) = small_scenarios(tmp_path / "s", (1500,))
    sweep = tmp_path / "sweep.csv"
    made = runner.invoke(
        app,
        [
            "sweep",
            str(path),
            "--vary",
            "resources.home_nurse_hours=500:2500:3",
            "--csv",
            str(sweep),
            "--no-record",
            "--workers",
            "1",
        ],
    )
    assert made.exit_code == 0, made.output
    out = tmp_path / "r.html"
    result = runner.invoke(
        app, ["report", str(path), "--out", str(out), "--sweep", str(sweep), "--no-segments", "--no-record"]
    )
    assert result.exit_code == 0, result.output
    html = out.read_text()
    assert "Sweep frontier: resources.home_nurse_hours" in html
    assert "What +1% of each limit is worth" in html  # marginal values in benefit units, not hours and euros


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "{tmp}/r.txt"], "r.txt"),
        (["--out", "{tmp}/r.html", "--sweep", "{tmp}/none.csv"], "no such sweep file"),
        (["--out", "{tmp}/r.html", "--sweep", "{tmp}/plain.csv"], "not a sweep table"),
        (["--out", "{tmp}/r.html", "--min-count", "1"], "--min-count"),
    ],
)
def test_cli_report_refusals_write_nothing(tmp_path: Path, args: list[str], message: str) -> None:
    (path,) = small_scenarios(tmp_path / "s", (1500,))
    (tmp_path / "plain.csv").write_text("a,b\n1,2\n")
    argv = ["report", str(path), *[a.format(tmp=tmp_path) for a in args], "--no-record"]
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, result.output
    assert message in result.output.replace("\n", " ")
    assert not (tmp_path / "r.html").exists()


def test_report_of_an_infeasible_scenario_says_why_and_exits_3(tmp_path: Path) -> None:
    folder = tmp_path / "s"
    (path,) = small_scenarios(folder, (1500,))
    bad = folder / "floor.toml"
    text = path.read_text().replace('name = "h1500"', 'name = "floor"')
    bad.write_text(text + "\n[settings.home]\nmin_patients = 590\n")
    out = tmp_path / "r.html"
    result = runner.invoke(app, ["report", str(bad), "--out", str(out), "--no-segments", "--no-record"])
    assert result.exit_code == 3, result.output
    assert "INFEASIBLE" in result.output
    html = out.read_text()
    assert "floor: INFEASIBLE." in html and "min_patients" in html  # the diagnosis, in the report too


def test_a_small_segment_is_hidden_with_a_partner_in_a_shareable_report() -> None:
    """A segment of 7 patients: its size, share and rates read <11, and so does the next
    smallest (the cohort's total would give it back); the chart leaves both out."""
    from types import SimpleNamespace

    import pandas as pd

    from optalloc.report.content import Hider, segments_section

    profiles = pd.DataFrame(
        {
            "segment": [0, 1, 2],
            "name": ["Older", "Remote", "Rare"],
            "n": [480, 113, 7],
            "share": [0.8, 0.188, 0.012],
            "readmitted": [90, 20, 3],
            "readmission_rate": [90 / 480, 20 / 113, 3 / 7],
            "mean_age": [75.0, 60.0, 40.0],
        }
    )
    rules = pd.DataFrame(
        {
            "segment": [0, 1, 2],
            "words": ["age at least 70", "distance at least 60", "age below 30"],
            "precision": [0.9, 0.95, 0.8],
            "coverage": [0.9, 0.9, 0.7],
        }
    )
    k_table = pd.DataFrame({"chosen": [True], "reason": ["chosen"]})
    segmentation = SimpleNamespace(profiles=profiles, rules=rules, k=3, k_table=k_table)
    shared = segments_section(segmentation, Hider(ReportOptions(shareable=True)))
    rows = {row[0]: row for row in shared.tables[0].rows}
    assert rows["S3 Rare"][1:3] == ["<11", "<11"] and rows["S3 Rare"][6] == "<11"
    assert rows["S2 Remote"][1] == "<11"  # the partner: 600 - 480 would give 7 back otherwise
    assert rows["S1 Older"][1] == "480"
    data = next(iter(shared.charts[0]["datasets"].values()))
    assert [d["segment"] for d in data] == ["S1 Older"]
    plain = segments_section(segmentation, Hider(ReportOptions()))
    assert {row[0]: row for row in plain.tables[0].rows}["S3 Rare"][1] == "7"
