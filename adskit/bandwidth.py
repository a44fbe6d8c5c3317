"""Bandwidth rules for the KDE of batch uniformization: the median heuristic and a target effective sample size.

The BU weights w_n ~ 1 / (p_hat(x_n) + eps) (BU paper eq 16) are uniform at both ends of the bandwidth: for
h -> 0 the Gram matrix tends to the identity (each vector only sees itself), for h -> inf to all ones (every
vector sees all). The effective sample size of the weights, ESS / B = 1 / (B sum_n w_n^2), is therefore U-shaped
in log h, and only a window of h gives weights that differ. In 440-704-dimensional context vectors that window
is narrow, and the median heuristic (:func:`adskit.kde.median_heuristic`) can sit outside it (ESS ~ 99.9 %, BU
is then SNP). :func:`ess_bandwidth` instead picks the h whose weights have a target ESS.

How it searches (not in the paper; ours): on a few random batches of the training vectors (the batch size of
training, as the weights are computed per batch), the ESS is evaluated on a grid of h = factor x h0 (h0 the
median heuristic, factors log-spaced over 0.03-10); from the minimum of the curve towards larger h, the first grid
interval where the mean ESS reaches the target is refined with :func:`scipy.optimize.brentq` on log h. The larger
of the two h with that ESS is taken because on the smaller side the Gram matrix is close to the identity and the
density estimate rests on few neighbours. When the target is below the smallest ESS any h reaches, the h of the
minimum is returned with ``reached=False``. The bandwidth is fixed once, on the first training data, as the
median heuristic is.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from scipy.optimize import brentq

from ._utils import check_positive
from .kde import (
    bu_weights_from_density,
    gaussian_kde_from_sq_dists,
    median_heuristic,
    pairwise_sq_dists,
    standardize_with,
)

__all__ = ["BandwidthChoice", "ess_bandwidth", "ess_curve", "parse_bandwidth_rule", "weight_share"]

FACTORS = np.logspace(math.log10(0.03), 1.0, 49)  # h / h0 searched by default


@dataclass(frozen=True)
class BandwidthChoice:
    """The bandwidth an ESS target gave, with what was measured on the way.

    Attributes
    ----------
    h : float
        The chosen bandwidth (units of the KDE input).
    ess : float
        Mean ESS / B of the BU weights at ``h`` on the search batches.
    target : float
        The ESS / B asked for.
    reached : bool
        False when the target is below ``min_ess`` (then ``h == h_min_ess``).
    h0 : float
        The median heuristic on the same data.
    ess_h0 : float
        Mean ESS / B at ``h0``.
    min_ess, h_min_ess : float
        The smallest mean ESS / B on the grid, and the h where it is reached.
    """

    h: float
    ess: float
    target: float
    reached: bool
    h0: float
    ess_h0: float
    min_ess: float
    h_min_ess: float

    def as_dict(self) -> dict:
        return asdict(self)


def parse_bandwidth_rule(h: Any) -> tuple[str, float | None]:
    """Read a bandwidth setting: a positive number, ``"median"`` or ``"ess:q"`` (q in (0, 1), an ESS / B target).

    Returns
    -------
    rule : {"fixed", "median", "ess"}
    value : float or None
        The bandwidth ("fixed"), the ESS target ("ess") or None ("median").

    Raises
    ------
    ValueError
        If ``h`` is none of these.
    """
    if isinstance(h, str):
        if h == "median":
            return "median", None
        if h.startswith("ess:"):
            try:
                q = float(h[4:])
            except ValueError:
                q = float("nan")
            if 0.0 < q < 1.0:
                return "ess", q
        raise ValueError(f"h: expected a positive number, 'median' or 'ess:q' with q in (0, 1), got {h!r}")
    return "fixed", check_positive(h, "h")


def _search_batches(x: Any, batch_size: int, n_batches: int, standardize: Any, random_state: int) -> list:
    """Squared distances of the batches the ESS is measured on: ``n_batches`` random subsets of ``batch_size``
    rows of x, or, when x is a sequence of 2-D arrays, those batches themselves."""
    if isinstance(x, (list, tuple)):
        parts = [torch.as_tensor(b) for b in x]
        if not parts or any(b.ndim != 2 or b.shape[0] < 2 for b in parts):
            raise ValueError("x: expected a (N, D) array or a non-empty sequence of (B, D) batches with B >= 2")
        return [pairwise_sq_dists(standardize_with(b.to(torch.float64), standardize)) for b in parts]
    t = torch.as_tensor(x)
    if t.ndim != 2 or t.shape[0] < 2:
        raise ValueError(f"x: expected a (N, D) array with N >= 2, got shape {tuple(t.shape)}")
    t = standardize_with(t.to(torch.float64), standardize)
    b = min(int(batch_size), t.shape[0])
    if b < 2:
        raise ValueError(f"batch_size: expected an integer >= 2, got {batch_size!r}")
    g = torch.Generator().manual_seed(int(random_state))
    return [pairwise_sq_dists(t[torch.randperm(t.shape[0], generator=g)[:b]]) for _ in range(int(n_batches))]


def _mean_ess(d2s: list, h: float, eps: float) -> float:
    """Mean over the batches (their squared distances ``d2s``) of the BU weights' ESS / B at bandwidth h."""
    return float(
        np.mean([bu_weights_from_density(gaussian_kde_from_sq_dists(d2, h), eps, return_ess=True)[1] for d2 in d2s])
    )


