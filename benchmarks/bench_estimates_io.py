"""``optalloc solve --estimates`` on 1,000,000 patients x 6 settings (a 6M-row Parquet table).

    .venv/bin/python benchmarks/bench_estimates_io.py [--patients 1000000] [--repeat 3]
        [--folder /tmp/optalloc-bench-est] [--tree PATH ...]

Writes (once, seeded) ``six.toml`` and ``est-<patients>.parquet`` in ``--folder``: six settings (usual care,
the default, and five programmes), three staff/slot limits and a budget, used only through the
table, with identifiers in the clear (``MRN0000001``...) so the run pseudonymises a million of
them. Then runs ``optalloc solve six.toml --estimates est.parquet --json --no-record`` as a new
process ``--repeat`` times for each ``--tree`` (a source tree put first on ``PYTHONPATH``, e.g.
an unpacked ``git archive`` of an older commit, so before and after run in the same session
under the same load), and prints per run the wall and CPU (user + system) seconds, the peak
memory, the status and the objective. CPU seconds are what a busy shared machine changes least.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
SETTINGS = ("usual", "phone", "pharmacist", "clinic", "home", "transitional")
RESOURCES = ("nurse_hours", "pharmacist_hours", "clinic_slots")
# the command as the entry point runs it, printing its own peak memory (kB) on the way out
CLI = (
    "import atexit, resource, sys; atexit.register(lambda: sys.stderr.write("
    "f'MAXRSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss} CPU {sum(resource.getrusage(resource.RUSAGE_SELF)[:2])}\\n')); "
    "from optalloc.cli import main; sys.argv[0] = 'optalloc'; main()"
)

SCENARIO = """name = "six"
description = "1M patients x 6 settings from a precomputed estimates table (benchmark)."
horizon_weeks = 52
budget = {budget}

[cohort]
source = "synthetic"
patients = 1000

[objective]
unit = "readmissions avoided"

[settings.usual]
default = true
{others}
[resources]
nurse_hours = {nurse}
pharmacist_hours = {pharmacist}
clinic_slots = {slots}
"""


def write_inputs(folder: Path, patients: int, seed: int = 20261204) -> tuple[Path, Path]:
    """The scenario and the long table, seeded; kept when already there."""
    folder.mkdir(parents=True, exist_ok=True)
    scenario, table = folder / "six.toml", folder / f"est-{patients}.parquet"
    rng = np.random.default_rng(seed)
    risk = rng.beta(2, 12, patients)
    effect = np.array([0.0, 0.10, 0.19, 0.15, 0.25, 0.30])
    use = {  # per patient and setting
        "nurse_hours": np.array([0.0, 1.5, 0.0, 0.0, 6.0, 12.0]),
        "pharmacist_hours": np.array([0.0, 0.0, 2.0, 0.0, 0.0, 1.0]),
        "clinic_slots": np.array([0.0, 0.0, 0.0, 1.0, 0.0, 0.0]),
    }
    cost = np.array([0.0, 60.0, 150.0, 120.0, 450.0, 900.0])
    if not table.exists():
        ids = np.char.add("MRN", np.char.zfill(np.arange(1, patients + 1).astype(str), 7))
        jitter = rng.uniform(0.8, 1.2, (patients, len(SETTINGS)))
        columns = {
            "patient_id": np.repeat(ids, len(SETTINGS)),
            "setting": np.tile(np.array(SETTINGS), patients),
            "benefit": (risk[:, None] * effect[None, :] * jitter).ravel(),
            "cost": (cost[None, :] * jitter).ravel(),
        }
        for name, per in use.items():
            columns[name] = (per[None, :] * jitter).ravel()
        pd.DataFrame(columns).to_parquet(table, index=False)
    others = "".join(f"\n[settings.{name}]\neffect = {effect[j]}\n" for j, name in enumerate(SETTINGS) if j)
    scale = patients / 1_000_000
    scenario.write_text(
        SCENARIO.format(
            budget=int(40e6 * scale),
            others=others,
            nurse=int(600_000 * scale),
            pharmacist=int(150_000 * scale),
            slots=int(60_000 * scale),
        ),
        encoding="utf-8",
    )
    return scenario, table


def run(tree: Path, scenario: Path, table: Path) -> dict:
    """One ``solve --estimates`` in a new process with ``tree`` first on the path."""
    env = dict(os.environ, PYTHONPATH=str(tree), OPTALLOC_PSEUDONYM_KEY="bench-key", OPTALLOC_WORKSPACE="/tmp/ob-ws")
    command = [sys.executable, "-c", CLI, "solve", str(scenario), "--estimates", str(table)]
    start = time.perf_counter()
    done = subprocess.run([*command, "--json", "--no-record"], env=env, capture_output=True, text=True, cwd=tree)
    wall = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{tree}: exit {done.returncode}\n{done.stderr[-2000:]}")
    kpis = json.loads(done.stdout)
    peak = float(done.stderr.rsplit("MAXRSS ", 1)[1].split()[0]) / 1024
    cpu = float(done.stderr.rsplit(" CPU ", 1)[1].split()[0])
    return {"wall": wall, "cpu": cpu, "peak_mb": peak, "status": kpis.get("status"), "objective": kpis.get("objective")}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--folder", type=Path, default=Path("/tmp/optalloc-bench-est"))
    parser.add_argument("--tree", type=Path, action="append", help="source tree(s) to time (default: this one)")
    args = parser.parse_args()
    scenario, table = write_inputs(args.folder, args.patients)
    print(f"load average {os.getloadavg()[0]:.2f}, nproc {os.cpu_count()}, table {table.stat().st_size / 1e6:.0f} MB")
    for _ in range(args.repeat):  # interleaved, so both trees see the same load
        for tree in args.tree or [ROOT]:
            r = run(tree.resolve(), scenario, table)
            print(
                f"{tree!s:20s} {r['wall']:6.2f} s wall  {r['cpu']:6.2f} s CPU  peak {r['peak_mb']:5.0f} MB  "
                f"{r['status']}  {r['objective']:.6f}  load {os.getloadavg()[0]:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
