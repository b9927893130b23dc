"""Consensus (ensemble) clustering whose memory grows linearly with the number of patients.

Why an ensemble: k-means, Gaussian mixtures and Ward clustering each fail in their own way
(k-means on elongated groups, mixtures on discrete features, Ward on uneven sizes); groups that
all of them find, on resampled patients and on different feature subsets, are real structure
and not an artefact of one algorithm (Strehl & Ghosh 2002; Fred & Jain 2005; Monti et al. 2003).

How, and why it stays linear in ``n``:

1. Draw a sample of ``sample_size`` patients (1,000 by default). All pairwise work happens on it;
   a consensus (co-association) matrix of the whole cohort would need ``8 n^2`` bytes,
   80 GB at 100,000 patients.
2. Run ``n_base`` base clusterings, each on a random ``subsample`` (80 %) of the sample and
   optionally a random ``feature_fraction`` of the features, cycling through k-means, a
   diagonal Gaussian mixture and Ward agglomerative clustering, each for every candidate ``k``
   (Ward's tree is cut at every ``k``). Accumulate per ``k`` the co-association matrix
   ``C_ij`` = share of runs, among those drawing both ``i`` and ``j``, that put them in the
   same cluster (evidence accumulation), each run weighted by the stability of its algorithm
   (mean ARI between its runs on different subsamples), so a member whose partitions change
   with the patients drawn counts less. Feature subsets are off by default
   (``feature_fraction=1``): a run that drops the one feature defining a group (distance for
   remote patients) merges it, and on the synthetic cohort that halved the base partitions'
   agreement with the planted types and made the k choice erratic.
3. The consensus partition is the average-linkage tree on ``1 - C`` cut into ``k`` clusters.
   :mod:`optalloc.segments.selection` scores every ``k`` and picks one when
   ``n_clusters="auto"``. Besides PAC, consensus index, silhouette and Calinski-Harabasz, the
   same ensemble is run on ``n_null`` copies of the sample whose columns (each categorical
   variable's indicators as one block) are shuffled independently: same marginals, no groups.
   The consensus of the real data minus that of the shuffled copies (the *consensus gain*)
   decides ``k`` (checked by the gap statistic against references uniform in the box of the
   sample's principal components, which keep correlated columns' elongation), the shuffled
   copies' dispersion gives a second gap statistic, and a mixed-type
   mixture (:class:`~optalloc.segments.mixture.MixedMixture`) gives BIC and ICL per ``k``.
   A choice on the top of the range (or on its bottom, above 2) widens the range.
4. Every patient (sampled or not: the smoothed assignment also replaces the sample's raw
   consensus labels) is assigned by the mean of the segment probabilities of two
   classifiers trained on the sampled patients' consensus segments: a k-nearest-neighbour vote,
   which follows non-convex segment shapes that a nearest-centroid rule would cut, and a linear
   discriminant (one covariance shared by all segments), which draws smooth boundaries where
   segments overlap and accounts for columns that move together within a segment (severity
   raising age, frailty and admissions at once). On overlapping cohorts the neighbour vote
   alone copies the sample's noisy boundaries (ARI 0.71 against 0.75 for the mean; seeds 0-2 of
   :func:`optalloc.cohort.synth_overlap.synthesize_overlap`); on the easy cohort the
   discriminant alone cuts its curved groups (0.90 against 0.94). Linear in ``n``.
5. Those segment probabilities of *every* patient then weigh ``refine_steps`` (2) EM steps of a
   mixed-type mixture (:class:`~optalloc.segments.mixture.MixedMixture`, numeric columns
   with one covariance shared by the segments, categorical columns as categories): each
   segment's profile is re-estimated from the whole cohort instead of the 1,000 sampled
   patients, and each patient goes to the segment whose profile fits them best. Two steps,
   not convergence: the groups stay the consensus's, their boundaries are drawn from all the
   data (ARI on the overlapping readmission cohorts 0.676 -> 0.698, seeds 0-4; transfusion
   0.751 -> 0.771; easy cohort 0.937 -> 0.981; ``benchmarks/RESULTS.md``), whereas EM run to convergence drifts to its own, misspecified
   optimum (0.63-0.64 on three of five readmission seeds; more steps help the transfusion
   cohorts a little and the readmission ones not). Linear in ``n``.

Segments are numbered by decreasing size (0 is the largest), so labels are stable across runs
with the same ``random_state``.
"""

from __future__ import annotations

from collections.abc import Callable

import kmedoids
import numpy as np
import pandas as pd
from scipy.cluster.hierarchy import fcluster, linkage
from scipy.spatial.distance import squareform
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import KMeans
from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data
from threadpoolctl import threadpool_limits

