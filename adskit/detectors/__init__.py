"""Scikit-learn style detectors: each wraps a model and owns its training loop (see ``base`` for directions)."""

from .ae import AEDetector, lr_schedule
from .base import BaseDetector, np_threshold
from .gmm import GMMDetector
from .np_vae import NPDetector, SamplingError, kl_standard_normal, sample_anomalous_features, train_np_score, vae_loss

__all__ = [
    "AEDetector",
    "BaseDetector",
    "GMMDetector",
    "NPDetector",
    "SamplingError",
    "kl_standard_normal",
    "lr_schedule",
    "np_threshold",
    "sample_anomalous_features",
    "train_np_score",
    "vae_loss",
]
