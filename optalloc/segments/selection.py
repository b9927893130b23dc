"""Choosing the number of segments: every candidate shown with several criteria, one rule, a verdict.

The rule in force (:func:`choose_k_by_gain`, used whenever the ensemble ran on shuffled copies):
the ``k`` whose consensus index most exceeds the consensus index of the same ensemble on the
sample with its columns shuffled independently (the *consensus gain*), or the largest ``k``
with a crisp consensus (PAC <= 0.05). A best gain below 0.2 (and nothing crisp) means the data
has no clear groups, and the verdict says so. On the overlapping cohorts of
:mod:`optalloc.cohort.synth_overlap` raw PAC and raw consensus drift to the boundary of the
range (PAC falls as ``k`` grows whatever the data), silhouette and Calinski-Harabasz favour
``k = 2``, and BIC of the mixture keeps falling (within-type correlations); the gain peaked at
the planted ``k`` (``benchmarks/bench_segments_hard.py``). The other criteria stay in the
table, and the chosen row's reason names which agree.

Correlated columns, measured (``benchmarks/RESULTS.md``): shuffling also removes correlations
between columns, so cutting one elongated cloud shows a gain too (breast cancer table: k = 3
or 4, "clear groups", ARI 0.34-0.62 against 2 classes). A null that keeps the correlations (a
Gaussian copula of the columns) called breast cancer "no clear groups" but also the wine
table, whose three classes the shuffle null finds (ARI 0.90-0.95), and moved one overlapping
transfusion cohort to k = 6; it was not kept. What is kept instead is a check by the gap
statistic against references uniform in the box of the sample's principal components
(Tibshirani, Walther & Hastie 2001): such a reference keeps the elongation, and its first
local maximum is 2 on breast cancer, 3 on wine, 5 on the planted transfusion cohorts and 5-8 on
the readmission ones (seeds 0-4; never below the planted 5); a smaller ``k``
than the gain's is chosen when its gain is clear (:func:`choose_k_by_gain`).

The older rule below (:func:`choose_k`) remains for ensembles run without shuffled copies.

For each candidate ``k`` the consensus matrix ``C`` (share of base clusterings, among those that
sampled both patients, that put them together; Monti et al. 2003) is summarised by

* **PAC**, the proportion of ambiguous clustering (Senbabaoglu et al. 2014): the share of
  patient pairs with ``0.1 < C_ij < 0.9``. A true structure is found again and again, so pairs
  are almost always together or almost always apart, and PAC is near 0. Too few or too many
  clusters force the base clusterings to cut real groups in different places, and PAC rises.
* the **consensus index**: mean ``C_ij`` over pairs in the same consensus segment (how often
  segment-mates were clustered together);
* the **silhouette** of the consensus partition in feature space (on the sample): how well
  separated the segments are, which PAC alone does not measure;
* the **smallest segment's share**, because a few outliers split off as a "segment" can look
  perfectly stable.

Rule (:func:`choose_k`):

1. drop candidates whose smallest segment holds less than ``min_share`` of patients;
2. keep the *stable* ones: PAC within ``pac_tolerance`` of the lowest PAC, or at most
   ``stable_pac`` (0.2: at least 80 % of patient pairs are consistently together or apart);
3. among those, keep the ones where separation peaks: a silhouette at least as high as at the
   neighbouring candidate ``k`` on both sides, and at least ``(1 - silhouette_tolerance)``
   times the best stable silhouette (25 % below it by default);
4. choose the largest remaining ``k`` (if none remains, the stable ``k`` with the best
   silhouette).

Steps 2-4 matter because patient populations are nested: a coarse split (young
haemoglobinopathy patients versus everyone else) can be even more reproducible than the finer
one (PAC 0.05 against 0.13 on one sample of the synthetic cohort), and the silhouette of mixed
numeric/categorical data tends to favour two groups. When a finer partition
is just as reproducible and nearly as well separated, it says more, so it wins. Requiring a
silhouette peak stops a discrete feature (1 or 2 units per visit) from splitting a real group
into two halves that are stable but less separated than the whole. The table says
for every ``k`` why it was or was not chosen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans
from sklearn.metrics import calinski_harabasz_score, silhouette_score

AMBIGUOUS_LOW = 0.1
AMBIGUOUS_HIGH = 0.9
# Above this lowest PAC no candidate is reproducible enough to call its segments natural groups.
WEAK_STRUCTURE_PAC = 0.3
# At or below this PAC a partition counts as stable even if a coarser one is more stable still.
STABLE_PAC = 0.2


def proportion_ambiguous(consensus: np.ndarray, low: float = AMBIGUOUS_LOW, high: float = AMBIGUOUS_HIGH) -> float:
    """PAC: share of off-diagonal pairs whose consensus lies strictly between ``low`` and ``high``.

    Pairs never sampled together are stored as NaN and left out. The matrix is symmetric, so
    counting over the full square (without building index arrays) gives the same share.
    """
    valid = np.isfinite(consensus)
    np.fill_diagonal(valid, False)
    ambiguous = (consensus > low) & (consensus < high) & valid
    total = int(valid.sum())
    return float(ambiguous.sum() / total) if total else float("nan")


def consensus_index(consensus: np.ndarray, labels: np.ndarray) -> float:
    """Mean consensus over pairs of distinct patients that share a consensus segment."""
    total, pairs = 0.0, 0
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        if len(members) < 2:
            continue
        block = np.nan_to_num(consensus[np.ix_(members, members)], nan=0.0)
        total += float(block.sum() - np.trace(block))
        pairs += len(members) * (len(members) - 1)
    return total / pairs if pairs else float("nan")


def log_dispersion(features: np.ndarray, labels: np.ndarray) -> float:
    """``log W_k``: log of the pooled within-segment sum of squared distances to the centroids."""
    total = 0.0
    for label in np.unique(labels):
        block = features[labels == label]
        total += float(((block - block.mean(axis=0)) ** 2).sum())
    return float(np.log(max(total, 1e-12)))


def pca_references(sample: np.ndarray, n_references: int, rng: np.random.RandomState) -> list[np.ndarray]:
    """Reference data sets for the gap statistic: uniform in the box of the sample's principal
    components, rotated back (Tibshirani, Walther & Hastie 2001, reference (b)).

    The box is aligned with the data's principal axes, so a reference keeps the sample's
    elongation (columns that move together) and its spread, but has no groups.
    """
    centred = sample - sample.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    scores = centred @ axes.T
    low, high = scores.min(axis=0), scores.max(axis=0)
    return [rng.uniform(low, high, size=scores.shape) @ axes for _ in range(int(n_references))]


def kmeans_log_dispersion(data: np.ndarray, k: int, seed: int) -> float:
    """``log W_k`` of k-means (3 starts) on ``data``; ``k = 1`` is the total sum of squares."""
    if k == 1:
        return float(np.log(max(float(((data - data.mean(axis=0)) ** 2).sum()), 1e-12)))
    inertia = KMeans(n_clusters=k, n_init=3, random_state=seed).fit(data).inertia_
    return float(np.log(max(float(inertia), 1e-12)))


def pca_gap(sample: np.ndarray, references: list[np.ndarray], k: int, seed: int = 0) -> tuple[float, float]:
    """Gap statistic at ``k`` against the principal-component box references, and its
    standard error ``sd * sqrt(1 + 1/B)``."""
    reference = np.array([kmeans_log_dispersion(r, k, seed) for r in references])
    gap = float(reference.mean()) - kmeans_log_dispersion(sample, k, seed)
    return gap, float(reference.std() * np.sqrt(1.0 + 1.0 / len(reference)))


def gap_choice(gaps: dict[int, tuple[float, float]]) -> int | None:
    """The first local maximum of the gap over consecutive ``k`` from 1 (``None`` if ``k = 1``
    is missing or the gap still rises at the last ``k``).

    This is the ``"firstmax"`` rule of R's ``cluster::clusGap``, not Tibshirani's
    ``gap(k) >= gap(k+1) - se(k+1)``: on overlapping types the gap rises slowly up to the
    planted ``k`` (steps of 0.01-0.02 against standard errors near 0.008 with 5 references),
    and the standard-error rule stopped early (k = 3 of 5 on one readmission cohort).
    """
    ks = sorted(gaps)
    if not ks or ks[0] != 1:
        return None
    for k in ks[:-1]:
        if k + 1 in gaps and gaps[k][0] >= gaps[k + 1][0]:
            return k
    return None


def summarise_k(
    k: int, consensus: np.ndarray, labels: np.ndarray, features: np.ndarray, random_state: int = 0
) -> dict[str, float]:
    """One row of the k-selection table for a consensus partition into ``k`` segments."""
    counts = np.bincount(labels)
    counts = counts[counts > 0]
    several = len(counts) > 1
    silhouette = (
        float(silhouette_score(features, labels, sample_size=min(len(labels), 3000), random_state=random_state))
        if several
        else float("nan")
    )
    pac = proportion_ambiguous(consensus)
    return {
        "k": int(k),
        "pac": pac,
        "stability": 1.0 - pac,
        "consensus_index": consensus_index(consensus, labels),
        "silhouette": silhouette,
        "calinski_harabasz": float(calinski_harabasz_score(features, labels)) if several else float("nan"),
        "log_dispersion": log_dispersion(features, labels),
        "min_segment_share": float(counts.min() / counts.sum()),
    }


def choose_k(
    table: pd.DataFrame,
    pac_tolerance: float = 0.05,
    min_share: float = 0.02,
    silhouette_tolerance: float = 0.25,
    stable_pac: float = STABLE_PAC,
) -> tuple[int, pd.DataFrame]:
    """Pick ``k`` by the documented rule; return it and the table with ``chosen`` and ``reason``."""
    table = table.sort_values("k").reset_index(drop=True).copy()
    large_enough = table["min_segment_share"] >= min_share
    pool = table[large_enough] if large_enough.any() else table
    best_pac = float(pool["pac"].min())
    pac_limit = max(best_pac + pac_tolerance, stable_pac)
    stable = pool[pool["pac"] <= pac_limit]
    silhouette = stable["silhouette"].fillna(-1.0)
    best_sil = float(silhouette.max())
    floor = best_sil - silhouette_tolerance * abs(best_sil)
    curve = table["silhouette"].fillna(-1.0).to_numpy()
    peak = pd.Series(
        [
            (i == 0 or curve[i] >= curve[i - 1]) and (i == len(curve) - 1 or curve[i] >= curve[i + 1])
            for i in range(len(curve))
        ],
        index=table.index,
    )
    separated = stable[(silhouette >= floor) & peak.loc[stable.index]]
    if separated.empty:
        chosen = int(stable.loc[silhouette.idxmax(), "k"])
    else:
        chosen = int(separated["k"].max())
    reasons = []
    for row in table.itertuples():
        sil = -1.0 if pd.isna(row.silhouette) else row.silhouette
        if row.k == chosen:
            reasons.append(
                f"chosen: stable (PAC {row.pac:.3f} <= {pac_limit:.3f}), silhouette {sil:.3f} "
                f"a peak, within {silhouette_tolerance:.0%} of the best stable ({best_sil:.3f}); largest such k"
                + (
                    f"; caution: no k is clearly stable (lowest PAC {best_pac:.2f} > {WEAK_STRUCTURE_PAC}), "
                    "so segments are a convenient partition rather than natural groups"
                    if best_pac > WEAK_STRUCTURE_PAC
                    else ""
                )
            )
        elif large_enough.any() and row.min_segment_share < min_share:
            reasons.append(
                f"smallest segment holds {row.min_segment_share:.1%} of patients (< {min_share:.0%}): "
                "outliers, not a segment"
            )
        elif row.pac > pac_limit:
            reasons.append(f"less stable: PAC {row.pac:.3f} > {pac_limit:.3f} (lowest {best_pac:.3f})")
        elif sil < floor:
            reasons.append(f"as stable, but less separated: silhouette {sil:.3f} vs {best_sil:.3f}")
        elif not peak.loc[row.Index]:
            reasons.append(f"as stable, but silhouette {sil:.3f} is not a peak: a neighbouring k separates better")
        else:
            reasons.append(f"as stable and separated, but k={chosen} describes more structure")
    table["chosen"] = table["k"] == chosen
    table["reason"] = reasons
    return chosen, table


# The consensus of clear groups beats the consensus of the same columns shuffled independently
# (no groups, same marginals) by at least this much; below it the data has no clear groups.
CLEAR_GAIN = 0.2
# At or below this PAC, the consensus is crisp: groups are clear whatever the shuffled copy does.
CRISP_PAC = 0.05
# Consensus gains this close to the best are a tie (the shuffled copies' consensus varies by about
# as much between draws); the gap statistic breaks it.
GAIN_TIE = 0.01


def _favoured(table: pd.DataFrame) -> dict[str, int]:
    """The k each side criterion would pick on its own (for the explanation)."""
    out: dict[str, int] = {}
    rows = table.sort_values("k").reset_index(drop=True)
    if rows["silhouette"].notna().any():
        out["silhouette"] = int(rows.loc[rows["silhouette"].idxmax(), "k"])
    if "calinski_harabasz" in rows and rows["calinski_harabasz"].notna().any():
        out["Calinski-Harabasz"] = int(rows.loc[rows["calinski_harabasz"].idxmax(), "k"])
    if "bic" in rows and rows["bic"].notna().any():
        out["BIC of the mixture"] = int(rows.loc[rows["bic"].idxmin(), "k"])
    if "icl" in rows and rows["icl"].notna().any():
        out["ICL of the mixture"] = int(rows.loc[rows["icl"].idxmin(), "k"])
    if "gap" in rows and rows["gap"].notna().any():
        # Tibshirani et al. (2001): the smallest k with gap(k) >= gap(k+1) - s(k+1).
        gap, se = rows["gap"].to_numpy(), rows["gap_se"].to_numpy()
        hits = [i for i in range(len(rows) - 1) if gap[i] >= gap[i + 1] - se[i + 1]]
        out["gap statistic"] = int(rows.loc[hits[0] if hits else int(np.nanargmax(gap)), "k"])
    return out


def _pca_gap_k(table: pd.DataFrame, gap_at_one: tuple[float, float] | None) -> int | None:
    """The k the principal-component gap statistic picks (``None`` without its columns)."""
    if gap_at_one is None or "gap_pca" not in table or table["gap_pca"].isna().all():
        return None
    gaps = {1: gap_at_one}
    gaps.update({int(r.k): (float(r.gap_pca), float(r.gap_pca_se)) for r in table.itertuples() if pd.notna(r.gap_pca)})
    return gap_choice(gaps)


def choose_k_by_gain(
    table: pd.DataFrame,
    min_share: float = 0.02,
    clear_gain: float = CLEAR_GAIN,
    crisp_pac: float = CRISP_PAC,
    gap_at_one: tuple[float, float] | None = None,
) -> tuple[int, pd.DataFrame, str]:
    """Pick the ``k`` whose consensus most exceeds that of structureless data; say if groups are clear.

    The table needs ``consensus_index`` and ``consensus_null`` (the same consensus on the
    sample with every column shuffled independently, see
    :class:`~optalloc.segments.ensemble.ConsensusClustering`). Their difference, the
    *consensus gain*, corrects the consensus index for what ``k`` clusters of noise would
    reach: raw PAC falls and raw consensus falls as ``k`` grows whatever the data, so both
    drift to the boundary of the range on overlapping groups, while the gain peaks where the
    partition is reproducible *because of* structure. Returns the chosen ``k``, the table
    with ``chosen`` and ``reason``, and a verdict in words.

    One exception: a ``k`` whose PAC is at most ``crisp_pac`` (pairs almost always together or
    always apart) has crisp groups; of those, the ``k`` with the largest gain is chosen (merging two
    well-separated groups, or splitting a wide one in a fixed place, can be crisp too; on blobs of
    unequal spread "the largest crisp k" chose 6 of 5 on two of five seeds). Groups separated along
    few columns make those columns' marginals multimodal, so the shuffled copy keeps clusters
    and the gain understates them; PAC does not.

    And one correction: shuffling columns also removes their correlations, so cutting a
    single elongated cloud (columns that move together) into pieces is more reproducible than
    cutting its shuffled copy, and the gain rewards such cuts. The gap statistic against
    references uniform in the box of the sample's principal components (columns
    ``gap_pca``, ``gap_pca_se``; ``gap_at_one`` its value at ``k = 1``) keeps the elongation.
    When it picks fewer segments than the gain (its first local maximum), and its ``k`` still has a
    clear gain, that ``k`` is chosen; when no ``k`` has a larger gap than ``k = 1``, the verdict
    says there are no clear groups. (Breast cancer table: the gain picked 3-4 segments of 2 classes, the gap 2.)
    """
    table = table.sort_values("k").reset_index(drop=True).copy()
    large_enough = table["min_segment_share"] >= min_share
    pool = table[large_enough] if large_enough.any() else table
    gain = pool["consensus_gain"].fillna(-np.inf)
    best = float(gain.max())
    crisp = pool[pool["pac"] <= crisp_pac]
    gap_k = _pca_gap_k(table, gap_at_one)
    by_gap = False
    if crisp.empty:
        chosen = int(pool.loc[gain[gain == best].index, "k"].max())
        fewer = pool[(pool["k"] == gap_k) & (pool["consensus_gain"] >= clear_gain)] if gap_k else pool.iloc[:0]
        if gap_k is not None and gap_k < chosen and not fewer.empty:
            chosen, by_gap = int(gap_k), True
    else:  # nearly every pair always together or always apart: crisp groups, whatever the null says
        chosen = int(crisp.loc[crisp["consensus_gain"].fillna(-np.inf).idxmax(), "k"])
    tied = pool[(pool["k"] == gap_k) & (pool["consensus_gain"] >= max(best - GAIN_TIE, clear_gain))]
    by_tie = gap_k is not None and gap_k != chosen and not tied.empty
    if by_tie and gap_k is not None:
        chosen, by_gap = gap_k, False
    # "No groups" needs more than a first maximum at 1 (on flat curves the gap at 2 can dip
    # below it, readmission cohort seed 11): no k may separate better than k = 1 does.
    no_groups_by_gap = (
        gap_k == 1 and crisp.empty and gap_at_one is not None and gap_at_one[0] >= float(table["gap_pca"].max())
    )
    others = _favoured(table)
    if gap_k is not None:
        others["gap statistic (principal-component reference)"] = gap_k
    agree = sorted(name for name, k in others.items() if k == chosen)
    differ = [f"{name} k={k}" for name, k in others.items() if k != chosen]
    chosen_row = table.loc[table["k"] == chosen].iloc[0]
    reasons = []
    for row in table.itertuples():
        if row.k == chosen and by_tie:
            reasons.append(
                f"chosen: its consensus gain {row.consensus_gain:.3f} ties with the best ({best:.3f}, within "
                f"{GAIN_TIE}), and the gap statistic against principal-component references picks it"
                + (
                    f"; also favoured by {', '.join(a for a in agree if 'principal' not in a)}"
                    if len(agree) > 1
                    else ""
                )
            )
        elif row.k == chosen and by_gap:
            reasons.append(
                f"chosen: the gap statistic against principal-component references picks k={chosen} (fewer than "
                f"the largest consensus gain, {best:.3f}, which also rewards cutting columns that move together), "
                f"and its consensus gain {row.consensus_gain:.3f} is clear"
                + (f"; also favoured by {', '.join(agree)}" if agree else "")
            )
        elif row.k == chosen and not crisp.empty:
            reasons.append(
                f"chosen: crisp (PAC {row.pac:.3f} <= {crisp_pac:.2f}: patient pairs are almost always together "
                "or always apart across runs), the crisp k with the largest consensus gain"
                + (f"; also favoured by {', '.join(agree)}" if agree else "")
                + (f"; other criteria: {', '.join(differ)}" if differ else "")
            )
        elif row.k == chosen:
            reasons.append(
                f"chosen: consensus {row.consensus_index:.3f} against {row.consensus_null:.3f} on shuffled "
                f"columns, the largest gain ({row.consensus_gain:.3f})"
                + (f"; also favoured by {', '.join(agree)}" if agree else "")
                + (f"; other criteria: {', '.join(differ)}" if differ else "")
            )
        elif large_enough.any() and row.min_segment_share < min_share:
            reasons.append(
                f"smallest segment holds {row.min_segment_share:.1%} of patients (< {min_share:.0%}): "
                "outliers, not a segment"
            )
        elif not crisp.empty:
            reasons.append(
                f"PAC {row.pac:.3f}"
                + (" also crisp, but a smaller consensus gain" if row.pac <= crisp_pac else " not crisp")
            )
        else:
            digits = 3 if round(row.consensus_gain, 3) != round(best, 3) else 4  # a near tie shows its digits
            reasons.append(f"consensus gain {row.consensus_gain:.{digits}f} below the best ({best:.{digits}f})")
    table["chosen"] = table["k"] == chosen
    table["reason"] = reasons
    if no_groups_by_gap:
        verdict = (
            "No clear groups: the gap statistic finds no more structure than in data of the same spread and "
            "correlations without groups (k = 1), although the consensus prefers "
            f"k = {chosen} (gain {best:.2f}). The {chosen} segments below are a convenient partition described by "
            "rules, not natural groups; ask for the number of segments you need (--k)."
        )
    elif best >= clear_gain or not crisp.empty:
        verdict = (
            f"Clear groups: the {chosen} segments are reproduced across resampled runs "
            f"(consensus {chosen_row.consensus_index:.2f}) far more than groups cut in the same data with its "
            f"columns shuffled ({chosen_row.consensus_null:.2f})."
        )
    else:
        verdict = (
            f"No clear groups: at every k the segments are barely more reproducible than segments of the same "
            f"columns shuffled (best gain {best:.2f} < {clear_gain:.2f}). The {chosen} segments below are a "
            "convenient partition described by rules, not natural groups; ask for the number of segments you "
            "need (--k) and use the rules as they are stated."
        )
    return chosen, table, verdict
