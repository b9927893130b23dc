"""The README's console examples run as written: every ``$ optalloc ...`` line of a ```console
block either runs here (in a scratch copy, with the README's pseudonym key) and exits 0, or is
skipped for a stated reason (slower than about 10 s, or it needs a file only a skipped command
or an outside system makes). A new example must be placed in one of the two."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.files import REPO

README = REPO / "README.md"
# Commands (by how they start) not run here, and why. Measured on 2 cores: compare 13 s, sweep
# 13 s, size 28 s; the cheap ones run take 2-7 s each.
SKIPPED = {
    "optalloc compare ": "solves five 5,000-patient scenarios (about 13 s)",
    "optalloc sweep ": "seven 5,000-patient solves (about 13 s)",
    "optalloc size ": "18 solves (about 30 s); the forecast variant also needs forecast.csv",
    "optalloc uncertainty ": "200 draws of two scenarios (minutes)",
    "optalloc risk train ": "a few minutes on 2 cores",
    "optalloc risk evaluate ": "needs hgb.skops from risk train",
    "optalloc risk explain ": "needs hgb.skops from risk train",
    "optalloc risk retrain ": "needs new_records.csv and hgb.skops",
    "optalloc bench ": "a benchmark",
    "optalloc track ": "needs a model from risk train (and '...' stands for its arguments)",
    "optalloc forecast ": "needs new_records.csv, which the README does not make",
    "optalloc cohort import --omop ": "needs an OMOP database server",
    "optalloc report ": "solves the scenarios and renders the HTML (about 10 s); tests/report/test_report.py runs it",
    "optalloc serve": "starts a web server; tests/app/test_browser.py drives it in Chromium",
    "optalloc cohort import export.csv ": "needs a hospital's export; tests/domains/test_mapping_import.py makes one and runs it",
}
RUN = (
    "optalloc cohort synth ",
    "optalloc cohort import cohort.parquet",
    "optalloc segment ",
    "optalloc solve ",
    "optalloc explain ",
    "optalloc runs list",
    "optalloc risk split ",
)


def readme_commands(text: str) -> list[str]:
    """Every ``$ optalloc`` command of the console blocks, continuation lines joined, comments cut."""
    commands = []
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        lines = block.splitlines()
        k = 0
        while k < len(lines):
            if lines[k].startswith("$ optalloc"):
                command = lines[k][2:]
                while command.rstrip().endswith("\\") and k + 1 < len(lines):
                    k += 1
                    command = command.rstrip()[:-1].rstrip() + " " + lines[k].strip()
                commands.append(re.sub(r"\s+#.*$", "", command).strip())
            k += 1
    return commands


def quoted_figures(text: str) -> dict[str, list[str]]:
    """Per command, the figures (numbers, with their thousands separators and % signs) of the
    output lines the README quotes under it, up to the next command."""
    figures: dict[str, list[str]] = {}
    for block in re.findall(r"```console\n(.*?)```", text, flags=re.S):
        command = None
        for line in block.splitlines():
            if line.startswith("$ optalloc"):
                command = re.sub(r"\s+#.*$", "", line[2:]).strip()
                figures.setdefault(command, [])
            elif command and line.strip() and not line.lstrip().startswith("#"):
                figures[command] += NUMBER.findall(line)
    return figures


NUMBER = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?%?")


def test_readme_parser_joins_continuations_and_cuts_comments() -> None:
    text = "x\n```console\n$ optalloc a b   # note\nout\n$ optalloc c \\\n      d  # more\n```\n$ optalloc no\n"
    assert readme_commands(text) == ["optalloc a b", "optalloc c d"]


def test_every_readme_example_is_run_or_skipped_for_a_reason() -> None:
    for command in readme_commands(README.read_text()):
        assert command.startswith(RUN) != command.startswith(tuple(SKIPPED)), command


@pytest.mark.slow
def test_cheap_readme_examples_exit_0(tmp_path: Path) -> None:
    shutil.copytree(REPO / "scenarios", tmp_path / "scenarios")
    env = {
        **os.environ,
        "OPTALLOC_PSEUDONYM_KEY": "ci-only-not-secret",  # the README's key: explain --patient needs it
        "OPTALLOC_WORKSPACE": str(tmp_path / ".optalloc"),
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "COLUMNS": "200",  # tables at full width, so no figure is cut
    }
    env.pop("OPTALLOC_DATABASE_URL", None)
    ran, failed = [], []
    quoted = quoted_figures(README.read_text())
    for command in readme_commands(README.read_text()):
        if not command.startswith(RUN):
            continue
        done = subprocess.run(
            ["bash", "-c", command], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
        )
        ran.append(command)
        if done.returncode != 0:
            failed.append(f"{command}: exit {done.returncode}\n{done.stderr[-2000:]}")
            continue
        shown = set(NUMBER.findall(done.stdout + done.stderr))
        stale = [figure for figure in quoted.get(command, []) if figure not in shown]
        if stale:  # the README quotes a figure this run no longer gives
            failed.append(f"{command}: the README quotes {', '.join(stale)}, not in its output\n{done.stdout[-3000:]}")
    assert not failed, "\n\n".join(failed)
    assert len(ran) >= len(RUN)  # every cheap kind of command ran at least once
    assert (tmp_path / "cohort.parquet").exists() and (tmp_path / "held_back.csv.gz").exists()
