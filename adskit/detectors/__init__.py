"""Scikit-learn style detectors: each wraps a model and owns its training loop (see ``base`` for directions)."""

from .ae import AEDetector, lr_schedule
from .base import BaseDetector, np_threshold
from .gmm import GMMDetector

__all__ = ["AEDetector", "BaseDetector", "GMMDetector", "lr_schedule", "np_threshold"]
