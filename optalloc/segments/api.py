"""One call for the pipeline: features -> consensus clustering -> rules -> profiles."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optalloc.errors import CohortError
from optalloc.privacy import suppress_small_counts
from optalloc.segments.ensemble import ConsensusClustering
from optalloc.segments.features import CohortFeatures, forbidden_features
from optalloc.segments.profile import Profiling, segment_profiles
from optalloc.segments.rules import Rule, describe_segments, rules_frame

ProgressCallback = Callable[[str, int, int], None]


@dataclass
class SegmentationResult:
    """Everything segmentation produces, as plain arrays and tables.

    Attributes
    ----------
    labels
        Segment per patient (row order of the input cohort); 0 is the largest segment.
    k
        Number of segments.
    k_table
        One row per candidate ``k``: PAC, stability, consensus index, silhouette, chosen, reason.
    profiles
        One row per segment: name, size, share, means, shares, readmission rate.
    rules
        One row per segment: ``expression`` (for ``DataFrame.eval``), ``words``,
        ``n_conditions``, ``coverage``, ``precision``, ``matched``, ``size``, the same rates on
        the fitting and held-out patients (``fit_*``, ``heldout_*``), ``meets_precision``
        and ``note`` (a statement when no short rule reaches ``min_precision``).
    rule_objects
        The same rules as :class:`~optalloc.segments.rules.Rule` objects (masks, conditions).
    model, features
        The fitted clustering and feature encoder; ``model.predict(features.transform(new))``
        assigns new patients to the segments.
    verdict
        In words: whether the data has clear groups, and what the segments are then.
    """

    labels: np.ndarray
    k: int
    k_table: pd.DataFrame
    profiles: pd.DataFrame
    rules: pd.DataFrame
    rule_objects: list[Rule] = field(repr=False)
    model: ConsensusClustering = field(repr=False)
    features: CohortFeatures = field(repr=False)
    verdict: str = ""

    def assignments(self, cohort: pd.DataFrame) -> pd.DataFrame:
        """``patient_id`` and ``segment`` per patient (what ``optalloc segment --out`` writes)."""
        return pd.DataFrame({"patient_id": cohort["patient_id"].to_numpy(), "segment": self.labels})


def segment_cohort(
    cohort: pd.DataFrame,
    k: int | str = "auto",
    seed: int = 0,
    *,
    k_range: tuple[int, int] = (2, 8),
    sample_size: int = 1000,
    n_base: int = 20,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    shareable: bool = False,
    progress: ProgressCallback | None = None,
    rule_numeric: Sequence[str] | None = None,
    rule_categorical: Sequence[str] | None = None,
    profile_means: Sequence[str] | None = None,
    category_weight: float = 1.0,
    min_precision: float = 0.7,
    n_null: int = 3,
    words: Mapping[str, str] | None = None,
    profiling: Profiling | None = None,
    never_use: Sequence[str] = (),
) -> SegmentationResult:
    """Segment a cohort and describe each segment by a rule and a profile.

    Parameters
    ----------
    cohort
        A validated cohort (:func:`optalloc.cohort.schema.validate_cohort`); extra columns
        such as ``true_type`` or ``readmitted_30d`` are never used as features.
    k
        ``"auto"`` (chosen in ``k_range``, widened at its boundary, by the consensus gain over
        shuffled data; :mod:`optalloc.segments.selection`) or a number of segments.
    seed
        Random state of the sample, the base clusterings and the rule search.
    numeric, categorical
        Feature columns; default: the schema's features.
    sample_size, n_base
        Patients the consensus is built on and base clusterings per candidate ``k``
        (:class:`~optalloc.segments.ensemble.ConsensusClustering`).
    shareable
        Suppress counts below 11 in the profiles (see :mod:`optalloc.segments.profile`) and in
        the rules' ``matched`` and ``size``.
    progress
        ``progress(stage, done, total)`` for a progress bar.
    rule_numeric, rule_categorical
        Columns the rules may use; default: the clustering features. Rules may name columns
        a planner knows that the clustering did not use (never identifiers or the outcome).
    profile_means
        Numeric columns the profiles average; default: the profiling's ``means``, or the
        numeric clustering features if it names none.
    category_weight
        Weight of each one-hot or flag column against one standard deviation of a numeric
        feature (:class:`~optalloc.segments.features.CohortFeatures`).
    n_null
        Shuffled copies of the sample the consensus is compared with to choose ``k`` and to
        judge whether the groups are clear
        (:class:`~optalloc.segments.ensemble.ConsensusClustering`).
    min_precision
        Precision on held-out patients a rule must reach to be presented as usable; rules
        below it carry a ``note`` saying so (:func:`~optalloc.segments.rules.describe_segments`).
    words
        The domain's words for columns and category values, which rules are written in
        (``optalloc.domains``' ``Declaration.words``; without them, column names with spaces).
    profiling
        The domain's profile columns and naming words (``Declaration.profile``,
        :class:`~optalloc.segments.profile.Profiling`); without it, generic names.
    never_use
        The domain's columns that may never be a feature or a rule's column (identifiers,
        labels, planted answers: ``Declaration.never_use``), beside the patient pseudonym and
        the outcome, which never are.
    """
    if isinstance(k, str) and k != "auto":
        try:
            k = int(k)
        except ValueError:
            raise CohortError(f"k must be 'auto' or a whole number of segments. Got {k!r} instead.") from None
    if not isinstance(k, str) and int(k) < 1:
        raise CohortError(f"k must be at least 1. Got {k!r} instead.")
    if len(cohort) < 20:
        raise CohortError(
            f"The cohort has {len(cohort)} patients; segmentation needs at least 20. Load a larger cohort."
        )
    report = progress or (lambda stage, done, total: None)
    encoder = CohortFeatures(
        numeric=numeric, categorical=categorical, category_weight=category_weight, never_use=tuple(never_use)
    )
    X = encoder.fit_transform(cohort)
    _, blocks = encoder.blocks()
    model = ConsensusClustering(
        n_clusters=k,
        k_range=k_range,
        sample_size=sample_size,
        n_base=n_base,
        random_state=seed,
        categorical_blocks=blocks,
        n_null=n_null,
    )
    try:
        labels = model.fit_predict(X, progress=lambda done, total: report("clustering", done, total))
    except ValueError as exc:
        raise CohortError(f"Segmentation cannot run on this cohort: {exc}") from exc
    report("rules", 0, 1)
    rule_num = list(encoder.numeric_ + encoder.boolean_ if rule_numeric is None else rule_numeric)
    rule_cat = list(encoder.categorical_ if rule_categorical is None else rule_categorical)
    leaked = sorted(forbidden_features(never_use).intersection(rule_num + rule_cat))
    if leaked:
        raise CohortError(f"Rules cannot use {', '.join(leaked)}: identifiers and outcomes would leak.")
    rule_objects = describe_segments(
        cohort,
        labels,
        numeric=rule_num,
        categorical=rule_cat,
        random_state=seed,
        min_precision=min_precision,
        words=words,
    )
    report("rules", 1, 1)
    profiles = segment_profiles(
        cohort,
        labels,
        rule_objects,
        shareable=shareable,
        means=_profile_means(profile_means, profiling, encoder),
        profiling=profiling,
    )
    rules = rules_frame(rule_objects).merge(profiles[["segment", "name"]], on="segment", how="left")
    if shareable:
        rates = ["coverage", "precision", "fit_coverage", "fit_precision", "heldout_coverage", "heldout_precision"]
        rules = suppress_small_counts(rules, ["matched", "size"], derived=rates)
    return SegmentationResult(
        labels=labels,
        k=int(model.n_clusters_),
        k_table=model.k_table_,
        profiles=profiles,
        rules=rules,
        rule_objects=rule_objects,
        model=model,
        features=encoder,
        verdict=model.verdict_,
    )


def _profile_means(
    profile_means: Sequence[str] | None, profiling: Profiling | None, encoder: CohortFeatures
) -> tuple[str, ...]:
    """What the profiles average: as asked, else the domain's profile means, else the numeric
    columns the segments were found on."""
    if profile_means is not None:
        return tuple(profile_means)
    if profiling is not None and profiling.means:
        return profiling.means
    return tuple(encoder.numeric_)
