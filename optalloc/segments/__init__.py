"""Segments: consensus clustering of the cohort, the choice of k, rules, profiles, priority.

The pipeline calls :func:`segment_cohort`; the pieces are importable for finer control.
"""

from optalloc.segments.api import SegmentationResult, segment_cohort
from optalloc.segments.ensemble import ConsensusClustering
from optalloc.segments.features import CohortFeatures
from optalloc.segments.priority import PriorityWeights, priority_order, priority_score
from optalloc.segments.profile import segment_profiles
from optalloc.segments.rules import Condition, Rule, describe_segments, rules_frame

__all__ = [
    "CohortFeatures",
    "Condition",
    "ConsensusClustering",
    "PriorityWeights",
    "Rule",
    "SegmentationResult",
    "describe_segments",
    "priority_order",
    "priority_score",
    "rules_frame",
    "segment_cohort",
    "segment_profiles",
]
