"""Pure ``torch.nn.Module`` models: forward only; training loops live in :mod:`adskit.detectors`."""

from ._layers import ACTIVATIONS, glorot_init_
from .autoencoder import Autoencoder
from .vae import VAE, GaussianEncoder

__all__ = ["ACTIVATIONS", "VAE", "Autoencoder", "GaussianEncoder", "glorot_init_"]