def _prepare(x: Any, factors: Any, batch_size: int, n_batches: int, eps: float, standardize: Any, random_state: int):
    f = FACTORS if factors is None else np.asarray(factors, dtype=np.float64).reshape(-1)
    if f.size == 0 or not np.all(f > 0):
        raise ValueError("factors: expected positive numbers")
    check_positive(eps, "eps", strict=False)
    whole = torch.cat([torch.as_tensor(b) for b in x]) if isinstance(x, (list, tuple)) and x else x
    h0 = median_heuristic(whole, standardize=standardize, random_state=random_state)
    d2s = _search_batches(x, batch_size, n_batches, standardize, random_state)
    h = f * h0
    return h, np.array([_mean_ess(d2s, float(v), eps) for v in h]), h0, d2s


def ess_curve(
    x: Any,
    factors: Any = None,
    *,
    batch_size: int = 512,
    n_batches: int = 4,
    eps: float = 1e-6,
    standardize: Any = None,
    random_state: int = 0,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Mean ESS / B of the BU weights against the bandwidth, on random batches of ``x``.

    Parameters
    ----------
    x : array-like [shape=(N, D)], or a sequence of arrays [shape=(B_i, D)]
        Training vectors (the KDE's input): random batches are drawn from an array; a sequence is taken as the
        training batches themselves (streamed batches, e.g. the paper's contiguous segments, whose vectors are
        more alike than random ones: their ESS differs).
    factors : array-like of float > 0, optional
        h / h0 to evaluate (default :data:`FACTORS`, 0.03-10, log-spaced), h0 = the median heuristic of ``x``.
    batch_size : int >= 2
        Rows per batch (the training batch size: the KDE runs per batch).
    n_batches : int >= 1
        Random batches averaged.
    eps : float >= 0
        The weights' regulariser (eq 16).
    standardize : None, (mean, std) or an object with ``mean_``/``scale_``
        As in :func:`adskit.kde.bu_weights`.
    random_state : int
        Seeds the batches and the median heuristic's subsample.

    Returns
    -------
    h : np.ndarray [shape=(F,)]
        The bandwidths.
    ess : np.ndarray [shape=(F,)]
        Mean ESS / B at each (1 = uniform weights).
    h0 : float
        The median heuristic.

    Raises
    ------
    ValueError
        If ``x`` is not (N, D) with N >= 2, all its rows are identical, or an argument is out of range.
    """
    h, ess, h0, _ = _prepare(x, factors, batch_size, n_batches, eps, standardize, random_state)
    return h, ess, h0


def ess_bandwidth(
    x: Any,
    target: float = 0.5,
    *,
    batch_size: int = 512,
    n_batches: int = 4,
    eps: float = 1e-6,
    standardize: Any = None,
    random_state: int = 0,
) -> BandwidthChoice:
    """The bandwidth whose BU weights have effective sample size ``target`` x B (the larger such h).

    Parameters
    ----------
    x : array-like [shape=(N, D)], or a sequence of arrays [shape=(B_i, D)]
        As in :func:`ess_curve`.
    target : float in (0, 1)
        ESS / B to aim for.
    batch_size, n_batches, eps, standardize, random_state
        As in :func:`ess_curve`.

    Returns
    -------
    BandwidthChoice

    Raises
    ------
    ValueError
        If ``target`` is not in (0, 1), or as :func:`ess_curve`.
    """
    target = float(target)
    if not 0.0 < target < 1.0:
        raise ValueError(f"target: expected an ESS fraction in (0, 1), got {target!r}")
    h, ess, h0, d2s = _prepare(x, None, batch_size, n_batches, eps, standardize, random_state)
    i_min = int(np.argmin(ess))
    base = {"target": target, "h0": h0, "ess_h0": _mean_ess(d2s, h0, eps), "min_ess": float(ess[i_min])}
    base["h_min_ess"] = float(h[i_min])
    if ess[i_min] >= target:  # even the least uniform weights are more uniform than asked for
        return BandwidthChoice(h=float(h[i_min]), ess=float(ess[i_min]), reached=False, **base)
    above = [j for j in range(i_min + 1, len(h)) if ess[j] >= target]
    if not above:  # the curve does not come back up to the target within the grid
        return BandwidthChoice(h=float(h[-1]), ess=float(ess[-1]), reached=False, **base)
    j = above[0]
    lo, hi = math.log(h[j - 1]), math.log(h[j])
    log_h = brentq(lambda u: _mean_ess(d2s, math.exp(u), eps) - target, lo, hi, xtol=1e-4)
    h_star = math.exp(log_h)
    return BandwidthChoice(h=h_star, ess=_mean_ess(d2s, h_star, eps), reached=True, **base)


def weight_share(x: Any, h: float, mask: Any, *, eps: float = 1e-6, standardize: Any = None) -> float:
    """How much more BU weight a group of vectors gets than its share of the batch: (sum of the weights on the
    ``mask`` rows) / (share of ``mask`` rows). 1 = as SNP (uniform weights); above 1 = the group is up-weighted.

    Parameters
    ----------
    x : array-like [shape=(B, D)] or a sequence of such batches
        The normal rows of one training batch (or several: the weights are computed per batch and the ratio
        pooled over them, each batch's weights summing to 1).
    h : float > 0
        The bandwidth.
    mask : array-like of bool [shape=(B,)], or a sequence matching ``x``
        The group, e.g. the rare-normal vectors.
    eps, standardize
        As in :func:`adskit.kde.bu_weights`.

    Returns
    -------
    float
        NaN when the group is absent from every batch.

    Raises
    ------
    ValueError
        If a mask does not have one entry per row, or as :func:`adskit.kde.bu_weights`.
    """
    xs = list(x) if isinstance(x, (list, tuple)) else [x]
    ms = list(mask) if isinstance(x, (list, tuple)) else [mask]
    if len(ms) != len(xs):
        raise ValueError(f"mask: expected one mask per batch ({len(xs)}), got {len(ms)}")
    got = share = 0.0
    for xb, mb in zip(xs, ms, strict=True):
        mb = np.asarray(mb, dtype=bool).reshape(-1)
        d2 = pairwise_sq_dists(standardize_with(torch.as_tensor(xb).to(torch.float64), standardize))
        if mb.size != d2.shape[0]:
            raise ValueError(f"mask: expected {d2.shape[0]} entries (one per row), got {mb.size}")
        w = np.asarray(bu_weights_from_density(gaussian_kde_from_sq_dists(d2, check_positive(h, "h")), eps))
        got += float(w[mb].sum())
        share += mb.mean()
    return got / share if share > 0 else float("nan")
