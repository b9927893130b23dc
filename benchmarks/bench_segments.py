"""Benchmark segmentation: recovery of planted types, stability and rules on real data, scale.

Run from the repository root::

    .venv/bin/python benchmarks/bench_segments.py [--sizes 100000 1000000] [--skip-diabetes]

Prints a Markdown section (for ``benchmarks/RESULTS.md``) with

1. ARI between segments and the planted ``true_type`` on the built-in synthetic cohort
   (5,000 patients), averaged over 5 seeds (target >= 0.9);
2. on the Diabetes 130 developer data (first encounter per patient, the planner features of
   :mod:`optalloc.domains.diabetes130`, segmented by ``segment_diabetes``): stability across
   resamples (mean pairwise ARI of the segmentations of 5 seeds, each on its own sample, and
   the consensus index of the chosen k) and the rules' mean precision (target >= 0.8) and
   coverage (target >= 0.7);
3. wall time and peak resident memory of ``segment_cohort`` on synthetic cohorts of the given
   sizes (targets: 100k <= 60 s; 1M <= 10 min and <= 4 GiB), each in a fresh process so the
   peak is that size's own.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import adjusted_rand_score

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from optalloc.cohort.synth import TYPE_COLUMN, synthesize_cohort  # noqa: E402
from optalloc.domains.diabetes130 import (  # noqa: E402
    N_BASE,
    SAMPLE_SIZE,
    SEGMENT_CATEGORICAL,
    SEGMENT_NUMERIC,
    planner_frame,
    segment_diabetes,
)
from optalloc.segments import segment_cohort  # noqa: E402

DIABETES = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "diabetes130" / "diabetic_data_dev.csv.gz"


def planted_recovery(seeds: range, n: int = 5000) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        cohort = synthesize_cohort(n, seed=seed)
        start = time.perf_counter()
        result = segment_cohort(cohort, k="auto", seed=seed)
        rows.append(
            {
                "seed": seed,
                "k": result.k,
                "seconds": time.perf_counter() - start,
                "ari": adjusted_rand_score(cohort[TYPE_COLUMN], result.labels),
                "rule_precision": result.rules["precision"].mean(),
                "rule_coverage": result.rules["coverage"].mean(),
            }
        )
    return pd.DataFrame(rows)


def diabetes_cohort() -> tuple[pd.DataFrame, str]:
    """One row per patient (first encounter), planner features, pseudonymous ids only."""
    from optalloc.cohort.diabetes130 import load_diabetes130

    path = DIABETES if DIABETES.exists() else None  # None: the vendored copy (same bytes)
    data = load_diabetes130(path, key=b"benchmark")
    return planner_frame(data.encounters, which="first"), "optalloc.cohort.diabetes130.load_diabetes130"


def diabetes_stability(seeds: range) -> dict[str, object]:
    cohort, how = diabetes_cohort()
    results = []
    start = time.perf_counter()
    for seed in seeds:
        results.append(segment_diabetes(cohort, k="auto", seed=seed))
    seconds = (time.perf_counter() - start) / len(seeds)
    pairwise = [adjusted_rand_score(a.labels, b.labels) for a, b in itertools.combinations(results, 2)]
    chosen = [r.k_table.loc[r.k_table["chosen"]].iloc[0] for r in results]
    precision = [float(r.rules["precision"].mean()) for r in results]
    coverage = [float(r.rules["coverage"].mean()) for r in results]
    first = results[0]
    return {
        "loader": how,
        "patients": len(cohort),
        "ks": [r.k for r in results],
        "pairwise_ari_mean": float(np.mean(pairwise)),
        "pairwise_ari_min": float(np.min(pairwise)),
        "consensus_index": float(np.mean([c["consensus_index"] for c in chosen])),
        "pac": float(np.mean([c["pac"] for c in chosen])),
        "precision": float(np.mean(precision)),
        "precision_min": float(np.min(precision)),
        "coverage": float(np.mean(coverage)),
        "coverage_min": float(np.min(coverage)),
        "seconds_per_run": seconds,
        "rules": first.rules[["segment", "name", "size", "expression", "coverage", "precision"]],
    }


def scale_child(n: int) -> None:
    """Run in a fresh process: synthesise ``n`` patients, segment, print JSON timings."""
    start = time.perf_counter()
    cohort = synthesize_cohort(n, seed=0)
    synth_seconds = time.perf_counter() - start
    start = time.perf_counter()
    result = segment_cohort(cohort, k="auto", seed=0)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {
                "n": n,
                "synth_seconds": synth_seconds,
                "segment_seconds": seconds,
                "peak_gib": peak_kib / 2**20,
                "k": result.k,
                "ari": adjusted_rand_score(cohort[TYPE_COLUMN], result.labels),
            }
        )
    )


def scale(sizes: list[int]) -> list[dict[str, float]]:
    rows = []
    for n in sizes:
        done = subprocess.run(
            [sys.executable, __file__, "--child", str(n)], check=True, capture_output=True, text=True, cwd=REPO
        )
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
        print(f"  scale {n:,}: {rows[-1]}", file=sys.stderr)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[100_000, 1_000_000])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--skip-diabetes", action="store_true")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        scale_child(args.child)
        return
    seeds = range(args.seeds)
    lines = [f"- machine: {platform.platform()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}"]
    planted = planted_recovery(seeds)
    print(planted.round(3).to_string(index=False), file=sys.stderr)
    lines.append(
        f"- planted types, 5,000 synthetic patients, k=auto, seeds 0-{args.seeds - 1}: "
        f"**ARI {planted['ari'].mean():.3f}** (min {planted['ari'].min():.3f}; target >= 0.9), "
        f"k chosen {sorted(set(planted['k']))}, rule precision {planted['rule_precision'].mean():.3f}, "
        f"coverage {planted['rule_coverage'].mean():.3f}, {planted['seconds'].mean():.1f} s per run"
    )
    if not args.skip_diabetes:
        diabetes = diabetes_stability(seeds)
        print(diabetes["rules"].round(3).to_string(index=False), file=sys.stderr)
        lines.append(
            f"- Diabetes 130 dev ({diabetes['patients']:,} patients, first encounter each; "
            f"loaded by {diabetes['loader']}; clustered on {', '.join(SEGMENT_NUMERIC + SEGMENT_CATEGORICAL)}; "
            f"consensus on {SAMPLE_SIZE:,} patients x {N_BASE} runs per k): k chosen {diabetes['ks']}, "
            f"**mean pairwise ARI across {args.seeds} resampled runs {diabetes['pairwise_ari_mean']:.3f}** "
            f"(min {diabetes['pairwise_ari_min']:.3f}), **consensus index {diabetes['consensus_index']:.3f}**, "
            f"PAC {diabetes['pac']:.3f}, **rule precision {diabetes['precision']:.3f}** "
            f"(lowest seed {diabetes['precision_min']:.3f}; target >= 0.8), "
            f"**coverage {diabetes['coverage']:.3f}** (lowest seed {diabetes['coverage_min']:.3f}; target >= 0.7), "
            f"{diabetes['seconds_per_run']:.1f} s per run"
        )
    for row in scale(args.sizes):
        lines.append(
            f"- scale {row['n']:,} synthetic patients: segment_cohort **{row['segment_seconds']:.1f} s**, "
            f"peak RSS **{row['peak_gib']:.2f} GiB** (whole process, incl. the cohort; synthesis "
            f"{row['synth_seconds']:.1f} s), k={row['k']}, ARI {row['ari']:.3f}"
        )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