from optalloc.segments.mixture import MixedMixture
from optalloc.segments.selection import (
    CLEAR_GAIN,
    choose_k,
    choose_k_by_gain,
    consensus_index,
    log_dispersion,
    pca_gap,
    pca_references,
    proportion_ambiguous,
    summarise_k,
)

BASE_ALGORITHMS = ("kmeans", "gmm", "agglomerative")
KNOWN_ALGORITHMS = (*BASE_ALGORITHMS, "mixture", "medoids")


def gower_distances(X: np.ndarray, blocks: list[list[int]]) -> np.ndarray:
    """Gower-type distances between the rows of a (small) sample of encoded patients.

    Numeric columns add ``|x_i - x_j| / sd`` and each categorical variable (an indicator block
    of ``X``, or a flag) adds 1 when the two patients differ in it (Gower 1971 sums
    per-variable dissimilarities). Measured alone (FasterPAM, k = 5, samples of 1,000,
    readmission seeds 0 / 4, transfusion 0 / 4): this 0.43 / 0.44, 0.52 / 0.48; the original
    range scaling of numeric columns, which lets one outlier shrink a column, 0.27 / 0.34,
    0.26 / 0.28; mismatches weighted by ``2 / sqrt(pi) / Gini impurity`` (every variable adding
    as much as a numeric column on average) 0.31 / 0.30, 0.36 / 0.30, because rare-ish flags
    then outweigh everything. ``m x m`` floats: call it on samples only.
    """
    m = len(X)
    distance = np.zeros((m, m))
    grouped = {j for b in blocks for j in b}
    for j in range(X.shape[1]):
        if j in grouped:
            continue
        column = X[:, j]
        sd = float(column.std())
        if sd > 0:
            distance += np.abs(column[:, None] - column[None, :]) / sd
    for block in blocks:
        values = X[:, block]
        level = values[:, 0] > 0 if len(block) == 1 else np.where(values.max(axis=1) > 0, values.argmax(axis=1), -1)
        distance += level[:, None] != level[None, :]
    return distance


def _medoid_partitions(X: np.ndarray, ks: list[int], seed: int, blocks: list[list[int]]) -> dict[int, np.ndarray]:
    """FasterPAM k-medoids (Schubert & Rousseeuw 2021, the ``kmedoids`` package) on Gower
    distances, one distance matrix for every ``k``."""
    distance = gower_distances(X, blocks)
    return {k: np.asarray(kmedoids.fasterpam(distance, k, random_state=seed, n_cpu=1).labels) for k in ks}


ProgressCallback = Callable[[int, int], None]


def _base_partitions(
    algorithm: str, X: np.ndarray, ks: list[int], seed: int, blocks: list[list[int]] | None = None
) -> dict[int, np.ndarray]:
    """Labels of one base clustering of ``X`` for every ``k`` in ``ks``.

    Ward's tree is built once and cut at every ``k``; k-means and the mixtures are fitted per
    ``k``. ``"mixture"`` is the mixed-type latent class/profile model
    (:class:`~optalloc.segments.mixture.MixedMixture`), with ``blocks`` the column groups of
    each categorical variable.
    """
    if algorithm == "mixture":
        return {
            k: MixedMixture(k, categorical=blocks or [], n_init=1, max_iter=50, tol=1e-3, random_state=seed)
            .fit(X)
            .labels_
            for k in ks
        }
    if algorithm == "medoids":
        return _medoid_partitions(X, ks, seed, blocks or [])
    if algorithm == "agglomerative":
        tree = linkage(X, method="ward")
        return {k: fcluster(tree, t=k, criterion="maxclust") - 1 for k in ks}
    if algorithm == "kmeans":
        return {k: KMeans(n_clusters=k, n_init=3, random_state=seed).fit_predict(X) for k in ks}
    if algorithm == "gmm":
        # A floor on the variances keeps one-hot columns from collapsing a component; a loose
        # tolerance is enough for a base partition that only votes.
        return {
            k: GaussianMixture(
                n_components=k,
                covariance_type="diag",
                reg_covar=0.05,
                tol=1e-2,
                max_iter=50,
                init_params="k-means++",
                random_state=seed,
            ).fit_predict(X)
            for k in ks
        }
    raise ValueError(f"unknown base algorithm {algorithm!r}; use one of {', '.join(BASE_ALGORITHMS)}")


