"""CLI commands: ``optalloc risk train|evaluate|explain`` (30-day readmission models)."""

from __future__ import annotations

import contextlib
from enum import Enum
from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.console import Console
from rich.table import Table

from optalloc.cli.common import err, out, print_json, progress, user_errors
from optalloc.errors import OptallocError

risk_app = typer.Typer(help="Train, evaluate and explain 30-day readmission risk models.", no_args_is_help=True)


class ModelChoice(str, Enum):
    lr = "lr"
    tree = "tree"
    rf = "rf"
    hgb = "hgb"
    best = "best"


DATA_HELP = (
    "Diabetes 130 encounter file (published format) or a transfusion cohort table; "
    "default: the developer part shipped with optalloc."
)


def _threads(threads: int | None) -> contextlib.AbstractContextManager[object]:
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=threads) if threads else contextlib.nullcontext()


def _interval(row: pd.Series, metric: str, digits: int = 3) -> str:
    value = row.get(metric, np.nan)
    low, high = row.get(f"{metric}_low", np.nan), row.get(f"{metric}_high", np.nan)
    if pd.isna(value):
        return "–"
    if pd.isna(low) or pd.isna(high):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ({low:.{digits}f}–{high:.{digits}f})"


def _comparison_table(table: pd.DataFrame, chosen: str, title: str) -> Table:
    from optalloc.risk.models import MODEL_LABELS

    rich_table = Table(title=title, title_justify="left")
    for header in (
        "model",
        "AUROC (95% CI)",
        "AUPRC (95% CI)",
        "Brier (95% CI)",
        "cal. slope (95% CI)",
        "cal. intercept",
        "P / R / F1 @top10%",
        "fit s",
    ):
        rich_table.add_column(header, justify="left" if header == "model" else "right")
    for name, row in table.iterrows():
        label = MODEL_LABELS.get(str(name), str(name)) + (" *" if name == chosen else "")
        prf = "/".join(f"{row.get(k, np.nan):.2f}" for k in ("precision", "recall", "f1"))
        rich_table.add_row(
            label,
            _interval(row, "auroc"),
            _interval(row, "auprc"),
            _interval(row, "brier", 4),
            _interval(row, "calibration_slope", 2),
            f"{row['calibration_intercept']:+.3f}",
            prf,
            f"{row.get('fit_seconds', np.nan):.1f}",
        )
    return rich_table


