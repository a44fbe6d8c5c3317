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

from ._utils import as_float_tensor, check_positive, resolve_device

__all__ = ["GaussianMixture"]

_COV_TYPES = ("diag", "full")
_INITS = ("kmeans++", "random_from_data")
_N_LLOYD = 10  # Lloyd iterations after k-means++ seeding
_JITTER_STEPS = 6  # full covariance: reg_covar x 10, 100, ... before giving up


class GaussianMixture:
    """Gaussian mixture fitted by EM, in torch, with scikit-learn's parameter and attribute names.

    p(x) = sum_c w_c N(x | mu_c, Sigma_c)  (EUSIPCO 2017 eq 4, the normal model p(f | z=0)).

    Parameters
    ----------
    n_components : int
        Number of Gaussians C (the paper uses 16).
    covariance_type : {"diag", "full"}
        Diagonal (the paper's choice) or full covariance matrices.
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
    init : {"kmeans++", "random_from_data"}
        How initial responsibilities are made when no ``*_init`` array is given. ``"kmeans++"``: k-means++
        seeding (greedy, ``2 + ln C`` candidates per centre, as scikit-learn's ``kmeans_plusplus``), then
        up to 10 Lloyd iterations; the hard k-means labels then give the initial weights, means and
        covariances by one M-step. scikit-learn's default ``"kmeans"`` runs full k-means (up to 300 Lloyd
        iterations), so the two starts differ slightly. ``"random_from_data"``: C distinct rows as means.
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

    EM internals use a component-major (C, n) layout and, for ``"diag"``, one (2D, n) matrix [x, x*x] built
    once per fit, so each iteration is two matrix products and one exp pass.

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
        covariance_type: str = "diag",
        tol: float = 1e-3,
        max_iter: int = 100,
        n_init: int = 1,
        reg_covar: float = 1e-6,
        init: str = "kmeans++",
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
        if self.init not in _INITS:
            raise ValueError(f"init: expected one of {_INITS}, got {self.init!r}")
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
            raise AttributeError(f"{type(self).__name__} is not fitted yet; call fit(X) first")

    # ------------------------------------------------------------------ fitted attributes (numpy views)

    @property
    def weights_(self) -> np.ndarray:
        self._check_fitted()
        return self._weights.detach().cpu().numpy().copy()

    @property
    def means_(self) -> np.ndarray:
        self._check_fitted()
        return (self._means + self._center).detach().cpu().numpy()

    @property
    def covariances_(self) -> np.ndarray:
        self._check_fitted()
        return self._covs.detach().cpu().numpy().copy()

    @property
    def precisions_cholesky_(self) -> np.ndarray:
        self._check_fitted()
        return self._prec_chol.detach().cpu().numpy().copy()

    @property
    def precisions_(self) -> np.ndarray:
        self._check_fitted()
        p = self._prec_chol
        out = p * p if self.covariance_type == "diag" else p @ p.transpose(-1, -2)
        return out.detach().cpu().numpy()

    @property
    def n_features_in_(self) -> int:
        self._check_fitted()
        return int(self._means.shape[1])

    # ------------------------------------------------------------------ parameter bookkeeping

    def _set_covariances(self, covs: torch.Tensor) -> None:
        """Store covariances and their precision Cholesky factors (floored / diagonally loaded)."""
        reg = float(self.reg_covar)
        if self.covariance_type == "diag":
            # covs already contain + reg_covar; clamp guards against a negative float rounding residue.
            covs = covs.clamp_min(max(reg, torch.finfo(covs.dtype).tiny))
            self._covs = covs
            self._prec_chol = covs.rsqrt()
            return
        eye = torch.eye(covs.shape[-1], dtype=covs.dtype, device=covs.device)
        covs = 0.5 * (covs + covs.transpose(-1, -2))
        load = max(reg, 10 * torch.finfo(covs.dtype).eps)
        for _ in range(_JITTER_STEPS + 1):
            chol, info = torch.linalg.cholesky_ex(covs)
            if not bool((info > 0).any()):
                break
            bad = info > 0
            covs = torch.where(bad[:, None, None], covs + load * eye, covs)
            load *= 10.0
        else:
            raise ValueError(
                "X: a covariance matrix stayed singular after diagonal loading up to "
                f"{load:.3g}; increase reg_covar or use covariance_type='diag'"
            )
        self._covs = covs
        # precision Cholesky P = L^{-T} (upper triangular), precision = P P^T, as scikit-learn stores it
        self._prec_chol = torch.linalg.solve_triangular(chol, eye.expand_as(chol), upper=False).transpose(-1, -2)

    def _set_params(self, weights: torch.Tensor, means: torch.Tensor, covs: torch.Tensor) -> None:
        self._weights = weights
        self._means = means
        self._set_covariances(covs)

    def _set_from_precisions(self, precisions: torch.Tensor) -> None:
        if self.covariance_type == "diag":
            self._prec_chol = precisions.sqrt()
            self._covs = 1.0 / precisions
        else:
            # P = chol(precision)^(flipped) as scikit-learn: covariance from inverse, then recompute P
            self._set_covariances(torch.linalg.inv(precisions))

    # ------------------------------------------------------------------ E and M steps

    def _diag_terms(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Diag case: W (C, 2D) and const (C,) with ln w_c N(x | c) = x2 . W_c + const_c, x2 = [x, x*x].

        The expanded quadratic form -1/2 (x^2.p - 2 x.(mu p) + mu^2.p) turns the n x C log-likelihoods
        into one (n, 2D) x (2D, C) matrix product (scikit-learn expands the same way).
        """
        prec = self._prec_chol * self._prec_chol  # (C, D)
        d = prec.shape[1]
        W = torch.cat([self._means * prec, -0.5 * prec], dim=1)
        const = (
            -0.5 * (d * math.log(2 * math.pi) + (self._means**2 * prec).sum(1))
            + self._prec_chol.log().sum(1)
            + self._weights.log()
        )
        return W, const

    def _weighted_log_prob(self, Xc: torch.Tensor) -> torch.Tensor:
        """ln w_c + ln N(x | mu_c, Sigma_c), shape (n, C); Xc is X minus the internal centre."""
        n, d = Xc.shape
        if self.covariance_type == "diag":
            W, const = self._diag_terms()
            return torch.addmm(const, torch.cat([Xc, Xc * Xc], dim=1), W.T)
        log_det = self._prec_chol.diagonal(dim1=-2, dim2=-1).log().sum(-1)
        # y_c = (x - mu_c) P_c, computed as x P_c - mu_c P_c; one (n, D) @ (D, C*D) product
        P = self._prec_chol  # (C, D, D)
        Y = (Xc @ P.permute(1, 0, 2).reshape(d, -1)).reshape(n, -1, d)
        Y = Y - torch.einsum("cd,cde->ce", self._means, P)
        quad = (Y * Y).sum(-1)
        return -0.5 * (d * math.log(2 * math.pi) + quad) + log_det + self._weights.log()

    def _e_step(self, Xc: torch.Tensor, XXt: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (mean log-likelihood, responsibilities (C, n)).

        Component-major layout (C, n): the reductions over components run along contiguous rows, and the
        log-sum-exp shares its exponentials with the responsibilities (one exp per entry, not two).
        """
        if XXt is not None:  # diag: XXt = [x, x*x]^T, shape (2D, n)
            W, const = self._diag_terms()
            L = torch.addmm(const[:, None], W, XXt)
        else:
            L = self._weighted_log_prob(Xc).T.contiguous()
        m = L.amax(0)
        L.sub_(m).exp_()
        s = L.sum(0)
        lb = (m + s.log()).mean()
        return lb, L.div_(s)

    def _m_step(self, Xc: torch.Tensor, XXt: torch.Tensor | None, resp: torch.Tensor) -> None:
        """Maximise over (w, mu, Sigma) given responsibilities (C, n); empty components keep their parameters."""
        n, d = Xc.shape
        eps = torch.finfo(Xc.dtype).eps
        nk = resp.sum(1) + 10 * eps  # as scikit-learn
        # a component with (numerically) no mass keeps its previous mean and covariance
        empty = nk < max(1e-8 * n, 100 * eps)
        reg = float(self.reg_covar)
        if XXt is not None:
            S = resp @ XXt.T  # (C, 2D): weighted sums of x and x^2
            means = S[:, :d] / nk[:, None]
            covs = (S[:, d:] / nk[:, None] - means * means).clamp_min_(0.0) + reg
        else:
            means = (resp @ Xc) / nk[:, None]
            covs = torch.empty(self.n_components, d, d, dtype=Xc.dtype, device=Xc.device)
            eye = torch.eye(d, dtype=Xc.dtype, device=Xc.device)
            for c in range(self.n_components):
                diff = Xc - means[c]
                covs[c] = (resp[c, :, None] * diff).T @ diff / nk[c] + reg * eye
        if bool(empty.any()) and hasattr(self, "_means"):
            means = torch.where(empty[:, None], self._means, means)
            covs = torch.where(empty.reshape(-1, *([1] * (covs.ndim - 1))), self._covs, covs)
        self._set_params(nk / nk.sum(), means, covs)

    def _prepare(self, X: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Centred data and, for diag, the (2D, n) matrix [x, x*x]^T reused by every EM iteration."""
        Xc = X - self._center
        if self.covariance_type != "diag":
            return Xc, None
        return Xc, torch.cat([Xc, Xc * Xc], dim=1).T.contiguous()

    def _em(self, Xc: torch.Tensor, XX: torch.Tensor | None, n_iter: int, tol: float | None) -> list[float]:
        """Run EM from the current parameters; return the lower bound of every iteration."""
        bounds: list[float] = []
        self.converged_ = False
        prev = -math.inf
        for _ in range(n_iter):
            lb, resp = self._e_step(Xc, XX)
            self._m_step(Xc, XX, resp)
            bounds.append(float(lb))
            if tol is not None and abs(bounds[-1] - prev) < tol:
                self.converged_ = True
                break
            prev = bounds[-1]
        return bounds

    # ------------------------------------------------------------------ initialisation

    def _generator(self) -> torch.Generator:
        g = torch.Generator(device="cpu")
        if self.random_state is None:
            g.seed()
        else:
            g.manual_seed(int(self.random_state))
        return g

    def _kmeans_labels(self, Xc: torch.Tensor, g: torch.Generator) -> torch.Tensor:
        """k-means++ seeding then up to ``_N_LLOYD`` Lloyd iterations; returns hard labels (n,)."""
        n = Xc.shape[0]
        k = self.n_components
        sq = (Xc * Xc).sum(1)

        def d2(centers: torch.Tensor) -> torch.Tensor:  # (n, m) squared distances
            return (sq[:, None] - 2 * Xc @ centers.T + (centers * centers).sum(1)).clamp_min_(0.0)

        n_trials = 2 + int(math.log(k))
        first = int(torch.randint(n, (1,), generator=g))
        centers = Xc[first : first + 1]
        closest = d2(centers)[:, 0]
        for _ in range(1, k):
            total = float(closest.sum())
            if total <= 0.0:  # all points coincide with a centre: pick any
                cand = torch.randint(n, (n_trials,), generator=g)
            else:
                cand = torch.multinomial(closest.cpu(), n_trials, replacement=True, generator=g)
            cand = cand.to(Xc.device)
            new = torch.minimum(closest[:, None], d2(Xc[cand]))  # (n, trials)
            best = int(new.sum(0).argmin())
            closest = new[:, best]
            centers = torch.cat([centers, Xc[cand[best] : cand[best] + 1]])
        labels = d2(centers).argmin(1)
        for _ in range(_N_LLOYD):
            counts = torch.bincount(labels, minlength=k).to(Xc.dtype)
            sums = torch.zeros_like(centers).index_add_(0, labels, Xc)
            keep = counts == 0  # an empty cluster keeps its centre
            centers = torch.where(keep[:, None], centers, sums / counts.clamp_min(1)[:, None])
            new_labels = d2(centers).argmin(1)
            if torch.equal(new_labels, labels):
                break
            labels = new_labels
        return labels

    def _initialize(self, Xc: torch.Tensor, XX: torch.Tensor | None, g: torch.Generator) -> None:
        n, d = Xc.shape
        k = self.n_components
        dt, dev = Xc.dtype, Xc.device
        if self.means_init is not None:
            means0 = self._param_tensor(self.means_init, "means_init", (k, d)) - self._center
            labels = (-2 * Xc @ means0.T + (means0 * means0).sum(1)).argmin(1)
        elif self.init == "kmeans++":
            labels = self._kmeans_labels(Xc, g)
        else:
            idx = torch.randperm(n, generator=g)[:k].to(dev)
            labels = (-2 * Xc @ Xc[idx].T + (Xc[idx] ** 2).sum(1)).argmin(1)
            labels[idx] = torch.arange(k, device=dev)
        resp = torch.zeros(k, n, dtype=dt, device=dev)
        resp[labels, torch.arange(n, device=dev)] = 1.0
        for attr in ("_means", "_covs", "_weights", "_prec_chol"):
            if hasattr(self, attr):
                delattr(self, attr)
        # empty k-means clusters: seed their mean on a random point with the global variance
        counts = resp.sum(1)
        if bool((counts == 0).any()):
            var = Xc.var(0, unbiased=False) + float(self.reg_covar)
            self._means = Xc[torch.randint(n, (k,), generator=g).to(dev)]
            self._covs = (
                var.expand(k, d).clone() if self.covariance_type == "diag" else torch.diag(var).expand(k, d, d).clone()
            )
        self._m_step(Xc, XX, resp)
        if self.weights_init is not None:
            w = self._param_tensor(self.weights_init, "weights_init", (k,))
            self._weights = w / w.sum()
        if self.means_init is not None:
            self._means = means0
        if self.precisions_init is not None:
            shape = (k, d) if self.covariance_type == "diag" else (k, d, d)
            self._set_from_precisions(self._param_tensor(self.precisions_init, "precisions_init", shape))

    def _param_tensor(self, value: Any, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=self._dtype(), device=self._device())
        if tuple(t.shape) != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name}: contains NaN or Inf")
        return t

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
        Xc, XX = self._prepare(X)
        g = self._generator()
        tol = float(self.tol)
        best: tuple[float, Any] | None = None
        for _ in range(1 if warm else self.n_init):
            if not warm:
                self._initialize(Xc, XX, g)
            bounds = self._em(Xc, XX, int(self.max_iter), tol)
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
        Xc, XX = self._prepare(X)
        if not fitted:
            self._initialize(Xc, XX, self._generator())
            self.n_iter_, self.lower_bounds_ = 0, []
        bounds = self._em(Xc, XX, int(n_iter), None)
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
        """A fitted ``sklearn.mixture.GaussianMixture`` with the same parameters (float64)."""
        from sklearn.mixture import GaussianMixture as SkGMM

        self._check_fitted()
        sk = SkGMM(
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
        )
        sk.weights_ = self.weights_.astype(np.float64)
        sk.means_ = self.means_.astype(np.float64)
        sk.covariances_ = self.covariances_.astype(np.float64)
        sk.precisions_cholesky_ = self.precisions_cholesky_.astype(np.float64)
        sk.precisions_ = self.precisions_.astype(np.float64)
        sk.converged_ = bool(getattr(self, "converged_", True))
        sk.n_iter_ = int(getattr(self, "n_iter_", 0))
        sk.lower_bound_ = float(getattr(self, "lower_bound_", -np.inf))
        sk.n_features_in_ = self.n_features_in_
        return sk

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
        for key in ("n_components", "covariance_type", "tol", "reg_covar", "max_iter"):
            kwargs.setdefault(key, getattr(sk_gmm, key))
        self = cls(**kwargs)
        self._check_params()
        if not hasattr(sk_gmm, "means_"):
            raise ValueError("sk_gmm: the scikit-learn model is not fitted")
        dev, dt = self._device(), self._dtype()

        def tens(a):
            return torch.as_tensor(np.asarray(a, dtype=np.float64), dtype=dt, device=dev)

        means = tens(sk_gmm.means_)
        self._center = torch.zeros(means.shape[1], dtype=dt, device=dev)
        self._weights = tens(sk_gmm.weights_)
        self._means = means
        self._covs = tens(sk_gmm.covariances_)
        self._prec_chol = tens(sk_gmm.precisions_cholesky_)
        self.converged_ = bool(getattr(sk_gmm, "converged_", True))
        self.n_iter_ = int(getattr(sk_gmm, "n_iter_", 0))
        self.lower_bound_ = float(getattr(sk_gmm, "lower_bound_", -np.inf))
        self.lower_bounds_ = [self.lower_bound_]
        return self
