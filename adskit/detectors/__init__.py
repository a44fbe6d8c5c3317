"""Scikit-learn style detectors: each wraps a model and owns its training loop (see ``base`` for directions)."""

from .ae import AE_PRESETS, AEDetector, lr_schedule
from .base import BaseDetector, np_threshold
from .checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from .gmm import GMMDetector
from .np_vae import NPDetector, SamplingError, kl_standard_normal, sample_anomalous_features, train_np_score, vae_loss

__all__ = [
    "AE_PRESETS",
    "AEDetector",
    "CheckpointError",
    "BaseDetector",
    "GMMDetector",
    "NPDetector",
    "SamplingError",
    "kl_standard_normal",
    "load_checkpoint",
    "lr_schedule",
    "np_threshold",
    "sample_anomalous_features",
    "save_checkpoint",
    "train_np_score",
    "vae_loss",
]
