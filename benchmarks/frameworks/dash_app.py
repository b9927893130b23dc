"""Dash version of the studio's smallest loop: a number in, a figure out."""

import sys

from dash import Dash, Input, Output, dcc, html

app = Dash(__name__)
app.layout = html.Div([dcc.Input(id="hours", type="number", value=12000, debounce=True), html.Span(id="out")])


@app.callback(Output("out", "children"), Input("hours", "value"))
def benefit(value: float) -> str:
    return f"{value * 0.001:.4f}"


if __name__ == "__main__":
    app.run(port=int(sys.argv[1]))
