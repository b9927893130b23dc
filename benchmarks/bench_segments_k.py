"""The choice of k and the refinement on cohorts that are not ours: shapes our generator never makes.

Run from the repository root::

    .venv/bin/python benchmarks/bench_segments_k.py [--seeds 5] [--designs blobs_unequal ...]

``optalloc.cohort.synth_overlap`` plants types the way we imagine them; a user's groups may
differ in spread, shape or kind. Four designs of 5,000 rows and 5 true groups each, drawn with
scikit-learn's generators or numpy (seeded):

* ``blobs_unequal``: 8 Gaussian columns, blob standard deviations 1, 2, 3, 1.5 and 2.5;
* ``anisotropic``: 6 Gaussian columns mixed by a random matrix (elongated, tilted blobs);
* ``classification``: ``make_classification`` with 6 informative, 2 redundant and 2 noise
  columns, class separation 1.5 (overlapping groups);
* ``mixed_unequal``: 4 Gaussian columns with a mean and a spread per group, three categorical
  columns whose level shares differ by group and one over-dispersed count.

For each seed it prints the k chosen (``n_clusters="auto"``), and the ARI against the truth with
and without the refinement (``refine_steps`` 2 and 0), chosen k and told k = 5.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.datasets import make_blobs, make_classification
from sklearn.metrics import adjusted_rand_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.bench_segments_hard import markdown
from optalloc.segments.ensemble import ConsensusClustering
from optalloc.segments.features import CohortFeatures

N = 5000
DESIGNS = ("blobs_unequal", "anisotropic", "classification", "mixed_unequal")


def design(name: str, seed: int) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The table, the true groups and its categorical columns."""
    rng = np.random.default_rng(seed)
    if name == "blobs_unequal":
        X, y = make_blobs(N, 8, centers=5, cluster_std=[1, 2, 3, 1.5, 2.5], center_box=(-8, 8), random_state=seed)
        return pd.DataFrame(X).add_prefix("x"), y, []
    if name == "anisotropic":
        X, y = make_blobs(N, 6, centers=5, cluster_std=1.0, center_box=(-6, 6), random_state=seed)
        return pd.DataFrame(X @ rng.normal(size=(6, 6))).add_prefix("x"), y, []
    if name == "classification":
        X, y = make_classification(
            N, 10, n_informative=6, n_redundant=2, n_classes=5, n_clusters_per_class=1, class_sep=1.5, random_state=seed
        )
        return pd.DataFrame(X).add_prefix("x"), y, []
    if name == "mixed_unequal":
        y = rng.integers(0, 5, N)
        means, spreads = rng.normal(0, 1.2, (5, 4)), rng.uniform(0.6, 2.0, (5, 4))
        frame = pd.DataFrame(means[y] + spreads[y] * rng.normal(size=(N, 4))).add_prefix("x")
        categorical = []
        for c in range(3):
            shares = rng.dirichlet(np.full(4, 0.8), 5)
            frame[f"c{c}"] = [f"L{rng.choice(4, p=shares[t])}" for t in y]
            categorical.append(f"c{c}")
        frame["count"] = rng.poisson(np.exp(rng.normal(0.5, 0.7, 5))[y])
        return frame, y, categorical
    raise ValueError(name)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    args = parser.parse_args()
    rows = []
    for name in args.designs:
        for seed in range(args.seeds):
            frame, truth, categorical = design(name, seed)
            encoder = CohortFeatures(
                numeric=[c for c in frame.columns if c not in categorical], categorical=categorical
            )
            X = encoder.fit_transform(frame)
            blocks = encoder.blocks()[1]
            start = time.perf_counter()
            row: dict[str, object] = {"design": name, "seed": seed}
            for steps in (0, 2):
                auto = ConsensusClustering(random_state=seed, categorical_blocks=blocks, refine_steps=steps).fit(X)
                told = ConsensusClustering(
                    n_clusters=5, random_state=seed, categorical_blocks=blocks, refine_steps=steps
                ).fit(X)
                row["k"] = auto.n_clusters_
                row[f"ari_refine{steps}"] = round(adjusted_rand_score(truth, auto.labels_), 3)
                row[f"ari_told5_refine{steps}"] = round(adjusted_rand_score(truth, told.labels_), 3)
            row["seconds"] = round(time.perf_counter() - start, 1)
            rows.append(row)
            print(row, flush=True)
    table = pd.DataFrame(rows)
    print(markdown(table))
    summary = table.groupby("design").agg(
        k=("k", lambda k: ", ".join(map(str, k))),
        within_1=("k", lambda k: f"{int((abs(k - 5) <= 1).sum())}/{len(k)}"),
        ari_refine0=("ari_refine0", "mean"),
        ari_refine2=("ari_refine2", "mean"),
        told_refine0=("ari_told5_refine0", "mean"),
        told_refine2=("ari_told5_refine2", "mean"),
    )
    print(markdown(summary, index=True))


if __name__ == "__main__":
    main()
