"""The domain seam: a new kind of cohort is one object and one registry line; the pipeline,
estimates, allocation and report then work on it unchanged."""

from __future__ import annotations

import importlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from optalloc import domains
from optalloc.domains.base import OUTCOME
from optalloc.errors import ScenarioError
from optalloc.pipeline import current_practice_priority, prepare, solve_prepared
from optalloc.report import ReportOptions, assemble, render_html
from optalloc.scenario import load_scenario
from optalloc.segments.priority import priority_score
from optalloc.segments.profile import Profiling

#: A new kind of cohort, written as a user would write it: one module of its own, importing
#: only the domain seam. The test writes it into a package of its own outside optalloc.
CLINIC_MODULE = '''
"""Outpatients: their own columns, risk from a published-style score."""

import numpy as np
import pandas as pd

from optalloc.cohort.schema import Column
from optalloc.domains.base import OUTCOME, Declaration, Risk
from optalloc.privacy import pseudonymize_column


class ClinicVisits:
    name = "outpatients"
    description = "outpatient clinic attenders (a test domain)"
    sources = ("file",)
    segment_features = (("age", "missed_appointments"), ())
    declaration = Declaration(
        columns=(
            Column("clinic_number", "id", "clinic number; pseudonymised"),
            Column("age", "int", "age in years", 18, 110),
            Column("missed_appointments", "int", "missed appointments this year", 0, 50),
        ),
        identifiers=("clinic_number",),
        risk_features=("missed_appointments",),
        never_use=("clinic_number", OUTCOME),
        risk_models=(),
        lace=False,
        words={"missed_appointments": "missed appointments"},
        priority={"burden": "missed_appointments", "need": "age / 10"},
    )

    def cohort(self, loaded):
        frame = pd.read_csv(loaded.resolve(loaded.scenario.cohort.path or ""))
        frame["patient_id"] = pseudonymize_column(frame.pop("clinic_number"))
        return frame, None

    def risk(self, loaded, cohort, context):
        score = 0.05 + 0.04 * cohort["missed_appointments"].to_numpy(float)
        return Risk(np.clip(score, 0.0, 0.9))


DOMAIN = ClinicVisits()
'''


SCENARIO = """
name = "outpatients"
budget = 20000
[cohort]
domain = "outpatients"
source = "file"
path = "clinic.csv"
[quantities]
visits = "1"
units_per_visit = "1"
distance_km = "0"
[settings.usual]
default = true
[settings.text_reminders]
effect = 0.1
cost_per_patient = 2.0
staff_hours_per_visit = { admin_hours = 0.1 }
[settings.nurse_call]
effect = "where(missed_appointments >= 2, 0.3, 0.15)"
cost_per_patient = 40.0
staff_hours_per_visit = { nurse_hours = 0.5 }
eligibility = "risk >= 0.1"
[resources]
admin_hours = 30
nurse_hours = 40
"""


