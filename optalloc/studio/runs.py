"""Recording runs in the workspace database, and re-running them from the record.

A record holds what is needed to reproduce a run without the original files: each scenario's
merged text (``LoadedScenario.raw``) and its hash, the cohort's content hash, the code version
(``optalloc.__version__`` plus the git commit when the package runs from a checkout), the
parameters of the command, its timings and its results (the key-figure dicts). Re-running
rebuilds each scenario from the stored text, runs the same analysis and lists every number
that differs beyond a relative tolerance.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import math
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pandas as pd

import optalloc
from optalloc.errors import OptallocError
from optalloc.io import jsonable
from optalloc.pipeline import Outcome, PipelineCache, Prepared, prepare, solve_prepared
from optalloc.scenario.loader import LoadedScenario, from_raw

KINDS = ("solve", "compare", "sweep", "size", "uncertainty")
IGNORED_KEYS = ("seconds", "wall_seconds", "file", "solver", "message", "bound", "gap")


@functools.lru_cache(maxsize=1)
def git_commit() -> str | None:
    """The commit of the checkout the package runs from (``+dirty`` with local changes), or None."""
    root = Path(optalloc.__file__).resolve().parent.parent
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return commit + ("+dirty" if dirty else "") if commit else None


def cohort_hash(cohort: pd.DataFrame) -> str:
    """SHA-256 of the cohort's contents (row order and column names included)."""
    digest = hashlib.sha256(",".join(map(str, cohort.columns)).encode())
    digest.update(pd.util.hash_pandas_object(cohort, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def scenario_record(loaded: LoadedScenario) -> dict[str, Any]:
    return {"name": loaded.name, "path": str(loaded.path), "text_hash": loaded.text_hash, "raw": jsonable(loaded.raw)}


def make_record(
    kind: str,
    prepared: list[Prepared],
    params: Mapping[str, Any],
    results: Any,
    timings: Mapping[str, float],
    note: str | None = None,
) -> dict[str, Any]:
    """The row :meth:`optalloc.workspace.Workspace.save_run` stores."""
    return {
        "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "kind": kind,
        "scenario_names": [p.loaded.name for p in prepared],
        "scenarios": [scenario_record(p.loaded) for p in prepared],
        "cohort_hashes": {p.loaded.name: cohort_hash(p.cohort) for p in prepared},
        "code_version": optalloc.__version__,
        "git_commit": git_commit(),
        "params": jsonable(dict(params)),
        "timings": jsonable(dict(timings)),
        "seconds": float(sum(timings.values())),
        "results": jsonable(results),
        "note": note,
    }


def record_run(
    kind: str,
    prepared: list[Prepared],
    params: Mapping[str, Any],
    results: Any,
    timings: Mapping[str, float],
    url: str | None = None,
) -> int:
    """Store a run in the workspace (one transaction) and return its id."""
    from optalloc.workspace import Workspace

    return Workspace(url).save_run(make_record(kind, prepared, params, results, timings))


def loaded_from_record(record: Mapping[str, Any]) -> list[LoadedScenario]:
    """The scenarios of a run, rebuilt from their stored text (the files may have changed)."""
    return [from_raw(item["raw"], Path(item["path"])) for item in record["scenarios"]]


# --- What each kind of run computes: called by the CLI and again by ``runs show --rerun`` ----


def solve_scenarios(
    loaded: list[LoadedScenario], params: Mapping[str, Any], cache: PipelineCache | None = None
) -> list[Outcome]:
    """Prepare (sharing cohort and risk) and solve each scenario as ``solve``/``compare`` do."""
    cache = cache if cache is not None else PipelineCache()
    outcomes = []
    for item in loaded:
        if params.get("estimates"):
            from optalloc.pipeline import prepare_from_estimates

            ready = prepare_from_estimates(item, params["estimates"])
        else:
            ready = prepare(item, cache)
        outcomes.append(solve_prepared(ready, solver=params.get("solver", "auto"), time_limit=params.get("time_limit")))
    return outcomes


def compare_results(
    loaded: list[LoadedScenario], params: Mapping[str, Any], cache: PipelineCache | None = None
) -> tuple[list[Prepared], list[dict[str, Any]]]:
    """Prepare and solve each scenario; their summaries as a compare run records them."""
    from optalloc.studio.kpis import summarise

    outcomes = solve_scenarios(loaded, params, cache)
    return [o.prepared for o in outcomes], [summarise(o).to_dict() for o in outcomes]


def _rerun_sweep(loaded: list[LoadedScenario], params: Mapping[str, Any]) -> tuple[list[Prepared], Any]:
    from optalloc.studio.parallel import Execution
    from optalloc.studio.sweep import parse_vary, run_sweep

    ready = prepare(loaded[0])
    varies = [parse_vary(text, ready.loaded) for text in params["vary"]]
    frame = run_sweep(
        ready,
        varies,
        params.get("solver", "auto"),
        Execution(params.get("workers"), None),
        params.get("time_limit"),
        params.get("gap"),
    )
    return [ready], frame.to_dict(orient="records")


def _rerun_size(loaded: list[LoadedScenario], params: Mapping[str, Any]) -> tuple[list[Prepared], Any]:
    from optalloc.cohort.demand import Demand
    from optalloc.studio.parallel import Execution
    from optalloc.studio.size import run_size
    from optalloc.studio.target import parse_target

    demand = params.get("demand")
    ready = prepare(
        loaded[0],
        demand=None
        if not demand
        else Demand(demand["column"], demand["targets"], demand["quantile"], demand["step"], demand["source"]),
    )
    target = parse_target(params["target"], ready.problem.settings, [lim.name for lim in ready.problem.limits])
    result = run_size(
        ready,
        params["resource"],
        target,
        params.get("solver", "auto"),
        Execution(params.get("workers"), None),
        params.get("low", 0.0),
        params.get("high"),
        params.get("rel_tol", 1e-3),
        params.get("time_limit"),
        params.get("gap"),
    )
    return [ready], result.summary()


def _rerun_uncertainty(loaded: list[LoadedScenario], params: Mapping[str, Any]) -> tuple[list[Prepared], Any]:
    from optalloc.studio.parallel import Execution
    from optalloc.studio.uncertainty import run_uncertainty

    cache = PipelineCache()
    ready = [prepare(item, cache) for item in loaded]
    result = run_uncertainty(
        ready,
        params["draws"],
        params["seed"],
        params.get("solver", "auto"),
        Execution(params.get("workers"), None),
        params.get("time_limit"),
        params.get("gap"),
    )
    return ready, result.summary()


RERUNNERS: dict[str, Callable[[list[LoadedScenario], Mapping[str, Any]], tuple[list[Prepared], Any]]] = {
    "solve": compare_results,
    "compare": compare_results,
    "sweep": _rerun_sweep,
    "size": _rerun_size,
    "uncertainty": _rerun_uncertainty,
}


def differences(old: Any, new: Any, rtol: float = 1e-5, path: str = "") -> list[str]:
    """Every number or value that differs (beyond ``rtol`` for numbers), by its path in the results."""
    if isinstance(old, Mapping) and isinstance(new, Mapping):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            if any(str(key).endswith(ignored) for ignored in IGNORED_KEYS):
                continue
            where = f"{path}.{key}" if path else str(key)
            if key not in new:
                out.append(f"{where}: only in the recorded results")
            elif key not in old:
                continue  # a figure this version adds is not a failure to reproduce the record
            else:
                out.extend(differences(old[key], new[key], rtol, where))
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: {len(old)} recorded items, {len(new)} now"]
        return [
            d for k, (a, b) in enumerate(zip(old, new, strict=True)) for d in differences(a, b, rtol, f"{path}[{k}]")
        ]
    if isinstance(old, int | float) and isinstance(new, int | float) and not isinstance(old, bool):
        if math.isclose(float(old), float(new), rel_tol=rtol, abs_tol=1e-9):
            return []
        return [f"{path}: recorded {old!r}, now {new!r}"]
    return [] if old == new else [f"{path}: recorded {old!r}, now {new!r}"]


def rerun(record: Mapping[str, Any], rtol: float = 1e-5) -> dict[str, Any]:
    """Re-run a recorded run from its stored scenarios; say whether every number matches."""
    kind = record["kind"]
    if kind not in RERUNNERS:
        raise OptallocError(f"run {record['id']}: unknown kind {kind!r}; this optalloc re-runs {', '.join(KINDS)}.")
    loaded = loaded_from_record(record)
    prepared, results = RERUNNERS[kind](loaded, record["params"])
    results = jsonable(results)
    cohorts = {p.loaded.name: cohort_hash(p.cohort) for p in prepared}
    notes = [
        f"cohort of {name} changed (hash {record['cohort_hashes'].get(name, '?')[:12]} -> {h[:12]})"
        for name, h in cohorts.items()
        if record["cohort_hashes"].get(name) != h
    ]
    diffs = differences(record["results"], results, rtol)
    return {
        "id": record["id"],
        "kind": kind,
        "matches": not diffs and not notes,
        "rtol": rtol,
        "differences": notes + diffs,
        "code_version": optalloc.__version__,
        "git_commit": git_commit(),
        "recorded_code_version": record["code_version"],
        "recorded_git_commit": record["git_commit"],
        "results": results,
    }
