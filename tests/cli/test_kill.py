"""Killing a real optalloc process (SIGINT, SIGTERM, SIGKILL) part-way leaves nothing behind:
no half-written output, no solver file, a sound database, and a next run that works. Eight
processes recording into one SQLite workspace at once all succeed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from tests.helpers.files import SCENARIOS

CLI = str(Path(sys.executable).with_name("optalloc"))
pytestmark = pytest.mark.skipif(not Path(CLI).exists(), reason="the optalloc command is not installed")


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    temp = tmp_path / "tmp"
    temp.mkdir()
    return {
        **os.environ,
        "OPTALLOC_PSEUDONYM_KEY": "kill-test",
        "OPTALLOC_WORKSPACE": str(tmp_path / "ws"),
        "TMPDIR": str(temp),
        "OMP_NUM_THREADS": "1",
    }


def _solver_files(temp: Path) -> list[Path]:
    return [p for p in temp.rglob("*") if p.is_file()]


def _processes_using(temp: Path) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if str(temp) in cmdline and "guardian" not in cmdline:
            found.append(int(proc.name))
    return found


def _run_and_kill(args: list[str], env: dict[str, str], sig: int, ready, timeout: float = 120) -> int:
    """Start ``optalloc ARGS``, wait until ``ready()`` (or 25 s), send ``sig``, return the exit code."""
    process = subprocess.Popen([CLI, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = time.monotonic()
    while process.poll() is None and not ready() and time.monotonic() - start < 25:
        time.sleep(0.05)
    process.send_signal(sig)
    return process.wait(timeout=timeout)


def _settle(temp: Path, seconds: float = 5.0) -> None:
    """Give the guardian of a SIGKILLed process time to notice and clean up."""
    deadline = time.monotonic() + seconds
    while (_solver_files(temp) or _processes_using(temp)) and time.monotonic() < deadline:
        time.sleep(0.1)


def _database_ok(env: dict[str, str]) -> None:
    path = Path(env["OPTALLOC_WORKSPACE"]) / "workspace.db"
    if path.exists():
        connection = sqlite3.connect(path)
        assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        connection.close()


def _small(tmp_path: Path, patients: int) -> Path:
    path = tmp_path / f"s{patients}.toml"
    path.write_text(
        f'extends = "{SCENARIOS / "baseline.toml"}"\nname = "s{patients}"\n[cohort]\npatients = {patients}\n'
    )
    return path


SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGKILL]


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_kill_during_solve_out(sig: signal.Signals, env: dict[str, str], tmp_path: Path) -> None:
    temp, plan = Path(env["TMPDIR"]), tmp_path / "plan.csv"
    scenario = _small(tmp_path, 5000)
    code = _run_and_kill(
        ["solve", str(scenario), "--solver", "cbc", "--out", str(plan)],
        env,
        sig,
        ready=lambda: any(p.suffix == ".mps" for p in _solver_files(temp)),
    )
    assert code != 0
    _settle(temp)
    assert not plan.exists() and not list(tmp_path.glob(".plan.csv.*"))
    assert _solver_files(temp) == [] and _processes_using(temp) == []
    _database_ok(env)
    done = subprocess.run(
        [CLI, "solve", str(_small(tmp_path, 300)), "--out", str(plan)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert len(pd.read_csv(plan)) == 300


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_kill_during_sweep(sig: signal.Signals, env: dict[str, str], tmp_path: Path) -> None:
    temp = Path(env["TMPDIR"])
    csv, png = tmp_path / "sweep.csv", tmp_path / "sweep.png"
    code = _run_and_kill(
        [
            "sweep",
            str(_small(tmp_path, 3000)),
            "--vary",
            "resources.home_nurse_hours=0:24000:6",
            "--solver",
            "cbc",
            "--workers",
            "1",
            "--csv",
            str(csv),
            "--plot",
            str(png),
        ],
        env,
        sig,
        ready=lambda: any(p.suffix == ".mps" for p in _solver_files(temp)),
    )
    assert code != 0
    _settle(temp)
    assert not csv.exists() and not png.exists() and not list(tmp_path.glob(".sweep.*"))
    assert _solver_files(temp) == [] and _processes_using(temp) == []
    _database_ok(env)


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_kill_during_cohort_import(sig: signal.Signals, env: dict[str, str], tmp_path: Path) -> None:
    from optalloc.cohort.synth import synthesize_cohort

    big = tmp_path / "big.csv"
    cohort = synthesize_cohort(2000, seed=1)
    frame = pd.concat([cohort] * 150, ignore_index=True)
    frame["patient_id"] = [f"MRN{i:07d}" for i in range(len(frame))]
    frame.to_csv(big, index=False)
    ws = Path(env["OPTALLOC_WORKSPACE"]) / "workspace.db"
    code = _run_and_kill(
        ["cohort", "import", str(big), "--name", "big"], env, sig, ready=lambda: ws.exists() and ws.stat().st_size > 0
    )
    _database_ok(env)
    listed = subprocess.run([CLI, "cohort", "list"], env=env, capture_output=True, text=True, timeout=60)
    assert listed.returncode == 0
    if code != 0:  # killed before the commit: no trace of the cohort
        assert "big" not in listed.stdout
    else:  # finished first: all of it
        assert "300,000" in listed.stdout
    again = subprocess.run(
        [CLI, "cohort", "import", str(big), "--name", "big", "--replace"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert again.returncode == 0, again.stderr


@pytest.mark.parametrize("sig", SIGNALS, ids=lambda s: s.name)
def test_kill_during_risk_train(sig: signal.Signals, env: dict[str, str], tmp_path: Path) -> None:
    model = tmp_path / "m.skops"
    started = time.monotonic()
    code = _run_and_kill(
        ["risk", "train", "--model", "lr", "--out", str(model), "--bootstrap", "0"],
        env,
        sig,
        ready=lambda: time.monotonic() - started > 6,
    )
    assert code != 0
    assert not model.exists() and not list(tmp_path.glob(".m.skops.*"))
    _settle(Path(env["TMPDIR"]))
    assert _solver_files(Path(env["TMPDIR"])) == []


def test_eight_concurrent_solves_record_into_one_sqlite(env: dict[str, str], tmp_path: Path) -> None:
    scenario = _small(tmp_path, 200)
    processes = [
        subprocess.Popen(
            [CLI, "solve", str(scenario), "--solver", "highs"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(8)
    ]
    codes = [(p.wait(timeout=600), p.stderr.read() if p.stderr else "") for p in processes]
    assert all(code == 0 for code, _ in codes), codes
    assert not any("not recorded" in text for _, text in codes), codes
    listed = subprocess.run([CLI, "runs", "list", "--json"], env=env, capture_output=True, text=True, timeout=60)
    import json

    runs = json.loads(listed.stdout)
    assert len(runs) == 8 and len({r["id"] for r in runs}) == 8
    _database_ok(env)
    assert np.all([r["kind"] == "solve" for r in runs])
