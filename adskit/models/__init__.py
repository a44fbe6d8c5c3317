"""Pure ``torch.nn.Module`` models: forward only; training loops live in :mod:`adskit.detectors`."""

from ._layers import ACTIVATIONS, fuse_batchnorm, glorot_init_
from .autoencoder import Autoencoder
from .vae import VAE, GaussianEncoder

__all__ = ["ACTIVATIONS", "VAE", "Autoencoder", "GaussianEncoder", "fuse_batchnorm", "glorot_init_"]
