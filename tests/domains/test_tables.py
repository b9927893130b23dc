"""Which kind of table a file is and which groups it has are asked of the registered domains."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from optalloc import domains
from optalloc.cohort.synth import synthesize_cohort
from optalloc.domains.base import AGE_BANDS
from optalloc.domains.tables import TableKind, kind_of
from optalloc.report.equity import group_columns


def _never_loaded(path: Path | None) -> tuple[pd.DataFrame, object]:
    raise AssertionError("kind_of only recognises")


def test_a_kind_is_recognised_by_its_header_else_the_fallback_or_the_shipped_one(tmp_path: Path) -> None:
    shipped = TableKind("visits", lambda columns: "visit_no" in columns, _never_loaded, shipped=True)  # type: ignore[arg-type]
    other = TableKind("clinic", lambda columns: "clinic_no" in columns, _never_loaded, fallback=True)  # type: ignore[arg-type]
    path = tmp_path / "t.csv"
    pd.DataFrame({"clinic_no": [1], "x": [2]}).to_csv(path, index=False)
    assert kind_of(path, [shipped, other]) is other
    pd.DataFrame({"visit_no": [1]}).to_csv(path, index=False)
    assert kind_of(path, [shipped, other]) is shipped
    pd.DataFrame({"y": [1]}).to_csv(path, index=False)
    assert kind_of(path, [shipped, other]) is other  # no kind: the fallback names what is missing
    assert kind_of(None, [shipped, other]) is shipped and kind_of(tmp_path / "missing.csv", [other]) is None


def test_the_registered_domains_read_their_tables_and_name_their_groups(tmp_path: Path) -> None:
    assert [k.name for k in domains.table_kinds()] == ["transfusion", "diabetes130", "readmission"]
    assert domains.domain_reading("diabetes130") is domains.DOMAINS["readmission"]
    path = tmp_path / "cohort.csv"
    synthesize_cohort(60, seed=1).to_csv(path, index=False)
    assert domains.load_design(path).domain == "transfusion"
    assert domains.tracked_groups("readmission")["sex"] == "gender"
    assert list(domains.tracked_groups()) == ["age", "sex", "race", "segment", "setting"]


def test_equity_groups_are_the_declared_ones_with_age_banded() -> None:
    cohort = pd.DataFrame({"years": [30, 50, 90], "gender": ["F", "M", "F"], "sex": ["x", "y", "z"]})
    groups = group_columns(cohort, np.array([0, 1, 0]), {"age": "years", "sex": "gender"}, {"age": AGE_BANDS})
    assert list(groups) == ["age band", "sex", "segment"]
    assert list(groups["age band"].astype(str)) == ["<45", "45-64", "85+"]
    assert list(groups["sex"]) == ["F", "M", "F"]
    assert group_columns(cohort) == {}  # a domain naming no groups has none
