"""The residual Mahalanobis score of the DCASE 2023-2026 Task 2 baselines, on a fitted autoencoder.

The autoencoder's reconstruction residuals r = z - D(E(z)) of normal training vectors are modelled by one
Gaussian (location mu, covariance Sigma); a vector's anomaly score is

    A(x) = (r - mu)^T Sigma^-1 (r - mu)        (higher = more anomalous)

With mu = 0 and Sigma = I it is the squared residual norm, the AE's own score (BU paper eq 5). Sigma is the
empirical covariance when it is well conditioned, else scikit-learn's Ledoit-Wolf shrinkage
(:class:`sklearn.covariance.LedoitWolf`), or a fixed shrinkage (:class:`sklearn.covariance.ShrunkCovariance`).
The estimator knows only (n, d) arrays; it is saved beside its autoencoder in the kit's safe checkpoint format
(tensors + JSON, never a pickle).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.covariance import EmpiricalCovariance, LedoitWolf, ShrunkCovariance
from sklearn.utils.validation import check_array, check_is_fitted

from .base import BaseDetector
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint

__all__ = ["ResidualMahalanobis", "mahalanobis_scores"]

#: the empirical covariance is used when its condition number is at most this (and n > d); else Ledoit-Wolf
MAX_CONDITION = 1e6


def mahalanobis_scores(R: np.ndarray, location: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """(r - mu)^T P (r - mu) per row of R (n, d), P = Sigma^-1 (d, d); float64 (n,), higher = more anomalous.

    Examples
    --------
    >>> mahalanobis_scores(np.array([[1.0, 2.0]]), np.zeros(2), np.eye(2)).tolist()
    [5.0]
    """
    D = np.asarray(R, dtype=np.float64) - np.asarray(location, dtype=np.float64)
    return np.einsum("ij,ij->i", D @ np.asarray(precision, dtype=np.float64), D)


class ResidualMahalanobis(BaseDetector):
    """Mahalanobis distance of a fitted autoencoder's residuals (DCASE 2023-2026 baselines' score).

    Parameters
    ----------
    detector : fitted AEDetector (anything with ``residuals(X) -> (n, d)`` and ``n_features_in_``)
    shrinkage : "auto", "ledoit-wolf" or float in [0, 1]
        "auto": the empirical covariance when n > d and its condition number is at most ``max_condition``,
        else Ledoit-Wolf; "ledoit-wolf": always Ledoit-Wolf; a number: ShrunkCovariance with that shrinkage.
    max_condition : float > 1, the "auto" rule's limit
    rho : float in (0, 1), false-positive rate of the default threshold ``offset_`` (see ``BaseDetector``)

    Attributes
    ----------
    location_ : np.ndarray (d,); covariance_, precision_ : np.ndarray (d, d), float64
    method_ : "empirical", "ledoit-wolf" or "shrunk"; shrinkage_ : float (0 for empirical)
    condition_ : float, condition number of the empirical covariance; n_residuals_ : int
    n_features_in_, feature_config_ : the detector's

    Examples
    --------
    >>> from adskit.detectors import AEDetector
    >>> X = np.random.default_rng(0).normal(size=(200, 4))
    >>> ae = AEDetector("re", hidden=(8,), latent_dim=2, n_updates=20, batch_size=50, device="cpu").fit(X)
    >>> ResidualMahalanobis(ae).fit(X).anomaly_score(X[:3]).shape
    (3,)
    """

    _checkpoint_kind = "ResidualMahalanobis"

    def __init__(
        self, detector: Any = None, shrinkage: str | float = "auto", max_condition: float = MAX_CONDITION,
        rho: float = 0.05,
    ) -> None:  # fmt: skip
        self.detector = detector
        self.shrinkage = shrinkage
        self.max_condition = max_condition
        self.rho = rho

    def _check_params(self) -> None:
        if self.detector is None or not hasattr(self.detector, "n_features_in_"):
            raise ValueError("detector: expected a fitted AEDetector (fit it first)")
        s = self.shrinkage
        if isinstance(s, str):
            if s not in ("auto", "ledoit-wolf"):
                raise ValueError(f"shrinkage: expected 'auto', 'ledoit-wolf' or a number in [0, 1], got {s!r}")
        elif not 0.0 <= float(s) <= 1.0:
            raise ValueError(f"shrinkage: expected 'auto', 'ledoit-wolf' or a number in [0, 1], got {s!r}")
        if not float(self.max_condition) > 1.0:
            raise ValueError(f"max_condition: expected a number > 1, got {self.max_condition!r}")

    def fit(self, X, y=None) -> ResidualMahalanobis:
        """Fit mu and Sigma on the residuals of normal vectors X (n, d), n >= 2; returns self.

        Raises
        ------
        ValueError
            Bad parameters, an unfitted detector, X not a finite 2-D array with the detector's features.
        """
        self._check_params()
        return self.fit_residuals(self.detector.residuals(X))

    def fit_residuals(self, R) -> ResidualMahalanobis:
        """Fit mu and Sigma on residuals R (n, d) already computed (``detector.residuals(X)``); returns self.

        Raises
        ------
        ValueError
            Bad parameters, R not a finite 2-D array of at least 2 rows with the detector's features.
        """
        self._check_params()
        R = check_array(R, dtype=np.float64, ensure_min_samples=2, input_name="R")
        n, d = R.shape
        if d != int(self.detector.n_features_in_):
            raise ValueError(f"R: has {d} columns, the detector {self.detector.n_features_in_}")
        emp = EmpiricalCovariance().fit(R)
        self.condition_ = float(np.linalg.cond(emp.covariance_))
        s = self.shrinkage
        if s == "auto" and n > d and self.condition_ <= float(self.max_condition):
            est, self.method_, self.shrinkage_ = emp, "empirical", 0.0
        elif isinstance(s, str):
            est = LedoitWolf().fit(R)
            self.method_, self.shrinkage_ = "ledoit-wolf", float(est.shrinkage_)
        else:
            est = ShrunkCovariance(shrinkage=float(s)).fit(R)
            self.method_, self.shrinkage_ = "shrunk", float(s)
        self.location_ = np.asarray(est.location_, dtype=np.float64)
        self.covariance_ = np.asarray(est.covariance_, dtype=np.float64)
        self.precision_ = np.asarray(est.get_precision(), dtype=np.float64)
        self.n_residuals_ = int(n)
        self._adopt_detector()
        self._set_offset(mahalanobis_scores(R, self.location_, self.precision_))
        return self

    def _adopt_detector(self) -> None:
        self.n_features_in_ = int(self.detector.n_features_in_)
        self.feature_config_ = getattr(self.detector, "feature_config_", None)

    def anomaly_score(self, X, batch_size: int = 8192) -> np.ndarray:
        """(r - mu)^T Sigma^-1 (r - mu) per row of X (n, d), r the detector's residuals; higher = more anomalous.

        Returns
        -------
        np.ndarray [shape=(n,)], float64

        Raises
        ------
        sklearn.exceptions.NotFittedError, ValueError
            Not fitted; X not a finite 2-D array with the detector's features.
        """
        check_is_fitted(self, "precision_")
        return mahalanobis_scores(self.detector.residuals(X, batch_size=batch_size), self.location_, self.precision_)

    # ------------------------------------------------------------------------------------------- files
    def save(self, path: str | os.PathLike) -> Path:
        """Write mu, Sigma, Sigma^-1 and the settings (not the autoencoder: save it beside) atomically.

        Raises
        ------
        sklearn.exceptions.NotFittedError
            If not fitted.
        """
        check_is_fitted(self, "precision_")
        state = {k: getattr(self, f"{k}_") for k in ("method", "shrinkage", "condition", "n_residuals",
                                                     "n_features_in", "threshold", "offset")}  # fmt: skip
        return save_checkpoint(
            path,
            kind=self._checkpoint_kind,
            config={"shrinkage": self.shrinkage, "max_condition": float(self.max_condition), "rho": float(self.rho)},
            state_dict={},
            state=state,
            tensors={"location": self.location_, "covariance": self.covariance_, "precision": self.precision_},
        )

    @classmethod
    def load(cls, path: str | os.PathLike, detector: Any) -> ResidualMahalanobis:
        """The scorer saved by :meth:`save`, on ``detector`` (the fitted autoencoder it was fitted with).

        Raises
        ------
        CheckpointError
            Anything but an intact checkpoint of this kind (pickled code is refused, never run), or one made for
            a detector of another input dimension.
        """
        ck = load_checkpoint(path, kind=cls._checkpoint_kind)
        det = cls(detector, **ck.config)
        det._check_params()
        if int(ck.state["n_features_in"]) != int(detector.n_features_in_):
            raise CheckpointError(ck.path, f"made for {ck.state['n_features_in']} features, the detector has "
                                  f"{detector.n_features_in_}")  # fmt: skip
        for k in ("location", "covariance", "precision"):
            setattr(det, f"{k}_", ck.tensors[k].to(torch.float64).numpy())
        for k in ("method", "shrinkage", "condition", "n_residuals", "threshold", "offset"):
            setattr(det, f"{k}_", ck.state[k])
        det._adopt_detector()
        return det
