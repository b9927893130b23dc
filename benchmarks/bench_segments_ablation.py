"""Ablation of the consensus ensemble on the overlapping planted cohorts: one setting at a time.

Run from the repository root::

    .venv/bin/python benchmarks/bench_segments_ablation.py readmission --seeds 0 1 2 3 4 \\
        --config '{}' '{"weighting": "equal"}' '{"algorithms": ["kmeans", "gmm", "agglomerative", "medoids"]}'

Each ``--config`` is a JSON object of :class:`~optalloc.segments.ensemble.ConsensusClustering`
parameters, plus ``"balance": false`` for unbalanced categorical columns
(:class:`~optalloc.segments.features.CohortFeatures`). For every configuration it prints the
``k`` chosen, the ARI against the planted types and the consensus gain of the chosen ``k`` per
seed, their mean and the seconds taken. The features and the clustering are those of
``segment_cohort`` (without the rules), so the figures match ``bench_segments_hard.py``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from optalloc.cohort.schema import CATEGORICAL_FEATURES, NUMERIC_FEATURES
from optalloc.cohort.synth import TYPE_COLUMN
from optalloc.cohort.synth_overlap import synthesize_overlap
from optalloc.segments.benchmark import READMISSION_CATEGORICAL, READMISSION_NUMERIC
from optalloc.segments.ensemble import ConsensusClustering
from optalloc.segments.features import CohortFeatures

FEATURES = {
    "transfusion": (list(NUMERIC_FEATURES), list(CATEGORICAL_FEATURES)),
    "readmission": (list(READMISSION_NUMERIC), list(READMISSION_CATEGORICAL)),
}


def run(domain: str, seeds: list[int], config: dict[str, object], separation: float) -> str:
    """One configuration on every seed, as one line of text."""
    settings = dict(config)
    balance = bool(settings.pop("balance", True))
    if "algorithms" in settings:
        settings["algorithms"] = tuple(settings["algorithms"])  # type: ignore[arg-type]
    numeric, categorical = FEATURES[domain]
    ks, aris, gains = [], [], []
    start = time.perf_counter()
    for seed in seeds:
        cohort = synthesize_overlap(5000, seed=seed, domain=domain, separation=separation)
        encoder = CohortFeatures(numeric=numeric, categorical=categorical, balance_categories=balance)
        X = encoder.fit_transform(cohort)
        model = ConsensusClustering(random_state=seed, categorical_blocks=encoder.blocks()[1], **settings).fit(X)
        chosen = model.k_table_.loc[model.k_table_["chosen"]].iloc[0]
        ks.append(int(model.n_clusters_))
        aris.append(float(adjusted_rand_score(cohort[TYPE_COLUMN], model.labels_)))
        gains.append(float(chosen["consensus_gain"]))
    return (
        f"{domain} separation {separation} {json.dumps(config)}: k {ks}, ARI {[round(a, 3) for a in aris]} "
        f"(mean {np.mean(aris):.3f}), gain {[round(g, 3) for g in gains]}, {time.perf_counter() - start:.0f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("domain", choices=list(FEATURES))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--separation", type=float, default=1.0)
    parser.add_argument("--config", nargs="+", default=["{}"])
    args = parser.parse_args()
    for config in args.config:
        print(run(args.domain, args.seeds, json.loads(config), args.separation), flush=True)


if __name__ == "__main__":
    main()
