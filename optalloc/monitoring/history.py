"""Tracking history and model decisions in the workspace database (SQLite or PostgreSQL).

One row per tracked period per ``track`` run, so a report or the studio can chart a model's
periods across runs with one query; one row per ``risk retrain`` decision.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from sqlalchemy import JSON, Boolean, Column, Float, Integer, MetaData, String, Table, Text, inspect, select

from optalloc.io import jsonable
from optalloc.monitoring.track import TrackReport
from optalloc.workspace import Workspace, ensure_tables

METADATA = MetaData()
TRACKING = Table(
    "tracking_history",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("run", String(40), nullable=False),
    Column("created_at", String(32), nullable=False),
    Column("model_sha256", String(64), nullable=False),
    Column("data_sha256", String(64), nullable=False),
    Column("period_kind", String(32), nullable=False),
    Column("position", Integer, nullable=False),
    Column("period", String(32), nullable=False),
    Column("phase", String(16), nullable=False),
    Column("n", Integer, nullable=False),
    Column("observed", Float),
    Column("expected", Float),
    Column("oe", Float),
    Column("oe_low", Float),
    Column("oe_high", Float),
    Column("z", Float),
    Column("auroc", Float),
    Column("precision", Float),
    Column("recall", Float),
    Column("f1", Float),
    Column("calibration_slope", Float),
    Column("max_psi", Float),
    Column("max_psi_feature", String(64)),
    Column("alarm", Boolean, nullable=False),
    Column("alarms", JSON, nullable=False),
)
DECISIONS = Table(
    "model_decisions",
    METADATA,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("created_at", String(32), nullable=False),
    Column("champion_sha256", String(64), nullable=False),
    Column("challenger_sha256", String(64), nullable=False),
    Column("challenger_path", Text, nullable=False),
    Column("promoted", Boolean, nullable=False),
    Column("evaluated_on", String(64), nullable=False),
    Column("figures", JSON, nullable=False),
    Column("reason", Text, nullable=False),
)


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def save_tracking(report: TrackReport, model_sha256: str, data_sha256: str, workspace: Workspace | None = None) -> str:
    """Store every period of ``report`` in one transaction; returns the run's id."""
    workspace = workspace or Workspace()
    run = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{model_sha256[:8]}"
    created = _now()
    by_period: dict[str, list[str]] = {}
    for alarm in report.alarms:
        by_period.setdefault(alarm.period, []).append(alarm.message)
    rows = []
    for position, row in enumerate(report.periods.to_dict("records")):
        clean = jsonable(
            {
                k: row.get(k)
                for k in (
                    "observed",
                    "expected",
                    "oe",
                    "oe_low",
                    "oe_high",
                    "z",
                    "auroc",
                    "precision",
                    "recall",
                    "f1",
                    "calibration_slope",
                    "max_psi",
                )
            }
        )
        rows.append(
            {
                "run": run,
                "created_at": created,
                "model_sha256": model_sha256,
                "data_sha256": data_sha256,
                "period_kind": report.period_kind,
                "position": position,
                "period": row["period"],
                "phase": row["phase"],
                "n": int(row["n"]),
                "max_psi_feature": row.get("max_psi_feature"),
                "alarm": bool(row["alarm"]),
                "alarms": by_period.get(row["period"], []),
                **clean,
            }
        )
    ensure_tables(workspace.engine, METADATA, [TRACKING])
    with workspace.engine.begin() as connection:
        connection.execute(TRACKING.insert(), rows)
    return run


def tracking_history(workspace: Workspace | None = None, model_sha256: str | None = None) -> pd.DataFrame:
    """Every stored period, oldest run first (optionally of one model)."""
    workspace = workspace or Workspace()
    if TRACKING.name not in inspect(workspace.engine).get_table_names():
        return pd.DataFrame(columns=[c.name for c in TRACKING.columns])
    query = select(TRACKING).order_by(TRACKING.c.id)
    if model_sha256:
        query = query.where(TRACKING.c.model_sha256 == model_sha256)
    with workspace.engine.connect() as connection:
        return pd.DataFrame(
            [dict(r._mapping) for r in connection.execute(query)], columns=[c.name for c in TRACKING.columns]
        )


def save_decision(record: dict[str, Any], workspace: Workspace | None = None) -> int:
    """Store one champion/challenger decision; returns its id."""
    workspace = workspace or Workspace()
    ensure_tables(workspace.engine, METADATA, [DECISIONS])
    values = {**record, "created_at": _now(), "figures": json.loads(json.dumps(jsonable(record["figures"])))}
    with workspace.engine.begin() as connection:
        return int(connection.execute(DECISIONS.insert().values(**values)).inserted_primary_key[0])  # type: ignore[index]


def decisions(workspace: Workspace | None = None) -> pd.DataFrame:
    workspace = workspace or Workspace()
    if DECISIONS.name not in inspect(workspace.engine).get_table_names():
        return pd.DataFrame(columns=[c.name for c in DECISIONS.columns])
    with workspace.engine.connect() as connection:
        return pd.DataFrame(
            [dict(r._mapping) for r in connection.execute(select(DECISIONS).order_by(DECISIONS.c.id))],
            columns=[c.name for c in DECISIONS.columns],
        )
