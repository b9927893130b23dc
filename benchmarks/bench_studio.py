"""Scenario-studio benchmarks: a 50-point budget sweep on 20k patients, and sizing against a
fine sweep.

Usage::

    .venv/bin/python benchmarks/bench_studio.py sweep --patients 20000 --points 50 --solver decomp
    .venv/bin/python benchmarks/bench_studio.py size --patients 5000 --solver highs

``sweep`` times :func:`optalloc.studio.sweep.run_sweep` (prepare excluded, process-pool start-up
included) over budgets from the all-clinic cost to the cost of the best plan without a budget.
``size`` finds the smallest home-nurse level meeting a target by bracketing, then finds the true
minimum by a coarse and a fine sweep, and reports the relative difference.

Readmission risk comes from :func:`optalloc.risk.cohort_risk` when it exists; otherwise (while
the risk package is being written) from a fixed function of the cohort, which is printed.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from typing import Any

import numpy as np
import pandas as pd

from optalloc import pipeline
from optalloc.pipeline import Prepared, prepare
from optalloc.scenario import load_scenario, with_overrides
from optalloc.studio.parallel import Execution
from optalloc.studio.points import SolveSettings, solve_variant
from optalloc.studio.size import run_size
from optalloc.studio.sweep import Vary, run_sweep
from optalloc.studio.target import parse_target

BASELINE = "scenarios/home_transfusion/baseline.toml"


def _fixed_risk(loaded: object, cohort: pd.DataFrame) -> tuple[np.ndarray, None]:
    admissions = cohort["admissions_past_year"].to_numpy(float)
    return np.clip(0.04 + 0.03 * admissions + 0.01 * cohort["frailty"].to_numpy(float), 0.0, 0.9), None


def _risk_source() -> str:
    import optalloc.risk

    if hasattr(optalloc.risk, "cohort_risk"):
        return "optalloc.risk.cohort_risk"
    pipeline.score_risk = _fixed_risk
    return "fixed function of the cohort (risk package not available yet)"


def scaled_baseline(patients: int) -> Prepared:
    """The baseline with its staff and equipment scaled to the cohort size (it states them
    for 5,000 patients) and no budget limit yet."""
    scale = patients / 5000.0
    loaded = load_scenario(BASELINE)
    overrides: dict[str, Any] = {"cohort.patients": patients}
    for name, amount in loaded.scenario.resources.items():
        overrides[f"resources.{name}"] = amount * scale
    overrides["budget"] = 1e15
    return prepare(with_overrides(loaded, overrides))


def bench_sweep(args: argparse.Namespace) -> None:
    risk = _risk_source()
    prepared = scaled_baseline(args.patients)
    default = prepared.problem.default_setting
    floor = float(prepared.estimates.cost[:, default].sum())
    free, _ = solve_variant(prepared, {}, SolveSettings(args.solver, 2, args.time_limit, args.gap), None)
    top = float(free["cost"])
    print(f"risk: {risk}; budget range {floor:,.0f} .. {top:,.0f} EUR (all clinic .. best plan without a budget)")
    vary = Vary("budget", floor, top, args.points)
    start = time.perf_counter()
    frame = run_sweep(prepared, [vary], args.solver, Execution(workers=args.workers), args.time_limit, args.gap)
    seconds = time.perf_counter() - start
    gaps = frame["gap"].astype(float)
    print(
        f"sweep: {args.points} points, {args.patients} patients, solver {args.solver}, workers "
        f"{args.workers or os.cpu_count()}, gap {args.gap}: {seconds:.1f} s wall "
        f"({frame['wall_seconds'].sum():.1f} s of solves; max gap {np.nanmax(gaps):.2e}; "
        f"statuses {frame['status'].value_counts().to_dict()})"
    )
    print(
        f"frontier: benefit {frame['objective'].iloc[0]:.3f} .. {frame['objective'].iloc[-1]:.3f}; "
        f"monotone: {bool(np.all(np.diff(frame['objective']) >= -1e-4 * frame['objective'].abs().max()))}"
    )


def _first_meeting(prepared: Prepared, target, lo: float, hi: float, points: int, args) -> tuple[float, float]:
    frame = run_sweep(
        prepared,
        [Vary("resources.home_nurse_hours", lo, hi, points)],
        args.solver,
        Execution(workers=args.workers),
        args.time_limit,
        args.gap,
    )
    meets = np.array(
        [
            target.holds(
                {
                    **row,
                    "patients": {s: row[f"patients:{s}"] for s in prepared.problem.settings},
                    "eligible": {s: row[f"eligible:{s}"] for s in prepared.problem.settings},
                }
            )
            for row in frame.to_dict(orient="records")
        ]
    )
    levels = frame["resources.home_nurse_hours"].to_numpy()
    if not meets.any():
        raise SystemExit(f"target not met in {lo:g}..{hi:g}")
    k = int(np.argmax(meets))
    return (float(levels[k - 1]) if k else lo), float(levels[k])


def bench_size(args: argparse.Namespace) -> None:
    risk = _risk_source()
    loaded = with_overrides(load_scenario(BASELINE), {"cohort.patients": args.patients})
    prepared = prepare(loaded)
    target = parse_target(args.target, prepared.problem.settings, [lim.name for lim in prepared.problem.limits])
    start = time.perf_counter()
    result = run_size(
        prepared,
        "home_nurse_hours",
        target,
        args.solver,
        Execution(workers=args.workers),
        rel_tol=args.tol,
        time_limit=args.time_limit,
        relative_gap=args.gap,
    )
    seconds = time.perf_counter() - start
    print(
        f"risk: {risk}; sizing {args.target} on {args.patients} patients: home_nurse_hours = {result.level:,.1f} "
        f"(bracket {result.bracket[0]:,.1f}..{result.bracket[1]:,.1f}), {len(result.evaluations)} solves, {seconds:.1f} s"
    )
    start = time.perf_counter()
    now = float(prepared.loaded.scenario.resources["home_nurse_hours"])
    lo, hi = _first_meeting(prepared, target, 0.0, max(now, result.level * 1.3), args.coarse, args)
    lo, hi = _first_meeting(prepared, target, lo, hi, args.fine, args)
    seconds = time.perf_counter() - start
    error = (result.level - hi) / hi
    print(
        f"fine sweep ({args.coarse} + {args.fine} points, {seconds:.1f} s): first level meeting the target "
        f"{hi:,.1f} (previous point {lo:,.1f} fails; resolution {100 * (hi - lo) / hi:.2f}%); "
        f"sizing differs by {100 * error:+.2f}%"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("part", choices=["sweep", "size"])
    parser.add_argument("--patients", type=int, default=None)
    parser.add_argument("--points", type=int, default=50)
    parser.add_argument("--solver", default="auto")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--time-limit", type=float, default=None)
    parser.add_argument("--gap", type=float, default=None)
    parser.add_argument("--target", default="patients(home) >= 90")
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--coarse", type=int, default=13)
    parser.add_argument("--fine", type=int, default=21)
    args = parser.parse_args()
    print(
        f"machine: {platform.node()} {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
        f"python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}"
    )
    if args.part == "sweep":
        args.patients = args.patients or 20000
        bench_sweep(args)
    else:
        args.patients = args.patients or 5000
        bench_size(args)


if __name__ == "__main__":
    main()
