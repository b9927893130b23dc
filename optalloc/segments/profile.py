"""Per-segment profiles: size, key means and shares, readmission rate, and a plain-language name.

Profiles are what a programme lead reads to decide whom a service is for, so each segment gets
a short name proposed from its rule ("Thalassaemia, younger", "Remote, frequent transfusions")
rather than a number. With ``shareable=True`` the table can leave the hospital: counts below 11
read ``<11`` (:func:`optalloc.privacy.suppress_small_counts`) and the rates and means of such
small segments are blanked, since a rate times a known size gives the count back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from optalloc.privacy import suppress_small_counts
from optalloc.segments.rules import Condition, Rule, Vocabulary, value_words

OUTCOME = "readmitted_30d"


@dataclass(frozen=True)
class Profiling:
    """How a domain's segments are profiled and named, passed down by the domain
    (``Declaration.profile``) so that this module names no dataset's columns.

    Without any of it a profile averages every numeric column and names a segment by its
    rule's columns: ``high frailty``, ``low distance km``.
    """

    means: tuple[str, ...] = ()
    """Numeric columns averaged (``mean_<column>``); empty: every numeric, non-flag column."""
    names: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Column -> short phrases for (at least the threshold or true, below it or false):
    ``"distance_km": ("remote", "nearby")``."""
    counts: Mapping[str, str] = field(default_factory=dict)
    """Count columns named by their threshold: ``"prior_visits": "prior-year visits"`` reads
    ``no prior-year visits`` (< 1), ``under 3 ...``, ``prior-year visits`` (>= 1), ``3+ ...``."""
    phrases: Mapping[tuple[str, str], str] = field(default_factory=dict)
    """(column, category) -> its phrase where the bare value would not read as a name
    (``("insulin", "No"): "no insulin"``)."""
    nouns: Mapping[str, str] = field(default_factory=dict)
    """Column -> a noun after its category values (``circulatory diagnosis``)."""
    shares: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    """``share_<name>`` -> (column, level): the share of the segment at that level, or for a
    flag column (level None) the share where it is true."""
    top: tuple[str, ...] = ()
    """Category columns whose most common value and its share are shown (``top_<column>``)."""
    headers: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    """Profile column (``mean_age``) -> its short header and number format in a terminal table,
    in the order shown."""


def _phrase(condition: Condition, vocabulary: Vocabulary, profiling: Profiling) -> str:
    if isinstance(condition.value, str):
        if (condition.column, condition.value) in profiling.phrases:
            return profiling.phrases[condition.column, condition.value]
        if condition.column in profiling.nouns:
            return f"{value_words(condition.value, vocabulary)} {profiling.nouns[condition.column]}"
        return value_words(condition.value, vocabulary)
    if condition.column in profiling.counts and not isinstance(condition.value, bool | np.bool_):
        noun, value = profiling.counts[condition.column], float(condition.value)
        if condition.op == ">=":
            return noun if value <= 1 else f"{value:g}+ {noun}"
        return f"no {noun}" if value <= 1 else f"under {value:g} {noun}"
    high, low = profiling.names.get(condition.column, (f"high {condition.column}", f"low {condition.column}"))
    if isinstance(condition.value, bool | np.bool_):
        return high if condition.value else low
    return high if condition.op == ">=" else low


def _interval_or_phrase(condition: Condition, rule: Rule, profiling: Profiling) -> str:
    """A column the rule bounds on both sides reads as its range (``age 45-64``), not as the
    contradictory ``older, younger``; any other condition as :func:`_phrase` says it."""
    bounds = [c for c in rule.conditions if c.column == condition.column and c.op in (">=", "<")]
    if {c.op for c in bounds} != {">=", "<"} or isinstance(condition.value, str | bool | np.bool_):
        return _phrase(condition, rule.vocabulary, profiling)
    low = max(float(c.value) for c in bounds if c.op == ">=")
    high = min(float(c.value) for c in bounds if c.op == "<")
    return f"{value_words(condition.column, rule.vocabulary)} {low:g} to under {high:g}"


