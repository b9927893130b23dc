"""The scenario studio: sweeps, sizing and uncertainty over one prepared scenario.

Every analysis here solves many variants of one scenario. Cohort, risk and estimates are
computed once (:class:`optalloc.pipeline.Prepared`); a variant that only moves a limit
reuses the prepared problem with new bounds, anything else re-estimates from the cached
cohort and risk. Variants run in a local process pool or on a Dask cluster
(:mod:`optalloc.studio.parallel`), with the prepared problem shipped once per worker.
"""
