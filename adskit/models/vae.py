"""Variational autoencoder of the Neyman-Pearson feature extractor (EUSIPCO 2017 eqs 1-3, 18-20).

Pure ``nn.Module``s: forward only, no training loop, no I/O (the loop is in :mod:`adskit.detectors.neyman_pearson`).

* :class:`GaussianEncoder` is the feature extractor F: x (Q,) -> (f, ln sigma^2), each (D,). The mean ``f``
  is the acoustic feature used for detection (eq 1); ``ln sigma^2`` feeds the reparameterisation of eq 19.
* The decoder G ("inverse feature extractor", eq 18) mirrors F: D -> hidden reversed -> Q, linear output.
* :class:`VAE` holds both and returns ``(x_hat, f, log_var)``.

Dropout (paper §IV-A): p = 0.2 on the input of F and p = 0.5 after every hidden layer of F and G. It is active
in ``train()`` mode only, as usual in torch.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ._layers import check_dropout, check_sizes, glorot_init_, mlp

__all__ = ["GaussianEncoder", "VAE"]


class GaussianEncoder(nn.Module):
    """F of eqs 1-3 with a variance head: x -> (f, ln sigma^2).

    Parameters
    ----------
    input_dim : int
        Q, the input dimension (the paper: 64 mel x 21 frames = 1344).
    hidden : sequence of int
        Hidden widths, input side first (the paper: 3 x 512).
    latent_dim : int
        D, the feature dimension (the paper: 32).
    activation : str
        Hidden activation (the paper: "relu").
    input_dropout, hidden_dropout : float
        Dropout probabilities on the input and after every hidden layer (the paper: 0.2 and 0.5).

    Raises
    ------
    ValueError
        If a size is below 1, ``activation`` is unknown or a dropout probability is outside [0, 1).

    Examples
    --------
    >>> enc = GaussianEncoder(10, hidden=(8,), latent_dim=2)
    >>> f, log_var = enc(torch.zeros(3, 10))
    >>> f.shape, log_var.shape
    (torch.Size([3, 2]), torch.Size([3, 2]))
    """

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (512, 512, 512),
        latent_dim: int = 32,
        activation: str = "relu",
        input_dropout: float = 0.2,
        hidden_dropout: float = 0.5,
    ) -> None:
        super().__init__()
        widths = check_sizes(input_dim, latent_dim, hidden, activation)
        p_in = check_dropout(input_dropout, "input_dropout")
        p_h = check_dropout(hidden_dropout, "hidden_dropout")
        trunk: list[nn.Module] = [nn.Dropout(p_in)] if p_in > 0 else []
        trunk += mlp([int(input_dim), *widths], activation, dropout=p_h)
        self.trunk = nn.Sequential(*trunk)
        last = widths[-1] if widths else int(input_dim)
        self.mean = nn.Linear(last, int(latent_dim))  # eq 2: linear output layer, f
        self.log_var = nn.Linear(last, int(latent_dim))  # ln sigma^2 (a log keeps sigma > 0)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Features and log-variances.

        Parameters
        ----------
        x : torch.Tensor [shape=(n, Q)]

        Returns
        -------
        f : torch.Tensor [shape=(n, D)]
            The mean, i.e. the acoustic feature F(x) of eq 1.
        log_var : torch.Tensor [shape=(n, D)]
            ln sigma(x)^2 of eq 19.
        """
        h = self.trunk(x)
        return self.mean(h), self.log_var(h)


class VAE(nn.Module):
    """Fully connected VAE: F = :class:`GaussianEncoder`, G mirrors it (EUSIPCO 2017 §III-B).

    ``forward(x, noise)`` computes zeta = f + sigma(x) * eps (eq 19) and returns ``(G(zeta), f, ln sigma^2)``.
    The noise eps ~ N(0, I) is an argument so that the training loop owns the random stream (a seeded
    ``torch.Generator``); ``noise=None`` draws from torch's global generator.

    Parameters
    ----------
    input_dim, hidden, latent_dim, activation, input_dropout, hidden_dropout
        As :class:`GaussianEncoder`; the decoder has widths ``reversed(hidden)``, dropout ``hidden_dropout``
        after each hidden layer and a linear output of size ``input_dim``.
    seed : int or None
        Seed of the Glorot initialisation (see :func:`adskit.models.glorot_init_`); the paper only says
        "initialized with values that follow a normal distribution".

    Raises
    ------
    ValueError
        As :class:`GaussianEncoder`.

    Attributes
    ----------
    encoder : GaussianEncoder
        F.
    decoder : nn.Sequential
        G: (n, D) -> (n, Q).

    Examples
    --------
    >>> vae = VAE(12, hidden=(16, 8), latent_dim=2, seed=0)
    >>> x_hat, f, log_var = vae(torch.zeros(5, 12), noise=torch.zeros(5, 2))
    >>> x_hat.shape, f.shape
    (torch.Size([5, 12]), torch.Size([5, 2]))
    """

    def __init__(
        self,
        input_dim: int,
        hidden: Sequence[int] = (512, 512, 512),
        latent_dim: int = 32,
        activation: str = "relu",
        input_dropout: float = 0.2,
        hidden_dropout: float = 0.5,
        seed: int | None = None,
    ) -> None:
        super().__init__()
        widths = check_sizes(input_dim, latent_dim, hidden, activation)
        p_h = check_dropout(hidden_dropout, "hidden_dropout")
        # nn.Linear draws a default init from the global RNG; fork it so building a model never shifts the
        # caller's random stream (our Glorot init below uses its own generator).
        with torch.random.fork_rng(devices=[]):
            self.encoder = GaussianEncoder(input_dim, widths, latent_dim, activation, input_dropout, p_h)
            dec = mlp([int(latent_dim), *reversed(widths)], activation, dropout=p_h)
            dec.append(nn.Linear(widths[0] if widths else int(latent_dim), int(input_dim)))
            self.decoder = nn.Sequential(*dec)
        self.input_dim = int(input_dim)
        self.latent_dim = int(latent_dim)
        glorot_init_(self, seed)

    def forward(
        self, x: torch.Tensor, noise: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Reconstruction through the reparameterised latent (eq 19).

        Parameters
        ----------
        x : torch.Tensor [shape=(n, Q)]
        noise : torch.Tensor [shape=(n, D)] or None
            eps ~ N(0, I); None draws it with ``torch.randn_like``.

        Returns
        -------
        x_hat : torch.Tensor [shape=(n, Q)]
            G(zeta), zeta = f + sigma * eps.
        f : torch.Tensor [shape=(n, D)]
        log_var : torch.Tensor [shape=(n, D)]

        Raises
        ------
        ValueError
            If ``noise`` does not have the shape of ``f``.
        """
        f, log_var = self.encoder(x)
        eps = torch.randn_like(f) if noise is None else noise
        if eps.shape != f.shape:
            raise ValueError(f"noise: expected shape {tuple(f.shape)}, got {tuple(eps.shape)}")
        zeta = f + torch.exp(0.5 * log_var) * eps
        return self.decoder(zeta), f, log_var