@risk_app.command("train")
@user_errors
def train(
    data: Path = typer.Argument(None, help=DATA_HELP, show_default=False),
    out_path: Path = typer.Option(..., "--out", help="Model file to write."),
    model: ModelChoice = typer.Option(
        ModelChoice.best, "--model", help="Model to save; 'best' = lowest cross-validated Brier."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the folds, bootstrap and learners."),
    folds: int = typer.Option(5, "--folds", min=2, help="Patient-grouped cross-validation folds."),
    bootstrap: int = typer.Option(
        200, "--bootstrap", min=0, help="Patient bootstrap replicates for the 95% intervals (0: none)."
    ),
    threads: int = typer.Option(
        None, "--threads", min=1, help="Limit BLAS/OpenMP threads (1 is fastest on a busy machine)."
    ),
) -> None:
    """Compare every model and LACE by patient-grouped CV, then fit and save one model."""
    from optalloc.domains import domain_reading, load_design
    from optalloc.io import check_output
    from optalloc.monitoring.control import outcome_tau2
    from optalloc.risk.models import MODEL_NAMES
    from optalloc.risk.persistence import save_model
    from optalloc.risk.training import compare_models, fit_model

    check_output(out_path, (".skops", ".model"))  # before minutes of training
    design = load_design(data)
    if design.y is None or np.unique(design.y).size < 2:
        raise OptallocError(f"{data}: the outcome has a single class; a risk model needs both.")
    names = list(MODEL_NAMES) + (["lace"] if domain_reading(design.domain).declaration.lace else [])
    if design.n_excluded:
        err.print(f"excluded {design.n_excluded:,} encounters ending in death or hospice", highlight=False)
    with _threads(threads), progress() as bar:
        task = bar.add_task("cross-validating", total=len(names) * folds + 1)
        comparison = compare_models(
            design, names, seed=seed, n_splits=folds, n_boot=bootstrap, on_fold=lambda: bar.advance(task)
        )
        chosen = comparison.chosen if model is ModelChoice.best else model.value
        bar.update(task, description=f"fitting {chosen} on all rows")
        cv_row = comparison.table.loc[chosen]
        trained = fit_model(
            design,
            chosen,
            seed,
            metadata={
                "source": str(data) if data else "vendored Diabetes 130 developer part",
                "n_excluded": design.n_excluded,
                "cv": {k: (None if pd.isna(v) else float(v)) for k, v in cv_row.items()},
                "cv_folds": folds,
                # between-period variance of O/E beyond the binomial, from out-of-fold risks by time
                # block: what 'optalloc track' widens its control limits by
                "outcome_tau2": outcome_tau2(design, comparison.results[chosen].probability),
                # the clinical baseline, cross-validated the same way: what the report's model card compares with
                "baselines": {
                    name: {k: (None if pd.isna(v) else float(v)) for k, v in comparison.table.loc[name].items()}
                    for name in ("lace",)
                    if name in comparison.table.index and name != chosen
                },
            },
        )
        bar.advance(task)
    title = (
        f"{design.n_rows:,} rows, {design.n_patients:,} patients, prevalence "
        f"{float(np.mean(design.y)):.1%}; {folds}-fold CV by patient, 95% patient bootstrap"
    )
    # Piped or captured output has no terminal width: print at 170 columns rather than
    # squeezing nine columns into Rich's default of 80.
    console = out if out.is_terminal else Console(width=170, highlight=False)
    console.print(_comparison_table(comparison.table, chosen, title))
    save_model(trained, out_path)
    out.print(f"saved {chosen} ({trained.estimator.method_} calibration) to {out_path}", highlight=False)


def _load(model_path: Path, data: Path | None):
    from optalloc.domains import load_design
    from optalloc.risk.persistence import load_model

    trained = load_model(model_path)
    design = load_design(data)
    if design.domain != trained.domain:
        raise OptallocError(
            f"{data}: this is a {design.domain} table but {model_path} is a {trained.domain} "
            "model. Evaluate the model on the kind of table it was trained on."
        )
    return trained, design


@risk_app.command("split")
@user_errors
def split(
    data: Path = typer.Argument(None, help=DATA_HELP, show_default=False),
    train_path: Path = typer.Option(..., "--train", help="Where to write the training part (CSV/Parquet)."),
    test_path: Path = typer.Option(..., "--test", help="Where to write the held-back part (CSV/Parquet)."),
    share: float = typer.Option(0.2, "--share", min=0.01, max=0.99, help="Share of patients held back."),
    seed: int = typer.Option(0, "--seed", help="Seed of the split; the same seed gives the same parts."),
) -> None:
    """Split encounter records by patient into a training part and a held-back part (same format)."""
    from optalloc.cohort.diabetes130 import DEV_DATA_PATH
    from optalloc.cohort.load import IDENTIFIER_COLUMNS
    from optalloc.io import check_output, read_table, write_table
    from optalloc.risk.validation import split_by_patient

    check_output(train_path, option="--train")
    check_output(test_path, option="--test")
    source = data or DEV_DATA_PATH
    frame = read_table(source, dtype=str, keep_default_na=False)
    train, test = split_by_patient(frame, share, seed, str(source), IDENTIFIER_COLUMNS)
    write_table(train, train_path)
    write_table(test, test_path)
    out.print(
        f"wrote {len(train):,} rows to {train_path} and {len(test):,} rows ({share:.0%} of the patients, "
        f"seed {seed}) to {test_path}",
        highlight=False,
    )


@risk_app.command("evaluate")
@user_errors
def evaluate(
    model_path: Path = typer.Argument(..., help="Model file written by 'optalloc risk train'."),
    data: Path = typer.Argument(None, help=DATA_HELP, show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the metrics as JSON alone on stdout."),
    bootstrap: int = typer.Option(200, "--bootstrap", min=0, help="Patient bootstrap replicates."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
) -> None:
    """Score a table with a saved model: discrimination, calibration, top-10% operating point."""
    from optalloc.risk import predict_cohort
    from optalloc.risk.validation import TOP_FRACTION, bootstrap_metrics

    trained, design = _load(model_path, data)
    if design.y is None:
        raise OptallocError(f"{data}: no outcome column, so the model cannot be evaluated on it.")
    probability = predict_cohort(trained, design.X)
    threshold = trained.estimator.threshold_for_top(TOP_FRACTION)
    table = bootstrap_metrics(
        design.y, probability, design.groups, probability >= threshold, n_boot=bootstrap, random_state=seed
    )
    payload: dict[str, object] = {
        "model": trained.name,
        "domain": trained.domain,
        "calibration": trained.estimator.method_,
        "n_encounters": design.n_rows,
        "n_patients": design.n_patients,
        "n_excluded": design.n_excluded,
        "threshold": threshold,
        "bootstrap": bootstrap,
    }
    for metric, row in table.iterrows():
        payload[str(metric)] = row["estimate"]
        if bootstrap:
            payload[f"{metric}_ci"] = [row["low"], row["high"]]
    payload["training_data_sha256"] = trained.metadata.get("training_data_sha256")
    payload["data_sha256"] = design.sha256
    from optalloc.risk.training import shared_patients

    shared = shared_patients(design.groups, trained.metadata.get("training_patients"))
    same = payload["training_data_sha256"] == payload["data_sha256"]
    payload["overlap"] = {
        "same_data": same,
        "shared_patients": shared,
        "share": None if shared is None else shared / max(1, design.n_patients),
    }
    if same or (shared or 0) > 0.01 * design.n_patients:
        what = (
            "the very data the model was trained on"
            if same
            else f"{shared:,} of its {design.n_patients:,} patients were in the training data"
        )
        err.print(
            f"[bold yellow]warning:[/] this is {what}, so the figures are optimistic (in-sample). "
            "Evaluate on patients the model never saw (e.g. 'optalloc risk split').",
            highlight=False,
        )
    if as_json:
        print_json(payload)
        return
    rich_table = Table(
        title=f"{trained.name} on {design.n_rows:,} rows / {design.n_patients:,} patients", title_justify="left"
    )
    rich_table.add_column("metric")
    rich_table.add_column("estimate", justify="right")
    rich_table.add_column("95% CI", justify="right")
    for metric, row in table.iterrows():
        ci = f"{row['low']:.3f}–{row['high']:.3f}" if bootstrap else "–"
        rich_table.add_row(str(metric), f"{row['estimate']:.4f}", ci)
    out.print(rich_table)


@risk_app.command("explain")
@user_errors
def explain(
    model_path: Path = typer.Argument(..., help="Model file written by 'optalloc risk train'."),
    data: Path = typer.Argument(None, help=DATA_HELP, show_default=False),
    top: int = typer.Option(15, "--top", min=1, help="Number of features to show."),
    max_rows: int = typer.Option(5000, "--max-rows", min=100, help="Rows (whole patients) sampled to keep it quick."),
    repeats: int = typer.Option(3, "--repeats", min=1, help="Shuffles per feature."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample and the shuffles."),
    as_json: bool = typer.Option(False, "--json", help="Print the table as JSON alone on stdout."),
) -> None:
    """Permutation importance: how much AUROC drops when one feature is shuffled."""
    from optalloc.risk.importance import permutation_importance_table

    trained, design = _load(model_path, data)
    with progress() as bar:
        bar.add_task(f"shuffling {len(trained.features)} features x {repeats}", total=None)
        full, n_rows = permutation_importance_table(trained, design, max_rows, repeats, seed, source=str(data))
    table = full.head(top)
    if as_json:
        print_json({"model": trained.name, "n_rows": n_rows, "features": table.to_dict(orient="records")})
        return
    rich_table = Table(title=f"permutation importance of {trained.name} ({n_rows:,} rows)", title_justify="left")
    rich_table.add_column("feature")
    rich_table.add_column("AUROC drop", justify="right")
    rich_table.add_column("± sd", justify="right")
    for row in table.itertuples():
        rich_table.add_row(row.feature, f"{row.auroc_drop:.4f}", f"{row.std:.4f}")
    out.print(rich_table)


@risk_app.command("retrain")
@user_errors
def retrain(
    data: Path = typer.Argument(None, help=DATA_HELP, show_default=False),
    champion_path: Path = typer.Option(..., "--champion", help="The model in use (from 'optalloc risk train')."),
    window: int = typer.Option(3, "--window", help="Periods before the last one to fit the challenger on."),
    periods: int = typer.Option(10, "--periods", help="Number of ordered blocks (with --period blocks)."),
    period: str = typer.Option("blocks", "--period", help="blocks, month, quarter or year."),
    model: ModelChoice = typer.Option(
        None, "--model", help="Challenger kind (default: the champion's).", show_default=False
    ),
    promote_to: Path = typer.Option(
        None, "--promote-to", help="Copy a promoted challenger to this path.", show_default=False
    ),
    bootstrap: int = typer.Option(200, "--bootstrap", min=20, help="Paired patient bootstrap replicates."),
    seed: int = typer.Option(0, "--seed", help="Seed of the challenger's fit and of the bootstrap."),
    as_json: bool = typer.Option(False, "--json", help="Print the decision as JSON alone on stdout."),
) -> None:
    """Champion/challenger: fit on the latest periods, compare on the next one, promote only on clear evidence."""
    import shutil

    from optalloc.cohort.diabetes130 import file_sha256
    from optalloc.domains import load_table
    from optalloc.io import atomic_path
    from optalloc.monitoring.history import save_decision
    from optalloc.monitoring.periods import assign_periods
    from optalloc.monitoring.retrain import champion_challenger
    from optalloc.privacy import workspace_dir
    from optalloc.risk.persistence import load_model, save_model

    if model is ModelChoice.best:
        raise OptallocError("--model best is for 'risk train'; name the challenger's kind (lr, tree, rf or hgb).")
    champion = load_model(champion_path)
    source = str(data) if data else "the shipped Diabetes 130 developer part"
    with progress(not as_json) as bar:
        task = bar.add_task("fitting the challenger", total=2)
        frame, design = load_table(data)
        if design.domain != champion.domain:
            raise OptallocError(
                f"{source}: this is a {design.domain} table but {champion_path} is a {champion.domain} model."
            )
        labels = assign_periods(frame.reset_index(drop=True), period, periods, source)
        challenger, decision = champion_challenger(
            champion, design, labels, window, model.value if model else None, seed, bootstrap
        )
        bar.advance(task)
        folder = workspace_dir() / "models"
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        staged = folder / ".challenger.staged"
        save_model(challenger, staged)
        digest = file_sha256(staged)
        stored = folder / f"{challenger.name}-{digest[:16]}.model"  # versioned by content hash
        staged.replace(stored)
        if decision.promoted and promote_to is not None:
            with atomic_path(promote_to) as tmp:
                shutil.copyfile(stored, tmp)
        decision_id = save_decision(
            {
                "champion_sha256": file_sha256(champion_path),
                "challenger_sha256": digest,
                "challenger_path": str(stored),
                "promoted": decision.promoted,
                "evaluated_on": decision.evaluated_on,
                "figures": {**decision.figures, "trained_on": list(decision.trained_on)},
                "reason": decision.reason,
            }
        )
        bar.advance(task)
    if as_json:
        print_json(
            {
                "promoted": decision.promoted,
                "reason": decision.reason,
                "evaluated_on": decision.evaluated_on,
                "trained_on": list(decision.trained_on),
                "figures": decision.figures,
                "challenger_path": str(stored),
                "challenger_sha256": digest,
                "decision_id": decision_id,
                "promoted_to": str(promote_to) if decision.promoted and promote_to else None,
            }
        )
        return
    figures = decision.figures
    table = Table(
        title=f"champion against challenger on {decision.evaluated_on} ({figures['n_test']:,} rows); "
        f"challenger fitted on {', '.join(decision.trained_on)}",
        title_justify="left",
    )
    for header in ("measure", "champion", "challenger", "difference (95% CI)"):
        table.add_column(header, justify="left" if header == "measure" else "right")
    for key, digits in (("auroc", 3), ("brier", 5)):
        low, high = figures[f"{key}_difference_ci"]
        table.add_row(
            key.upper() if key == "auroc" else "Brier",
            f"{figures['champion'][key]:.{digits}f}",
            f"{figures['challenger'][key]:.{digits}f}",
            f"{figures[f'{key}_difference']:+.{digits}f} ({low:+.{digits}f} to {high:+.{digits}f})",
        )
    table.add_row(
        "calibration slope",
        f"{figures['champion']['calibration_slope']:.2f}",
        f"{figures['challenger']['calibration_slope']:.2f}",
        "",
    )
    out.print(table)
    verdict = "PROMOTED" if decision.promoted else "kept the champion"
    out.print(f"{verdict}: {decision.reason}", highlight=False)
    out.print(
        f"challenger saved as {stored} (decision {decision_id} recorded in the workspace)"
        + (f"; copied to {promote_to}" if decision.promoted and promote_to else ""),
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.add_typer(risk_app, name="risk")
