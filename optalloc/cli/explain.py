"""``optalloc explain SCENARIO --patient ID``: why one patient got their setting."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from optalloc.cli.common import out, print_json, user_errors
from optalloc.cli.options import JsonOption, Solver, SolverOption, TimeLimitOption
from optalloc.cli.render import frame_table


@user_errors
def explain(
    scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
    patient: Annotated[
        str, typer.Option("--patient", help="Patient id as optalloc shows it (a pseudonym), or the original id.")
    ],
    solver: SolverOption = Solver.auto,
    time_limit: TimeLimitOption = None,
    as_json: JsonOption = False,
) -> None:
    """Solve the scenario, then show the patient's settings priced at the limits' marginal values."""
    from optalloc.allocation.explain import explain_patient, marginal_value_sentences
    from optalloc.errors import InfeasibleError, OptallocError
    from optalloc.pipeline import prepare, solve_prepared
    from optalloc.privacy import pseudonymize, resolve_patient

    prepared = prepare(scenario)
    problem = prepared.problem
    # the same solve as ``optalloc solve`` (greedy warm start), so the same plan is explained
    result = solve_prepared(prepared, solver.value, time_limit).result
    resolved = resolve_patient(patient, problem.patient_ids)
    if resolved is None:  # never echo what was typed: it may be a real identifier
        raise OptallocError(
            f"--patient: no such patient in {scenario} (looked up as "
            f"{pseudonymize([patient])[0]}, the pseudonym of the id given). Use an id "
            "optalloc shows, or the patient's original id."
        )
    patient = resolved
    if not result.status.has_plan:
        raise InfeasibleError(result.message or f"The solve ended with status {result.status.value} and no plan.")
    explanation = explain_patient(problem, result, patient)
    sentences = marginal_value_sentences(problem, result)
    excluded = excluded_by(prepared, explanation)
    if as_json:
        print_json(
            {
                "patient_id": explanation.patient_id,
                "chosen": explanation.chosen,
                "runner_up": explanation.runner_up,
                "settings": explanation.table.to_dict(orient="records"),
                "marginal_values": sentences,
                "excluded_by": excluded,
                "solver": result.solver,
                "status": result.status.value,
            }
        )
        return
    # one column per setting, one row per figure: stays readable with many limits
    frame = explanation.table.set_index("setting").T.astype(object)
    frame.index.name = "setting"
    out.print(frame_table(frame, title=f"Patient {explanation.patient_id} ({result.solver}, {result.status.value})"))
    out.print(explanation.summary(), highlight=False)
    for setting, clauses in excluded.items():
        out.print(f"  not eligible for {setting}: fails {'; '.join(clauses)}", highlight=False)
    for sentence in sentences:
        out.print(f"  {sentence}", highlight=False)


def register(app: typer.Typer) -> None:
    """Add ``optalloc explain`` to the main app."""
    app.command()(explain)


def excluded_by(prepared, explanation) -> dict[str, list[str]]:
    """For each setting the patient may not have: the eligibility clauses the patient fails,
    each with the values it read (``distance_km <= 50 (distance_km = 72)``)."""
    from optalloc.expressions import parse

    cohort = getattr(prepared, "cohort", None)  # precomputed estimates have no records to read
    if cohort is None or "patient_id" not in cohort.columns:
        return {}
    row = cohort[cohort["patient_id"].astype(str) == str(explanation.patient_id)]
    allowed = dict(zip(explanation.table["setting"], explanation.table["allowed"], strict=True))
    found: dict[str, list[str]] = {}
    for name, spec in prepared.loaded.scenario.settings.items():
        if allowed.get(name, True) or not spec.eligibility or row.empty:
            continue
        expression = parse(spec.eligibility, f"settings.{name}.eligibility", str(prepared.loaded.path))
        clauses = []
        for clause in expression.clauses():
            if bool(clause.condition(row)[0]):
                continue
            values = ", ".join(f"{n} = {row[n].iloc[0]}" for n in sorted(clause.names) if n in row.columns)
            clauses.append(f"{clause.text} ({values})" if values else clause.text)
        found[name] = clauses or ["(a pin or another rule, not its eligibility)"]
    return found
