"""GMM anomaly detector on any feature vectors: A(x) = -ln p(x) (EUSIPCO 2017 eq 4)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted, validate_data

from .._scaling import fit_scale
from ..gmm import GaussianMixture
from .base import BaseDetector

__all__ = ["GMMDetector"]


class GMMDetector(BaseDetector):
    """Gaussian-mixture normal model; anomaly score L(f) = -ln p(f | z=0) (EUSIPCO 2017 eq 4).

    Fits :class:`adskit.gmm.GaussianMixture` on normal feature vectors (optionally standardised first) and
    sets the Neyman-Pearson threshold phi_rho on the training scores (see :mod:`adskit.detectors.base`).

    Parameters
    ----------
    n_components : int
        Number of Gaussians C (the paper: 16).
    covariance_type : {"diag", "full"}
        The paper: diagonal.
    rho : float
        False-positive rate in (0, 1) of the default threshold phi_rho (the paper: 0.05).
    max_iter, tol, reg_covar, n_init :
        EM settings, as :class:`adskit.gmm.GaussianMixture`.
    standardize : bool
        Standardise each feature with the training mean and standard deviation (ddof 0) before the GMM (a
        (near-)constant feature gets scale 1: :func:`adskit._scaling.fit_scale`). The score stays the negative log-density **of x in its own units**: the
        Jacobian term sum(ln scale_) is added, so scores with and without standardisation are comparable.
    random_state : int or None
        Seed of the GMM initialisation.
    device : str
        ``"auto"`` picks CUDA when present.

    Attributes
    ----------
    gmm_ : adskit.gmm.GaussianMixture
        The fitted mixture (on standardised features if ``standardize``).
    mean_, scale_ : np.ndarray [shape=(n_features,)]
        Standardisation statistics (zeros and ones when ``standardize=False``).
    threshold_ : float
        phi_rho on the anomaly-score scale (higher = more anomalous).
    offset_ : float
        ``-threshold_``, so ``decision_function < 0`` means anomalous.
    n_iter_ : int
        EM iterations of the kept initialisation.
    n_features_in_ : int

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(400, 3))
    >>> det = GMMDetector(n_components=2, random_state=0, device="cpu").fit(X)
    >>> det.anomaly_score(np.array([[0.0, 0.0, 0.0], [8.0, 8.0, 8.0]])).argmax()  # higher = more anomalous
    np.int64(1)
    """

    def __init__(
        self,
        n_components: int = 16,
        covariance_type: str = "diag",
        rho: float = 0.05,
        max_iter: int = 100,
        tol: float = 1e-3,
        reg_covar: float = 1e-6,
        n_init: int = 1,
        standardize: bool = True,
        random_state: int | None = None,
        device: str = "auto",
    ) -> None:
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.rho = rho
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.n_init = n_init
        self.standardize = standardize
        self.random_state = random_state
        self.device = device

    def fit(self, X: Any, y: Any = None) -> GMMDetector:
        """Fit the GMM on normal vectors X and set phi_rho on their scores.

        Parameters
        ----------
        X : array-like [shape=(n_samples, n_features)]
            Normal training vectors, n_samples >= n_components.
        y : ignored

        Returns
        -------
        self
            Fitted: ``gmm_``, ``mean_``/``scale_``, ``threshold_`` and ``offset_`` are set.

        Raises
        ------
        ValueError
            If ``rho`` is outside (0, 1), X is not a finite 2-D array with at least 2 rows, it has fewer rows
            than ``n_components``, or a GMM parameter is invalid.
        """
        X = validate_data(self, X, dtype=np.float64, ensure_min_samples=2)
        rho = float(self.rho)
        if not 0.0 < rho < 1.0:
            raise ValueError(f"rho: expected a false-positive rate in (0, 1), got {self.rho!r}")
        if self.standardize:
            self.mean_, self.scale_ = fit_scale(X, ddof=0)
        else:
            self.mean_ = np.zeros(X.shape[1])
            self.scale_ = np.ones(X.shape[1])
        self.gmm_ = GaussianMixture(
            n_components=self.n_components,
            covariance_type=self.covariance_type,
            tol=self.tol,
            max_iter=self.max_iter,
            n_init=self.n_init,
            reg_covar=self.reg_covar,
            random_state=self.random_state,
            device=self.device,
            dtype=torch.float64,
        ).fit((X - self.mean_) / self.scale_)
        self.n_iter_ = self.gmm_.n_iter_
        self._set_offset(self._score(X))
        return self

    def _score(self, X: np.ndarray) -> np.ndarray:
        z = (X - self.mean_) / self.scale_
        return -self.gmm_.score_samples(z) + float(np.log(self.scale_).sum())

    def anomaly_score(self, X: Any) -> np.ndarray:
        """A(x) = -ln p(x) per row (EUSIPCO 2017 eq 4), shape (n,); higher = more anomalous.

        Parameters
        ----------
        X : array-like [shape=(n, n_features)]

        Raises
        ------
        sklearn.exceptions.NotFittedError
            Before :meth:`fit`.
        ValueError
            If X has NaN or Inf, is not 2-D, or its width differs from the training data's.
        """
        check_is_fitted(self, "gmm_")
        X = validate_data(self, X, dtype=np.float64, reset=False)
        return self._score(X)
