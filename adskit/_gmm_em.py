"""EM internals of :class:`adskit.gmm.GaussianMixture`: parameter storage, E and M steps, initialisation.

A base class so that ``gmm.py`` keeps the public API and its documentation; nothing here is public. The
layouts (component-major responsibilities, the (2D, n) matrix [x, x*x] for "diag") are described in
:class:`adskit.gmm.GaussianMixture`'s Notes.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from ._gmm_init import initial_labels, kmeans_starts, nearest
from ._utils import exp_floor

_JITTER_STEPS = 6  # full covariance: reg_covar x 10, 100, ... before giving up


class _MixtureState:
    """Fitted state and EM steps; the subclass provides the constructor arguments and ``_check_fitted``."""

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

    def _e_step(self, Xc: torch.Tensor, XX: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Return (mean log-likelihood, responsibilities (C, n)).

        Component-major layout (C, n): the reductions over components run along contiguous rows, and the
        log-sum-exp shares its exponentials with the responsibilities (one exp per entry, not two).
        """
        if XX is not None:  # diag: XX = [x, x*x], shape (n, 2D); BLAS reads its transpose in place
            W, const = self._diag_terms()
            L = torch.addmm(const[:, None], W, XX.T)
        else:
            L = self._weighted_log_prob(Xc).T.contiguous()
        m = L.amax(0)
        L.sub_(m).clamp_min_(exp_floor(L.dtype)).exp_()
        s = L.sum(0)
        lb = (m + s.log()).mean()
        return lb, L.div_(s)

    def _m_step(self, Xc: torch.Tensor, XX: torch.Tensor | None, resp: torch.Tensor) -> None:
        """Maximise over (w, mu, Sigma) given responsibilities (C, n); empty components keep their parameters."""
        n, d = Xc.shape
        eps = torch.finfo(Xc.dtype).eps
        nk = resp.sum(1) + 10 * eps  # as scikit-learn
        # a component with (numerically) no mass keeps its previous mean and covariance
        empty = nk < max(1e-8 * n, 100 * eps)
        reg = float(self.reg_covar)
        if XX is not None:
            S = resp @ XX  # (C, 2D): weighted sums of x and x^2
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
        """Centred data and, for diag, the (n, 2D) matrix [x, x*x] reused by every EM iteration."""
        if self.covariance_type != "diag":
            return X - self._center, None
        d = X.shape[1]
        XX = torch.empty(X.shape[0], 2 * d, dtype=X.dtype, device=X.device)  # one buffer: Xc is its left half
        Xc = torch.sub(X, self._center, out=XX[:, :d])
        torch.mul(Xc, Xc, out=XX[:, d:])
        return Xc, XX

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

    def _initialize(self, Xc: torch.Tensor, XX: torch.Tensor | None, g: torch.Generator) -> None:
        n, d = Xc.shape
        k = self.n_components
        for attr in ("_means", "_covs", "_weights", "_prec_chol"):
            if hasattr(self, attr):
                delattr(self, attr)
        if self.means_init is not None:
            means0 = self._param_tensor(self.means_init, "means_init", (k, d)) - self._center
            self._start_from_labels(Xc, XX, nearest(Xc, means0), g)
        elif self.init == "kmeans":
            self._best_kmeans_start(Xc, XX, g)
        else:
            self._start_from_labels(Xc, XX, initial_labels(Xc, k, self.init, g), g)
        if self.weights_init is not None:
            w = self._param_tensor(self.weights_init, "weights_init", (k,))
            self._weights = w / w.sum()
        if self.means_init is not None:
            self._means = means0
        if self.precisions_init is not None:
            shape = (k, d) if self.covariance_type == "diag" else (k, d, d)
            self._set_from_precisions(self._param_tensor(self.precisions_init, "precisions_init", shape))

    def _start_from_labels(self, Xc: torch.Tensor, XX: torch.Tensor | None, labels: torch.Tensor, g) -> None:
        """Weights, means and covariances of a hard partition (one M-step)."""
        n, d = Xc.shape
        k = self.n_components
        resp = torch.zeros(k, n, dtype=Xc.dtype, device=Xc.device)
        resp[labels, torch.arange(n, device=Xc.device)] = 1.0
        # empty clusters: seed their mean on a random point with the global variance
        if bool((resp.sum(1) == 0).any()):
            var = Xc.var(0, unbiased=False) + float(self.reg_covar)
            self._means = Xc[torch.randint(n, (k,), generator=g).to(Xc.device)]
            self._covs = (
                var.expand(k, d).clone() if self.covariance_type == "diag" else torch.diag(var).expand(k, d, d).clone()
            )
        self._m_step(Xc, XX, resp)

    def _best_kmeans_start(self, Xc: torch.Tensor, XX: torch.Tensor | None, g: torch.Generator) -> None:
        """init="kmeans": EM on the k-means subset from each distinct k-means partition; keep the best.

        The short runs are in float32 (they only choose a start); the chosen weights, means and covariances are
        cast back to the data's dtype for EM on all rows.
        """
        Xs, starts = kmeans_starts(Xc, self.n_components, g)
        XXs = None if XX is None else torch.cat([Xs, Xs * Xs], dim=1)
        best: tuple[float, Any] | None = None
        for s in range(starts.shape[1]):
            for attr in ("_means", "_covs"):
                if hasattr(self, attr):
                    delattr(self, attr)
            self._start_from_labels(Xs, XXs, starts[:, s], g)
            bound = self._em(Xs, XXs, int(self.max_iter), float(self.tol))[-1]
            if best is None or bound > best[0]:
                best = (bound, (self._weights, self._means, self._covs, self._prec_chol))
        weights, means, covs = (t.to(Xc.dtype) for t in best[1][:3])
        self._set_params(weights / weights.sum(), means, covs)  # float32 weights sum to 1 only within ~1e-7

    def _param_tensor(self, value: Any, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        t = torch.as_tensor(np.asarray(value, dtype=np.float64), dtype=self._dtype(), device=self._device())
        if tuple(t.shape) != shape:
            raise ValueError(f"{name}: expected shape {shape}, got {tuple(t.shape)}")
        if not torch.isfinite(t).all():
            raise ValueError(f"{name}: contains NaN or Inf")
        return t
