"""Mini-batch Gaussian KDE and the batch-uniformization (BU) weights (Koizumi et al., WASPAA 2019, eqs 14-16).

The density estimate is the row mean of the Gram matrix of the mini-batch, self-term included, with no
normalising constant (spec ``papers.md`` §1.2 (15)):

    p_hat_n = (1/B) sum_m exp(-||x_n - x_m||^2 / (2 h^2)),   so  1/B <= p_hat_n <= 1,

and the BU weights are ``w_n = (p_hat_n + eps)^-1 / sum_n' (p_hat_n' + eps)^-1`` (eq 16): rare samples
(low density) get large weights, so the weighted mean of the anomaly score approximates its mean under a
uniform distribution over the normal region.

The paper's bandwidth rule is "the Gram matrix of normal training samples becomes neither the identity
matrix nor an ill-conditioned matrix". :func:`gram_diagnostics` measures both failure modes, and
:func:`bu_weights` warns (``BandwidthWarning``) when the weights have collapsed to uniform (BU = SNP) or onto a
handful of points.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ._utils import as_float_tensor, check_positive

__all__ = [
    "BandwidthWarning",
    "GramDiagnostics",
    "bu_weights",
    "gaussian_kde",
    "gram_diagnostics",
    "gram_matrix",
    "log_gaussian_kde",
    "median_heuristic",
    "standardize_with",
]

#: mean off-diagonal Gram value below which the Gram matrix is "nearly the identity" (spec §1.4 proposal)
IDENTITY_BELOW = 0.01
#: mean off-diagonal Gram value above which the Gram matrix is "nearly all ones" (ill-conditioned)
ILL_ABOVE = 0.5


class BandwidthWarning(UserWarning):
    """The KDE bandwidth makes the Gram matrix (nearly) the identity or all ones: BU degenerates."""


def _check_batch(x: Any, name: str = "x") -> tuple[torch.Tensor, bool]:
    is_numpy = not isinstance(x, torch.Tensor)
    t = as_float_tensor(x, name, ndim=2, min_rows=1, keep_float64=True)
    if t.shape[0] < 2:
        raise ValueError(f"{name}: a KDE needs a mini-batch of at least 2 samples, got shape {tuple(t.shape)}")
    return t, is_numpy


def _sq_dists(x: torch.Tensor) -> torch.Tensor:
    """Pairwise squared distances (B, B) with one matrix product, in the dtype of ``x`` (float32 or float64);
    diagonal exactly 0.

    The batch is centred first, which removes most of the cancellation in ||a||^2 + ||b||^2 - 2 a.b for
    data far from the origin or of large dimension; that keeps float32 accurate enough for the weights
    (a float64 Gram matrix would cost most of a training step on the CPU).
    """
    z = x.detach()
    if z.dtype not in (torch.float32, torch.float64):
        z = z.to(torch.float32)
    z = z - z.mean(0, keepdim=True)
    sq = (z * z).sum(1)
    d2 = torch.addmm(sq.unsqueeze(1), z, z.T, alpha=-2.0)  # ||a||^2 - 2 a.b, fused into the product
    d2.add_(sq.unsqueeze(0))
    d2.clamp_(min=0.0)
    d2.fill_diagonal_(0.0)
    return d2


def standardize_with(x: torch.Tensor, standardize: Any) -> torch.Tensor:
    """Standardise ``x`` (B, D) per dimension with training-set statistics.

    ``standardize`` is ``None`` (no change), a ``(mean, std)`` pair of arrays of shape (D,), or a fitted
    object with ``mean_`` and ``scale_`` (e.g. ``sklearn.preprocessing.StandardScaler``). Zero standard
    deviations are treated as 1.
    """
    if standardize is None:
        return x
    if hasattr(standardize, "mean_") and hasattr(standardize, "scale_"):
        mean, std = standardize.mean_, standardize.scale_
    else:
        try:
            mean, std = standardize
        except (TypeError, ValueError) as exc:
            raise ValueError(
                "standardize: expected None, a (mean, std) pair or an object with mean_ and scale_"
            ) from exc
    mean = torch.as_tensor(np.asarray(mean, dtype=np.float64), device=x.device).reshape(-1)
    std = torch.as_tensor(np.asarray(std, dtype=np.float64), device=x.device).reshape(-1)
    if mean.shape[0] != x.shape[1] or std.shape[0] != x.shape[1]:
        raise ValueError(
            f"standardize: mean/std have {mean.shape[0]}/{std.shape[0]} entries, x has {x.shape[1]} dimensions"
        )
    std = torch.where(std > 0, std, torch.ones_like(std))
    return ((x.to(torch.float64) - mean) / std).to(x.dtype)


def gram_matrix(x: Any, h: float) -> torch.Tensor:
    """Gaussian Gram matrix K_nm = exp(-||x_n - x_m||^2 / (2 h^2)), shape (B, B), dtype of ``x``, diagonal 1."""
    h = check_positive(h, "h")
    t, _ = _check_batch(x)
    return torch.exp(-_sq_dists(t) / (2.0 * h * h))


def log_gaussian_kde(x: Any, h: float) -> torch.Tensor | np.ndarray:
    """log p_hat_n for every sample of the mini-batch, computed with a log-sum-exp (never underflows).

    Parameters
    ----------
    x : np.ndarray or torch.Tensor [shape=(B, D)], B >= 2
    h : float > 0, the bandwidth (exponent convention 2 h^2)

    Returns
    -------
    Same kind as ``x`` (NumPy in, NumPy out), shape (B,), float64: ``log mean_m exp(-||x_n-x_m||^2/(2h^2))``.
    Equal to scikit-learn's ``KernelDensity(bandwidth=h).fit(x).score_samples(x)`` plus
    ``(D/2) log(2 pi h^2)``.
    """
    h = check_positive(h, "h")
    t, is_numpy = _check_batch(x)
    logk = -_sq_dists(t) / (2.0 * h * h)
    out = (torch.logsumexp(logk, dim=1) - math.log(t.shape[0])).to(torch.float64)
    return out.cpu().numpy() if is_numpy else out


def gaussian_kde(x: Any, h: float) -> torch.Tensor | np.ndarray:
    """Mini-batch Gaussian KDE without normalising constant (spec eq 15).

    p_hat_n = (1/B) sum_m exp(-||x_n - x_m||^2 / (2 h^2)), self-term included, so p_hat_n lies in [1/B, 1].
    Higher = denser (more typical). One matrix product on the device of ``x`` (CPU or CUDA), in the precision of ``x``
    (float32 or float64); the result is float64.

    Parameters
    ----------
    x : np.ndarray or torch.Tensor [shape=(B, D)], B >= 2, finite
    h : float > 0, bandwidth

    Returns
    -------
    p_hat : same kind as ``x``, shape (B,), float64

    Examples
    --------
    >>> import numpy as np
    >>> p = gaussian_kde(np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]), h=1.0)
    >>> bool(p[0] > p[2])
    True
    """
    log_p = log_gaussian_kde(x, h)
    return torch.exp(log_p) if isinstance(log_p, torch.Tensor) else np.exp(log_p)


def bu_weights(
    x: Any,
    h: float,
    eps: float = 1e-6,
    standardize: Any = None,
    *,
    warn: bool = True,
) -> torch.Tensor | np.ndarray:
    """Batch-uniformization weights w_n = (p_hat_n + eps)^-1 / sum_n' (p_hat_n' + eps)^-1 (eq 16).

    Computed without gradient (they depend on the data only). Higher weight = rarer sample.

    Parameters
    ----------
    x : np.ndarray or torch.Tensor [shape=(B, D)], the *normal* samples of one mini-batch, B >= 2
    h : float > 0, KDE bandwidth (in the units of ``x`` after standardisation)
    eps : float >= 0, added to p_hat before inverting; large eps flattens the weights towards uniform (SNP)
    standardize : None, (mean, std) or fitted scaler
        Per-dimension standardisation with *training-set* statistics before the KDE (the paper's audio
        setting, §4.2.2). ``None`` uses ``x`` as it is (the 2-D experiment).
    warn : bool
        Emit :class:`BandwidthWarning` when the effective sample size of the weights shows they collapsed
        (more than 99.5 % of B: uniform, BU = SNP; or under 2 % of B: a handful of points dominate).

    Returns
    -------
    w : same kind and device as ``x``, shape (B,), dtype of ``x`` (float64 for NumPy), sums to 1.

    Examples
    --------
    >>> import numpy as np
    >>> w = bu_weights(np.array([[0.0], [0.1], [0.2], [3.0]]), h=0.5)
    >>> round(float(w.sum()), 6), bool(w[3] > w[1])
    (1.0, True)
    """
    h = check_positive(h, "h")
    eps = check_positive(eps, "eps", strict=False)
    with torch.no_grad():
        t, is_numpy = _check_batch(x)
        z = standardize_with(t, standardize)
        p = torch.exp(log_gaussian_kde(z, h))
        inv = 1.0 / (p + eps)
        w = inv / inv.sum()
        if warn:
            ess = 1.0 / float((w * w).sum()) / w.shape[0]
            if ess > 0.995:
                warnings.warn(
                    f"bu_weights: h={h:g} makes the BU weights nearly uniform (effective sample size "
                    f"{ess:.1%} of the batch): the Gram matrix is close to the identity or to all ones, and BU "
                    "reduces to SNP. Check gram_diagnostics(x, h) or try median_heuristic(x).",
                    BandwidthWarning,
                    stacklevel=2,
                )
            elif ess < 0.02:
                warnings.warn(
                    f"bu_weights: h={h:g} concentrates the BU weights on a few samples (effective sample size "
                    f"{ess:.1%} of the batch). Try a larger h or eps.",
                    BandwidthWarning,
                    stacklevel=2,
                )
    if is_numpy:
        return w.cpu().numpy()
    return w.to(dtype=t.dtype)


def median_heuristic(x: Any, standardize: Any = None, max_samples: int = 2000, random_state: int = 0) -> float:
    """Bandwidth h = median_{n != m} ||x_n - x_m|| / sqrt(2) (spec §1.5 proposal).

    With the 2 h^2 exponent, the kernel then equals e^-1 at the median pairwise distance. At most
    ``max_samples`` rows (drawn with ``random_state``) are used.
    """
    t, _ = _check_batch(x)
    t = standardize_with(t, standardize)
    if t.shape[0] > max_samples:
        g = torch.Generator().manual_seed(int(random_state))
        t = t[torch.randperm(t.shape[0], generator=g)[:max_samples].to(t.device)]
    d2 = _sq_dists(t)
    iu = torch.triu_indices(d2.shape[0], d2.shape[0], offset=1, device=d2.device)
    med = float(torch.sqrt(d2[iu[0], iu[1]]).median())
    if med <= 0:
        raise ValueError("x: all samples are identical; no bandwidth can separate them")
    return med / math.sqrt(2.0)


@dataclass(frozen=True)
class GramDiagnostics:
    """How usable a bandwidth is for BU on a batch (see :func:`gram_diagnostics`)."""

    h: float
    mean_offdiag: float  # mean of K_nm over n != m; ~0: K ~ identity, ~1: K ~ all ones
    condition_number: float  # lambda_max / lambda_min of K (inf if singular)
    weight_ratio: float  # max w / min w of the BU weights
    ess_fraction: float  # effective sample size of the BU weights / B (1 = uniform)
    status: str  # "ok", "identity" or "ill-conditioned"

    def as_dict(self) -> dict:
        return asdict(self)


def gram_diagnostics(x: Any, h: float, eps: float = 1e-6, standardize: Any = None) -> GramDiagnostics:
    """Measure the paper's rule "the Gram matrix is neither the identity nor ill-conditioned".

    ``status`` is ``"identity"`` when the mean off-diagonal kernel value is below 0.01 (every sample only
    sees itself: all p_hat ~ 1/B), ``"ill-conditioned"`` when it is above 0.5 (every sample sees all others:
    all p_hat ~ 1), else ``"ok"``. In both degenerate cases the weights are nearly uniform and BU = SNP.
    """
    h = check_positive(h, "h")
    t, _ = _check_batch(x)
    z = standardize_with(t, standardize)
    K = torch.exp(-_sq_dists(z) / (2.0 * h * h))
    B = K.shape[0]
    mean_off = float((K.sum() - B) / (B * (B - 1)))
    ev = torch.linalg.eigvalsh(K)
    lo, hi = float(ev[0]), float(ev[-1])
    cond = hi / lo if lo > 0 else math.inf
    p = K.mean(1)
    inv = 1.0 / (p + eps)
    w = inv / inv.sum()
    ess = 1.0 / float((w * w).sum()) / B
    if mean_off < IDENTITY_BELOW:
        status = "identity"
    elif mean_off > ILL_ABOVE:
        status = "ill-conditioned"
    else:
        status = "ok"
    return GramDiagnostics(h, mean_off, cond, float(w.max() / w.min()), ess, status)
