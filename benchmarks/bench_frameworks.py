"""Which web framework for the studio: start-up to a usable page, and the round trip of a change,
measured in the system Chromium for the same tiny app in Streamlit, Panel and Dash.

The frameworks other than Dash are not optalloc dependencies, so they come from a separate
virtual environment::

    python3 -m venv /tmp/fw && /tmp/fw/bin/pip install streamlit panel dash
    .venv/bin/python benchmarks/bench_frameworks.py --venv /tmp/fw [--repeats 3]

Start-up: from launching the server process to the number box being visible in the browser
(Streamlit and Panel build the page over a websocket after the HTML arrives, so the first HTTP
response alone would flatter them). Round trip: typing a new number until the page shows the
new figure.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import time
from pathlib import Path

from playwright.sync_api import sync_playwright

HERE = Path(__file__).resolve().parent / "frameworks"


def commands(venv: Path, port: int) -> dict[str, tuple[list[str], str, str]]:
    bin_ = venv / "bin"
    return {
        "streamlit": (
            [
                str(bin_ / "streamlit"),
                "run",
                str(HERE / "st_app.py"),
                "--server.port",
                str(port),
                "--server.headless",
                "true",
            ],
            f"http://127.0.0.1:{port}/",
            "input[aria-label='home nurse hours']",
        ),
        "panel": (
            [str(bin_ / "panel"), "serve", str(HERE / "pn_app.py"), "--port", str(port)],
            f"http://127.0.0.1:{port}/pn_app",
            ".hours input",
        ),
        "dash": ([str(bin_ / "python"), str(HERE / "dash_app.py"), str(port)], f"http://127.0.0.1:{port}/", "#hours"),
    }


def measure(browser, command: list[str], url: str, selector: str) -> tuple[float, float]:
    start = time.perf_counter()
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        page = browser.new_page()
        while True:
            try:
                page.goto(url, timeout=2000)
                break
            except Exception:
                time.sleep(0.05)
        box = page.locator(selector).first
        box.wait_for(timeout=60000)
        page.wait_for_selector(
            "#out:has-text('12.0000')", timeout=60000
        )  # Playwright's CSS sees into Panel's shadow DOM
        started = time.perf_counter() - start
        t = time.perf_counter()
        box.fill("15000")
        box.press("Enter")
        page.wait_for_selector("#out:has-text('15.0000')", timeout=30000)
        round_trip = time.perf_counter() - t
        page.close()
        return started, round_trip
    finally:
        server.terminate()
        server.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--venv", type=Path, required=True)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"# bench_frameworks: {platform.node()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}")
    print("| framework | start-up to usable page (s), median | round trip of a change (s), median |")
    print("|---|---|---|")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        for k, name in enumerate(("streamlit", "panel", "dash")):
            command, url, selector = commands(args.venv, 8890 + k)[name]
            runs = [measure(browser, command, url, selector) for _ in range(args.repeats)]
            starts = [r[0] for r in runs]
            trips = [r[1] for r in runs]
            print(f"| {name} | {statistics.median(starts):.2f} | {statistics.median(trips):.3f} |")
        browser.close()


if __name__ == "__main__":
    main()
