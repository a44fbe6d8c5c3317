"""The scikit-learn outlier-detector contract shared by every adskit detector.

Directions (read this once, it holds everywhere in adskit):

* ``anomaly_score(X)`` is the papers' A(x): **higher = more anomalous**.
* ``score_samples(X) = -anomaly_score(X)``: scikit-learn's convention, **higher = more normal**.
* ``decision_function(X) = score_samples(X) - offset_``: negative means anomalous.
* ``predict(X)``: +1 normal, -1 anomalous.

``offset_`` is set at fit time from a Neyman-Pearson threshold at false-positive rate ``rho`` on the training
scores (the floor(rho K)-th largest training anomaly score), so ``predict`` works out of the box. It is a
convenience, not the only threshold: :meth:`BaseDetector.set_threshold` swaps in any threshold fitted on cached
scores (see :mod:`adskit.threshold`) without retraining.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OutlierMixin
from sklearn.utils.validation import check_is_fitted

from ..threshold import phi_rho

#: the old name of :func:`adskit.threshold.phi_rho`, kept for old code
np_threshold = phi_rho


class BaseDetector(OutlierMixin, BaseEstimator):
    """Mixin giving ``score_samples``/``decision_function``/``predict`` from ``anomaly_score``.

    Subclasses implement ``fit`` (ending with ``self._set_offset(train_scores)``) and ``anomaly_score``.
    They must define a ``rho`` parameter (default 0.05).
    """

    #: methods that moved to the scores stage (a detector knows only (n, d) arrays, not spectrograms)
    _MOVED = {
        "frame_scores": "adskit.scores.frame_scores(detector, spectrogram)",
        "score_clips": "adskit.scores.score_clips(detector, spectrograms)",
    }

    def __getattr__(self, name: str):
        """Only for the names in ``_MOVED``: an AttributeError that says where the function went."""
        if name in BaseDetector._MOVED:
            raise AttributeError(
                f"{type(self).__name__}.{name} moved: call {BaseDetector._MOVED[name]}, which also checks the "
                "spectrogram against the detector's feature_config_"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def anomaly_score(self, X) -> np.ndarray:  # pragma: no cover - abstract
        """A(x) per row of X (shape (n,)); higher = more anomalous.

        Raises
        ------
        TypeError
            Always, here: every subclass must override this method.
        """
        raise TypeError(f"{type(self).__name__} must implement anomaly_score")

    def score_samples(self, X) -> np.ndarray:
        """Normality score per row, shape (n,): ``-anomaly_score(X)``; higher = more normal.

        Raises
        ------
        sklearn.exceptions.NotFittedError, ValueError
            As ``anomaly_score`` (not fitted; X not a finite 2-D array with the training's features).
        """
        return -self.anomaly_score(X)

    def decision_function(self, X) -> np.ndarray:
        """``score_samples(X) - offset_``, shape (n,); negative = anomalous.

        Raises
        ------
        sklearn.exceptions.NotFittedError, ValueError
            As ``anomaly_score`` (not fitted; X not a finite 2-D array with the training's features).
        """
        check_is_fitted(self, "offset_")
        return self.score_samples(X) - self.offset_

    def predict(self, X) -> np.ndarray:
        """+1 for normal, -1 for anomalous rows, shape (n,).

        Raises
        ------
        sklearn.exceptions.NotFittedError, ValueError
            As ``anomaly_score`` (not fitted; X not a finite 2-D array with the training's features).
        """
        return np.where(self.decision_function(X) < 0, -1, 1)

    def set_threshold(self, threshold) -> BaseDetector:
        """Use ``threshold`` (a number on the anomaly-score scale, or a fitted object with ``threshold_``).

        Nothing is retrained; only ``offset_`` changes. Returns self.

        Raises
        ------
        ValueError
            If the value is not a finite number.
        """
        value = getattr(threshold, "threshold_", threshold)
        value = float(value)
        if not np.isfinite(value):
            raise ValueError(f"threshold: expected a finite number, got {threshold!r}")
        self.offset_ = -value
        return self

    def _set_offset(self, train_anomaly_scores: np.ndarray) -> None:
        rho = float(self.rho)
        if not 0.0 < rho < 1.0:
            raise ValueError(f"rho: expected a false-positive rate in (0, 1), got {self.rho!r}")
        self.threshold_ = phi_rho(train_anomaly_scores, rho)
        self.offset_ = -self.threshold_
