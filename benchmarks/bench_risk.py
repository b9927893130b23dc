"""Benchmark: 30-day readmission models on the Diabetes 130 developer data.

Patient-grouped 5-fold cross-validation of every model (logistic regression, decision tree,
random forest, gradient boosting, each with calibration chosen on inner patient folds) and of
the LACE index: AUROC with a patient-bootstrap 95 % interval, AUPRC, Brier, calibration slope
and intercept, P/R/F1 at the top-10 % operating point; then the time to train every model on
the whole developer part. Prints a Markdown block to append to
``benchmarks/RESULTS.md`` (``... > /tmp/risk.md && cat /tmp/risk.md >> benchmarks/RESULTS.md``).

Run: ``OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_risk.py [--ablation]``
(one thread per process is faster than two on a machine shared with other jobs).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from datetime import UTC, datetime

import numpy as np
import pandas as pd

from optalloc.domains import load_design
from optalloc.domains.encounters import HISTORY_FEATURES
from optalloc.risk.models import MODEL_LABELS, MODEL_NAMES
from optalloc.risk.training import compare_models, fit_model

TARGET_AUROC = 0.69


def _fmt(row, metric: str, digits: int = 3) -> str:
    return f"{row[metric]:.{digits}f} ({row[f'{metric}_low']:.{digits}f}–{row[f'{metric}_high']:.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--ablation", action="store_true", help="also cross-validate gradient boosting without the history features"
    )
    parser.add_argument(
        "--models",
        default=",".join([*MODEL_NAMES, "lace"]),
        help="comma-separated subset (to split the run over processes)",
    )
    parser.add_argument(
        "--cache", default=None, help="folder for per-model results; with --report, print the block from it"
    )
    parser.add_argument("--report", action="store_true", help="only merge --cache results and print")
    args = parser.parse_args()
    if args.report:
        print(_report(args, *_read_cache(args.cache)))
        return
    os.environ.setdefault("OPTALLOC_PSEUDONYM_KEY", "benchmark")

    wall = time.perf_counter()
    start = time.perf_counter()
    design = load_design(None)
    load_seconds = time.perf_counter() - start
    names = args.models.split(",")
    comparison = compare_models(design, names, seed=args.seed, n_splits=args.folds, n_boot=args.bootstrap)
    table = comparison.table

    fit_seconds = {}
    for name in names:
        start = time.perf_counter()
        trained = fit_model(design, name, args.seed)
        fit_seconds[name] = (time.perf_counter() - start, trained.estimator.method_)

    ablation = None
    if args.ablation:
        from dataclasses import replace

        reduced = replace(
            design,
            numeric=[c for c in design.numeric if c not in HISTORY_FEATURES],
            categorical=[c for c in design.categorical if c != "previous_discharge_disposition"],
        )
        ablation = compare_models(
            reduced, ["hgb"], seed=args.seed, n_splits=args.folds, n_boot=args.bootstrap
        ).table.loc["hgb"]
    facts = {
        "n_rows": design.n_rows,
        "n_patients": design.n_patients,
        "n_excluded": design.n_excluded,
        "prevalence": float(np.mean(design.y)),
        "load_seconds": load_seconds,
        "wall_seconds": time.perf_counter() - wall,
    }
    if args.cache:
        _write_cache(args.cache, names, table, fit_seconds, ablation, facts)
        return
    print(_report(args, table, fit_seconds, ablation, facts))
    sys.stdout.flush()


def _write_cache(
    folder: str, names: list[str], table: pd.DataFrame, fit_seconds: dict, ablation: pd.Series | None, facts: dict
) -> None:
    os.makedirs(folder, exist_ok=True)
    tag = "_".join(names)
    pd.to_pickle(
        {"table": table, "fit_seconds": fit_seconds, "ablation": ablation, "facts": facts},
        os.path.join(folder, f"{tag}.pkl"),
    )


def _read_cache(folder: str) -> tuple[pd.DataFrame, dict, pd.Series | None, dict]:
    parts = [pd.read_pickle(os.path.join(folder, f)) for f in sorted(os.listdir(folder)) if f.endswith(".pkl")]
    table = pd.concat([p["table"] for p in parts])
    order = [n for n in [*MODEL_NAMES, "lace"] if n in table.index]
    fit_seconds = {k: v for p in parts for k, v in p["fit_seconds"].items()}
    ablation = next((p["ablation"] for p in parts if p["ablation"] is not None), None)
    facts = dict(parts[0]["facts"])
    facts["wall_seconds"] = max(p["facts"]["wall_seconds"] for p in parts)
    facts["processes"] = len(parts)
    return table.loc[order], fit_seconds, ablation, facts


def _report(
    args: argparse.Namespace, table: pd.DataFrame, fit_seconds: dict, ablation: pd.Series | None, facts: dict
) -> str:
    """The Markdown block for RESULTS.md."""
    total = facts["wall_seconds"]
    now = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    learned = [n for n in MODEL_NAMES if n in table.index] or list(table.index)
    best = str(table.loc[learned, "auroc"].idxmax())
    lowest_brier = str(table.loc[learned, "brier"].idxmin())
    split = ""
    if facts.get("processes", 1) > 1:
        split = (
            f"; run as {facts['processes']} processes in parallel (`--models lr,tree,rf,lace --cache C` "
            "and `--models hgb --ablation --cache C`), merged by `--report --cache C`"
        )
    lines = [
        "",
        "## Risk",
        "",
        f"Command: `OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')} .venv/bin/python "
        f"benchmarks/bench_risk.py{' --ablation' if args.ablation else ''}` ({args.folds} folds, "
        f"{args.bootstrap} patient-bootstrap replicates, seed {args.seed}){split}, run {now}; "
        f"{total / 60:.1f} min wall on 2 cores shared with other engineers' jobs (load average up to ~8: "
        "timings pessimistic).",
        "",
        f"- machine: {platform.platform()}, {os.cpu_count()} cores (shared), Python {platform.python_version()}",
        f"- data: vendored Diabetes 130 developer part, {facts['n_rows']:,} encounters of "
        f"{facts['n_patients']:,} patients after excluding {facts['n_excluded']:,} death/hospice "
        f"encounters (dispositions 11, 19, 20, 21); prevalence of `<30` "
        f"{facts['prevalence']:.2%}; load + features {facts['load_seconds']:.1f} s",
        f"- validation: {args.folds}-fold CV grouped by patient and stratified by outcome; calibration "
        "(none/sigmoid/isotonic) chosen by Brier on 3 inner patient folds of each training part; "
        "operating point = top 10 % of training-fold risk; 95 % intervals from a patient bootstrap "
        "of the pooled out-of-fold predictions",
        "",
        "| model | AUROC (95% CI) | AUPRC (95% CI) | Brier | cal. slope (95% CI) | cal. intercept "
        "| P / R / F1 @top10% | CV fit s | full fit s (calibration) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for name, row in table.iterrows():
        seconds, method = fit_seconds[str(name)]
        lines.append(
            f"| {MODEL_LABELS[str(name)]} | {_fmt(row, 'auroc')} | {_fmt(row, 'auprc')} | "
            f"{row['brier']:.4f} | {_fmt(row, 'calibration_slope', 2)} | "
            f"{row['calibration_intercept']:+.3f} | {row['precision']:.3f} / {row['recall']:.3f} / "
            f"{row['f1']:.3f} | {row['fit_seconds']:.0f} | {seconds:.1f} ({method}) |"
        )
    learned_total = sum(fit_seconds[n][0] for n in learned)
    lines += [""]
    if "lace" in table.index:
        lace_auroc = table.loc["lace", "auroc"]
        lines.append(
            f"- best AUROC: {MODEL_LABELS[best]} **{table.loc[best, 'auroc']:.3f}** (target >= "
            f"{TARGET_AUROC}; published credible range 0.64–0.674), "
            f"**{table.loc[best, 'auroc'] - lace_auroc:+.3f}** over LACE ({lace_auroc:.3f}; target "
            f"+0.08); its calibration slope {table.loc[best, 'calibration_slope']:.2f} (target "
            f"0.9–1.1); lowest Brier (what `--model best` saves): {MODEL_LABELS[lowest_brier]}"
        )
    lines.append(
        f"- training every learned model on the whole developer part (each = 3 inner fits for the "
        f"calibration choice + 1 final fit, one thread): **{learned_total:.0f} s** (target < 180 s)"
    )
    if ablation is not None and "hgb" in table.index:
        lines.append(
            f"- ablation: gradient boosting without the patient-history features: AUROC "
            f"{_fmt(ablation, 'auroc')}, i.e. history adds {table.loc['hgb', 'auroc'] - ablation['auroc']:+.3f}"
        )
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
