"""The local web studio: scenarios edited, solved, compared and downloaded in the browser.

:mod:`~optalloc.app.session` does the work (testable without a browser); :mod:`~optalloc.app.web`
is the Dash page over it. ``optalloc serve`` starts it.
"""
