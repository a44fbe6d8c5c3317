"""Interactive panels (ipywidgets) for thresholds and KDE bandwidths, driven only by cached arrays.

Two panels, each a function returning an ``ipywidgets.VBox`` subclass that exposes ``.state`` (a dict) for
tests and notebooks:

* :func:`bandwidth_explorer` (:mod:`adskit.widgets.bandwidth`) - sliders for the KDE bandwidth h and the BU
  regulariser eps over one batch of normal vectors; the BU weights, the Gram diagnostics and the warning zones of
  :mod:`adskit.kde`, from distances computed once.
* :func:`threshold_explorer` (:mod:`adskit.widgets.thresholds`) - cached anomaly scores of several detectors in
  a :class:`adskit.scores.ScoreSet`, re-thresholded by a rho (phi_rho per method) or raw-threshold slider.

The pure computations are plain functions (:func:`threshold_state`, :func:`bandwidth_state`) that tests call
directly; the panels only re-render (:mod:`adskit.widgets._blit`). This module is a face: it re-exports, and
also keeps the scores stage's names (``ScoreSet``, ``demo_scoreset``, ...; they live in :mod:`adskit.scores`)
and the KDE names the panels use importable from here, as before.

Directions: every score is an anomaly score, **higher = more anomalous**; the rule is
``anomalous = score > threshold`` (as in :mod:`adskit.threshold`).

Examples
--------
>>> import numpy as np
>>> ss = demo_scoreset(seed=0)            # synthetic scores for tests only, no detector trained
>>> st = threshold_state(ss, "RE", threshold=float(np.median(ss.clip_scores("RE"))))
>>> st["n_rare"], st["n_frequent"], st["n_anomaly"]
(10, 40, 30)
"""

from ..kde import ESS_COLLAPSED_BELOW, ESS_UNIFORM_ABOVE, pairwise_sq_dists
from ..scores import PROCESSES, ScoreSet, demo_scoreset, scores_from_detectors
from .bandwidth import BandwidthExplorer, bandwidth_explorer, bandwidth_state, pca_2d
from .thresholds import ThresholdExplorer, threshold_explorer, threshold_state

__all__ = [
    "ESS_COLLAPSED_BELOW",
    "ESS_UNIFORM_ABOVE",
    "PROCESSES",
    "BandwidthExplorer",
    "ScoreSet",
    "ThresholdExplorer",
    "bandwidth_explorer",
    "bandwidth_state",
    "demo_scoreset",
    "pairwise_sq_dists",
    "pca_2d",
    "scores_from_detectors",
    "threshold_explorer",
    "threshold_state",
]
