"""Benchmark: the safe expression language against pandas ``DataFrame.eval`` on a million rows.

The whitelisted evaluator (``optalloc/expressions.py``) replaced ``DataFrame.eval(engine=
"python")`` for eligibility and equity conditions; this measures that it is not slower, on the
baseline's eligibility condition and a quantity, over 1,000,000 synthetic patients (best of 5).

Run: ``.venv/bin/python benchmarks/bench_expressions.py``
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from optalloc.cohort.synth import synthesize_cohort
from optalloc.expressions import parse

CONDITION = "transfusions_per_28d >= 2 and distance_km <= 50 and not prior_reaction and frailty <= 6"
QUANTITY = "transfusions_per_28d * 52 / 4 * (1.0 + clip(distance_km, 0, 100) / 100)"


def best(func, repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    os.environ.setdefault("OPTALLOC_PSEUDONYM_KEY", "bench")
    cohort = pd.concat([synthesize_cohort(20_000, seed=1)] * 50, ignore_index=True)
    condition = parse(CONDITION, "eligibility", "bench")
    ours = best(lambda: condition.condition(cohort))
    theirs = best(lambda: cohort.eval(CONDITION, engine="python"))
    assert np.array_equal(condition.condition(cohort), np.asarray(cohort.eval(CONDITION, engine="python")))
    quantity = parse(QUANTITY, "visits", "bench")
    ours_q = best(lambda: quantity.quantity(cohort))
    theirs_q = best(
        lambda: cohort.eval(QUANTITY.replace("clip(distance_km, 0, 100)", "distance_km.clip(0, 100)"), engine="python")
    )
    print(f"## Expression language on 1,000,000 rows ({datetime.now(UTC):%Y-%m-%d})\n")
    print(f"`python benchmarks/bench_expressions.py` on {os.cpu_count()} cores, best of 5:\n")
    print("| expression | optalloc.expressions | DataFrame.eval(python) | ratio |")
    print("|---|---:|---:|---:|")
    print(f"| eligibility condition | {ours * 1e3:.1f} ms | {theirs * 1e3:.1f} ms | {theirs / ours:.1f}x faster |")
    print(f"| quantity with clip | {ours_q * 1e3:.1f} ms | {theirs_q * 1e3:.1f} ms | {theirs_q / ours_q:.1f}x faster |")


if __name__ == "__main__":
    main()