def test_a_new_domain_needs_its_module_and_one_registry_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    n = 500
    pd.DataFrame(
        {
            "clinic_number": [f"C{k:05d}" for k in range(n)],
            "missed_appointments": rng.integers(0, 5, n),
            "age": rng.integers(18, 90, n),
            OUTCOME: rng.random(n) < 0.15,
        }
    ).to_csv(tmp_path / "clinic.csv", index=False)
    (tmp_path / "outpatients.toml").write_text(SCENARIO)
    package = tmp_path / "hospital_domains"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "clinic.py").write_text(CLINIC_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    clinic = importlib.import_module("hospital_domains.clinic")
    monkeypatch.setitem(domains.DOMAINS, "outpatients", clinic.DOMAIN)  # the one registry line

    prepared = prepare(load_scenario(tmp_path / "outpatients.toml"))
    assert len(prepared.cohort) == n and prepared.cohort["patient_id"].str.match(r"^p[0-9a-f]{16}$").all()
    call = prepared.problem.settings.index("nurse_call")
    assert np.array_equal(prepared.problem.allowed[:, call], prepared.risk >= 0.1)
    many = prepared.cohort["missed_appointments"].to_numpy() >= 2
    assert np.allclose(prepared.estimates.readmissions_avoided[many, call], 0.3 * prepared.risk[many])
    # the greedy current-practice plan ranks by the priority the module declares
    priority = current_practice_priority(prepared)
    assert priority is not None
    best = np.where(prepared.problem.allowed, prepared.problem.benefit, -np.inf).max(axis=1)
    gain = best - prepared.problem.benefit[:, prepared.problem.default_setting]
    inputs = {"burden": "missed_appointments", "need": "age / 10"}
    np.testing.assert_array_equal(priority, priority_score(prepared.cohort, prepared.risk, gain, inputs=inputs))
    assert not np.allclose(priority, priority_score(prepared.cohort, prepared.risk, gain, inputs={}))
    outcome = solve_prepared(prepared)
    assert outcome.result.status.has_plan and outcome.greedy is not None and outcome.greedy.status.has_plan
    assert outcome.result.objective >= outcome.greedy.objective - 1e-9
    assert outcome.result.limit_table(prepared.problem).set_index("limit").loc["nurse_hours", "use"] <= 40 + 1e-6
    html = render_html(assemble([outcome], ReportOptions(shareable=True)))
    assert "Equity: who gets each setting" in html and "By age band." in html


DOMAIN_FILE = """
name = "outpatients"
description = "Outpatient clinic attenders"
identifier = "clinic_number"
outcome = "came_back"
[columns.age]
kind = "int"
min = 18
max = 110
[columns.missed_appointments]
kind = "int"
min = 0
max = 50
[columns.sex]
kind = "category"
categories = ["F", "M"]
[risk]
features = ["age", "missed_appointments", "sex"]
"""


def _declared_case(folder: Path, rows: int = 600) -> Path:
    rng = np.random.default_rng(2)
    missed = rng.integers(0, 6, rows)
    pd.DataFrame(
        {
            "clinic_number": [f"C{k:05d}" for k in range(rows)],
            "age": rng.integers(18, 90, rows),
            "sex": rng.choice(["F", "M"], rows),
            "missed_appointments": missed,
            "came_back": rng.random(rows) < 0.05 + 0.06 * missed,
            "free_text_note": "not declared, never kept",
        }
    ).to_csv(folder / "clinic.csv", index=False)
    (folder / "outpatients.domain.toml").write_text(DOMAIN_FILE)
    scenario = folder / "declared.toml"
    scenario.write_text(SCENARIO.replace('domain = "outpatients"', 'domain = "outpatients.domain.toml"'))
    return scenario


def test_a_domain_declared_in_a_toml_file_reaches_a_plan(tmp_path: Path) -> None:
    prepared = prepare(load_scenario(_declared_case(tmp_path)))
    assert set(prepared.cohort.columns) == {"patient_id", "age", "missed_appointments", "sex", "readmitted_30d"}
    assert prepared.risk_metrics is not None and prepared.risk_metrics["auroc"].iloc[0] > 0.6  # learnable
    assert solve_prepared(prepared).result.status.has_plan


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (
            lambda d, c: (d.replace('kind = "int"\nmin = 0', 'kind = "integer"\nmin = 0'), c),
            "columns.missed_appointments.kind must be one of",
        ),
        (
            lambda d, c: (d.replace('"missed_appointments", "sex"]', '"missed", "sex"]'), c),
            "risk.features names missed",
        ),
        (
            lambda d, c: (d, c.assign(age=c["age"].where(c.index != 4, 7))),
            "column 'age' at row 5 is 7, outside the plausible range 18 to 110",
        ),
        (lambda d, c: (d, c.assign(sex=c["sex"].where(c.index != 2, "X"))), "unknown value 'X' at row 3"),
        (
            lambda d, c: (d + '[priority]\nburden = "missed_appointments +"\n', c),
            "outpatients.domain.toml: field 'priority.burden' = 'missed_appointments +': cannot be read",
        ),
        (
            lambda d, c: (d + '[priority]\nneed = "frailty"\n', c),
            "field 'priority.need' = 'frailty': 'frailty' is not a column or known name",
        ),
        (lambda d, c: (d + '[priority]\nurgency = "age"\n', c), "[priority] may hold burden and need"),
    ],
)
def test_a_declared_domain_names_each_problem(tmp_path: Path, edit, message) -> None:
    from typer.testing import CliRunner

    from optalloc.cli import app

    scenario = _declared_case(tmp_path)
    domain_text, table = edit(DOMAIN_FILE, pd.read_csv(tmp_path / "clinic.csv", dtype={"clinic_number": str}))
    (tmp_path / "outpatients.domain.toml").write_text(domain_text)
    table.to_csv(tmp_path / "clinic.csv", index=False)
    result = CliRunner().invoke(app, ["solve", str(scenario), "--no-record"])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())


