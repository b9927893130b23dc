"""Benchmark segmentation where it is hard: overlapping planted types, real labelled tables.

Run from the repository root::

    .venv/bin/python benchmarks/bench_segments_hard.py [--seeds 5] [--n 5000] [--skip-sanity]
        [--skip-hard] [--diabetes] [--sizes 1000000]

For each seed and domain of :func:`optalloc.cohort.synth_overlap.synthesize_overlap` (5 types,
5,000 patients) it prints, measured in the same run:

* the **supervised ceiling** (cross-validated ARI of a classifier trained on the true types,
  :func:`optalloc.segments.benchmark.supervised_ceiling`);
* **k-means told the true k** on the standardised numeric columns (10 starts);
* ``segment_cohort`` with ``k="auto"``: the k it chose, its ARI, and the ARI as a share of
  the ceiling and against k-means; and ``segment_cohort`` told the true k.

Then the sanity checks: the easy built-in cohort (target ARI >= 0.9) and the wine and breast
cancer tables that ship with scikit-learn (numeric columns only; classes as the truth). With
``--diabetes``: the Diabetes 130 developer data (first encounter per patient), the k chosen,
the verdict and the rules' precision and coverage on fitting and held-out patients. With
``--sizes``: wall time and peak memory of ``segment_cohort`` on overlapping cohorts of those
sizes, each in a fresh process.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.metrics import adjusted_rand_score

REPO = Path(__file__).resolve().parents[1]
DIABETES = REPO.parent / "shared" / "datasets" / "diabetes130" / "diabetic_data_dev.csv.gz"
sys.path.insert(0, str(REPO))

from optalloc.cohort.schema import CATEGORICAL_FEATURES, NUMERIC_FEATURES  # noqa: E402
from optalloc.cohort.synth import TYPE_COLUMN, synthesize_cohort  # noqa: E402
from optalloc.cohort.synth_overlap import synthesize_overlap  # noqa: E402
from optalloc.segments import segment_cohort  # noqa: E402
from optalloc.segments.benchmark import (  # noqa: E402
    READMISSION_CATEGORICAL,
    READMISSION_NUMERIC,
    kmeans_told_k,
    supervised_ceiling,
)

FEATURES = {
    "transfusion": (list(NUMERIC_FEATURES), list(CATEGORICAL_FEATURES)),
    "readmission": (list(READMISSION_NUMERIC), list(READMISSION_CATEGORICAL)),
}


def markdown(frame: pd.DataFrame, index: bool = False) -> str:
    """A pipe table (no optional dependency): numbers with 3 decimals."""
    frame = frame.reset_index() if index else frame

    def cell(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float | np.floating) else str(value)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def hard_run(domain: str, seed: int, n: int, separation: float = 1.0) -> dict[str, object]:
    numeric, categorical = FEATURES[domain]
    cohort = synthesize_overlap(n, seed=seed, domain=domain, separation=separation)
    truth = cohort[TYPE_COLUMN].to_numpy()
    k_true = len(set(truth))
    ceiling = supervised_ceiling(cohort, truth, numeric, categorical, seed=seed)["ceiling"]
    kmeans = adjusted_rand_score(truth, kmeans_told_k(cohort, numeric, k_true, seed=seed))
    start = time.perf_counter()
    auto = segment_cohort(cohort, k="auto", seed=seed, numeric=numeric, categorical=categorical)
    seconds = time.perf_counter() - start
    told = segment_cohort(cohort, k=k_true, seed=seed, numeric=numeric, categorical=categorical)
    chosen = auto.k_table.loc[auto.k_table["chosen"]].iloc[0]
    return {
        "domain": domain,
        "seed": seed,
        "ceiling": ceiling,
        "kmeans_true_k": kmeans,
        "k": auto.k,
        "ari": adjusted_rand_score(truth, auto.labels),
        "ari_told_k": adjusted_rand_score(truth, told.labels),
        "seconds": seconds,
        "verdict": auto.verdict.split(":")[0],
        "gain": float(chosen["consensus_gain"]),
        "k_range": f"{auto.k_table['k'].min()}-{auto.k_table['k'].max()}",
    }


def sanity() -> pd.DataFrame:
    rows = []
    for seed in range(3):
        cohort = synthesize_cohort(5000, seed=seed)
        result = segment_cohort(cohort, k="auto", seed=seed)
        rows.append(
            {
                "data": "easy cohort",
                "seed": seed,
                "k_true": 5,
                "k": result.k,
                "ari": adjusted_rand_score(cohort[TYPE_COLUMN], result.labels),
                "verdict": result.verdict.split(":")[0],
            }
        )
    for name, loader in (("wine", load_wine), ("breast cancer", load_breast_cancer)):
        data = loader(as_frame=True)
        frame = data.frame.drop(columns=["target"]).rename(columns=lambda c: c.replace(" ", "_").replace("/", "_"))
        truth = data.target.to_numpy()
        k_true = len(np.unique(truth))
        columns = list(frame.columns)
        for seed in range(3):
            result = segment_cohort(frame, k="auto", seed=seed, numeric=columns, categorical=[], profile_means=[])
            rows.append(
                {
                    "data": name,
                    "seed": seed,
                    "k_true": k_true,
                    "k": result.k,
                    "ari": adjusted_rand_score(truth, result.labels),
                    "kmeans_true_k": adjusted_rand_score(truth, kmeans_told_k(frame, columns, k_true, seed=seed)),
                    "ceiling": supervised_ceiling(frame, truth, columns, [], seed=seed)["ceiling"],
                    "verdict": result.verdict.split(":")[0],
                }
            )
    return pd.DataFrame(rows)


def diabetes_rules(seeds: range) -> pd.DataFrame:
    """Diabetes 130 dev data (first encounter per patient): k, verdict, rules fitted vs held out."""
    from optalloc.domains.diabetes130 import load_planner_frame, segment_diabetes

    path = DIABETES if DIABETES.exists() else None
    cohort = load_planner_frame(path, which="first", key=b"benchmark")
    rows = []
    for seed in seeds:
        start = time.perf_counter()
        result = segment_diabetes(cohort, k="auto", seed=seed)
        seconds = time.perf_counter() - start
        rules = result.rules
        chosen = result.k_table.loc[result.k_table["chosen"]].iloc[0]
        rows.append(
            {
                "seed": seed,
                "patients": len(cohort),
                "k": result.k,
                "k tried": f"{result.k_table['k'].min()}-{result.k_table['k'].max()}",
                "gain": float(chosen["consensus_gain"]),
                "verdict": result.verdict.split(":")[0],
                "fit precision": rules["fit_precision"].mean(),
                "held-out precision": rules["heldout_precision"].mean(),
                "fit coverage": rules["fit_coverage"].mean(),
                "held-out coverage": rules["heldout_coverage"].mean(),
                "max |precision gap|": (rules["fit_precision"] - rules["heldout_precision"]).abs().max(),
                "max |coverage gap|": (rules["fit_coverage"] - rules["heldout_coverage"]).abs().max(),
                "rules below 0.7": int((~rules["meets_precision"]).sum()),
                "seconds": seconds,
            }
        )
        print(rows[-1], file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def scale_child(n: int) -> None:
    """In a fresh process: an overlapping cohort of ``n`` patients, segmented; prints JSON."""
    start = time.perf_counter()
    cohort = synthesize_overlap(n, seed=0)
    synth = time.perf_counter() - start
    start = time.perf_counter()
    result = segment_cohort(cohort, k="auto", seed=0)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    ari = adjusted_rand_score(cohort[TYPE_COLUMN], result.labels)
    print(
        json.dumps(
            {"n": n, "synth_seconds": synth, "segment_seconds": seconds, "peak_gib": peak, "k": result.k, "ari": ari}
        )
    )


def scale(sizes: list[int]) -> pd.DataFrame:
    rows = []
    for n in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(n)], check=True, capture_output=True, text=True, cwd=REPO
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(rows[-1], file=sys.stderr, flush=True)
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--separation", type=float, default=1.0, help="overlap of the planted types (1: default)")
    parser.add_argument("--domains", nargs="*", default=list(FEATURES))
    parser.add_argument("--skip-sanity", action="store_true")
    parser.add_argument("--skip-hard", action="store_true")
    parser.add_argument("--diabetes", action="store_true", help="also segment the Diabetes 130 dev data")
    parser.add_argument("--sizes", type=int, nargs="*", default=[], help="also time cohorts of these sizes")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        scale_child(args.child)
        return
    print(
        f"- {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {platform.platform()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; `python benchmarks/bench_segments_hard.py {' '.join(sys.argv[1:])}`\n"
    )
    rows = []
    for domain in [] if args.skip_hard else args.domains:
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            rows.append(hard_run(domain, seed, args.n, args.separation))
            print(rows[-1], file=sys.stderr, flush=True)
    if args.sizes:
        print(markdown(scale(args.sizes)), flush=True)
        print()
    if args.diabetes:
        print(markdown(diabetes_rules(range(args.seeds))), flush=True)
        print()
    if not rows:
        return
    table = pd.DataFrame(rows)
    table["ari/ceiling"] = table["ari"] / table["ceiling"]
    table["ari/kmeans"] = table["ari"] / table["kmeans_true_k"]
    print(markdown(table), flush=True)
    print()
    summary = table.groupby("domain")[["ceiling", "kmeans_true_k", "ari", "ari_told_k", "seconds"]].mean()
    summary["ari/ceiling"] = summary["ari"] / summary["ceiling"]
    summary["ari/kmeans"] = summary["ari"] / summary["kmeans_true_k"]
    summary["k within 1 of 5"] = table.groupby("domain")["k"].apply(
        lambda k: f"{int((abs(k - 5) <= 1).sum())}/{len(k)}"
    )
    print(markdown(summary, index=True), flush=True)
    if not args.skip_sanity:
        print()
        print(markdown(sanity()))


if __name__ == "__main__":
    main()