def propose_name(rule: Rule, profiling: Profiling | None = None) -> str:
    """A short name from the rule's conditions, e.g. ``"Thalassaemia, younger"`` (in the
    transfusion domain's words)."""
    profiling = profiling or Profiling()
    phrases = list(dict.fromkeys(_interval_or_phrase(c, rule, profiling) for c in rule.conditions))
    if not phrases:
        return f"Segment {rule.segment}"
    name = ", ".join(phrases)
    return name[0].upper() + name[1:]


def _numeric_columns(frame: pd.DataFrame) -> tuple[str, ...]:
    """Every numeric, non-flag column: what a profile averages when the domain names none."""
    return tuple(
        str(c)
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c]) and c != "segment"
    )


def segment_profiles(
    cohort: pd.DataFrame,
    labels: np.ndarray,
    rules: Sequence[Rule] | None = None,
    shareable: bool = False,
    means: Sequence[str] | None = None,
    profiling: Profiling | None = None,
) -> pd.DataFrame:
    """One row per segment: size, share, means of key features, shares, readmission rate, name.

    Parameters
    ----------
    cohort
        The cohort the labels belong to.
    labels
        Segment per row.
    rules
        Rules from :func:`optalloc.segments.rules.describe_segments`, used to name segments.
    shareable
        Suppress counts below 11 and blank the statistics of those segments.
    means
        Numeric columns to average (those absent from ``cohort`` are skipped); default: the
        profiling's ``means``, or every numeric column if it names none.
    profiling
        The domain's columns to average, share and show the top category of, and its words for
        names (:class:`Profiling`; default: none, generic names).
    """
    profiling = profiling or Profiling()
    labels = np.asarray(labels)
    frame = cohort.assign(segment=labels)
    groups = frame.groupby("segment", sort=True)
    profile = pd.DataFrame({"n": groups.size()})
    profile["share"] = profile["n"] / len(frame)
    if means is None:
        means = profiling.means or _numeric_columns(cohort)
    for column in means:
        if column in frame.columns:
            profile[f"mean_{column}"] = groups[column].mean()
    for name, (column, level) in profiling.shares.items():
        if column not in frame.columns:
            continue
        if level is None:  # a flag: the share where it is true
            profile[f"share_{name}"] = groups[column].mean().astype(float)
        else:
            profile[f"share_{name}"] = groups[column].apply(
                lambda s, level=level: float((s.astype(str) == level).mean())
            )
    for column in profiling.top:
        if column in frame.columns:
            profile[f"top_{column}"] = groups[column].agg(lambda s: s.astype(str).value_counts().index[0])
            profile[f"top_{column}_share"] = groups[column].agg(
                lambda s: float(s.astype(str).value_counts(normalize=True).iloc[0])
            )
    if OUTCOME in frame.columns:
        profile["readmitted"] = groups[OUTCOME].sum().astype(int)
        profile["readmission_rate"] = groups[OUTCOME].mean().astype(float)
    names = {r.segment: propose_name(r, profiling) for r in rules or ()}
    seen: dict[str, int] = {}
    ordered = []
    for segment in profile.index:
        name = names.get(int(segment), f"Segment {segment}")
        seen[name] = seen.get(name, 0) + 1
        ordered.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    profile.insert(0, "name", ordered)
    profile = profile.reset_index()
    if shareable:
        stats = [c for c in profile.columns if c.startswith(("mean_", "share", "top_")) or c == "readmission_rate"]
        profile = suppress_small_counts(profile, ["n"], derived=stats)
        if "readmitted" in profile.columns:  # a few readmissions in a large segment: hide their rate
            profile = suppress_small_counts(profile, ["readmitted"], derived=["readmission_rate"])
    return profile
