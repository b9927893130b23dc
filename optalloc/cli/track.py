"""CLI command: ``optalloc track DATA --model M`` (readmissions, performance and drift over time)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import typer
from rich.table import Table

from optalloc.cli.common import err, out, print_json, progress, user_errors
from optalloc.domains import tracked_groups
from optalloc.errors import OptallocError

#: What ``--by`` offers: the registered domains' groups, the segment and the plan's setting.
BY_CHOICES = tuple(tracked_groups())


def _fmt(value: object, digits: int = 2) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _period_table(report, title: str) -> Table:
    """Fits 80 columns: the drift's feature name and the P/R are in --json."""
    table = Table(title=title, title_justify="left")
    for header in ("period", "n", "obs/exp", "O/E 95% CI", "z", "AUROC", "F1", "drift", "!"):
        table.add_column(header, justify="left" if header in ("period", "!") else "right")
    for row in report.periods.to_dict("records"):
        table.add_row(
            row["period"] + ("*" if row["phase"] == "baseline" else ""),
            f"{row['n']:,}",
            f"{row['observed']:.0f}/{row['expected']:.0f}",
            f"{row['oe']:.2f} {row['oe_low']:.2f}-{row['oe_high']:.2f}",
            f"{row['z']:+.1f}",
            _fmt(row["auroc"], 3),
            _fmt(row["f1"]),
            _fmt(row["drift_level"]),
            "!" if row["alarm"] else "",
        )
    table.caption = (
        "* baseline period (sets the control limits); drift = largest feature PSI / its alarm "
        "threshold (alarm at 1); ! = alarm"
    )
    return table


def _group_frame(report, shareable: bool, min_count: int) -> pd.DataFrame:
    from optalloc.privacy import suppress_small_counts

    frame = (
        report.groups[
            ["period", "by", "group", "n", "share", "observed", "expected", "oe", "rate", "mean_risk", "auroc", "f1"]
        ].copy()
        if len(report.groups)
        else pd.DataFrame()
    )
    if shareable and len(frame):
        frame = suppress_small_counts(
            frame,
            ["n", "observed"],
            threshold=min_count,
            derived=["share", "expected", "oe", "rate", "mean_risk", "auroc", "f1"],
        )
    return frame


