"""Benchmark: does ``optalloc track`` alarm on planted shifts, and stay quiet on clean data?

The Diabetes 130 developer part is split by patient (seeded) into a training half and a tracked
half. A model is trained on the first half exactly as ``optalloc risk train`` does (patient-
grouped CV for the out-of-fold between-period variance, then the fit on all rows). The tracked
half is written out unchanged (the clean copy) and with one shift planted from its block
``--shift-from`` (of ten ordered blocks) on, in raw Diabetes 130 columns:

* ``label``: 30-day readmissions raised by ``--label-rise`` (relative), by recoding
  non-readmitted encounters as ``<30`` at random;
* ``feature``: ``time_in_hospital`` plus ``--stay-days`` days (at most 14);
* ``mix``: a ``--mix-share`` of the encounters of patients under 60 replaced by copies of
  encounters of patients aged 80 or more (the age segment's share grows).

Each copy is tracked with the CLI (``--by age``, 10 blocks); the report says where the first
alarm fired. Then the time of ``optalloc track`` over the whole developer part (10 blocks).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_tracking.py``
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from optalloc.cohort.diabetes130 import DEV_DATA_PATH
from optalloc.domains.encounters import diabetes_design
from optalloc.monitoring.control import outcome_tau2
from optalloc.risk.persistence import save_model
from optalloc.risk.training import compare_models, fit_model

ROOT = Path(__file__).resolve().parents[1]
CLI = str(Path(sys.executable).with_name("optalloc"))


def plant(raw: pd.DataFrame, kind: str, start_block: int, args: argparse.Namespace, seed: int) -> pd.DataFrame:
    """A copy of ``raw`` with one shift from ``start_block`` (0-based, of 10) on."""
    rng = np.random.default_rng(seed)
    out = raw.copy()
    rank = out["encounter_id"].astype(int).rank(method="first").to_numpy()
    block = ((rank - 1) * 10 // len(out)).astype(int)
    later = block >= start_block
    if kind == "label":
        rate = float((out.loc[later, "readmitted"] == "<30").mean())
        flip_p = args.label_rise * rate / (1 - rate)
        flip = later & (out["readmitted"] != "<30").to_numpy() & (rng.random(len(out)) < flip_p)
        out.loc[flip, "readmitted"] = "<30"
    elif kind == "feature":
        days = out["time_in_hospital"].astype(int)
        out.loc[later, "time_in_hospital"] = np.minimum(days[later] + args.stay_days, 14).astype(str)
    elif kind == "mix":
        young = later & out["age"].isin(["[0-10)", "[10-20)", "[20-30)", "[30-40)", "[40-50)", "[50-60)"]).to_numpy()
        old = np.flatnonzero(later & out["age"].isin(["[80-90)", "[90-100)"]).to_numpy())
        replace = np.flatnonzero(young & (rng.random(len(out)) < args.mix_share))
        donors = rng.choice(old, size=replace.size, replace=True)
        keep_id = out["encounter_id"].to_numpy()[replace]
        out.iloc[replace] = out.iloc[donors].to_numpy()
        out.iloc[replace, out.columns.get_loc("encounter_id")] = keep_id
    return out


def run_track(path: Path, model: Path, env: dict[str, str]) -> tuple[dict, float]:
    start = time.perf_counter()
    done = subprocess.run(
        [CLI, "track", str(path), "--model", str(model), "--by", "age", "--json", "--no-record"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return json.loads(done.stdout), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="hgb")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--shift-from", type=int, default=6, help="0-based block where the shift starts")
    parser.add_argument("--label-rise", type=float, default=0.30)
    parser.add_argument("--stay-days", type=int, default=2)
    parser.add_argument("--mix-share", type=float, default=0.5)
    args = parser.parse_args()
    env = {**os.environ, "OPTALLOC_PSEUDONYM_KEY": os.environ.get("OPTALLOC_PSEUDONYM_KEY", "bench-key")}
    os.environ.update(env)
    raw = pd.read_csv(DEV_DATA_PATH, dtype=str, keep_default_na=False)
    patients = raw["patient_nbr"].unique()
    rng = np.random.default_rng(args.seed)
    train_ids = set(rng.choice(patients, size=len(patients) // 2, replace=False))
    in_train = raw["patient_nbr"].isin(train_ids).to_numpy()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        env["OPTALLOC_WORKSPACE"] = str(tmp / "ws")
        raw[in_train].to_csv(tmp / "train.csv", index=False)
        from optalloc.cohort.diabetes130 import load_diabetes130

        data = load_diabetes130(tmp / "train.csv")
        design = diabetes_design(data.encounters, data.source, data.sha256, data.n_excluded)
        t0 = time.perf_counter()
        comparison = compare_models(design, [args.model], seed=args.seed, n_boot=0)
        model = fit_model(
            design,
            args.model,
            args.seed,
            metadata={"outcome_tau2": outcome_tau2(design, comparison.results[args.model].probability)},
        )
        fit_seconds = time.perf_counter() - t0
        save_model(model, tmp / "model.skops")
        rows = []
        for kind in ("clean", "label", "feature", "mix"):
            copy = (
                raw[~in_train]
                if kind == "clean"
                else plant(raw[~in_train].reset_index(drop=True), kind, args.shift_from, args, args.seed + 1)
            )
            path = tmp / f"{kind}.csv"
            copy.to_csv(path, index=False)
            report, seconds = run_track(path, tmp / "model.skops", env)
            periods = [p["period"] for p in report["periods"]]
            alarms = report["alarms"]
            first = min((periods.index(a["period"]) for a in alarms), default=None)
            kinds = sorted({a["kind"] for a in alarms})
            delay = None if first is None or kind == "clean" else first - args.shift_from
            rows.append(
                (
                    kind,
                    len(alarms),
                    periods[first] if first is not None else "–",
                    delay,
                    kinds,
                    seconds,
                    alarms[0]["message"] if alarms else "",
                )
            )
        whole_model = fit_model(diabetes_design(load_diabetes130().encounters), args.model, args.seed)
        save_model(whole_model, tmp / "whole.skops")
        _, whole_seconds = run_track(DEV_DATA_PATH, tmp / "whole.skops", env)
    print(f"## Tracking alarms on planted shifts ({datetime.now(UTC):%Y-%m-%d})\n")
    print(
        f"`{' '.join(['python', 'benchmarks/bench_tracking.py', *sys.argv[1:]])}` on {os.cpu_count()} cores "
        f"({platform.processor() or platform.machine()}), {args.model} trained on half of the developer "
        f"part's patients ({fit_seconds:.0f} s with CV), tracked on the other half in 10 ordered blocks; "
        f"shifts planted from block {args.shift_from + 1} (label +{args.label_rise:.0%} relative, "
        f"time_in_hospital +{args.stay_days} days, {args.mix_share:.0%} of under-60 encounters replaced by "
        f"80+).\n"
    )
    print("| copy | alarms | first alarm | periods after the shift | kinds | track s |")
    print("|---|---:|---|---:|---|---:|")
    for kind, n, first, delay, kinds, seconds, _ in rows:
        print(
            f"| {kind} | {n} | {first} | {'–' if delay is None else delay} | {', '.join(kinds) or '–'} | {seconds:.1f} |"
        )
    print()
    for kind, *_, message in rows:
        if message:
            print(f"- {kind}: {message}")
    print(
        f"\n`optalloc track` over the whole developer part ({args.model} trained on it), 10 blocks: "
        f"{whole_seconds:.1f} s (target <= 30 s)."
    )


if __name__ == "__main__":
    main()
