"""A mixture model for mixed clinical data: Gaussian numeric columns, categorical columns as categories.

A Gaussian mixture fitted to one-hot columns treats "diagnosis = CKD" as a number with a
variance, which collapses components onto rare categories or ignores them; a latent class /
latent profile model instead gives each component

* a mean and a variance per numeric column (standardised, log-transformed counts), and
* a share per level of each categorical column (a flag is a category with two levels),

with the columns independent within a component (the local independence of latent class
analysis). The log-likelihood of patient ``i`` in component ``j`` is then

``log pi_j + sum_c log N(x_ic; mu_jc, s2_jc) + sum_g log theta_jg[level_ig]``

With ``covariance_type="tied"`` the numeric columns instead share one full covariance matrix
across components, ``log N(x_i; mu_j, Sigma)``, as a linear discriminant does: columns that move
together within every group (a severity that raises age, frailty and admissions at once) are
then not counted as independent evidence. The categorical columns stay categories.

and EM alternates posterior memberships (E) with weighted means, variances and shares (M). A
variance floor (``reg_var``, in units of the standardised column) and a Dirichlet-like
smoothing of the shares (``smoothing`` pseudo-patients per level) keep components from
collapsing on a constant column or a rare level.

:meth:`MixedMixture.bic` and :meth:`MixedMixture.icl` score the fit for choosing ``k``
(lower is better): ``BIC = -2 log L + p log n`` with ``p`` free parameters, and ``ICL = BIC +
2 * (entropy of the memberships)``, which also penalises components that overlap.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy.linalg import solve_triangular
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import kmeans_plusplus
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted, validate_data


class MixedMixture(ClusterMixin, BaseEstimator):
    """Latent profile / latent class mixture of numeric and categorical columns (EM).

    Parameters
    ----------
    n_components
        Number of components.
    numeric
        Indices of the numeric columns of ``X`` (Gaussian; default: every column in no group).
    categorical
        Groups of column indices: each group is one categorical variable, one-hot encoded
        (any positive value marks the level); a group of one column is a flag (0 or not).
    n_init, max_iter, tol
        Restarts (the best log-likelihood is kept), EM iterations and the stopping change in
        mean log-likelihood per patient.
    reg_var
        Floor added to every variance (with ``"tied"``: to the diagonal of the covariance).
    smoothing
        Pseudo-patients spread over each categorical variable's levels in every M step.
    random_state
        Seed of the k-means++ starts.
    covariance_type
        ``"diag"``: one variance per numeric column and component (latent profile analysis);
        ``"tied"``: one full covariance of the numeric columns shared by all components.

    Attributes
    ----------
    weights_, means_, variances_, shares_ : fitted parameters (``shares_`` one array per group;
        with ``"tied"``, ``variances_`` is the diagonal of ``covariance_``)
    covariance_ : ndarray of shape (n_numeric, n_numeric) or None
        The shared covariance (``"tied"`` only).
    log_likelihood_ : float
        Total log-likelihood of the data the model was fitted on.
    n_samples_fit_ : int
    n_iter_ : int
        EM iterations of the kept start.
    n_features_in_ : int
    labels_ : ndarray
    """

    def __init__(
        self,
        n_components: int = 2,
        numeric: Sequence[int] | None = None,
        categorical: Sequence[Sequence[int]] = (),
        n_init: int = 3,
        max_iter: int = 200,
        tol: float = 1e-4,
        reg_var: float = 0.01,
        smoothing: float = 1.0,
        random_state: int | None = 0,
        covariance_type: str = "diag",
    ) -> None:
        self.n_components = n_components
        self.numeric = numeric
        self.categorical = categorical
        self.n_init = n_init
        self.max_iter = max_iter
        self.tol = tol
        self.reg_var = reg_var
        self.smoothing = smoothing
        self.random_state = random_state
        self.covariance_type = covariance_type

    def _split(self, X: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        in_groups = {int(j) for group in self.categorical for j in group}
        numeric = [j for j in range(X.shape[1]) if j not in in_groups] if self.numeric is None else list(self.numeric)
        onehots = []
        for group in self.categorical:
            block = X[:, list(group)] != 0
            if block.shape[1] == 1:  # a flag: two levels, off and on
                block = np.hstack([~block, block])
            else:  # levels beyond the encoder's kept ones: an "other" level
                block = np.hstack([block, ~block.any(axis=1, keepdims=True)])
            onehots.append(block.astype(np.float64))
        return X[:, numeric], onehots

    def _log_resp(self, num: np.ndarray, onehots: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Joint log-density ``log pi_j + log p(x_i | j)`` and per-patient log-likelihood."""
        log_joint = np.tile(np.log(self.weights_), (num.shape[0], 1))
        if num.shape[1] and self.covariance_ is not None:
            # Mahalanobis distances through the Cholesky factor: z = L^-1 (x - mu_j).
            factor = np.linalg.cholesky(self.covariance_)
            log_det = 2.0 * float(np.log(np.diag(factor)).sum())
            constant = -0.5 * (num.shape[1] * np.log(2.0 * np.pi) + log_det)
            for j, mean in enumerate(self.means_):
                z = solve_triangular(factor, (num - mean).T, lower=True)
                log_joint[:, j] += constant - 0.5 * np.einsum("ij,ij->j", z, z)
        elif num.shape[1]:
            precision = 1.0 / self.variances_
            log_joint += -0.5 * (
                (num**2) @ precision.T
                - 2.0 * num @ (self.means_ * precision).T
                + np.sum(self.means_**2 * precision, axis=1)
                + np.sum(np.log(2.0 * np.pi * self.variances_), axis=1)
            )
        for block, shares in zip(onehots, self.shares_):
            log_joint += block @ np.log(shares).T
        return log_joint, logsumexp(log_joint, axis=1)

    @staticmethod
    def _floors(num: np.ndarray, reg_var: float) -> np.ndarray:
        """Variance floor per numeric column: ``reg_var`` plus the rounding variance ``step^2 / 12``
        of a column recorded in steps (integers), so a component cannot sit on one value."""
        floors = np.full(num.shape[1], float(reg_var))
        for j in range(num.shape[1]):
            values = np.unique(num[:, j])
            if 1 < len(values) <= 50:
                floors[j] += float(np.median(np.diff(values))) ** 2 / 12.0
        return floors

    def _m_step(self, num: np.ndarray, onehots: list[np.ndarray], resp: np.ndarray) -> None:
        mass = resp.sum(axis=0) + 1e-10
        self.weights_ = mass / mass.sum()
        self.means_ = (resp.T @ num) / mass[:, None]
        if self.covariance_type == "tied":
            # Pooled within-component scatter sum_j sum_i r_ij (x_i - mu_j)(x_i - mu_j)^T over the
            # total membership, from centred columns (no cancellation between large sums).
            scatter = np.zeros((num.shape[1], num.shape[1]))
            for j, mean in enumerate(self.means_):
                centred = num - mean
                scatter += (centred * resp[:, j : j + 1]).T @ centred
            self.covariance_ = scatter / mass.sum() + np.diag(self.floors_)
            self.variances_ = np.diag(self.covariance_).copy()
        else:
            self.covariance_ = None
            self.variances_ = (resp.T @ num**2) / mass[:, None] - self.means_**2
            self.variances_ = np.maximum(self.variances_, 0.0) + self.floors_
        self.shares_ = []
        for block in onehots:
            counts = resp.T @ block + self.smoothing / block.shape[1]
            self.shares_.append(counts / counts.sum(axis=1, keepdims=True))

    def fit(self, X: np.ndarray, y: object = None, responsibilities: np.ndarray | None = None) -> MixedMixture:
        """EM from ``n_init`` k-means++ starts, keeping the best log-likelihood; or, given
        ``responsibilities`` (``n x n_components`` memberships, e.g. another model's segment
        probabilities), ``max_iter`` EM steps starting with an M step from them."""
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        if self.covariance_type not in ("diag", "tied"):
            raise ValueError(f"covariance_type must be 'diag' or 'tied'. Got {self.covariance_type!r} instead.")
        num, onehots = self._split(X)
        n = num.shape[0]
        k = int(self.n_components)
        if not 1 <= k <= n:
            raise ValueError(f"n_components must be between 1 and the number of rows ({n}). Got {k!r} instead.")
        self.floors_ = self._floors(num, self.reg_var)
        if responsibilities is not None:
            starts = [np.asarray(responsibilities, dtype=np.float64)]
            if starts[0].shape != (n, k):
                raise ValueError(f"responsibilities must have shape ({n}, {k}). Got {starts[0].shape} instead.")
        else:
            rng = check_random_state(self.random_state)
            start_space = np.hstack([num, *onehots]) if onehots else num
            starts = []
            for _ in range(max(1, int(self.n_init))):
                centres, _ = kmeans_plusplus(start_space, k, random_state=rng.randint(0, 2**31 - 1))
                distance = ((start_space[:, None, :] - centres[None, :, :]) ** 2).sum(axis=2)
                starts.append(np.eye(k)[distance.argmin(axis=1)])
        best: tuple[float, dict[str, object]] | None = None
        for resp in starts:
            total, iterations = self._em(num, onehots, resp)
            if best is None or total > best[0]:
                best = (total, {name: getattr(self, name) for name in self._PARAMETERS} | {"n_iter_": iterations})
        assert best is not None
        for name, value in best[1].items():
            setattr(self, name, value)
        self.log_likelihood_ = best[0]
        self.n_samples_fit_ = n
        self.n_levels_ = [block.shape[1] for block in onehots]
        self.n_numeric_ = num.shape[1]
        self.labels_ = self.predict(X)
        return self

    _PARAMETERS = ("weights_", "means_", "variances_", "covariance_", "shares_")

    def _em(self, num: np.ndarray, onehots: list[np.ndarray], resp: np.ndarray) -> tuple[float, int]:
        """EM from memberships ``resp`` (M step first); the total log-likelihood and the steps taken."""
        previous = -np.inf
        iterations = 0
        while iterations < max(1, int(self.max_iter)):
            iterations += 1
            self._m_step(num, onehots, resp)
            log_joint, log_lik = self._log_resp(num, onehots)
            resp = np.exp(log_joint - log_lik[:, None])
            mean = float(log_lik.mean())
            if mean - previous < self.tol:
                break
            previous = mean
        return float(log_lik.sum()), iterations

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Posterior membership of each row in each component."""
        check_is_fitted(self, "weights_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        num, onehots = self._split(X)
        log_joint, log_lik = self._log_resp(num, onehots)
        return np.exp(log_joint - log_lik[:, None])

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Most probable component per row."""
        return self.predict_proba(X).argmax(axis=1)

    def n_parameters(self) -> int:
        """Free parameters: weights, a mean per numeric column, the variances (per component)
        or the shared covariance, and the shares per level."""
        check_is_fitted(self, "weights_")
        k, p = len(self.weights_), self.n_numeric_
        spread = p * (p + 1) // 2 if self.covariance_type == "tied" else k * p
        return (k - 1) + k * p + spread + k * sum(levels - 1 for levels in self.n_levels_)

    def bic(self, X: np.ndarray | None = None) -> float:
        """``-2 log L + p log n`` on ``X`` (default: the data the model was fitted on)."""
        log_lik, n = self._score(X)
        return -2.0 * log_lik + self.n_parameters() * np.log(n)

    def icl(self, X: np.ndarray | None = None) -> float:
        """BIC plus twice the entropy of the posterior memberships."""
        check_is_fitted(self, "weights_")
        if X is None:
            raise ValueError("icl needs the data: pass X.")
        resp = np.clip(self.predict_proba(X), 1e-300, 1.0)
        entropy = -float(np.sum(resp * np.log(resp)))
        return self.bic(X) + 2.0 * entropy

    def _score(self, X: np.ndarray | None) -> tuple[float, int]:
        check_is_fitted(self, "weights_")
        if X is None:
            return self.log_likelihood_, self.n_samples_fit_
        X = validate_data(self, X, dtype=np.float64, reset=False)
        num, onehots = self._split(X)
        return float(self._log_resp(num, onehots)[1].sum()), num.shape[0]
