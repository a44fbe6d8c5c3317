"""Gaussian mixture model in torch: EM, a log-likelihood differentiable in its input, sampling.

This is the normal model p(f | z=0) of the EUSIPCO 2017 paper (eq 4: a GMM with C = 16 diagonal components on
the D = 32 features). Its anomaly score is L(f) = -ln p(f | z=0) (**higher = more anomalous**); this module
only returns ``log_prob`` (**higher = more normal**) and leaves the sign to the callers.

Why not scikit-learn's ``GaussianMixture``? The Neyman-Pearson step back-propagates through ln p(F(x)) to the
feature extractor F, so the log-likelihood must be a torch function of its input, and Algorithm 1 re-runs a
few EM iterations on all normal features at every training step (:meth:`GaussianMixture.partial_em`), on the
GPU when there is one. Parameters move to and from scikit-learn with :meth:`GaussianMixture.to_sklearn` and
:meth:`GaussianMixture.from_sklearn`; the fitted attributes carry scikit-learn's names and layouts.
"""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from ._gmm_em import _MixtureState
from ._gmm_init import INITS
from ._gmm_sklearn import from_sklearn, to_sklearn
from ._threads import cpu_threads
from ._utils import as_float_tensor, check_positive, resolve_device

__all__ = ["GaussianMixture"]

_COV_TYPES = ("diag", "full")


