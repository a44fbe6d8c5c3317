"""Building blocks shared by the fully connected models: activations, Glorot init, size checks, layer stacks."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = ["ACTIVATIONS", "fuse_batchnorm", "glorot_init_"]

ACTIVATIONS = {"sigmoid": nn.Sigmoid, "relu": nn.ReLU, "tanh": nn.Tanh, "elu": nn.ELU}


def glorot_init_(module: nn.Module, seed: int | None = None) -> nn.Module:
    """Glorot (Xavier) uniform weights and zero biases for every ``nn.Linear`` in ``module``, in order.

    With a ``seed`` the initialisation is drawn from its own ``torch.Generator``, so two models built with
    the same seed start from identical parameters (the papers compare RE, SNP and BU from the same start),
    without touching torch's global random state.

    Parameters
    ----------
    module : nn.Module
        Initialised in place; weights of shape (fan_out, fan_in) are drawn from U(-b, b),
        b = sqrt(6 / (fan_in + fan_out)).
    seed : int or None
        Seed of the generator; None draws from torch's global generator.

    Returns
    -------
    nn.Module
        ``module`` itself.
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


def check_sizes(input_dim: int, latent_dim: int, hidden: Sequence[int], activation: str) -> list[int]:
    """Validate a fully connected model's sizes and activation; return the hidden widths as ints.

    Raises
    ------
    ValueError
        If ``input_dim`` or ``latent_dim`` is below 1, a hidden width is below 1, or ``activation`` is not a
        key of :data:`ACTIVATIONS`; the message names the argument.
    """
    if int(input_dim) < 1:
        raise ValueError(f"input_dim: expected a positive integer, got {input_dim!r}")
    if int(latent_dim) < 1:
        raise ValueError(f"latent_dim: expected a positive integer, got {latent_dim!r}")
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation: expected one of {sorted(ACTIVATIONS)}, got {activation!r}")
    widths = [int(h) for h in hidden]
    if any(h < 1 for h in widths):
        raise ValueError(f"hidden: widths must be positive integers, got {widths}")
    return widths


def check_dropout(p: float, name: str) -> float:
    """A dropout probability as float.

    Raises
    ------
    ValueError
        If ``p`` is outside [0, 1); the message names ``name``.
    """
    p = float(p)
    if not 0.0 <= p < 1.0:
        raise ValueError(f"{name}: expected a dropout probability in [0, 1), got {p!r}")
    return p


def mlp(sizes: Sequence[int], activation: str, *, dropout: float = 0.0, batchnorm: bool = False) -> list[nn.Module]:
    """Layers of a stack of hidden blocks: per consecutive pair of ``sizes``, Linear [+ BatchNorm1d] +
    activation [+ Dropout(dropout)].

    Parameters
    ----------
    sizes : sequence of int
        Widths, input side first; ``len(sizes) - 1`` blocks.
    activation : str
        A key of :data:`ACTIVATIONS`.
    dropout : float
        Dropout probability after each block (none when 0).
    batchnorm : bool
        BatchNorm1d between each Linear and its activation.

    Returns
    -------
    list of nn.Module
        Flat, in order, for ``nn.Sequential(*layers)``.
    """
    layers: list[nn.Module] = []
    for a, b in zip(sizes[:-1], sizes[1:], strict=True):
        layers.append(nn.Linear(a, b))
        if batchnorm:
            layers.append(nn.BatchNorm1d(b))
        layers.append(ACTIVATIONS[activation]())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    return layers


def fuse_batchnorm(module: nn.Module) -> nn.Module:
    """An inference copy of ``module`` with every ``Linear`` followed by ``BatchNorm1d`` folded into one ``Linear``.

    In evaluation mode BatchNorm is the affine map y = gamma (x - mu) / sqrt(var + eps) + beta with its running
    statistics, so Linear then BatchNorm is one Linear with weight diag(s) W and bias s (b - mu) + beta,
    s = gamma / sqrt(var + eps) (``torch.nn.utils.fusion.fuse_linear_bn_eval``). The copy computes the evaluation
    mode outputs of ``module`` up to float rounding, one pass over each layer's outputs cheaper; ``module``
    itself is not changed.

    Parameters
    ----------
    module : nn.Module
        Any module; pairs are found inside every ``nn.Sequential`` (a Linear immediately followed by a
        BatchNorm1d of its width).

    Returns
    -------
    nn.Module
        A deep copy in evaluation mode, without gradients.
    """
    import copy

    from torch.nn.utils.fusion import fuse_linear_bn_eval

    out = copy.deepcopy(module).eval()
    for seq in [m for m in out.modules() if isinstance(m, nn.Sequential)]:
        for i in range(len(seq) - 1):
            lin, bn = seq[i], seq[i + 1]
            if isinstance(lin, nn.Linear) and isinstance(bn, nn.BatchNorm1d) and bn.track_running_stats:
                seq[i] = fuse_linear_bn_eval(lin, bn)
                seq[i + 1] = nn.Identity()
    out.requires_grad_(False)
    return out