def _fast_ari(a: np.ndarray, b: np.ndarray, k: int) -> float:
    """Adjusted Rand index of two labelings with labels in ``0..k-1`` (Hubert & Arabie 1985)."""
    n = len(a)
    if n < 2:
        return 0.0
    table = np.bincount(a * k + b, minlength=k * k).reshape(k, k).astype(np.float64)

    def pairs(x: np.ndarray) -> float:
        return float((x * (x - 1.0)).sum() / 2.0)

    index, rows, cols, total = pairs(table), pairs(table.sum(axis=1)), pairs(table.sum(axis=0)), n * (n - 1) / 2.0
    expected = rows * cols / total
    top = 0.5 * (rows + cols) - expected
    return float((index - expected) / top) if top > 0 else 1.0


class CoAssociation:
    """Votes of ``n_base`` perturbed clusterings of a sample, for several ``k`` at once.

    Stores, per ``k``, the stacked one-hot memberships ``H_k`` (``m x n_base*k``) and the
    draw indicators ``D`` (``m x n_base``); the co-association matrix is then
    ``C_k = (H_k H_k^T) / (D D^T)``, computed on demand with two matrix products instead of
    scattering every run into an ``m x m`` array.
    """

    def __init__(
        self,
        X: np.ndarray,
        ks: list[int],
        n_base: int,
        subsample: float,
        feature_fraction: float,
        algorithms: tuple[str, ...],
        rng: np.random.RandomState,
        blocks: list[list[int]] | None = None,
        weighting: str = "equal",
        weights: dict[int, np.ndarray] | None = None,
    ) -> None:
        m, p = X.shape
        n_rows = min(m, max(max(ks) + 1, int(round(subsample * m))))
        n_cols = max(1, int(round(feature_fraction * p)))
        self.drawn = np.zeros((m, n_base), dtype=np.float32)
        self.members = {k: np.zeros((m, n_base * k), dtype=np.float32) for k in ks}
        for run in range(n_base):
            rows = np.sort(rng.choice(m, size=n_rows, replace=False))
            cols = np.sort(rng.choice(p, size=n_cols, replace=False))
            seed = int(rng.randint(0, 2**31 - 1))
            self.drawn[rows, run] = 1.0
            position = {int(c): i for i, c in enumerate(cols)}
            kept = [[position[j] for j in b] for b in blocks or () if all(j in position for j in b)]
            labels = _base_partitions(algorithms[run % len(algorithms)], X[np.ix_(rows, cols)], ks, seed, kept)
            for k, lab in labels.items():
                self.members[k][rows, run * k + np.asarray(lab, dtype=int)] = 1.0
        self.algorithm_of_run = np.asarray([algorithms[run % len(algorithms)] for run in range(n_base)])
        if weights is not None:
            self.weights = {k: np.asarray(weights[k], dtype=float) for k in ks}
        elif weighting == "equal":
            self.weights = {k: np.ones(n_base) for k in ks}
        else:
            self.weights = {k: self._run_weights(k, n_base, weighting) for k in ks}

    def _pairwise_ari(self, k: int, n_base: int) -> np.ndarray:
        """ARI between every two runs at ``k``, on the patients both drew."""
        labels = self.members[k].reshape(len(self.drawn), n_base, k).argmax(axis=2)
        drawn = self.drawn > 0
        scores = np.zeros((n_base, n_base))
        for a in range(n_base):
            for b in range(a + 1, n_base):
                both = drawn[:, a] & drawn[:, b]
                scores[a, b] = scores[b, a] = _fast_ari(labels[both, a], labels[both, b], k)
        return scores

    def _run_weights(self, k: int, n_base: int, weighting: str) -> np.ndarray:
        """Weight of each run at ``k``.

        ``"agreement"``: its mean ARI with every other run, so a run that disagrees with the
        rest (a k-means start in a poor optimum) counts less. ``"stability"``: the mean ARI
        between runs of its *algorithm* on different subsamples, so an algorithm whose
        partitions change with the patients drawn (a diagonal mixture on one-hot columns, Ward
        on overlapping groups) counts less than one that finds the same groups every time.
        """
        scores = self._pairwise_ari(k, n_base)
        if weighting == "agreement":
            mean = scores.sum(axis=1) / max(n_base - 1, 1)
        elif weighting == "stability":
            mean = np.zeros(n_base)
            for algorithm in np.unique(self.algorithm_of_run):
                runs = np.flatnonzero(self.algorithm_of_run == algorithm)
                block = scores[np.ix_(runs, runs)]
                pairs = len(runs) * (len(runs) - 1)
                mean[runs] = block.sum() / pairs if pairs else 1.0
        else:
            raise ValueError(f"weighting must be 'equal', 'agreement' or 'stability'. Got {weighting!r} instead.")
        return np.maximum(mean, 0.0) + 1e-3

    def matrix(self, k: int) -> np.ndarray:
        """Co-association matrix for ``k`` (float32; NaN for pairs never drawn together).

        ``C_ij = sum_r w_r [i, j together in run r] / sum_r w_r [i, j both drawn in run r]``.
        """
        weights = self.weights[k].astype(np.float32)
        together = (self.members[k] * np.repeat(weights, k)) @ self.members[k].T
        both = (self.drawn * weights) @ self.drawn.T
        with np.errstate(divide="ignore", invalid="ignore"):
            together /= both  # 0/0: never drawn together, NaN
        return together


