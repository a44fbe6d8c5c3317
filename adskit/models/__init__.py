"""Pure ``torch.nn.Module`` models: forward only; training loops live in :mod:`adskit.detectors`."""

from .autoencoder import ACTIVATIONS, Autoencoder, glorot_init_
from .vae import VAE, GaussianEncoder

__all__ = ["ACTIVATIONS", "VAE", "Autoencoder", "GaussianEncoder", "glorot_init_"]
