"""Pure ``torch.nn.Module`` models: forward only; training loops live in :mod:`adskit.detectors`."""

from .autoencoder import ACTIVATIONS, Autoencoder, glorot_init_

__all__ = ["ACTIVATIONS", "Autoencoder", "glorot_init_"]
