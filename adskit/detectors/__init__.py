"""Scikit-learn style detectors: each wraps a model and owns its training loop (see ``base`` for directions)."""

from .ae import AEDetector, lr_schedule
from .base import BaseDetector, np_threshold

__all__ = ["AEDetector", "BaseDetector", "lr_schedule", "np_threshold"]
