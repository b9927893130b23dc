"""Helpers for the studio tests: small prepared scenarios and a fast, fixed risk (the fixture
that installs it, ``fast_risk``, is in ``tests/conftest.py``).

The risk models are not what these tests check, so ``score_risk`` is replaced by a fixed
function of the cohort (the forkserver and Dask workers receive the prepared scenario, never
call it). No tests live here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optalloc.pipeline import PipelineCache, Prepared, prepare
from optalloc.scenario import load_scenario, with_overrides
from tests.helpers.files import REPO, SCENARIOS

UNCERTAIN = REPO / "scenarios" / "uncertainty"
SMALL = {"cohort.patients": 300, "solver.time_limit": 20.0}


def fixed_risk(loaded: object, cohort: pd.DataFrame, context: object = None) -> tuple[np.ndarray, None]:
    """A deterministic readmission probability from the cohort's own columns."""
    admissions = cohort["admissions_past_year"].to_numpy(float)
    frailty = cohort["frailty"].to_numpy(float)
    return np.clip(0.04 + 0.03 * admissions + 0.01 * frailty, 0.0, 0.9), None


def small_file(folder: Path, source: Path, name: str, patients: int = 300) -> Path:
    """A scenario file extending ``source`` with a small cohort (for CLI tests)."""
    path = folder / f"{name}.toml"
    path.write_text(
        f'extends = "{source}"\nname = "{name}"\n[cohort]\npatients = {patients}\n[solver]\ntime_limit = 20.0\n'
    )
    return path


def small_prepared(
    source: Path = SCENARIOS / "baseline.toml", cache: PipelineCache | None = None, **overrides: object
) -> Prepared:
    loaded = with_overrides(load_scenario(source), {**SMALL, **overrides})
    return prepare(loaded, cache)
