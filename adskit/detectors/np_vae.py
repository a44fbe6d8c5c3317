"""Old home of the Neyman-Pearson detector (``np_`` read as numpy): a face re-exporting its public names.

New code imports from :mod:`adskit.detectors.neyman_pearson` (the estimator), :mod:`adskit.detectors.np_algorithm`
(Algorithm 2, ``train_np_score``) and :mod:`adskit.losses` (``kl_standard_normal``, ``vae_loss``).
"""

from ..losses import kl_standard_normal, vae_loss
from .neyman_pearson import EXTRACTORS, TIMED_PARTS, NPDetector
from .np_algorithm import SamplingError, sample_anomalous_features, train_np_score

__all__ = [
    "EXTRACTORS",
    "TIMED_PARTS",
    "NPDetector",
    "SamplingError",
    "kl_standard_normal",
    "sample_anomalous_features",
    "train_np_score",
    "vae_loss",
]
