"""The report as one self-contained HTML file: Jinja2 template, styles and the Vega libraries
inlined, so it opens offline in any browser and can be mailed as it is.

The Vega, Vega-Lite and Vega-Embed libraries come from ``vl-convert``, which bundles them with
the Vega-Lite version Altair writes; nothing is fetched from a CDN.
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import jinja2

from optalloc.report.build import Report

TEMPLATES = Path(__file__).with_name("templates")


@functools.lru_cache(maxsize=1)
def vega_bundle() -> str:
    """Vega-Embed, Vega-Lite and Vega as one script (about 0.9 MB), for the Vega-Lite version
    Altair targets.

    Bundling takes vl-convert about 1.5 s, so the result is kept in the user's cache folder
    (``$XDG_CACHE_HOME/optalloc``), keyed by both versions; a cache that cannot be written is
    only slower.
    """
    import altair as alt
    import vl_convert

    version = "v" + ".".join(alt.SCHEMA_VERSION.lstrip("v").split(".")[:2])
    cached = _cache_dir() / f"vega-bundle-{version}-vlc{_vl_convert_version()}.js"
    try:
        return cached.read_text(encoding="utf-8")
    except OSError:
        pass
    bundle = vl_convert.javascript_bundle(vl_version=version)  # type: ignore[call-arg]  # snippet is optional
    try:
        from optalloc.io import atomic_path

        cached.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(cached) as tmp:
            tmp.write_text(bundle, encoding="utf-8")
    except OSError:
        pass
    return bundle


def _vl_convert_version() -> str:
    from importlib.metadata import version

    return version("vl-convert-python")


def _cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "optalloc"


@functools.lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=jinja2.select_autoescape(["html", "j2"]),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def render_html(report: Report) -> str:
    """The report's HTML text."""
    charts = {}
    for section in report.sections:
        for k, spec in enumerate(section.charts):
            charts[f"chart-{section.key}-{k}"] = spec
    template = _environment().get_template("report.html.j2")
    return template.render(report=report, charts=charts, vega_bundle=vega_bundle())


def chart_page(spec: dict, bundle_url: str) -> str:
    """One chart as a small page that loads the Vega bundle from ``bundle_url``: how the studio
    shows the report's charts with the very libraries the report inlines."""
    return _environment().get_template("chart.html.j2").render(spec=spec, bundle_url=bundle_url)


def write_report(report: Report, path: Path) -> Path:
    """Write the HTML atomically (a killed run leaves no half-written report)."""
    from optalloc.io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_text(render_html(report), encoding="utf-8")
    return path