def track(
    data: Path = typer.Argument(
        None,
        help="Encounter table to track (Diabetes 130 format, or a table with "
        "readmitted_30d, the model's features and an order or date column); "
        "default: the shipped Diabetes 130 developer part.",
        show_default=False,
    ),
    model_path: Path = typer.Option(..., "--model", help="Model file written by 'optalloc risk train'."),
    by: list[str] = typer.Option([], "--by", help=f"Also report by group: {', '.join(BY_CHOICES)} (repeatable)."),
    period: str = typer.Option(
        "blocks", "--period", help="blocks (equal blocks in time order), month, quarter or year."
    ),
    periods: int = typer.Option(10, "--periods", help="Number of ordered blocks (with --period blocks)."),
    baseline: int = typer.Option(
        None,
        "--baseline",
        help="Baseline periods that set the control limits (default 3, or 30% of the periods).",
        show_default=False,
    ),
    plan_path: Path = typer.Option(
        None,
        "--plan",
        help="Plan CSV/Parquet (patient_id, setting) from 'optalloc solve --out', for --by setting and --setting.",
        show_default=False,
    ),
    start: str = typer.Option(
        None, "--intervention-start", help="Compare observed/expected before and after this period.", show_default=False
    ),
    setting: str = typer.Option(
        None,
        "--setting",
        help="With --intervention-start and --plan: compare the patients the plan sent here with the others.",
        show_default=False,
    ),
    plot: Path = typer.Option(
        None, "--plot", help="Write the observed/expected and drift chart (PNG, PDF or SVG).", show_default=False
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON alone on stdout."),
    shareable: bool = typer.Option(False, "--shareable", help="Hide group cells under --min-count patients."),
    min_count: int = typer.Option(11, "--min-count", min=1, help="Smallest count shown with --shareable."),
    record: bool = typer.Option(True, "--record/--no-record", help="Store the periods in the workspace database."),
    seed: int = typer.Option(0, "--seed", help="Seed of the intervention bootstrap."),
) -> None:
    """Track readmissions against a model period by period: O/E control chart, performance, drift and alarms."""
    from optalloc.cohort.diabetes130 import file_sha256
    from optalloc.domains import load_table
    from optalloc.io import PLOT_SUFFIXES, check_output, read_table
    from optalloc.monitoring.periods import assign_periods
    from optalloc.monitoring.scoring import group_labels, score
    from optalloc.monitoring.track import track as track_table
    from optalloc.risk.persistence import load_model

    if setting and not (start and plan_path):
        raise OptallocError("--setting needs --intervention-start and --plan (the plan says who went to the setting).")
    check_output(plot, PLOT_SUFFIXES, "--plot")
    source = str(data) if data else "the shipped Diabetes 130 developer part"
    with progress(not as_json) as bar:
        task = bar.add_task("loading and scoring", total=3)
        model = load_model(model_path)
        frame, design = load_table(data)
        scored = score(model, frame, design, source)
        bar.advance(task)
        frame = scored.frame.reset_index(drop=True)
        if plan_path is not None:
            plan = read_table(plan_path, dtype=str)
            if "patient_id" not in plan.columns or "setting" not in plan.columns:
                raise OptallocError(f"{plan_path}: a plan needs the columns patient_id and setting.")
            frame = frame.assign(
                setting=frame["patient_id"]
                .astype(str)
                .map(dict(zip(plan["patient_id"], plan["setting"])))
                .fillna("(not in plan)")
            )
        labels = assign_periods(frame, period, periods, source)
        profile = model.metadata.get("reference_profile")
        notes = []
        if profile is None:
            from optalloc.risk.drift import build_profile

            first = labels.label == labels.order[0]
            profile = build_profile(design.X[first], list(design.numeric))
            notes.append(
                f"the model file has no training-data profile; drift is measured against the first "
                f"period ({labels.order[0]}). Re-train with 'optalloc risk train' to compare with the "
                "training data."
            )
        tau2 = model.metadata.get("outcome_tau2")
        report = track_table(
            scored.y,
            scored.probability,
            design.X,
            labels,
            profile,
            scored.threshold,
            group_labels(frame, by, source, tracked_groups(design.domain)),
            baseline,
            tau2,
        )
        report.notes.extend(notes)
        bar.advance(task)
        effect = None
        if start:
            from optalloc.monitoring.intervention import intervention_effect, plan_membership

            position = labels.index_of(start)
            after = np.isin(labels.label, labels.order[position:])
            treated = (
                plan_membership(frame["patient_id"].to_numpy(), plan, setting, str(plan_path)) if setting else None
            )
            effect = intervention_effect(
                scored.y, scored.probability, after, design.groups, start, treated, setting, seed=seed
            )
        model_sha = file_sha256(model_path)
        run = None
        if record:
            from optalloc.monitoring.history import save_tracking

            run = save_tracking(report, model_sha, design.sha256)
        if plot is not None:
            from optalloc.monitoring.plot import plot_tracking

            plot_tracking(report, plot)
        bar.advance(task)
    groups = _group_frame(report, shareable, min_count)
    if as_json:
        payload = {
            "model": model.name,
            "model_sha256": model_sha,
            "data": source,
            "data_sha256": design.sha256,
            "period_kind": report.period_kind,
            "control_limits": {
                "tau2": report.limits.tau2,
                "source": report.limits.source,
                "baseline_periods": report.limits.baseline_periods,
                "sigma": report.limits.sigma,
            },
            "periods": report.periods.drop(columns=["variance"]).to_dict("records"),
            "groups": groups.to_dict("records"),
            "alarms": [{"period": a.period, "kind": a.kind, "message": a.message} for a in report.alarms],
            "notes": report.notes,
            "run": run,
            "shareable": shareable,
        }
        if effect is not None:
            payload["intervention"] = effect.__dict__
        print_json(payload)
        return
    kind = (
        "ordered blocks of encounters (not calendar months)"
        if report.period_kind == "ordered block"
        else report.period_kind + "s"
    )
    out.print(_period_table(report, f"{model.name} on {source}: {len(report.periods)} {kind}"))
    out.print(
        f"control limits: z beyond ±{report.limits.sigma:g}, between-period variance tau² "
        f"{report.limits.tau2:.4f} from {report.limits.source}",
        highlight=False,
    )
    for note in report.notes:
        err.print(f"note: {note}", highlight=False)
    if report.alarms:
        for alarm in report.alarms:
            out.print(f"[bold]ALARM[/] ({alarm.kind}) {alarm.message}", highlight=False)
    else:
        out.print("no alarm: observed readmissions, the population and its mix stayed within their limits.")
    if len(groups):
        out.print(
            f"groups by {', '.join(report.by)}: {len(groups)} rows (use --json for all of them)"
            + (f"; counts under {min_count} hidden" if shareable else ""),
            highlight=False,
        )
    if effect is not None:
        _print_effect(effect)
    if plot is not None:
        out.print(f"wrote {plot}", highlight=False)


def _print_effect(effect) -> None:
    low, high = effect.ratio_change_ci
    out.print(
        f"from {effect.start} on: O/E {effect.after['oe']:.3f} against {effect.before['oe']:.3f} before, "
        f"a ratio of {effect.ratio_change:.3f} (95% CI {low:.3f}-{high:.3f}).",
        highlight=False,
    )
    if effect.did is not None and effect.did_ci is not None:
        out.print(
            f"patients sent to {effect.setting} ({effect.n_treated:,}) against the others: O/E changed by "
            f"{effect.did:+.3f} more (difference in differences, 95% CI {effect.did_ci[0]:+.3f} to "
            f"{effect.did_ci[1]:+.3f}).",
            highlight=False,
        )
    out.print(effect.statement, highlight=False)


def register(app: typer.Typer) -> None:
    """Add this module's command to the main app."""
    app.command("track")(user_errors(track))
