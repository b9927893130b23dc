"""Reading precomputed estimates, so researchers can bring their own numbers to the optimiser.

The long table has one row per patient and setting with columns ``patient_id``, ``setting``,
``benefit``, ``cost`` and one column per resource the scenario limits; an optional boolean
``eligible`` column marks settings a patient may not use. Missing (patient, setting) rows mean
"not allowed". The scenario file supplies the settings and the limits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optalloc.cohort.schema import booleans, numbers
from optalloc.errors import OptallocError, shown
from optalloc.estimates import Estimates
from optalloc.io import read_table, table_format
from optalloc.privacy import coded_pseudonym_codes, pseudonym_codes, pseudonymize
from optalloc.scenario.loader import LoadedScenario

CODED = ("patient_id", "setting")


def _read_long(path: str | Path) -> tuple[pd.DataFrame, dict[str, tuple[np.ndarray, np.ndarray, bool]]]:
    """The table, with the text columns ``patient_id`` and ``setting`` of a Parquet file coded by
    Arrow as (row codes, distinct values in order of first appearance, whether they need no
    stripping): 6 million rows of text are then never turned into Python objects nor matched
    by pandas (see benchmarks/RESULTS.md, 1M x 6)."""
    if table_format(Path(path)) != "parquet" or not Path(path).exists():
        return read_table(path, dtype={"patient_id": str}), {}
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path)
    except (OSError, ValueError, pa.ArrowException):
        return read_table(path), {}  # read_table names the problem
    coded = {}
    for name in CODED:
        if name not in table.column_names:
            continue
        column = table.column(name)
        if column.null_count or not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
            continue  # blanks or numbers: read as read_table reads them
        encoded = pc.dictionary_encode(column.combine_chunks())
        distinct = encoded.dictionary
        # numbered as first met, like pandas' factorize; no spaces to strip: the distinct values
        # are the distinct patients already (else privacy merges " A1" and "A1" as always)
        ready = pc.all(pc.equal(pc.utf8_trim_whitespace(distinct), distinct)).as_py() is not False
        coded[name] = (encoded.indices.to_numpy(), distinct.to_numpy(zero_copy_only=False), ready)
        table = table.drop_columns([name])
    return table.to_pandas(split_blocks=True), coded  # a block per column: not copied into one 2-D block


def read_estimates(path: str | Path, loaded: LoadedScenario) -> Estimates:
    """Turn a long estimates table into :class:`Estimates` in the scenario's setting order."""
    source = str(path)
    frame, coded = _read_long(path)
    scenario = loaded.scenario
    settings = tuple(scenario.settings)
    required = ["patient_id", "setting", "benefit", "cost", *scenario.resources]
    missing = [c for c in required if c not in frame.columns and c not in coded]
    if missing:
        raise OptallocError(
            f"{source}: missing column(s) {', '.join(missing)}. An estimates table needs "
            f"{', '.join(required)} (one column per resource of {loaded.path.name})."
        )
    # integer codes, not text lookups: 6 million rows (1M patients x 6 settings) in about a second
    if "setting" in coded:
        setting_codes, distinct, _ = coded["setting"]
        setting_names = pd.Index([str(name) for name in distinct])
    else:
        setting_codes, setting_names = pd.factorize(frame["setting"].astype(str))
    cols = pd.Index(settings).get_indexer(setting_names)[setting_codes]
    unknown = cols < 0
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0]) + 1
        raise OptallocError(
            f"{source}: row {row} names the setting {shown(setting_names[setting_codes[row - 1]])}, which "
            f"{loaded.path.name} does not define (its settings: {', '.join(settings)})."
        )
    optional = [c for c in ("readmissions_avoided", "travel_hours_saved") if c in frame.columns]
    # costs and resource use below 0 would let a plan earn budget or hours by using a setting
    for column in ["benefit", *optional]:
        frame[column] = numbers(frame[column], source, column)
    for column in ["cost", *scenario.resources]:
        frame[column] = numbers(frame[column], source, column, minimum=0.0)
    if "eligible" in frame.columns:
        frame["eligible"] = booleans(frame["eligible"], source, "eligible")  # "no" is False
    if "patient_id" in coded:
        codes, distinct, ready = coded["patient_id"]
        rows, pseudonyms = (codes, pseudonymize(distinct)) if ready else coded_pseudonym_codes(codes, distinct)
    else:
        rows, pseudonyms = pseudonym_codes(frame["patient_id"])
    patients = pd.Index(pseudonyms)
    n, m = len(patients), len(settings)
    pairs = rows.astype(np.int64) * m + cols
    if np.bincount(pairs, minlength=n * m).max(initial=0) > 1:
        row = int(np.flatnonzero(pd.Series(pairs).duplicated().to_numpy())[0]) + 1
        raise OptallocError(f"{source}: row {row} repeats a (patient_id, setting) pair; keep one row each.")

    # a table written patient by patient in the scenario's setting order (as long_table writes
    # it) is already the matrix, row-major: reshaped, not scattered pair by pair
    in_order = pairs.size == n * m and bool((pairs == np.arange(n * m)).all())

    def matrix(column: str) -> np.ndarray:
        if in_order:
            return frame[column].to_numpy(float, copy=True).reshape(n, m)
        out = np.zeros((n, m))
        out[rows, cols] = frame[column].to_numpy(float)
        return out

    flags = frame["eligible"].to_numpy(bool) if "eligible" in frame.columns else True
    if in_order:
        eligible = np.broadcast_to(flags, (n * m,)).reshape(n, m).copy()
    else:
        eligible = np.zeros((n, m), dtype=bool)
        eligible[rows, cols] = flags
    default = settings.index(scenario.default_setting)
    lacking = np.ones(n, dtype=bool)
    lacking[rows[cols == default]] = False
    if lacking.any():
        raise OptallocError(
            f"{source}: patient {patients[int(np.flatnonzero(lacking)[0])]} has no row for the default "
            f"setting {scenario.default_setting!r}; every patient needs one (it is always allowed)."
        )
    return Estimates(
        patient_ids=patients.to_numpy(object),
        settings=settings,
        benefit=matrix("benefit"),
        cost=matrix("cost"),
        readmissions_avoided=matrix("readmissions_avoided")
        if "readmissions_avoided" in frame
        else np.full((n, m), np.nan),
        travel_hours_saved=matrix("travel_hours_saved") if "travel_hours_saved" in frame else np.full((n, m), np.nan),
        eligible=eligible,
        usage={name: matrix(name) for name in scenario.resources},
    )