def test_a_declared_domain_states_its_priority_inputs(tmp_path: Path) -> None:
    scenario = _declared_case(tmp_path)
    domain_file = tmp_path / "outpatients.domain.toml"
    domain_file.write_text(DOMAIN_FILE + '[priority]\nburden = "missed_appointments"\n')
    prepared = prepare(load_scenario(scenario))
    declared = domains.get_domain(str(domain_file))
    assert dict(declared.declaration.priority) == {"burden": "missed_appointments"}
    assert declared.declaration.identifiers == ("clinic_number",)
    assert {"clinic_number", "came_back", OUTCOME} <= set(declared.declaration.never_use)
    best = np.where(prepared.problem.allowed, prepared.problem.benefit, -np.inf).max(axis=1)
    gain = best - prepared.problem.benefit[:, prepared.problem.default_setting]
    expected = priority_score(prepared.cohort, prepared.risk, gain, inputs={"burden": "missed_appointments"})
    np.testing.assert_array_equal(current_practice_priority(prepared), expected)


def test_the_shipped_domains_declare_what_the_general_stages_read() -> None:
    for name, domain in domains.DOMAINS.items():
        declared = domain.declaration
        assert domain.name == name and declared.required_columns() and declared.risk_models
        assert set(declared.identifiers) <= set(declared.never_use) and OUTCOME in declared.never_use
        assert set(declared.priority) == {"burden", "need"}
    assert domains.DOMAINS["readmission"].declaration.lace and not domains.DOMAINS["transfusion"].declaration.lace


def test_the_shipped_domains_groups_and_profile_name_their_own_columns() -> None:
    for domain in domains.DOMAINS.values():
        declared = domain.declaration
        columns = {c.name for c in declared.columns}
        assert set(declared.groups.values()) <= columns, domain.name
        assert {column for column, _ in declared.profile.shares.values()} <= columns, domain.name
        assert set(declared.profile.headers) <= set(declared.profile.means), domain.name  # a header per mean shown


def test_a_missing_domain_file_is_named(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from optalloc.cli import app

    scenario = _declared_case(tmp_path)
    (tmp_path / "outpatients.domain.toml").unlink()
    result = CliRunner().invoke(app, ["solve", str(scenario), "--no-record"])
    assert result.exit_code == 2, result.output
    assert "outpatients.domain.toml: no such domain file" in " ".join(result.output.split())


def test_a_declared_domain_states_how_its_segments_are_named(tmp_path: Path) -> None:
    _declared_case(tmp_path)
    domain_file = tmp_path / "outpatients.domain.toml"
    domain_file.write_text(
        DOMAIN_FILE + '[profile]\nmeans = ["age"]\ntop = ["sex"]\n[profile.names]\nage = ["older", "younger"]\n'
        '[profile.counts]\nmissed_appointments = "missed appointments"\n'
    )
    profile = domains.get_domain(str(domain_file)).declaration.profile
    assert profile.means == ("age",) and profile.top == ("sex",)
    assert dict(profile.names) == {"age": ("older", "younger")}
    assert dict(profile.counts) == {"missed_appointments": "missed appointments"}
    domain_file.write_text(DOMAIN_FILE + '[profile]\nmeans = ["frailty"]\n')
    with pytest.raises(ScenarioError, match=r"\[profile\] names frailty, not declared"):
        domains.get_domain(str(domain_file))
    domain_file.write_text(DOMAIN_FILE)
    assert domains.get_domain(str(domain_file)).declaration.profile == Profiling()  # generic names


def test_segments_refuse_a_cohort_that_has_a_segment_column_already(tmp_path: Path) -> None:
    scenario = _declared_case(tmp_path)
    records = pd.read_csv(tmp_path / "clinic.csv")
    records.assign(segment=records["age"] // 30).to_csv(tmp_path / "clinic.csv", index=False)
    (tmp_path / "outpatients.domain.toml").write_text(
        DOMAIN_FILE + '[columns.segment]\nkind = "int"\nmin = 0\nmax = 5\n'
    )
    scenario.write_text(scenario.read_text() + "[segments]\nk = 3\n")
    with pytest.raises(ScenarioError, match="has segment already"):
        prepare(load_scenario(scenario))
