"""Fully connected autoencoders (pure ``nn.Module``: forward only, no training loop, no I/O)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "Autoencoder", "glorot_init_"]

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}


def glorot_init_(module: nn.Module, seed: int | None = None) -> nn.Module:
    """Glorot (Xavier) uniform weights and zero biases for every ``nn.Linear`` in ``module``, in order.

    With a ``seed`` the initialisation is drawn from its own ``torch.Generator``, so two models built with
    the same seed start from identical parameters (the papers compare RE, SNP and BU from the same start),
    without touching torch's global random state.
    """
    gen = torch.Generator().manual_seed(int(seed)) if seed is not None else None
    for m in module.modules():
        if isinstance(m, nn.Linear):
            fan_out, fan_in = m.weight.shape
            bound = math.sqrt(6.0 / (fan_in + fan_out))
            with torch.no_grad():
                w = torch.empty(m.weight.shape).uniform_(-bound, bound, generator=gen)
                m.weight.copy_(w)
                if m.bias is not None:
                    m.bias.zero_()
    return module


def _block(d_in: int, d_out: int, activation: str, batchnorm: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Linear(d_in, d_out)]
    if batchnorm:
        layers.append(nn.BatchNorm1d(d_out))
    layers.append(ACTIVATIONS[activation]())
    return layers


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
        if int(input_dim) < 1:
            raise ValueError(f"input_dim: expected a positive integer, got {input_dim!r}")
        if int(latent_dim) < 1:
            raise ValueError(f"latent_dim: expected a positive integer, got {latent_dim!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {activation!r}")
        hidden = [int(h) for h in hidden]
        if any(h < 1 for h in hidden):
            raise ValueError(f"hidden: widths must be positive integers, got {hidden}")
        dec = list(reversed(hidden)) if decoder_hidden is None else [int(h) for h in decoder_hidden]
        enc_sizes = [int(input_dim), *hidden, int(latent_dim)]
        dec_sizes = [int(latent_dim), *dec]
        enc: list[nn.Module] = []
        decl: list[nn.Module] = []
        # nn.Linear draws a default init from the global RNG; fork it so building a model never shifts
        # the caller's random stream (our own Glorot init below uses its own generator).
        with torch.random.fork_rng(devices=[]):
            for a, b in zip(enc_sizes[:-1], enc_sizes[1:], strict=True):
                enc += _block(a, b, activation, batchnorm)
            for a, b in zip(dec_sizes[:-1], dec_sizes[1:], strict=True):
                decl += _block(a, b, activation, batchnorm)
            decl.append(nn.Linear(dec_sizes[-1], int(input_dim)))
        self.encoder = nn.Sequential(*enc)
        self.decoder = nn.Sequential(*decl)
        self.input_dim = int(input_dim)
        self.latent_dim = int(latent_dim)
        glorot_init_(self, seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction D(E(x)), shape (n, input_dim)."""
        return self.decoder(self.encoder(x))
