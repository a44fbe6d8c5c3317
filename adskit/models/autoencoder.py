"""Fully connected autoencoders (pure ``nn.Module``: forward only, no training loop, no I/O)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._layers import ACTIVATIONS, check_sizes, glorot_init_, mlp

__all__ = ["ACTIVATIONS", "Autoencoder", "glorot_init_"]  # ACTIVATIONS, glorot_init_: re-exported from _layers


class Autoencoder(nn.Module):
    """A fully connected autoencoder x -> E(x) -> D(E(x)).

    Every layer but the decoder's output is Linear (+ BatchNorm) + activation; the output layer is linear.

    Parameters
    ----------
    input_dim : int, the dimension d of the input vectors
    hidden : sequence of int, encoder hidden widths (input side first)
    latent_dim : int, bottleneck width Z
    decoder_hidden : sequence of int or None, decoder hidden widths; None mirrors ``hidden``
    activation : "sigmoid" (2-D experiment), "relu" (audio), "tanh" or "elu"
    batchnorm : bool, BatchNorm1d after every hidden and bottleneck layer (the DCASE 2020 baseline)
    seed : int or None, seed of the Glorot initialisation

    Raises
    ------
    ValueError
        If ``input_dim``, ``latent_dim`` or a hidden width is below 1, or ``activation`` is unknown.

    Examples
    --------
    The (2, a, b, c, 2) autoencoder of the 2-D experiment with a = c = 64, b = 2:

    >>> ae = Autoencoder(2, hidden=(64,), latent_dim=2, activation="sigmoid", seed=0)
    >>> ae(torch.zeros(5, 2)).shape
    torch.Size([5, 2])
    """

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (128, 128, 128, 128),
        latent_dim: int = 8,
        decoder_hidden: Sequence[int] | None = None,
        activation: str = "relu",
        batchnorm: bool = False,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        hidden = check_sizes(input_dim, latent_dim, hidden, activation)
        dec = list(reversed(hidden)) if decoder_hidden is None else [int(h) for h in decoder_hidden]
        enc_sizes = [int(input_dim), *hidden, int(latent_dim)]
        dec_sizes = [int(latent_dim), *dec]
        # nn.Linear draws a default init from the global RNG; fork it so building a model never shifts
        # the caller's random stream (our own Glorot init below uses its own generator).
        with torch.random.fork_rng(devices=[]):
            enc = mlp(enc_sizes, activation, batchnorm=batchnorm)
            decl = mlp(dec_sizes, activation, batchnorm=batchnorm)
            decl.append(nn.Linear(dec_sizes[-1], int(input_dim)))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*decl)
        self.input_dim = int(input_dim)
        self.latent_dim = int(latent_dim)
        glorot_init_(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction D(E(x)), shape (n, input_dim)."""
        return self.decoder(self.encoder(x))
