"""The browser studio (``optalloc serve``): a Dash page over :class:`StudioSession`.

Dash was chosen over Streamlit and Panel for this page (README, "Why these libraries"): it
starts fastest in our measurement, re-solves without re-running a script, and its callbacks are
plain functions. This module only lays the page out, parses what the planner typed and renders
what the session returns; charts are the report's own Vega-Lite specs, drawn in small frames
by the same Vega libraries the report inlines.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from dash import ALL, MATCH, Dash, Input, Output, State, ctx, dcc, html, no_update
from flask import Response

from optalloc.app.session import StudioSession, charts_of, controls
from optalloc.errors import OptallocError
from optalloc.report.render import chart_page, vega_bundle
from optalloc.report.tables import number, signed

STYLE = {"fontFamily": "system-ui, sans-serif", "maxWidth": "1100px", "margin": "1.5rem auto", "padding": "0 1rem"}
CELL = {"borderBottom": "1px solid #ddd", "padding": "0.2rem 0.6rem", "textAlign": "right"}
FRAME = {"border": "0", "width": "100%"}
BUNDLE_URL = "/optalloc/vega.js"


def frame_style(bands: int, legend_entries: int) -> dict[str, str]:
    """An iframe as tall as a bar chart of ``bands`` bars (Vega-Lite's 20 px step) or its legend,
    whichever is taller, plus title and axis, so no empty space trails the chart."""
    return {**FRAME, "height": f"{90 + max(20 * bands, 18 * legend_entries + 20)}px"}


def table(frame: pd.DataFrame, table_id: str | None = None) -> html.Table:
    """A plain HTML table of ``frame`` (numbers right-aligned with thousands separators, text left)."""
    head = html.Thead(html.Tr([html.Th(str(c), style={**CELL, "textAlign": "left"}) for c in frame.columns]))

    def cell(value: Any) -> html.Td:
        return html.Td(number(value, 4), style=CELL if not isinstance(value, str) else {**CELL, "textAlign": "left"})

    body = html.Tbody([html.Tr([cell(v) for v in row]) for row in frame.itertuples(index=False)])
    return html.Table([head, body], id=table_id or "", style={"borderCollapse": "collapse", "fontSize": "0.9rem"})


def control_row(control: Any) -> html.Div:
    key = control.key
    return html.Div(
        [
            html.Label(control.label, style={"width": "16rem", "display": "inline-block"}),
            dcc.Input(
                id={"type": "num", "key": key},
                type="number",
                value=control.value,
                min=control.low,
                step="any",
                debounce=True,
                style={"width": "11rem"},
            ),
            html.Div(
                dcc.Slider(
                    id={"type": "slider", "key": key},
                    min=control.low,
                    max=control.high,
                    step=control.step,
                    value=control.value,
                    marks=None,
                    allow_direct_input=False,
                ),
                style={"width": "22rem", "display": "inline-block", "verticalAlign": "middle"},
            ),
        ],
        style={"margin": "0.3rem 0"},
    )


def create_app(session: StudioSession) -> Dash:
    """The Dash application (not started); ``app.run(port=...)`` serves it."""
    paths = session.scenarios()
    options = [{"label": str(p.relative_to(session.folder)), "value": str(p)} for p in paths]
    app = Dash(__name__, title="optalloc studio", serve_locally=True, update_title="")

    # the charts are the report's own, drawn by the Vega libraries the report inlines (one copy,
    # cached by the browser): a chart frame loads them from here
    @app.server.route(BUNDLE_URL)
    def vega_javascript() -> Response:
        return Response(vega_bundle(), mimetype="text/javascript", headers={"Cache-Control": "max-age=3600"})

    app.layout = html.Div(
        [
            html.H1("optalloc studio"),
            html.P("Choose a scenario, change its limits, effects and budget, and solve.", style={"color": "#555"}),
            dcc.Dropdown(id="scenario", options=options, value=str(paths[0]), clearable=False),
            # the first scenario's controls are in the page itself: no round trip before it is usable
            html.Div(
                [control_row(c) for c in controls(session.load(paths[0]))], id="controls", style={"margin": "1rem 0"}
            ),
            html.Button("Solve", id="solve", n_clicks=0, style={"fontSize": "1.05rem", "padding": "0.3rem 1.2rem"}),
            html.Span(id="status", style={"marginLeft": "1rem", "color": "#0072B2"}),
            html.Div(id="error", role="alert", style={"color": "#b00020", "margin": "0.5rem 0"}),
            dcc.Store(id="token"),
            dcc.Loading(
                html.Div(
                    [
                        html.H2("Plan"),
                        html.P(["Benefit: ", html.Strong(id="benefit"), html.Span(id="benefit-unit")]),
                        html.Div(id="summary"),
                        # the component keeps its id to itself: the boxes let a page (and a test) find the charts
                        html.Div(html.Iframe(id="chart-settings", style=frame_style(1, 2)), id="settings-chart"),
                        html.Div(html.Iframe(id="chart-limits", style=frame_style(6, 1)), id="limits-chart"),
                        html.H2("Who moves"),
                        html.P("Patients the changed plan places differently from the scenario as written."),
                        html.Div(id="moves"),
                    ]
                ),
                type="default",
            ),
            html.H2("Compare with a recorded run"),
            dcc.Dropdown(id="run", placeholder="a recorded run"),
            html.Div(id="run-diff", style={"marginTop": "0.5rem"}),
            html.H2("Downloads"),
            html.Button("Plan (CSV)", id="get-plan", n_clicks=0),
            html.Button("Report (HTML)", id="get-report", n_clicks=0, style={"marginLeft": "0.6rem"}),
            dcc.Download(id="download-plan"),
            dcc.Download(id="download-report"),
        ],
        style=STYLE,
    )

    @app.callback(Output("controls", "children"), Input("scenario", "value"), prevent_initial_call=True)
    def show_controls(path: str) -> list[html.Div]:
        return [control_row(c) for c in controls(session.load(path))]

    @app.callback(
        Output({"type": "num", "key": MATCH}, "value"),
        Output({"type": "slider", "key": MATCH}, "value"),
        Input({"type": "num", "key": MATCH}, "value"),
        Input({"type": "slider", "key": MATCH}, "value"),
        prevent_initial_call=True,
    )
    def keep_in_step(typed: float | None, slid: float | None) -> tuple[Any, Any]:
        trigger = ctx.triggered_id or {}
        if trigger.get("type") == "slider":
            return slid, no_update
        return no_update, typed

    @app.callback(
        Output("token", "data"),
        Output("benefit", "children"),
        Output("benefit-unit", "children"),
        Output("summary", "children"),
        Output("chart-settings", "srcDoc"),
        Output("chart-limits", "srcDoc"),
        Output("chart-settings", "style"),
        Output("chart-limits", "style"),
        Output("moves", "children"),
        Output("run", "options"),
        Output("error", "children"),
        Input("solve", "n_clicks"),
        State("scenario", "value"),
        State({"type": "num", "key": ALL}, "value"),
        State({"type": "num", "key": ALL}, "id"),
        prevent_initial_call=True,
        running=[(Output("solve", "disabled"), True, False), (Output("status", "children"), "solving…", "")],
    )
    def solve(_: int, path: str, values: list[float | None], ids: list[dict[str, str]]) -> tuple[Any, ...]:
        try:
            base = session.baseline(path)
            base_values = {c.key: c.value for c in controls(base.outcome.prepared.loaded)}
            changes = {i["key"]: v for i, v in zip(ids, values) if v is None or float(v) != base_values.get(i["key"])}
            solved = session.solve(path, changes) if changes else base
        except OptallocError as exc:
            return (no_update,) * 10 + (str(exc),)
        plan = solved.summary
        settings_spec, limits_spec = charts_of([plan], [solved.outcome])
        summary = pd.DataFrame(
            {
                "setting": list(plan.patients_per_setting),
                "patients": list(plan.patients_per_setting.values()),
            }
        )
        moves = session.moves(base, solved)
        problem = "" if plan.has_plan else f"{plan.status.value}: {plan.message}"
        if moves is None:
            moved: list[Any] = [html.P("No plan to compare, so nobody moves.", id="moved-count")]
        else:
            moved = [html.P(f"{len(moves.patients):,} patients change setting.", id="moved-count")]
        if moves is not None and len(moves.patients):
            moved += [table(moves.by_move), html.Br(), table(moves.by_segment)]
            moved.append(
                html.Details([html.Summary("patients (pseudonyms)"), table(moves.patients.head(200), "moved-patients")])
            )
        runs = [
            {"label": f"run {r['id']} · {r['kind']} · {r['scenario_names']} · {r['created_at']}", "value": r["id"]}
            for r in session.recorded_runs()
        ]
        benefit = "–" if plan.objective is None else f"{plan.objective:,.4f}"
        unit = f" {plan.objective_unit} (run {solved.run_id}, {solved.seconds:.1f} s)" if solved.run_id else ""
        return (
            solved.token,
            benefit,
            unit,
            table(summary, "summary-table"),
            chart_page(settings_spec, BUNDLE_URL),
            chart_page(limits_spec, BUNDLE_URL),
            frame_style(1, len(plan.patients_per_setting)),
            frame_style(len(plan.limits), 1),
            moved,
            runs,
            problem,
        )

    @app.callback(
        Output("run-diff", "children"), Input("run", "value"), State("token", "data"), prevent_initial_call=True
    )
    def compare_run(run_id: int | None, token: str | None) -> Any:
        if run_id is None or token is None:
            return "Solve first, then choose a run."
        try:
            long = session.compare_with_run(int(run_id), session.get(token))
        except OptallocError as exc:
            return str(exc)
        wide = long.pivot_table(index="kpi", columns="scenario", values="value", aggfunc="first", sort=False)
        diffs = long.dropna(subset=["diff"]).set_index("kpi")["diff"]
        wide["difference"] = [signed(diffs.get(k)) for k in wide.index]
        return table(wide.reset_index(), "run-diff-table")

    @app.callback(
        Output("download-plan", "data"),
        Input("get-plan", "n_clicks"),
        State("token", "data"),
        prevent_initial_call=True,
    )
    def download_plan(_: int, token: str | None) -> Any:
        if token is None:
            return no_update
        solved = session.get(token)
        name = f"{Path(solved.outcome.prepared.loaded.path).stem}-plan.csv"
        try:
            return {"content": session.plan_csv(solved), "filename": name, "type": "text/csv"}
        except OptallocError:
            return no_update  # the page already says why there is no plan

    @app.callback(
        Output("download-report", "data"),
        Input("get-report", "n_clicks"),
        State("token", "data"),
        prevent_initial_call=True,
    )
    def download_report(_: int, token: str | None) -> Any:
        if token is None:
            return no_update
        solved = session.get(token)
        name = f"{Path(solved.outcome.prepared.loaded.path).stem}-report.html"
        return {"content": session.report_html(solved), "filename": name, "type": "text/html"}

    return app