class GaussianMixture(_MixtureState, BaseEstimator):
    """Gaussian mixture fitted by EM, in torch, with scikit-learn's parameter and attribute names.

    p(x) = sum_c w_c N(x | mu_c, Sigma_c)  (EUSIPCO 2017 eq 4, the normal model p(f | z=0)).

    Parameters
    ----------
    n_components : int
        Number of Gaussians C (the paper uses 16).
    covariance_type : {"full", "diag"}
        Full covariance matrices (the default, as scikit-learn's) or diagonal ones (the paper's choice; the NP
        detector and :class:`adskit.detectors.GMMDetector` ask for "diag"). The default was "diag" until
        2026-11-30: a user swapping scikit-learn's class for this one with default arguments got a diagonal model.
    tol : float
        EM stops when the mean log-likelihood (the lower bound, as in scikit-learn) changes by less than
        ``tol`` between two iterations. ``tol=0`` runs exactly ``max_iter`` iterations.
    max_iter : int
        Maximum number of EM iterations per initialisation.
    n_init : int
        Number of initialisations; the one with the highest final lower bound is kept.
    reg_covar : float
        Added to the diagonal of every covariance (>= 0). It is also the **floor**: a constant feature or a
        component sitting on duplicated points gets variance ``reg_covar`` there instead of 0 or a negative
        rounding error, so no NaN appears. For ``"full"``, if the Cholesky factorisation still fails the
        diagonal load is raised ten-fold, up to 6 times (``reg_covar * 1e6``), before a ValueError.
    init : {"kmeans", "kmeans++", "random_from_data"}
        How the start is made when no ``*_init`` array is given. ``"kmeans"`` (default): 8 k-means starts
        (greedy k-means++ seeding, ``2 + ln C`` candidates per centre, then at most 20 Lloyd iterations with
        scikit-learn's ``KMeans`` stopping rule, on 5,000 of the rows), run side by side on at most 30,000 random
        rows; EM on those
        rows from each of the 4 lowest-inertia distinct partitions (one M-step from the hard labels, then EM to
        ``tol`` or ``max_iter``), and the highest likelihood is the start of EM on all rows (see
        :mod:`adskit._gmm_init`). scikit-learn's ``init_params="kmeans"`` is one k-means start, which often
        leaves two centres in one true cluster, a local optimum EM keeps. ``"kmeans++"``: the default before
        issue 15, one k-means++ seeding and at most 10 Lloyd iterations, its hard labels turned into weights,
        means and covariances by one M-step. ``"random_from_data"``: the same from C distinct random rows.
    weights_init, means_init, precisions_init : array-like or None
        Optional starting parameters with scikit-learn's shapes ((C,), (C, D), (C, D) or (C, D, D)); any one
        given overrides the corresponding part of the ``init`` start (as scikit-learn does).
    warm_start : bool
        If True and the model is fitted, :meth:`fit` continues from the current parameters (one init).
    random_state : int or None
        Seed of the CPU ``torch.Generator`` used for initialisation (so CPU and GPU fits start alike).
        None draws a fresh seed.
    device : str or torch.device
        ``"auto"`` picks CUDA when present.
    dtype : torch.dtype or {"float64", "float32"}
        Compute dtype, default ``torch.float64``: EM's variance update E[x^2] - E[x]^2 and the sum of 1e5
        log-likelihoods lose digits in float32, and float64 reproduces scikit-learn to 1e-5. Pass float32 for
        speed (about 2x on a CPU, more on a GPU); the data are centred internally before EM, which keeps the
        float32 variance error near 1e-4 relative for well-separated clusters.

    Attributes
    ----------
    weights_ : np.ndarray [shape=(C,)]
    means_ : np.ndarray [shape=(C, D)]
    covariances_ : np.ndarray [shape=(C, D) for "diag", (C, D, D) for "full"]
    precisions_ : np.ndarray [same shape as covariances_]
    precisions_cholesky_ : np.ndarray [same shape]
        ``1/sqrt(var)`` for diag; for full the upper-triangular P with precision = P P^T (scikit-learn's).
    converged_ : bool
    n_iter_ : int
        EM iterations of the best init (of :meth:`fit`, plus any :meth:`partial_em` since).
    lower_bound_ : float
        Mean log-likelihood of the training data at the last E-step (higher = better fit).
    lower_bounds_ : list of float
        The lower bound at every iteration of the best init.
    n_features_in_ : int

    Notes
    -----
    Degenerate data never produce NaN:

    * a variance that would be 0 or negative (constant feature, duplicated points, float rounding in
      E[x^2] - E[x]^2) is floored at ``reg_covar``; full covariances get extra diagonal loading (see
      ``reg_covar``) if their Cholesky factorisation fails;
    * a component whose responsibility mass falls below 1e-8 n during EM (numerically empty) keeps its
      previous mean and covariance; its weight is its tiny mass (+ 10 eps, as scikit-learn), so it can
      recover later;
    * an empty k-means cluster at initialisation is re-seeded on a random data point with the global
      per-feature variance.

    EM internals use a component-major (C, n) layout. For ``"diag"``, each EM iteration is one pass over blocks of
    rows of the matrix [x, x*x] (m, 2D) of about 4 MB, built on the fly into one reused buffer (at most one block
    of the data is held): per block, two matrix products and one exp pass, summed into the M-step's statistics.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(500, 2))
    >>> gmm = GaussianMixture(n_components=2, random_state=0, device="cpu").fit(X)
    >>> gmm.score_samples(X[:3]).shape  # ln p(x), higher = more normal
    (3,)
    """

    def __init__(
        self,
        n_components: int = 1,
        *,
        covariance_type: str = "full",
        tol: float = 1e-3,
        max_iter: int = 100,
        n_init: int = 1,
        reg_covar: float = 1e-6,
        init: str = "kmeans",
        weights_init: Any = None,
        means_init: Any = None,
        precisions_init: Any = None,
        warm_start: bool = False,
        random_state: int | None = None,
        device: str | torch.device = "auto",
        dtype: torch.dtype | str = torch.float64,
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.max_iter = max_iter
        self.n_init = n_init
        self.reg_covar = reg_covar
        self.init = init
        self.weights_init = weights_init
        self.means_init = means_init
        self.precisions_init = precisions_init
        self.warm_start = warm_start
        self.random_state = random_state
        self.device = device
        self.dtype = dtype

    # ------------------------------------------------------------------ validation helpers

    def __repr__(self) -> str:
        return (
            f"GaussianMixture(n_components={self.n_components}, covariance_type={self.covariance_type!r}, "
            f"tol={self.tol}, max_iter={self.max_iter}, reg_covar={self.reg_covar}, device={self.device!r})"
        )

    def _check_params(self) -> None:
        if not isinstance(self.n_components, (int, np.integer)) or self.n_components < 1:
            raise ValueError(f"n_components: expected an integer >= 1, got {self.n_components!r}")
        if self.covariance_type not in _COV_TYPES:
            raise ValueError(f"covariance_type: expected one of {_COV_TYPES}, got {self.covariance_type!r}")
        if self.init not in INITS:
            raise ValueError(f"init: expected one of {INITS}, got {self.init!r}")
        check_positive(self.tol, "tol", strict=False)
        check_positive(self.reg_covar, "reg_covar", strict=False)
        for name in ("max_iter", "n_init"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValueError(f"{name}: expected an integer >= 1, got {v!r}")

    def _dtype(self) -> torch.dtype:
        dt = self.dtype
        if isinstance(dt, str):
            dt = {"float64": torch.float64, "float32": torch.float32}.get(dt)
        if dt not in (torch.float64, torch.float32):
            raise ValueError(f"dtype: expected torch.float64 or torch.float32, got {self.dtype!r}")
        return dt

    def _tensor(self, X: Any, name: str, *, min_rows: int = 1) -> torch.Tensor:
        """X as a (n, D) tensor of the compute dtype on the compute device (float64 numpy kept exact)."""
        if not isinstance(X, torch.Tensor):
            arr = np.asarray(X) if not hasattr(X, "toarray") else X
            if isinstance(arr, np.ndarray) and arr.dtype != object and np.issubdtype(arr.dtype, np.number):
                X = torch.from_numpy(np.ascontiguousarray(arr, dtype=np.float64))
        t = as_float_tensor(X, name, ndim=2, min_rows=min_rows)
        if hasattr(self, "_means") and t.shape[1] != self._means.shape[1]:
            raise ValueError(f"{name}: expected {self._means.shape[1]} features, got {t.shape[1]}")
        return t.to(device=self._device(), dtype=self._dtype())

    def _device(self) -> torch.device:
        if not hasattr(self, "_dev"):
            self._dev = resolve_device(self.device)
        return self._dev

    def _check_fitted(self) -> None:
        if not hasattr(self, "_means"):
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X) first")

    # ------------------------------------------------------------------ public API

    def fit(self, X: Any, y: Any = None) -> GaussianMixture:
        """Fit by EM (best of ``n_init`` starts), stopping when the lower bound changes by < ``tol``.

        Parameters
        ----------
        X : array-like or torch.Tensor [shape=(n_samples, n_features)]
            Training vectors; n_samples >= n_components, finite.
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        ValueError
            If a constructor parameter (including ``device``, ``dtype`` and the ``*_init`` arrays) is invalid,
            X is not a finite 2-D array with >= n_components rows (and, on a warm start, the fitted number of
            features), or a full covariance stays singular after diagonal loading.
        """
        self._check_params()
        self._dev = resolve_device(self.device)
        if not isinstance(X, torch.Tensor) and np.ndim(X) == 2 and len(X) < self.n_components:
            raise ValueError(f"X: expected at least n_components={self.n_components} rows, got {len(X)}")
        warm = self.warm_start and hasattr(self, "_means")
        if not warm:
            for attr in ("_means", "_covs", "_weights", "_prec_chol"):
                if hasattr(self, attr):
                    delattr(self, attr)
        X = self._tensor(X, "X", min_rows=self.n_components)
        if not warm:
            self._center = X.mean(0)
        data = self._prepare(X)
        g = self._generator()
        tol = float(self.tol)
        best: tuple[float, Any] | None = None
        with cpu_threads(self._dev):  # no more threads than idle cores (adskit._threads), restored after
            for _ in range(1 if warm else self.n_init):
                if not warm:
                    self._initialize(data, g)
                bounds = self._em(data, int(self.max_iter), tol)
                state = (self._weights, self._means, self._covs, self._prec_chol, self.converged_, bounds)
                if best is None or bounds[-1] > best[0]:
                    best = (bounds[-1], state)
        self._weights, self._means, self._covs, self._prec_chol, self.converged_, bounds = best[1]
        self.lower_bounds_ = bounds
        self.lower_bound_ = bounds[-1]
        self.n_iter_ = len(bounds)
        if not self.converged_ and tol > 0:
            from sklearn.exceptions import ConvergenceWarning

            warnings.warn(
                f"GaussianMixture did not converge in max_iter={self.max_iter} iterations (tol={tol}); "
                "raise max_iter or tol",
                ConvergenceWarning,
                stacklevel=2,
            )
        return self

    def partial_em(self, X: Any, n_iter: int = 1) -> GaussianMixture:
        """Run exactly ``n_iter`` EM iterations on X from the current parameters (the NP training warm start).

        Algorithm 1 of EUSIPCO 2017 re-estimates the GMM on all normal features after every update of the
        feature extractor; a few warm-started iterations track the moving features at a fraction of a fit.
        An unfitted model is first initialised as in :meth:`fit` (``init``, one start).

        Parameters
        ----------
        X : array-like or torch.Tensor [shape=(n_samples, n_features)]
        n_iter : int
            Number of EM iterations (>= 1); no tolerance test stops them early.

        Returns
        -------
        self
            ``lower_bound_`` is the mean log-likelihood at the last E-step, ``n_iter_`` grows by ``n_iter``,
            ``converged_`` says whether the last change of the lower bound was below ``tol``.

        Raises
        ------
        ValueError
            If ``n_iter`` is not an integer >= 1, a constructor parameter is invalid, X is not a finite 2-D
            array with >= n_components rows (and the fitted number of features), or a full covariance stays
            singular after diagonal loading.
        """
        if not isinstance(n_iter, (int, np.integer)) or n_iter < 1:
            raise ValueError(f"n_iter: expected an integer >= 1, got {n_iter!r}")
        self._check_params()
        fitted = hasattr(self, "_means")
        X = self._tensor(X, "X", min_rows=self.n_components)
        if not fitted:
            self._center = X.mean(0)
        data = self._prepare(X)
        if not fitted:
            self._initialize(data, self._generator())
            self.n_iter_, self.lower_bounds_ = 0, []
        bounds = self._em(data, int(n_iter), None)
        history = list(self.lower_bounds_) + bounds
        self.converged_ = len(history) > 1 and abs(history[-1] - history[-2]) < float(self.tol)
        self.lower_bounds_ = history
        self.lower_bound_ = bounds[-1]
        self.n_iter_ += len(bounds)
        return self

    def with_params(self, **params: Any) -> GaussianMixture:
        """A new mixture with some constructor parameters changed, starting from this one's fitted state.

        ``self`` is left as it is. The fitted parameters (shared, never modified in place) and the EM history
        carry over, so :meth:`partial_em`, or :meth:`fit` with ``warm_start=True``, continues from them: e.g.
        Algorithm 1's refresh with a new variance floor, ``gmm.with_params(reg_covar=floor).partial_em(F)``.

        Parameters
        ----------
        **params
            Constructor arguments to change (``reg_covar``, ``max_iter``, ``warm_start``, ``tol``, ...).

        Returns
        -------
        GaussianMixture
            Unfitted if ``self`` is.

        Raises
        ------
        ValueError
            If a name is not a constructor argument, or a fitted mixture would change ``n_components``,
            ``covariance_type``, ``device`` or ``dtype`` (its state would not fit them).
        """
        names = tuple(inspect.signature(type(self).__init__).parameters)[1:]
        unknown = sorted(set(params) - set(names))
        if unknown:
            raise ValueError(f"{unknown[0]}: not a parameter of GaussianMixture (expected one of {names})")
        fitted = hasattr(self, "_means")
        fixed = [k for k in ("n_components", "covariance_type", "device", "dtype") if k in params]
        if fitted and fixed:
            raise ValueError(f"{fixed[0]}: cannot change on a fitted mixture (its parameters would not fit)")
        new = type(self)(**{**{k: getattr(self, k) for k in names}, **params})
        if fitted:
            state = ("_center", "_weights", "_means", "_covs", "_prec_chol", "_dev", "converged_", "lower_bound_")
            for attr in (*state, "n_iter_"):
                if hasattr(self, attr):
                    setattr(new, attr, getattr(self, attr))
            new.lower_bounds_ = list(getattr(self, "lower_bounds_", []))
        return new

    def log_prob(self, X: torch.Tensor) -> torch.Tensor:
        """ln p(x) per row, differentiable with respect to X (higher = more normal).

        EUSIPCO 2017 eq 4: ln sum_c w_c N(x | mu_c, Sigma_c), computed with logsumexp; the anomaly score is
        its negative, L(f) = -ln p(f | z=0). The GMM parameters are constants here (no gradient).

        Parameters
        ----------
        X : torch.Tensor [shape=(n, n_features)]
            Any float dtype and device; computed in the model's dtype and device.

        Returns
        -------
        torch.Tensor [shape=(n,)]
            On X's device, in X's dtype (float32 if X is not floating point).

        Raises
        ------
        AttributeError
            If the mixture is not fitted.
        ValueError
            If X is not a torch.Tensor, or not a finite 2-D tensor with the fitted number of features.
        """
        self._check_fitted()
        if not isinstance(X, torch.Tensor):
            raise ValueError(f"X: expected a torch.Tensor (use score_samples for arrays), got {type(X).__name__}")
        out_dtype = X.dtype if X.is_floating_point() else torch.float32
        t = self._tensor(X, "X")
        Xc = t - self._center
        out = torch.logsumexp(self._weighted_log_prob(Xc), dim=1)
        return out.to(device=X.device, dtype=out_dtype)

    def score_samples(self, X: Any) -> np.ndarray:
        """ln p(x) per row as float64 numpy, shape (n,); higher = more normal (scikit-learn's convention)."""
        self._check_fitted()
        with torch.no_grad():
            t = self._tensor(X, "X")
            out = torch.logsumexp(self._weighted_log_prob(t - self._center), dim=1)
        return out.cpu().numpy().astype(np.float64)

    def score(self, X: Any, y: Any = None) -> float:
        """Mean ln p(x) over the rows of X (higher = better fit)."""
        return float(self.score_samples(X).mean())

    def predict_proba(self, X: Any) -> np.ndarray:
        """Responsibilities p(c | x), shape (n, C), rows sum to 1."""
        self._check_fitted()
        with torch.no_grad():
            t = self._tensor(X, "X")
            wlp = self._weighted_log_prob(t - self._center)
            out = (wlp - torch.logsumexp(wlp, 1, keepdim=True)).exp()
        return out.cpu().numpy().astype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """Most responsible component per row, shape (n,), int64."""
        return self.predict_proba(X).argmax(1)

    def sample(self, n: int = 1, generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Draw n vectors from the mixture.

        Parameters
        ----------
        n : int
            Number of samples (>= 1).
        generator : torch.Generator or None
            A generator on the model's device; None uses torch's global generator.

        Returns
        -------
        X : torch.Tensor [shape=(n, n_features)], model dtype and device
        labels : torch.Tensor [shape=(n,)], int64 component of each row (not sorted, unlike scikit-learn)

        Raises
        ------
        AttributeError
            If the mixture is not fitted.
        ValueError
            If ``n`` is not an integer >= 1.
        """
        self._check_fitted()
        if not isinstance(n, (int, np.integer)) or n < 1:
            raise ValueError(f"n: expected an integer >= 1, got {n!r}")
        labels = torch.multinomial(self._weights, int(n), replacement=True, generator=generator)
        z = torch.randn(
            int(n),
            self._means.shape[1],
            generator=generator,
            dtype=self._means.dtype,
            device=self._means.device,
        )
        mu = self._means[labels] + self._center
        if self.covariance_type == "diag":
            return mu + z * self._covs[labels].sqrt(), labels
        L = torch.linalg.cholesky(self._covs)  # (C, D, D) lower
        return mu + torch.einsum("nij,nj->ni", L[labels], z), labels

    def _n_parameters(self) -> int:
        k, d = self._means.shape
        cov = k * d if self.covariance_type == "diag" else k * d * (d + 1) // 2
        return int(cov + k * d + k - 1)

    def bic(self, X: Any) -> float:
        """Bayesian information criterion on X (lower = better)."""
        s = self.score_samples(X)
        return float(-2 * s.sum() + self._n_parameters() * math.log(s.size))

    def aic(self, X: Any) -> float:
        """Akaike information criterion on X (lower = better)."""
        return float(-2 * self.score_samples(X).sum() + 2 * self._n_parameters())

    # ------------------------------------------------------------------ scikit-learn interchange

    def to_sklearn(self):
        """A fitted ``sklearn.mixture.GaussianMixture`` with the same parameters (float64).

        Raises
        ------
        AttributeError
            If the mixture is not fitted.
        """
        return to_sklearn(self)

    @classmethod
    def from_sklearn(cls, sk_gmm, **kwargs: Any) -> GaussianMixture:
        """A fitted adskit GaussianMixture holding the parameters of a fitted scikit-learn one.

        Parameters
        ----------
        sk_gmm : sklearn.mixture.GaussianMixture
            Fitted, with covariance_type "diag" or "full".
        **kwargs
            Constructor arguments (``device``, ``dtype``, ...); n_components, covariance_type, tol, reg_covar
            and max_iter default to the scikit-learn model's.

        Raises
        ------
        TypeError
            If ``kwargs`` holds a name that is not a constructor argument.
        ValueError
            If a constructor parameter (including ``device`` and ``dtype``) is invalid, or ``sk_gmm`` is not fitted.
        """
        return from_sklearn(cls, sk_gmm, kwargs)
