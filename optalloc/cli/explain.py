"""``optalloc explain SCENARIO --patient ID``: why one patient got their setting."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from optalloc.cli.common import out, print_json, user_errors
from optalloc.cli.render import frame_table


class ExplainSolver(str, Enum):
    auto = "auto"
    cbc = "cbc"
    cpsat = "cpsat"
    highs = "highs"
    decomp = "decomp"


def register(app: typer.Typer) -> None:
    """Add ``optalloc explain`` to the main app."""

    @app.command()
    @user_errors
    def explain(
        scenario: Annotated[Path, typer.Argument(help="Scenario TOML file.")],
        patient: Annotated[str, typer.Option("--patient", help="Patient id to explain.")],
        solver: Annotated[ExplainSolver, typer.Option("--solver", help="Solver backend; auto chooses by size.")] = ExplainSolver.auto,
        time_limit: Annotated[float | None, typer.Option("--time-limit", help="Seconds for the solve (default: the scenario's).")] = None,
        as_json: Annotated[bool, typer.Option("--json", help="Print only JSON on stdout.")] = False,
    ) -> None:
        """Solve the scenario, then show the patient's settings priced at the limits' marginal values."""
        from optalloc.allocation.backends import SolveOptions, solve
        from optalloc.allocation.explain import explain_patient, marginal_value_sentences
        from optalloc.errors import InfeasibleError
        from optalloc.pipeline import prepare

        prepared = prepare(scenario)
        problem = prepared.problem
        spec = getattr(getattr(prepared.scenario, "scenario", None), "solver", None)
        options = SolveOptions(
            time_limit=time_limit or getattr(spec, "time_limit", 60.0),
            relative_gap=getattr(spec, "relative_gap", 1e-6),
        )
        result = solve(problem, solver.value, options)
        if not result.status.has_plan:
            raise InfeasibleError(result.message or f"The solve ended with status {result.status.value} and no plan.")
        explanation = explain_patient(problem, result, patient)
        sentences = marginal_value_sentences(problem, result)
        if as_json:
            print_json({
                "patient_id": explanation.patient_id,
                "chosen": explanation.chosen,
                "runner_up": explanation.runner_up,
                "settings": explanation.table.to_dict(orient="records"),
                "marginal_values": sentences,
                "solver": result.solver,
                "status": result.status.value,
            })
            return
        # one column per setting, one row per figure: stays readable with many limits
        frame = explanation.table.set_index("setting").T.astype(object)
        frame.index.name = "setting"
        out.print(frame_table(frame, title=f"Patient {explanation.patient_id} ({result.solver}, {result.status.value})"))
        out.print(explanation.summary(), highlight=False)
        for sentence in sentences:
            out.print(f"  {sentence}", highlight=False)
