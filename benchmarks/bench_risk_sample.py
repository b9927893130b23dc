"""Risk on a sample: how far the probabilities of a model cross-validated on a sample of
patients (and scoring everyone else) are from out-of-fold probabilities over all patients,
and what it saves.

    .venv/bin/python benchmarks/bench_risk_sample.py [--patients 200000] [--sample 50000]

Both runs use the same synthetic cohort and seed; reports wall time of each, the mean absolute
and the 99th percentile difference of the probabilities, the AUROC of each against the observed
outcome, and the Spearman correlation of the two rankings (what the allocation acts on).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optalloc.cohort.load import prepare_cohort
from optalloc.cohort.synth import synthesize_cohort
from optalloc.risk.cohort import cohort_risk


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--patients", type=int, default=200_000)
    parser.add_argument("--sample", type=int, default=50_000)
    args = parser.parse_args()
    os.environ.setdefault("OPTALLOC_PSEUDONYM_KEY", "bench-key")
    cohort = prepare_cohort(synthesize_cohort(args.patients, 20261125), source="synthetic")
    y = cohort["readmitted_30d"].to_numpy(int)
    start = time.perf_counter()
    everyone = cohort_risk(cohort, seed=0, sample=None)
    all_seconds = time.perf_counter() - start
    start = time.perf_counter()
    sampled = cohort_risk(cohort, seed=0, sample=args.sample)
    sample_seconds = time.perf_counter() - start
    diff = np.abs(everyone.probability - sampled.probability)
    print(f"## risk on a sample ({os.cpu_count()} cores, {time.strftime('%Y-%m-%d')})")
    print(f"{args.patients:,} patients; sample {args.sample:,}")
    print("| fit | seconds | AUROC | chosen |\n|---|---|---|---|")
    print(
        f"| all patients, out-of-fold | {all_seconds:.1f} | {roc_auc_score(y, everyone.probability):.4f} | {everyone.chosen} |"
    )
    print(
        f"| sample, scoring the rest | {sample_seconds:.1f} | {roc_auc_score(y, sampled.probability):.4f} | {sampled.chosen} |"
    )
    print(
        f"speed-up {all_seconds / sample_seconds:.1f}x; |difference| mean {diff.mean():.4f}, 99th pct {np.quantile(diff, 0.99):.4f};"
    )
    print(f"Spearman rank correlation {spearmanr(everyone.probability, sampled.probability).statistic:.4f}")


if __name__ == "__main__":
    main()
