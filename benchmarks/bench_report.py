"""Benchmark the planner's face: the HTML report and the browser studio.

Run from the repository root (the system Chromium drives the studio)::

    .venv/bin/python benchmarks/bench_report.py [--repeats 3]

1. ``optalloc report`` of the five transfusion scenarios (5,000 patients each), plain and
   ``--shareable``: wall time of the whole command in a fresh process and the file's size
   (targets <= 10 s, <= 5 MB). Baseline measured in the same run: ``optalloc compare`` of the
   same files (solving them and printing the table), so the ratio says what the report adds.
2. ``optalloc serve`` on ``scenarios/home_transfusion``: from launching the server to the
   controls being usable in Chromium (target <= 5 s), then, after a first solve of the baseline,
   the re-solve after a change of the home nurse hours, from the click to the new benefit on the
   page (target <= 2 s; median of several changes).
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = sorted((REPO / "scenarios" / "home_transfusion").glob("*.toml"))
OPTALLOC = [sys.executable, "-c", "from optalloc.cli import main; main()"]


def timed(command: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def report_times(repeats: int, folder: Path) -> list[str]:
    rows = []
    compare = [
        timed([*OPTALLOC, "--quiet", "compare", *map(str, SCENARIOS), "--no-record"], folder) for _ in range(repeats)
    ]
    base = statistics.median(compare)
    rows.append(f"| compare (baseline) | {base:.1f} | – | 1.00 |")
    for label, extra in (("report", []), ("report --shareable", ["--shareable"])):
        out = folder / "report.html"
        runs = [
            timed(
                [*OPTALLOC, "--quiet", "report", *map(str, SCENARIOS), "--out", str(out), "--no-record", *extra], folder
            )
            for _ in range(repeats)
        ]
        size = out.stat().st_size / 1e6
        rows.append(f"| {label} | {statistics.median(runs):.1f} | {size:.2f} | {statistics.median(runs) / base:.2f} |")
    return rows


def studio_times(changes: tuple[int, ...], folder: Path) -> tuple[float, float, list[float]]:
    from playwright.sync_api import sync_playwright

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [*OPTALLOC, "serve", "--scenarios", str(REPO / "scenarios" / "home_transfusion"), "--port", str(port)]
    start = time.perf_counter()
    server = subprocess.Popen(command, cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
            page = browser.new_page()
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}/", timeout=10000, wait_until="networkidle")
                    break
                except Exception:
                    time.sleep(0.05)
            box = page.locator("input[id*='home_nurse_hours']").first
            box.wait_for(timeout=60000)
            first_page = time.perf_counter() - start
            t = time.perf_counter()
            page.click("#solve")
            page.wait_for_function("document.querySelector('#benefit').textContent.length > 0", timeout=120000)
            first_solve = time.perf_counter() - t
            resolves = []
            for hours in changes:
                old = page.locator("#benefit").text_content()
                box.fill(str(hours))
                box.press("Enter")
                page.wait_for_timeout(300)  # the typed value reaches the server before the click
                t = time.perf_counter()
                page.click("#solve")
                page.wait_for_function(
                    f"document.querySelector('#benefit').textContent !== {old!r} && "
                    "document.querySelector('#benefit').textContent.length > 0",
                    timeout=60000,
                )
                resolves.append(time.perf_counter() - t)
            browser.close()
    finally:
        server.terminate()
        server.wait()
    return first_page, first_solve, resolves


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        os.environ.setdefault("OPTALLOC_PSEUDONYM_KEY", "bench-key")
        print(f"## bench_report ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d')})\n")
        print("| command (5 transfusion scenarios, 5,000 patients) | seconds (median) | MB | ratio to compare |")
        print("|---|---|---|---|")
        for row in report_times(args.repeats, folder):
            print(row)
        first_page, first_solve, resolves = studio_times((14000, 16000, 10000, 20000, 13000), folder)
        print()
        print("| studio (optalloc serve, Chromium) | seconds |")
        print("|---|---|")
        print(f"| launch to usable page | {first_page:.2f} |")
        print(f"| first solve (cohort, risk, scenario as written, the change) | {first_solve:.2f} |")
        print(
            f"| re-solve after a change, median of {len(resolves)} (max) | {statistics.median(resolves):.2f} ({max(resolves):.2f}) |"
        )


if __name__ == "__main__":
    main()