def consensus_partition(consensus: np.ndarray, k: int) -> np.ndarray:
    """Cut the average-linkage tree on ``1 - consensus`` into ``k`` clusters (labels 0..k-1)."""
    # Co-association is symmetric by construction (integer vote counts over a symmetric count).
    distance = np.subtract(1.0, consensus, dtype=np.float64)
    np.nan_to_num(distance, copy=False, nan=0.5)  # pairs never drawn together: undecided
    np.clip(distance, 0.0, 1.0, out=distance)
    np.fill_diagonal(distance, 0.0)
    tree = linkage(squareform(distance, checks=False), method="average")
    return fcluster(tree, t=k, criterion="maxclust") - 1


def _order_by_size(labels: np.ndarray) -> np.ndarray:
    """Relabel so that 0 is the largest cluster (ties by first appearance)."""
    counts = np.bincount(labels)
    first = np.array([np.flatnonzero(labels == c)[0] if counts[c] else len(labels) for c in range(len(counts))])
    order = np.lexsort((first, -counts))
    mapping = np.empty_like(order)
    mapping[order] = np.arange(len(order))
    return mapping[labels]


class ConsensusClustering(ClusterMixin, BaseEstimator):
    """Ensemble clustering by evidence accumulation on a sample, extended to every patient.

    Parameters
    ----------
    n_clusters
        Number of segments, or ``"auto"`` to choose it in ``k_range`` by stability and
        silhouette (:func:`optalloc.segments.selection.choose_k`).
    k_range
        Inclusive range of candidate ``k`` when ``n_clusters="auto"``.
    n_base
        Base clusterings per candidate ``k``.
    sample_size
        Patients on which the co-association matrix is built (its memory is
        ``8 * sample_size**2`` bytes, independent of the cohort size).
    subsample, feature_fraction
        Share of sampled patients and of features each base clustering sees.
    algorithms
        Base algorithms cycled through: ``"kmeans"``, ``"gmm"``, ``"agglomerative"`` (the
        default) and ``"mixture"``, the mixed-type latent class/profile model
        (:class:`~optalloc.segments.mixture.MixedMixture`; categorical variables from
        ``categorical_blocks``), and ``"medoids"``, FasterPAM k-medoids on Gower distances
        (:func:`gower_distances`). Neither is a default member. The mixture, added to the
        cycle, lowered the consensus gain and chose ``k = 4`` and ``k = 3`` on two of five
        overlapping transfusion cohorts (ARI 0.64, 0.50) with equal weights, and left the
        readmission ARI unchanged with stability weights (0.675 vs 0.676); it scores every
        ``k`` instead (BIC, ICL columns). The medoids, with stability weights, raised the
        consensus gain but lowered the mean ARI slightly (readmission 0.672 vs 0.676,
        transfusion 0.748 vs 0.751, seeds 0-4); alone they reach 0.43-0.52 against 0.62-0.72
        for k-means on the sample.
    n_neighbors
        Neighbours voting when assigning patients outside the sample.
    pac_tolerance, min_share, silhouette_tolerance
        Passed to :func:`~optalloc.segments.selection.choose_k` (used only when ``n_null=0``;
        ``min_share`` always).
    random_state
        Seed for the sample, the perturbations and every base clustering.
    n_null
        Shuffled copies of the sample the consensus is also built on (0: no consensus gain,
        the PAC/silhouette rule of :func:`~optalloc.segments.selection.choose_k` decides).
    categorical_blocks
        Column groups of ``X`` that encode one categorical variable (or one flag): shuffled
        together, and modelled as categories by the mixture
        (:meth:`optalloc.segments.features.CohortFeatures.blocks`).
    clear_gain
        Consensus gain at or above which the verdict is "clear groups".
    widen, max_k
        Candidates added when the choice sits on the boundary of the range, and the largest
        ``k`` ever tried.
    mixture_criteria
        Fit the mixed-type mixture per ``k`` for the BIC and ICL columns.
    weighting
        ``"stability"`` (the default: each base clustering weighted by the mean ARI between
        runs of its algorithm on different subsamples at that ``k``), ``"agreement"`` (by its
        mean ARI with every other run) or ``"equal"``. Stability is the default because it
        measured best (``benchmarks/RESULTS.md``, readmission cohorts seeds 0-4): k = 5 on 5 of 5
        seeds and mean ARI 0.676, against k = 5, 6, 5, 5, 5 and 0.667 with equal weights; on
        the readmission cohorts the diagonal mixture and Ward partitions change with the
        patients drawn (ARI 0.23-0.44 with the planted types, k-means 0.62) and now count less.
    null_weights
        ``"real"`` (default): the shuffled copies' consensus uses the run weights measured on
        the real sample, so weighting cannot make structureless data look reproducible (an
        ensemble weighted by its own agreement on shuffled data favours the runs that agree on
        an arbitrary cut, which is why agreement weights used to lower the consensus gain);
        ``"own"``: each shuffled copy weighs its runs itself.
    n_gap_references
        Reference data sets, uniform in the box of the sample's principal components, for the
        gap statistic that checks the consensus gain's ``k`` when ``n_clusters="auto"``
        (:func:`~optalloc.segments.selection.choose_k_by_gain`; 0: not computed).
    refine_steps
        EM steps of the tied mixed-type mixture that re-draws the segments' boundaries from
        every patient (see the module docstring, step 5; 0: the neighbour vote and discriminant
        assign). Skipped when a step would empty a segment.

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
    n_clusters_ : int
    k_table_ : pandas.DataFrame
        One row per candidate ``k``: PAC, stability, consensus index, silhouette,
        Calinski-Harabasz, the shuffled copies' consensus and PAC, consensus gain, gap statistic,
        BIC, ICL, smallest segment share, ``chosen`` and ``reason``.
    verdict_ : str
        Whether the data has clear groups, in words.
    gap_at_one_ : tuple of float or None
        Principal-component gap statistic and its standard error at ``k = 1``.
    partitions_ : dict of int to ndarray
        Consensus labels of the sampled rows for every candidate ``k``.
    sample_indices_ : ndarray
        Rows of ``X`` the consensus was built on.
    sample_labels_ : ndarray
        Consensus labels of the sampled rows.
    consensus_ : ndarray of shape (len(sample_indices_), len(sample_indices_))
        Co-association matrix of the sample for the chosen ``k``.
    classifier_ : KNeighborsClassifier
    discriminant_ : LinearDiscriminantAnalysis or None
        Together give the segment probabilities the refinement starts from.
    refiner_ : MixedMixture or None
        Assigns patients (:meth:`predict`) when refined; its component ``segment_order_[s]`` is
        segment ``s``.
    """

    def __init__(
        self,
        n_clusters: int | str = "auto",
        k_range: tuple[int, int] = (2, 8),
        n_base: int = 20,
        sample_size: int = 1000,
        subsample: float = 0.8,
        feature_fraction: float = 1.0,
        algorithms: tuple[str, ...] = BASE_ALGORITHMS,
        n_neighbors: int = 15,
        pac_tolerance: float = 0.05,
        min_share: float = 0.02,
        silhouette_tolerance: float = 0.25,
        random_state: int | None = 0,
        n_null: int = 3,
        categorical_blocks: list[list[int]] | None = None,
        clear_gain: float = CLEAR_GAIN,
        widen: int = 3,
        max_k: int = 15,
        mixture_criteria: bool = True,
        weighting: str = "stability",
        null_weights: str = "real",
        n_gap_references: int = 5,
        refine_steps: int = 2,
    ) -> None:
        self.n_clusters = n_clusters
        self.k_range = k_range
        self.n_base = n_base
        self.sample_size = sample_size
        self.subsample = subsample
        self.feature_fraction = feature_fraction
        self.algorithms = algorithms
        self.n_neighbors = n_neighbors
        self.pac_tolerance = pac_tolerance
        self.min_share = min_share
        self.silhouette_tolerance = silhouette_tolerance
        self.random_state = random_state
        self.n_null = n_null
        self.categorical_blocks = categorical_blocks
        self.clear_gain = clear_gain
        self.widen = widen
        self.max_k = max_k
        self.mixture_criteria = mixture_criteria
        self.weighting = weighting
        self.null_weights = null_weights
        self.n_gap_references = n_gap_references
        self.refine_steps = refine_steps

    def _candidates(self, n: int) -> list[int]:
        if self.n_clusters == "auto":
            low, high = self.k_range
            if not (isinstance(low, int | np.integer) and isinstance(high, int | np.integer) and 2 <= low <= high):
                raise ValueError(f"k_range must be two integers 2 <= low <= high. Got {self.k_range!r} instead.")
            candidates = list(range(int(low), int(high) + 1))
        elif isinstance(self.n_clusters, int | np.integer) and self.n_clusters >= 1:
            candidates = [int(self.n_clusters)]
        else:
            raise ValueError(f"n_clusters must be 'auto' or a positive integer. Got {self.n_clusters!r} instead.")
        if max(candidates) >= n:
            raise ValueError(f"{n} patients cannot form {max(candidates)} segments; use fewer segments.")
        unknown = set(self.algorithms) - set(KNOWN_ALGORITHMS)
        if unknown or not self.algorithms:
            raise ValueError(f"algorithms must be taken from {KNOWN_ALGORITHMS}. Got {self.algorithms!r} instead.")
        return candidates

    def fit(self, X: np.ndarray, y: object = None, progress: ProgressCallback | None = None) -> ConsensusClustering:
        """Build the consensus on a sample, choose ``k`` if asked, and label every row of ``X``.

        ``progress(done, total)`` is called after each candidate ``k`` (for a progress bar).
        """
        X = validate_data(self, X, dtype=[np.float32, np.float64], ensure_min_samples=2)
        n = X.shape[0]
        candidates = self._candidates(n)
        rng = check_random_state(self.random_state)
        m = min(n, int(self.sample_size))
        self.sample_indices_ = np.sort(rng.choice(n, size=m, replace=False))
        sample = np.asarray(X[self.sample_indices_], dtype=np.float64)
        # The base clusterings are many small problems: thread start-up and OpenMP spinning on a
        # shared machine cost more than they save (3 s single-threaded vs 10 s on 2 busy cores).
        with threadpool_limits(limits=1):
            self._fit_sample(sample, candidates, rng, progress)
        neighbours = max(1, min(int(self.n_neighbors), m))
        self.classifier_ = KNeighborsClassifier(n_neighbors=neighbours, algorithm="brute")
        self.discriminant_ = LinearDiscriminantAnalysis()
        self.refiner_: MixedMixture | None = None
        self._fit_assigners(sample)
        # Sampled patients too: one assignment rule for every patient, and the smoothed
        # boundaries beat the sample's raw consensus labels where segments overlap (ARI +0.006
        # to +0.012 on overlapping cohorts, within 0.005 either way on the easy one).
        proba = self._vote_proba(X)
        labels = proba.argmax(axis=1)
        segments = self.classifier_.classes_
        if int(self.refine_steps) > 0 and len(segments) > 1:
            refiner = MixedMixture(
                len(segments),
                categorical=[list(b) for b in self.categorical_blocks or ()],
                max_iter=int(self.refine_steps),
                covariance_type="tied",
            ).fit(X, responsibilities=proba)
            refined = refiner.labels_  # its fit ends with the E step over every row
            if len(np.unique(refined)) == len(segments):  # a step emptied a segment: keep the vote
                self.refiner_, labels = refiner, refined
        labels = segments[labels].astype(int)
        # Number segments by their size in the whole cohort, not just in the sample.
        counts = np.bincount(labels, minlength=int(self.sample_labels_.max()) + 1)  # type: ignore[has-type]
        mapping = np.empty(len(counts), dtype=int)
        mapping[np.argsort(-counts, kind="stable")] = np.arange(len(counts))
        self.segment_order_ = np.argsort(mapping)  # segment s is the refiner's component segment_order_[s]
        self.sample_labels_ = mapping[self.sample_labels_]  # type: ignore[has-type]
        self._fit_assigners(sample)
        self.labels_ = mapping[labels]
        return self

    def _evaluate(
        self, sample: np.ndarray, ks: list[int], rng: np.random.RandomState
    ) -> tuple[list[dict[str, float]], dict[int, np.ndarray], dict[int, CoAssociation]]:
        """k-table rows, consensus partitions and votes for the candidates ``ks`` (all > 1)."""
        m = len(sample)
        votes = self._votes(sample, ks, rng)
        rows, partitions = [], {}
        for k in ks:
            consensus = votes.matrix(k)
            partitions[k] = _order_by_size(consensus_partition(consensus, k))
            rows.append(summarise_k(k, consensus, partitions[k], sample, random_state=0))
            del consensus
        # The same consensus on structureless data with the same marginals: every column
        # (every categorical variable's indicator block) shuffled independently.
        blocks = self._blocks(sample.shape[1])
        null: dict[int, list[tuple[float, float, float]]] = {k: [] for k in ks}
        for _ in range(int(self.n_null)):
            shuffled = np.empty_like(sample)
            for block in blocks:
                shuffled[:, block] = sample[rng.permutation(m)][:, block]
            null_votes = self._votes(shuffled, ks, rng, votes.weights if self.null_weights == "real" else None)
            for k in ks:
                consensus = null_votes.matrix(k)
                labels = consensus_partition(consensus, k)
                null[k].append(
                    (
                        consensus_index(consensus, labels),
                        proportion_ambiguous(consensus),
                        log_dispersion(shuffled, labels),
                    )
                )
            del null_votes
        numeric = sorted(set(range(sample.shape[1])) - {j for b in (self.categorical_blocks or ()) for j in b})
        for row in rows:
            k = int(row["k"])
            if null[k]:
                values = np.asarray(null[k], dtype=float)
                row["consensus_null"] = float(values[:, 0].mean())
                row["consensus_gain"] = row["consensus_index"] - row["consensus_null"]
                row["pac_null"] = float(values[:, 1].mean())
                row["gap"] = float(values[:, 2].mean()) - row["log_dispersion"]
                row["gap_se"] = float(values[:, 2].std() * np.sqrt(1.0 + 1.0 / len(values)))
            if self._gap_references:
                row["gap_pca"], row["gap_pca_se"] = pca_gap(sample, self._gap_references, k, self._gap_seed)
            if self.mixture_criteria:
                mixture = MixedMixture(
                    k,
                    numeric=numeric,
                    categorical=[list(b) for b in self.categorical_blocks or ()],
                    n_init=2,
                    max_iter=100,
                    random_state=int(rng.randint(0, 2**31 - 1)),
                ).fit(sample)
                row["bic"] = mixture.bic()
                row["icl"] = mixture.icl(sample)
        return rows, partitions, dict.fromkeys(ks, votes)

    def _votes(
        self, data: np.ndarray, ks: list[int], rng: np.random.RandomState, weights: dict[int, np.ndarray] | None = None
    ) -> CoAssociation:
        """The base clusterings' co-association votes on ``data`` (the sample, or a shuffled copy
        of it for the null reference), with this ensemble's settings; ``weights`` (the real
        sample's run weights) are imposed on the shuffled copies."""
        return CoAssociation(
            data,
            ks,
            self.n_base,
            self.subsample,
            self.feature_fraction,
            tuple(self.algorithms),
            rng,
            self.categorical_blocks,
            self.weighting,
            weights,
        )

    def _blocks(self, p: int) -> list[list[int]]:
        grouped = [list(b) for b in self.categorical_blocks or ()]
        taken = {j for b in grouped for j in b}
        return [[j] for j in range(p) if j not in taken] + grouped

    def _fit_sample(
        self, sample: np.ndarray, candidates: list[int], rng: np.random.RandomState, progress: ProgressCallback | None
    ) -> None:
        """Consensus matrices, partitions and the k table on the sample; sets the chosen k.

        When ``k`` is chosen and lands on the top of the range (or on its bottom, above 2),
        the range is widened by ``widen`` candidates and scored again, up to ``max_k``; when no
        candidate shows clear groups, it is widened upwards once more before saying so.
        """
        m = len(sample)
        ks = [k for k in candidates if k > 1]
        self._gap_references: list[np.ndarray] = []
        self.gap_at_one_: tuple[float, float] | None = None
        if self.n_clusters == "auto" and int(self.n_gap_references) > 0:
            # Its own random stream, so the ensemble's draws are the same with or without it.
            gap_rng = np.random.RandomState(check_random_state(self.random_state).randint(0, 2**31 - 1))
            self._gap_seed = int(gap_rng.randint(0, 2**31 - 1))
            self._gap_references = pca_references(sample, int(self.n_gap_references), gap_rng)
            self.gap_at_one_ = pca_gap(sample, self._gap_references, 1, self._gap_seed)
        rows: list[dict[str, float]] = []
        partitions: dict[int, np.ndarray] = {}
        votes: dict[int, CoAssociation] = {}
        step = 0
        widened_unclear = False
        while ks:
            new_rows, new_partitions, new_votes = self._evaluate(sample, ks, rng)
            rows += new_rows
            partitions.update(new_partitions)
            votes.update(new_votes)
            step += 1
            if progress is not None:
                progress(step, step + 1)
            if self.n_clusters != "auto" or not int(self.widen):
                break
            chosen, table, _ = self._choose(pd.DataFrame(rows))
            tried = sorted(partitions)
            ks = []
            unclear = bool(table["consensus_gain"].max() < self.clear_gain) if "consensus_gain" in table else False
            if (chosen == tried[-1] or (unclear and not widened_unclear)) and tried[-1] < min(int(self.max_k), m - 1):
                widened_unclear = widened_unclear or chosen != tried[-1]
                ks = list(range(tried[-1] + 1, min(tried[-1] + int(self.widen), int(self.max_k), m - 1) + 1))
            elif chosen == tried[0] and chosen > 2:
                ks = list(range(max(2, chosen - int(self.widen)), chosen))
        if progress is not None:
            progress(step + 1, step + 1)
        if 1 in candidates:
            rows.append(
                {
                    "k": 1,
                    "pac": 0.0,
                    "stability": 1.0,
                    "consensus_index": 1.0,
                    "silhouette": float("nan"),
                    "min_segment_share": 1.0,
                }
            )
            partitions[1] = np.zeros(m, dtype=int)
        chosen, table, verdict = self._choose(pd.DataFrame(rows))
        self._gap_references = []  # only needed while choosing
        self.n_clusters_ = chosen
        self.k_table_ = table
        self.verdict_ = verdict
        self.partitions_ = partitions
        self.consensus_ = votes[chosen].matrix(chosen) if chosen > 1 else np.ones((m, m), dtype=np.float32)
        self.sample_labels_ = np.asarray(partitions[chosen])

    def _choose(self, table: pd.DataFrame) -> tuple[int, pd.DataFrame, str]:
        if self.n_clusters != "auto":
            k = int(self.n_clusters)  # type: ignore[arg-type]
            table = table.sort_values("k").reset_index(drop=True)
            table["chosen"] = table["k"] == k
            table["reason"] = ["asked for" if c else "" for c in table["chosen"]]
            verdict = ""
            if "consensus_gain" in table and k > 1:
                gain = float(table.loc[table["chosen"], "consensus_gain"].iloc[0])
                verdict = f"{k} segments as asked; their consensus gain over shuffled columns is {gain:.2f}" + (
                    " (clear groups)."
                    if gain >= self.clear_gain
                    else f" (below {self.clear_gain:.2f}: not natural groups, a partition described by rules)."
                )
            return k, table, verdict
        if "consensus_gain" in table and table["consensus_gain"].notna().any():
            return choose_k_by_gain(table, self.min_share, self.clear_gain, gap_at_one=self.gap_at_one_)
        chosen, table = choose_k(table, self.pac_tolerance, self.min_share, self.silhouette_tolerance)
        return chosen, table, ""

    def _fit_assigners(self, sample: np.ndarray) -> None:
        self.classifier_.fit(sample, self.sample_labels_)  # type: ignore[has-type]
        several = len(np.unique(self.sample_labels_)) > 1  # type: ignore[has-type]
        self.discriminant_ = LinearDiscriminantAnalysis().fit(sample, self.sample_labels_) if several else None  # type: ignore[has-type]

    def _vote_proba_chunk(self, chunk: np.ndarray) -> np.ndarray:
        proba = self.classifier_.predict_proba(chunk)
        if self.discriminant_ is not None:
            proba = 0.5 * (proba + self.discriminant_.predict_proba(chunk))
        return proba

    def _vote_proba(self, X: np.ndarray, chunk_size: int = 100_000) -> np.ndarray:
        """The mean of the neighbour vote and the linear discriminant, per segment."""
        return self._chunked(X, self._vote_proba_chunk, chunk_size)

    def _chunked(
        self, X: np.ndarray, score: Callable[[np.ndarray], np.ndarray], chunk_size: int = 100_000
    ) -> np.ndarray:
        parts = [score(np.asarray(X[i : i + chunk_size], dtype=np.float64)) for i in range(0, X.shape[0], chunk_size)]
        return np.vstack(parts) if parts else np.empty((0, len(self.classifier_.classes_)))

    def predict_proba(self, X: np.ndarray, chunk_size: int = 100_000) -> np.ndarray:
        """Segment probabilities: the refined mixture's posterior, or (unrefined) the mean of the
        neighbour vote and the linear discriminant."""
        check_is_fitted(self, "classifier_")
        X = validate_data(self, X, dtype=[np.float32, np.float64], reset=False)
        if self.refiner_ is None:
            return self._vote_proba(X, chunk_size)
        return self._chunked(X, self.refiner_.predict_proba, chunk_size)[:, self.segment_order_]

    def predict(self, X: np.ndarray, chunk_size: int = 100_000) -> np.ndarray:
        """Assign rows to the fitted segments (see the module docstring, steps 4 and 5)."""
        proba = self.predict_proba(X, chunk_size)
        return self.classifier_.classes_[proba.argmax(axis=1)].astype(int) if len(proba) else np.empty(0, dtype=int)

    def fit_predict(self, X: np.ndarray, y: object = None, progress: ProgressCallback | None = None) -> np.ndarray:
        """Fit and return ``labels_``."""
        return self.fit(X, progress=progress).labels_
