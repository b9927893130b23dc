"""The report and the studio in a real browser (system Chromium, driven by Playwright)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from optalloc.cli import app
from tests.helpers.browser import browser_page, require_chromium
from tests.helpers.report import small_scenarios

runner = CliRunner()


def test_report_renders_every_chart_without_console_errors(tmp_path: Path) -> None:
    require_chromium()
    paths = small_scenarios(tmp_path / "s", (150, 3000))
    sweep = tmp_path / "sweep.csv"
    swept = runner.invoke(
        app,
        ["sweep", str(paths[1]), "--vary", "resources.home_nurse_hours=500:2500:3", "--csv", str(sweep)]
        + ["--no-record", "--workers", "1"],
    )
    assert swept.exit_code == 0, swept.output
    out = tmp_path / "report.html"
    result = runner.invoke(
        app, ["report", *map(str, paths), "--out", str(out), "--shareable", "--sweep", str(sweep), "--no-record"]
    )
    assert result.exit_code == 0, result.output
    with browser_page() as (page, errors):
        page.goto(out.as_uri())
        charts = page.locator("div.chart")
        assert charts.count() >= 8  # the sweep's two charts included
        page.wait_for_function(
            "[...document.querySelectorAll('div.chart')].every(d => d.querySelector('svg'))", timeout=20000
        )
        for k in range(charts.count()):
            svg = charts.nth(k).locator("svg").first
            box = svg.bounding_box()
            assert box and box["width"] > 100 and box["height"] > 50, k
            assert svg.locator("path, rect, line").count() > 3, k  # marks drawn, not an empty frame
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
    assert errors == []
    assert (tmp_path / "report.png").stat().st_size > 10_000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def studio(tmp_path: Path):
    """``optalloc serve`` on a free port over a folder of one small scenario."""
    require_chromium()
    folder = tmp_path / "scenarios"
    small_scenarios(folder, (1500,))
    (folder / "baseline.toml").rename(tmp_path / "baseline.toml")  # only h1500 is offered...
    text = (folder / "h1500.toml").read_text().replace('extends = "baseline.toml"', 'extends = "../baseline.toml"')
    (folder / "h1500.toml").write_text(text)
    port = _free_port()
    command = [
        sys.executable,
        "-c",
        "from optalloc.cli import main; main()",
        "serve",
        "--scenarios",
        str(folder),
        "--port",
        str(port),
    ]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError as exc:
                if server.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"the studio did not start: {server.stderr.read().decode() if server.stderr else ''}"
                    ) from exc
                time.sleep(0.2)
        yield url, folder / "h1500.toml"
    finally:
        server.terminate()
        server.wait(timeout=20)


def test_studio_solves_a_change_like_the_cli_and_downloads_the_same_plan(studio, tmp_path: Path) -> None:
    url, scenario = studio
    changed = scenario.with_name("h2200.toml")
    changed.write_text(scenario.read_text().replace("home_nurse_hours = 1500", "home_nurse_hours = 2200"))
    cli = runner.invoke(app, ["solve", str(changed), "--json", "--no-record", "--out", str(tmp_path / "cli-plan.csv")])
    assert cli.exit_code == 0, cli.output
    expected = json.loads(cli.stdout)["objective"]
    changed.unlink()  # the studio offers only the scenario as written

    with browser_page(accept_downloads=True) as (page, errors):
        start = time.perf_counter()
        page.goto(url, wait_until="networkidle")  # Dash has rendered and wired its callbacks
        box = page.locator("input[id*='home_nurse_hours']").first
        box.wait_for(timeout=20000)
        first_page = time.perf_counter() - start
        box.fill("2200")
        box.press("Enter")
        page.wait_for_load_state("networkidle")  # the typed value has reached the server
        page.click("#solve")
        page.wait_for_function(
            "document.querySelector('#benefit').textContent.length > 0 && !document.querySelector('#solve').disabled",
            timeout=60000,
        )
        assert page.locator("#benefit").text_content() == f"{expected:,.4f}"
        # the report's own charts, each drawn in its frame by the report's Vega bundle
        page.frame_locator("#settings-chart iframe").locator("svg.marks").wait_for(timeout=20000)
        page.frame_locator("#limits-chart iframe").locator("svg.marks").wait_for(timeout=20000)
        assert "patients change setting" in page.locator("#moved-count").text_content()
        with page.expect_download() as download:
            page.click("#get-plan")
        download.value.save_as(tmp_path / "studio-plan.csv")
        page.screenshot(path=str(tmp_path / "studio.png"), full_page=True)
    assert errors == []
    assert first_page < 30

    studio_plan = pd.read_csv(tmp_path / "studio-plan.csv")
    cli_plan = pd.read_csv(tmp_path / "cli-plan.csv")
    assert list(studio_plan.columns) == list(cli_plan.columns)
    pd.testing.assert_frame_equal(studio_plan, cli_plan, check_exact=False, rtol=1e-9)

    runs = json.loads(runner.invoke(app, ["runs", "list", "--json"]).stdout)
    assert [r["kind"] for r in runs][:2] == ["solve", "solve"]  # the change and the scenario as written
