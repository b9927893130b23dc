"""Segments: consensus clustering of the cohort, the choice of k, rules, profiles, priority.

The pipeline calls :func:`segment_cohort`; the pieces are importable for finer control.

Importing ``optalloc.segments`` (or a light module of it, such as ``optalloc.segments.profile``,
whose :class:`~optalloc.segments.profile.Profiling` every domain declares) loads nothing else:
the names below are imported on first use (PEP 562), so the CLI starts without scikit-learn.
"""

from __future__ import annotations

from optalloc.lazy import exports

_EXPORTS = {
    "CohortFeatures": "optalloc.segments.features",
    "Condition": "optalloc.segments.rules",
    "ConsensusClustering": "optalloc.segments.ensemble",
    "PriorityWeights": "optalloc.segments.priority",
    "Rule": "optalloc.segments.rules",
    "SegmentationResult": "optalloc.segments.api",
    "describe_segments": "optalloc.segments.rules",
    "priority_order": "optalloc.segments.priority",
    "priority_score": "optalloc.segments.priority",
    "rules_frame": "optalloc.segments.rules",
    "segment_cohort": "optalloc.segments.api",
    "segment_profiles": "optalloc.segments.profile",
}
__all__ = sorted(_EXPORTS)

__getattr__ = exports(__name__, _EXPORTS)
