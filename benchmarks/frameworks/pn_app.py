"""Panel version of the studio's smallest loop: a number in, a figure out."""

import panel as pn

hours = pn.widgets.IntInput(name="home nurse hours", value=12000, step=100, css_classes=["hours"])
pn.Column(hours, pn.bind(lambda v: pn.pane.HTML(f"benefit: <span id='out'>{v * 0.001:.4f}</span>"), hours)).servable()
