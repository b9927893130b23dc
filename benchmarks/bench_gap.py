"""OR-Library GAP: published optima of gap1-gap12 and the gap to best known on gapd.

Usage::

    .venv/bin/python benchmarks/bench_gap.py [--small-solvers highs cbc] [--gapd-solvers ...]
        [--small-time-limit 10] [--gapd-time-limit 60] [--json out.json]

For gap1-12 it reports, per solver, how many of the 60 published optima were reached and
proven, and the slowest and mean seconds per instance. For gapd it reports each instance's
objective, bound (a lower bound: gapd is minimisation), seconds and the gap to the best known
value ``(objective - best) / best``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from optalloc.allocation.instances.gap import solve_gap_file

DATA = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "gap-orlib"


def small(solvers: list[str], time_limit: float) -> list[dict]:
    rows = []
    for solver in solvers:
        for k in range(1, 13):
            for row in solve_gap_file(DATA / f"gap{k}.txt", solver, time_limit):
                rows.append({**row, "requested": solver})
                print(json.dumps(rows[-1]), flush=True)
    return rows


def gapd(solvers: list[str], time_limit: float) -> list[dict]:
    rows = []
    for solver in solvers:

        def report(row: dict, solver: str = solver) -> None:  # printed as each instance ends
            obj, best = row["objective"], row["reference"]
            row["gap_to_best"] = None if obj is None else (obj - best) / best
            rows.append({**row, "requested": solver})
            print(json.dumps(rows[-1]), flush=True)

        solve_gap_file(DATA / "gapd.txt", solver, time_limit, on_row=report)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small-solvers", nargs="*", default=["highs", "cbc"])
    parser.add_argument("--gapd-solvers", nargs="*", default=["highs", "cbc", "cpsat", "decomp", "colgen"])
    parser.add_argument("--small-time-limit", type=float, default=10.0)
    parser.add_argument("--gapd-time-limit", type=float, default=60.0)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    rows = {
        "small": small(args.small_solvers, args.small_time_limit),
        "gapd": gapd(args.gapd_solvers, args.gapd_time_limit),
    }
    for solver in args.small_solvers:
        mine = [r for r in rows["small"] if r["requested"] == solver]
        reached = sum(bool(r["reaches_reference"]) for r in mine)
        proven = sum(r["status"] == "OPTIMAL" for r in mine)
        secs = [r["seconds"] for r in mine]
        print(
            f"gap1-12 {solver}: {reached}/{len(mine)} optima reached, {proven} proven, "
            f"max {max(secs):.2f} s, mean {sum(secs) / len(secs):.2f} s"
        )
    for solver in args.gapd_solvers:
        mine = [r for r in rows["gapd"] if r["requested"] == solver]
        print(
            f"gapd {solver}: "
            + ", ".join(
                f"{r['instance']} {r['objective']} ({100 * r['gap_to_best']:.2f}%)"
                if r["objective"]
                else f"{r['instance']} -"
                for r in mine
            )
        )
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
