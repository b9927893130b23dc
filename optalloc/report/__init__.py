"""The shareable HTML report: the comparison, plans, limits, certificate, segments, risk model
card, equity and sweep of a set of scenarios in one offline file (``optalloc report``).

Layers: :mod:`~optalloc.report.content` turns solved outcomes into sections (tables as text,
charts as Vega-Lite specs from :mod:`~optalloc.report.charts`), hiding small counts for a
shareable report (:mod:`~optalloc.report.shareable`); :mod:`~optalloc.report.render` writes
the HTML. The browser studio (:mod:`optalloc.app`) shows the same charts.
"""

from optalloc.report.build import Report, assemble, build_report
from optalloc.report.content import ReportOptions
from optalloc.report.render import render_html, write_report

__all__ = ["Report", "ReportOptions", "assemble", "build_report", "render_html", "write_report"]
