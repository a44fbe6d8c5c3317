"""Scikit-learn style detectors: each wraps a model and owns its training loop (see ``base`` for directions)."""

from ..losses import kl_standard_normal, vae_loss  # old names here, kept for old code
from .ae import AEDetector
from .base import BaseDetector, np_threshold
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .gmm import GMMDetector
from .mahalanobis import ResidualMahalanobis, mahalanobis_scores
from .neyman_pearson import NPDetector
from .np_algorithm import SamplingError, sample_anomalous_features, train_np_score
from .presets import AE_PRESETS, lr_schedule

__all__ = [
    "AE_PRESETS",
    "AEDetector",
    "CheckpointError",
    "BaseDetector",
    "GMMDetector",
    "NPDetector",
    "ResidualMahalanobis",
    "SamplingError",
    "kl_standard_normal",
    "load_checkpoint",
    "lr_schedule",
    "mahalanobis_scores",
    "np_threshold",
    "sample_anomalous_features",
    "save_checkpoint",
    "train_np_score",
    "vae_loss",
]
