"""Describe each segment by at most three readable conditions, with their coverage and precision.

A segment is only usable by clinicians and by scenario files if it can be stated as a rule:
``transfusions_per_28d >= 2 and distance_km < 50``. For each segment a beam search over
conditions of the form ``column >= t``, ``column < t`` (``t`` a rounded quantile of the
column; for whole-number columns the next observed value, so the words match the mask), ``column == 'value'`` (categories) and ``column == True/False`` (flags) looks for the
conjunction of at most ``max_conditions`` conditions that maximises the F-beta score
(``beta = 0.7``: precision counts a little more than coverage) of

* **coverage**  = share of the segment's patients the rule matches (recall), and
* **precision** = share of the matched patients who are in the segment.

The search runs on a sample (``search_rows``) of the *fitting* patients with a
condition-by-patient indicator matrix, so each step is one matrix product. A random share
``holdout`` (30 %) of the patients is kept out of the search: each rule reports its coverage and
precision on the fitting patients (``fit_``), on the held-out ones (``heldout_``: what to
expect on patients the rule was not tuned on) and on all patients. Where segments overlap, no
short rule may select a segment well; a rule whose held-out precision is below the planner's
``min_precision`` is flagged (``meets_precision`` False) and its ``note`` says so in words,
rather than shown as if it were good. Each rule is returned as plain words and as an expression that
:meth:`pandas.DataFrame.eval` (and ``query``) evaluate to the same mask, so scenario files can
use it as an eligibility filter.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from optalloc.cohort.schema import CATEGORICAL_FEATURES, NUMERIC_FEATURES

#: Column and category words a rule uses; the domain declares them (``Declaration.words``) and
#: passes them in, so this module names no dataset's columns. Without a word, underscores
#: become spaces.
Vocabulary = Mapping[str, str]
QUANTILES = np.linspace(0.05, 0.95, 19)
MAX_LEVELS = 30
# The search maximises F-beta; beta < 1 weighs precision more than coverage, because a rule
# used as an eligibility filter should above all select the right patients.
BETA = 0.7


def value_words(value: str, vocabulary: Vocabulary | None = None) -> str:
    """A column or category value in words: ``ckd_anaemia`` -> ``CKD anaemia`` when the
    vocabulary says so, else ``ckd anaemia``."""
    return (vocabulary or {}).get(value, value.replace("_", " "))


def _nice(value: float) -> float:
    """Round a threshold to two significant digits (47.3 -> 47, 1.83 -> 1.8, 0.0123 -> 0.012)."""
    if value == 0 or not np.isfinite(value):
        return float(value)
    return float(f"{value:.2g}")


@dataclass(frozen=True)
class Condition:
    """One condition ``column op value`` with ``op`` in ``>=``, ``<``, ``==``."""

    column: str
    op: str
    value: float | str | bool

    def expression(self) -> str:
        """pandas ``eval``/``query`` syntax: ``age >= 65``, ``diagnosis == 'thalassaemia'``."""
        name = self.column if self.column.isidentifier() else f"`{self.column}`"
        if isinstance(self.value, bool | np.bool_):
            return f"{name} == {bool(self.value)}"
        if isinstance(self.value, str):
            return f"{name} == {self.value!r}"
        return f"{name} {self.op} {self.value:g}"

    def words(self, vocabulary: Vocabulary | None = None) -> str:
        """The condition in plain words: ``age at least 65``, ``diagnosis is thalassaemia``."""
        label = value_words(self.column, vocabulary)
        if isinstance(self.value, bool | np.bool_):
            return label if self.value else f"no {label.removeprefix('a ')}"
        if isinstance(self.value, str):
            return f"{label} is {value_words(self.value, vocabulary)}"
        return f"{label} {'at least' if self.op == '>=' else 'below'} {self.value:g}"

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        values = frame[self.column]
        if isinstance(self.value, bool | np.bool_):
            return values.astype(bool).to_numpy() == bool(self.value)
        if isinstance(self.value, str):
            return values.astype(str).to_numpy() == self.value
        numbers = values.to_numpy(dtype=float)
        return numbers >= self.value if self.op == ">=" else numbers < self.value


@dataclass(frozen=True)
class Rule:
    """A conjunction of conditions describing one segment, with its quality on all patients.

    ``fit_*`` and ``heldout_*`` are the coverage and precision on the patients the search used
    and on those it never saw (NaN when no patients were held out).
    """

    segment: int
    conditions: tuple[Condition, ...]
    coverage: float
    precision: float
    matched: int
    size: int
    fit_coverage: float = float("nan")
    fit_precision: float = float("nan")
    heldout_coverage: float = float("nan")
    heldout_precision: float = float("nan")
    min_precision: float = 0.0
    vocabulary: Vocabulary = field(default_factory=dict, compare=False, repr=False)  # the words of :attr:`words`

    @property
    def meets_precision(self) -> bool:
        """Held-out precision (all patients' if none held out) at least ``min_precision``."""
        value = self.precision if np.isnan(self.heldout_precision) else self.heldout_precision
        return bool(value >= self.min_precision)

    @property
    def note(self) -> str:
        """Empty, or a plain statement that no short rule selects this segment well enough."""
        if self.meets_precision:
            return ""
        value = self.precision if np.isnan(self.heldout_precision) else self.heldout_precision
        value = 0.0 if np.isnan(value) else value
        return (
            f"No rule of at most 3 conditions reaches {self.min_precision:.0%} precision for this segment; "
            f"the best found selects {value:.0%} segment members on held-out patients. Do not use it as an "
            "eligibility filter without review."
        )

    @property
    def expression(self) -> str:
        return " and ".join(c.expression() for c in self.conditions) if self.conditions else "index == index"

    @property
    def words(self) -> str:
        return " and ".join(c.words(self.vocabulary) for c in self.conditions) if self.conditions else "all patients"

    def mask(self, frame: pd.DataFrame) -> np.ndarray:
        out = np.ones(len(frame), dtype=bool)
        for condition in self.conditions:
            out &= condition.mask(frame)
        return out


def candidate_conditions(frame: pd.DataFrame, numeric: Sequence[str], categorical: Sequence[str]) -> list[Condition]:
    """All conditions the search may use: rounded-quantile thresholds, categories and flags."""
    conditions: list[Condition] = []
    for column in numeric:
        values = frame[column]
        if pd.api.types.is_bool_dtype(values):
            conditions += [Condition(column, "==", True), Condition(column, "==", False)]
            continue
        numbers = values.to_numpy(dtype=float)
        integer = bool(np.all(numbers == np.round(numbers)))
        thresholds = np.quantile(numbers, QUANTILES)
        if integer:
            # Snap to the next observed value: the mask is unchanged, and "age at least 65"
            # on ages recorded as 60 or 70 reads as what it selects, "age at least 70".
            observed = np.unique(numbers)
            position = np.searchsorted(observed, np.round(thresholds), side="left")
            thresholds = observed[np.minimum(position, len(observed) - 1)]
        else:
            thresholds = np.array([_nice(t) for t in thresholds])
        for t in np.unique(thresholds):
            if numbers.min() < t <= numbers.max():  # both sides non-empty
                t = float(t)
                conditions += [Condition(column, ">=", t), Condition(column, "<", t)]
    for column in categorical:
        for level in frame[column].astype(str).value_counts().index[:MAX_LEVELS]:
            conditions.append(Condition(column, "==", str(level)))
    return conditions


def _f_beta(tp: np.ndarray, matched: np.ndarray, positives: float, beta: float) -> np.ndarray:
    """F-beta of precision ``tp / matched`` and coverage ``tp / positives``."""
    b2 = beta * beta
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(matched > 0, (1.0 + b2) * tp / (b2 * positives + matched), 0.0)


def _search(
    indicators: np.ndarray,
    conditions: list[Condition],
    target: np.ndarray,
    max_conditions: int,
    beam_width: int,
    min_gain: float,
    beta: float,
) -> tuple[int, ...]:
    """Beam search for the condition set (indices) with the best F-beta against ``target``."""
    positives = float(target.sum())
    keys = [(c.column, c.op if not isinstance(c.value, str) else c.value) for c in conditions]
    beam: list[tuple[float, tuple[int, ...], np.ndarray]] = [(0.0, (), np.ones(indicators.shape[1], dtype=np.float32))]
    best_score, best = 0.0, ()
    for _depth in range(max_conditions):
        scored: dict[tuple[int, ...], tuple[float, np.ndarray]] = {}
        for score, chosen, current in beam:
            tp = indicators @ (current * target)
            matched = indicators @ current
            fscore = _f_beta(tp, matched, positives, beta)
            used = {keys[i] for i in chosen}
            for i in np.argsort(-fscore, kind="stable")[: 4 * beam_width]:
                if keys[i] in used or fscore[i] < score + min_gain:
                    continue
                key = tuple(sorted(chosen + (int(i),)))
                if key not in scored:
                    scored[key] = (float(fscore[i]), current * indicators[i])
        if not scored:
            break
        ranked = sorted(scored.items(), key=lambda item: (-item[1][0], item[0]))[:beam_width]
        beam = [(score, key, mask) for key, (score, mask) in ranked]
        if beam[0][0] >= best_score + min_gain:
            best_score, best = beam[0][0], beam[0][1]  # type: ignore[assignment]
    return best


def describe_segments(
    frame: pd.DataFrame,
    labels: np.ndarray,
    numeric: Sequence[str] | None = None,
    categorical: Sequence[str] | None = None,
    max_conditions: int = 3,
    beam_width: int = 4,
    min_gain: float = 0.01,
    search_rows: int = 20_000,
    beta: float = BETA,
    random_state: int = 0,
    holdout: float = 0.3,
    min_precision: float = 0.7,
    words: Vocabulary | None = None,
) -> list[Rule]:
    """One :class:`Rule` per segment (in label order), searched on a sample, scored on all rows.

    Parameters
    ----------
    frame
        The cohort (raw, readable columns: rules are stated in the units users know).
    labels
        Segment label per row of ``frame``.
    numeric, categorical
        Columns rules may use; default: the schema's features present in ``frame``.
    max_conditions
        At most this many conditions per rule (3: more is no longer readable).
    min_gain
        A further condition must raise the score by at least this much, so rules stay short.
    beta
        Weight of coverage against precision in the F-beta score the search maximises.
    holdout
        Share of patients kept out of the search to measure each rule on unseen patients
        (0 searches on all; at least 50 patients are held out, else none).
    min_precision
        Held-out precision a rule must reach to be presented as usable (see :attr:`Rule.note`).
    words
        The domain's words for columns and category values (``Declaration.words``).
    """
    if not 1 <= max_conditions <= 3:
        raise ValueError(f"max_conditions must be 1, 2 or 3. Got {max_conditions!r} instead.")
    labels = np.asarray(labels)
    if len(labels) != len(frame):
        raise ValueError(f"labels has {len(labels)} entries but the cohort has {len(frame)} rows.")
    numeric = [c for c in (NUMERIC_FEATURES if numeric is None else numeric) if c in frame.columns]
    categorical = [c for c in (CATEGORICAL_FEATURES if categorical is None else categorical) if c in frame.columns]
    if not 0.0 <= holdout < 1.0:
        raise ValueError(f"holdout must be in [0, 1). Got {holdout!r} instead.")
    # A stream of its own: RandomState(seed) would draw the same permutation prefix as the
    # clustering's sample and hold out exactly the patients the consensus was built on.
    rng = np.random.default_rng([int(random_state), 0x5EED])
    n_held = int(round(holdout * len(frame)))
    held = np.zeros(len(frame), dtype=bool)
    if n_held >= 50:
        held[rng.choice(len(frame), size=n_held, replace=False)] = True
    fitting = np.flatnonzero(~held)
    rows = fitting
    if len(fitting) > search_rows:
        rows = np.sort(rng.choice(fitting, size=search_rows, replace=False))
    sample = frame.iloc[rows]
    conditions = candidate_conditions(sample, numeric, categorical)
    indicators = (
        np.vstack([c.mask(sample) for c in conditions]).astype(np.float32)
        if conditions
        else np.zeros((0, len(rows)), np.float32)
    )
    rules = []
    with threadpool_limits(limits=1):  # small products: threads cost more than they save
        for segment in np.unique(labels):
            target = (labels[rows] == segment).astype(np.float32)
            chosen = (
                _search(indicators, conditions, target, max_conditions, beam_width, min_gain, beta)
                if conditions
                else ()
            )
            # Categories first, then numeric conditions by column name.
            picked = tuple(
                sorted((conditions[i] for i in chosen), key=lambda c: (isinstance(c.value, float), c.column, c.op))
            )
            rule = score_rule(frame, labels, int(segment), picked)
            on_fit = score_rule(frame.iloc[fitting], labels[fitting], int(segment), picked)
            on_held = (
                score_rule(frame.iloc[np.flatnonzero(held)], labels[held], int(segment), picked) if held.any() else None
            )
            rules.append(
                replace(
                    rule,
                    fit_coverage=on_fit.coverage,
                    fit_precision=on_fit.precision,
                    heldout_coverage=on_held.coverage if on_held else float("nan"),
                    heldout_precision=on_held.precision if on_held else float("nan"),
                    min_precision=float(min_precision),
                    vocabulary=dict(words or {}),
                )
            )
    return rules


def score_rule(frame: pd.DataFrame, labels: np.ndarray, segment: int, conditions: tuple[Condition, ...]) -> Rule:
    """Coverage and precision of ``conditions`` for ``segment`` on every row of ``frame``."""
    in_segment = np.asarray(labels) == segment
    rule = Rule(segment, conditions, 0.0, 0.0, 0, int(in_segment.sum()))
    match = rule.mask(frame)
    hits = int((match & in_segment).sum())
    matched = int(match.sum())
    return Rule(
        segment=segment,
        conditions=conditions,
        coverage=hits / rule.size if rule.size else float("nan"),
        precision=hits / matched if matched else float("nan"),
        matched=matched,
        size=rule.size,
    )


def rules_frame(rules: Sequence[Rule]) -> pd.DataFrame:
    """Rules as a table: segment, expression, words, conditions, coverage and precision (all
    patients, fitting patients, held-out patients), whether precision is met, and a note."""
    return pd.DataFrame(
        {
            "segment": [r.segment for r in rules],
            "expression": [r.expression for r in rules],
            "words": [r.words for r in rules],
            "n_conditions": [len(r.conditions) for r in rules],
            "coverage": [r.coverage for r in rules],
            "precision": [r.precision for r in rules],
            "matched": [r.matched for r in rules],
            "size": [r.size for r in rules],
            "fit_coverage": [r.fit_coverage for r in rules],
            "fit_precision": [r.fit_precision for r in rules],
            "heldout_coverage": [r.heldout_coverage for r in rules],
            "heldout_precision": [r.heldout_precision for r in rules],
            "meets_precision": [r.meets_precision for r in rules],
            "note": [r.note for r in rules],
        }
    )
