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

Each quantity also has an entry point taking the batch's squared distances ``d2`` (:func:`pairwise_sq_dists`,
``*_from_sq_dists``), so a caller moving ``h`` or ``eps`` over a fixed batch (the bandwidth panel of
:mod:`adskit.widgets`) computes them once. Eq 16, the effective sample size and both warning rules live here only.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from ._gram import log_kde_symmetric, sq_dists
from ._scaling import parse_scaler
from ._utils import as_float_tensor, check_positive

__all__ = [
    "ESS_COLLAPSED_BELOW",
    "ESS_UNIFORM_ABOVE",
    "IDENTITY_BELOW",
    "ILL_ABOVE",
    "BandwidthWarning",
    "GramDiagnostics",
    "bu_weights",
    "bu_weights_from_density",
    "bu_weights_from_sq_dists",
    "gaussian_kde",
    "gaussian_kde_from_sq_dists",
    "gram_diagnostics",
    "gram_diagnostics_from_sq_dists",
    "gram_matrix",
    "log_gaussian_kde",
    "median_heuristic",
    "pairwise_sq_dists",
    "standardize_with",
    "weights_status",
]

#: mean off-diagonal Gram value below which the Gram matrix is "nearly the identity" (spec §1.4 proposal)
IDENTITY_BELOW = 0.01
#: mean off-diagonal Gram value above which the Gram matrix is "nearly all ones" (ill-conditioned)
ILL_ABOVE = 0.5
#: effective sample size of the BU weights (fraction of B) above which they are "uniform" (BU = SNP)
ESS_UNIFORM_ABOVE = 0.995
#: effective sample size of the BU weights (fraction of B) below which they "collapsed" onto a few samples
ESS_COLLAPSED_BELOW = 0.02


class BandwidthWarning(UserWarning):
    """The KDE bandwidth makes the Gram matrix (nearly) the identity or all ones: BU degenerates."""


# ------------------------------------------------------------------------------------ checks and kinds


def _check_batch(x: Any, name: str = "x") -> tuple[torch.Tensor, bool]:
    is_numpy = not isinstance(x, torch.Tensor)
    t = as_float_tensor(x, name, ndim=2, min_rows=1, keep_float64=True)
    if t.shape[0] < 2:
        raise ValueError(f"{name}: a KDE needs a mini-batch of at least 2 samples, got shape {tuple(t.shape)}")
    return t, is_numpy


def _check_sq_dists(d2: Any, h: float, eps: float = 0.0) -> tuple[torch.Tensor, bool, float, float]:
    """(d2 as a tensor, whether it came as NumPy, h, eps), each checked: the arguments of ``*_from_sq_dists``."""
    h = check_positive(h, "h")
    eps = check_positive(eps, "eps", strict=False)
    is_numpy = not isinstance(d2, torch.Tensor)
    t = as_float_tensor(d2, "d2", ndim=2, min_rows=2, keep_float64=True)
    if t.shape[0] != t.shape[1]:
        raise ValueError(f"d2: expected a square (B, B) matrix of squared distances, got shape {tuple(t.shape)}")
    if (t < 0).any():
        raise ValueError("d2: squared distances must be >= 0")
    return t, is_numpy, h, eps


def _out(t: torch.Tensor, is_numpy: bool) -> torch.Tensor | np.ndarray:
    return t.cpu().numpy() if is_numpy else t


# ------------------------------------------------------------------ the formulas, each written once


def _gram(d2: torch.Tensor, h: float) -> torch.Tensor:
    """K_nm = exp(-d2_nm / (2 h^2)), in the dtype of ``d2``."""
    return torch.exp(-d2 / (2.0 * h * h))


def _log_kde_d2(d2: torch.Tensor, h: float) -> torch.Tensor:
    """log p_hat_n (B,), float64, from the squared distances with a log-sum-exp (never underflows)."""
    logk = -d2 / (2.0 * h * h)
    return (torch.logsumexp(logk, dim=1) - math.log(d2.shape[0])).to(torch.float64)


def _log_kde(t: torch.Tensor, h: float) -> torch.Tensor:
    """log p_hat_n of an already validated batch (B, D) (no second finiteness scan): on the CPU from the symmetric
    half of the Gram matrix (a BLAS syrk), elsewhere (CUDA) from the full product."""
    if t.device.type == "cpu":
        return log_kde_symmetric(t, h)
    return _log_kde_d2(sq_dists(t), h)


def _weights(p: torch.Tensor, eps: float) -> torch.Tensor:
    """Eq 16 along the last axis: w_n = (p_hat_n + eps)^-1 / sum_n' (p_hat_n' + eps)^-1."""
    inv = 1.0 / (p + eps)
    return inv / inv.sum(-1, keepdim=True)


def _ess(w: torch.Tensor) -> torch.Tensor:
    """Effective sample size / B = 1 / (B sum_n w_n^2) along the last axis, float64 (1 = uniform)."""
    return 1.0 / (w * w).sum(-1).to(torch.float64) / w.shape[-1]


def _gram_status(mean_offdiag: float) -> str:
    if mean_offdiag < IDENTITY_BELOW:
        return "identity"
    if mean_offdiag > ILL_ABOVE:
        return "ill-conditioned"
    return "ok"


def weights_status(ess: float) -> str:
    """The :class:`BandwidthWarning` rule on the effective sample size ``ess`` of BU weights (a fraction of B).

    Returns ``"uniform"`` above :data:`ESS_UNIFORM_ABOVE` (BU = SNP), ``"collapsed"`` below
    :data:`ESS_COLLAPSED_BELOW` (a handful of samples dominate), else ``"ok"``.
    """
    ess = float(ess)
    if ess > ESS_UNIFORM_ABOVE:
        return "uniform"
    if ess < ESS_COLLAPSED_BELOW:
        return "collapsed"
    return "ok"


def standardize_with(x: torch.Tensor, standardize: Any) -> torch.Tensor:
    """Standardise ``x`` (B, D) per dimension with training-set statistics (in float64; dtype of ``x`` out).

    ``standardize`` is ``None`` (no change), a ``(mean, std)`` pair of arrays of shape (D,), or a fitted
    object with ``mean_`` and ``scale_`` (e.g. ``sklearn.preprocessing.StandardScaler``), read by
    :func:`adskit._scaling.parse_scaler` (near-zero standard deviations count as 1).

    Raises
    ------
    ValueError
        If ``standardize`` is neither form or its statistics do not have D entries.
    """
    if standardize is None:
        return x
    mean, std = parse_scaler(standardize, x.shape[1], "standardize")
    mean = torch.as_tensor(mean, device=x.device)
    std = torch.as_tensor(std, device=x.device)
    return ((x.to(torch.float64) - mean) / std).to(x.dtype)


# ---------------------------------------------------------------------------------- public entry points


def pairwise_sq_dists(x: Any) -> torch.Tensor | np.ndarray:
    """Pairwise squared Euclidean distances of a batch, the input of every ``*_from_sq_dists`` function.

    Parameters
    ----------
    x : np.ndarray or torch.Tensor [shape=(B, D)], B >= 2, finite

    Returns
    -------
    d2 : same kind as ``x``, shape (B, B), dtype of ``x`` (float64 for float64 NumPy), diagonal exactly 0.
        Computed on the centred batch with one matrix product (as the KDE itself does), clamped at 0.

    Raises
    ------
    ValueError
        If ``x`` is not a finite 2-D array of at least 2 rows.

    Examples
    --------
    >>> pairwise_sq_dists(np.array([[0.0, 0.0], [3.0, 4.0]]))
    array([[ 0., 25.],
           [25.,  0.]])
    """
    t, is_numpy = _check_batch(x)
    return _out(sq_dists(t), is_numpy)


def gram_matrix(x: Any, h: float) -> torch.Tensor:
    """Gaussian Gram matrix K_nm = exp(-||x_n - x_m||^2 / (2 h^2)), shape (B, B), dtype of ``x``, diagonal 1.

    Raises
    ------
    ValueError
        If ``h`` is not a finite number > 0 or ``x`` is not a finite (B, D) batch with B >= 2.
    """
    h = check_positive(h, "h")
    t, _ = _check_batch(x)
    return _gram(sq_dists(t), h)


def log_gaussian_kde(x: Any, h: float) -> torch.Tensor | np.ndarray:
    """log p_hat_n for every sample of the mini-batch (never underflows: the self-term keeps p_hat_n >= 1/B).

    On the CPU only the lower triangle of the Gram matrix is computed (a BLAS ``syrk``, or three block products when
    torch has two or more threads, see :func:`adskit._gram.log_kde_symmetric`); on CUDA the full product of
    :func:`pairwise_sq_dists` is used.

    Parameters
    ----------
    x : np.ndarray or torch.Tensor [shape=(B, D)], B >= 2
    h : float > 0, the bandwidth (exponent convention 2 h^2)

    Returns
    -------
    Same kind as ``x`` (NumPy in, NumPy out), shape (B,), float64: ``log mean_m exp(-||x_n-x_m||^2/(2h^2))``.
    Equal to scikit-learn's ``KernelDensity(bandwidth=h).fit(x).score_samples(x)`` plus
    ``(D/2) log(2 pi h^2)``.

    Raises
    ------
    ValueError
        If ``h`` is not a finite number > 0 or ``x`` is not a finite (B, D) batch with B >= 2.
    """
    h = check_positive(h, "h")
    t, is_numpy = _check_batch(x)
    return _out(_log_kde(t, h), is_numpy)


def gaussian_kde(x: Any, h: float) -> torch.Tensor | np.ndarray:
    """Mini-batch Gaussian KDE without normalising constant (spec eq 15).

    p_hat_n = (1/B) sum_m exp(-||x_n - x_m||^2 / (2 h^2)), self-term included, so p_hat_n lies in [1/B, 1].
    Higher = denser (more typical). The symmetric half of the Gram matrix on the CPU, the full product on CUDA, in the
    precision of ``x`` (float32 or float64). ``x`` (B, D), B >= 2, finite; returns ``p_hat``, same kind as ``x``,
    shape (B,), float64.

    Raises
    ------
    ValueError
        As :func:`log_gaussian_kde`.

    Examples
    --------
    >>> import numpy as np
    >>> p = gaussian_kde(np.array([[0.0, 0.0], [0.0, 0.0], [5.0, 5.0]]), h=1.0)
    >>> bool(p[0] > p[2])
    True
    """
    log_p = log_gaussian_kde(x, h)
    return torch.exp(log_p) if isinstance(log_p, torch.Tensor) else np.exp(log_p)


def gaussian_kde_from_sq_dists(d2: Any, h: float) -> torch.Tensor | np.ndarray:
    """:func:`gaussian_kde` from the squared distances ``d2`` (B, B) of :func:`pairwise_sq_dists`.

    Returns ``p_hat``, same kind as ``d2``, shape (B,), float64, in [1/B, 1] (higher = denser).

    Raises
    ------
    ValueError
        If ``h`` is not a finite number > 0 or ``d2`` is not a finite, non-negative square matrix (B >= 2).
    """
    t, is_numpy, h, _ = _check_sq_dists(d2, h)
    return _out(torch.exp(_log_kde_d2(t, h)), is_numpy)


def bu_weights_from_density(
    p_hat: Any, eps: float = 1e-6, *, return_ess: bool = False
) -> torch.Tensor | np.ndarray | tuple[Any, Any]:
    """BU weights from KDE densities (eq 16) along the last axis: several bandwidths or batches at once.

    Parameters
    ----------
    p_hat : np.ndarray or torch.Tensor [shape=(..., B)], finite, >= 0 (see :func:`gaussian_kde`)
    eps : float >= 0, added to p_hat before inverting
    return_ess : bool, also return the effective sample size 1 / (B sum_n w_n^2) (1 = uniform; see
        :func:`weights_status`)

    Returns
    -------
    w : same kind and dtype as ``p_hat`` (float64 for NumPy), shape (..., B), summing to 1 along the last axis
    ess : same kind, shape (...,), float64; only with ``return_ess``

    Raises
    ------
    ValueError
        If ``eps`` is negative or ``p_hat`` is not a finite, non-negative array with at least one axis.
    """
    eps = check_positive(eps, "eps", strict=False)
    is_numpy = not isinstance(p_hat, torch.Tensor)
    t = as_float_tensor(p_hat, "p_hat", ndim=None, min_rows=1, keep_float64=True)
    if t.ndim == 0 or (t < 0).any():
        raise ValueError("p_hat: expected non-negative densities with at least one axis")
    w = _weights(t, eps)
    return (_out(w, is_numpy), _out(_ess(w), is_numpy)) if return_ess else _out(w, is_numpy)


def _warn_if_degenerate(w: torch.Tensor, h: float) -> None:
    """Emit :class:`BandwidthWarning` at the caller of :func:`bu_weights` when the weights degenerated."""
    ess = float(_ess(w))
    status = weights_status(ess)
    if status == "uniform":
        warnings.warn(
            f"bu_weights: h={h:g} makes the BU weights nearly uniform (effective sample size "
            f"{ess:.1%} of the batch): the Gram matrix is close to the identity or to all ones, and BU "
            "reduces to SNP. Check gram_diagnostics(x, h) or try median_heuristic(x).",
            BandwidthWarning,
            stacklevel=3,
        )
    elif status == "collapsed":
        warnings.warn(
            f"bu_weights: h={h:g} concentrates the BU weights on a few samples (effective sample size "
            f"{ess:.1%} of the batch). Try a larger h or eps.",
            BandwidthWarning,
            stacklevel=3,
        )


def bu_weights(
    x: Any,
    h: float,
    eps: float = 1e-6,
    standardize: Any = None,
    *,
    warn: bool = True,
) -> torch.Tensor | np.ndarray:
    """Batch-uniformization weights w_n = (p_hat_n + eps)^-1 / sum_n' (p_hat_n' + eps)^-1 (eq 16).

    Computed without gradient (they depend on the data only). Higher weight = rarer sample. The batch is
    validated once per call (this is the training hot path).

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
        (more than 99.5 % of B: uniform, BU = SNP; or under 2 % of B: a handful of points dominate; see
        :func:`weights_status`).

    Returns
    -------
    w : same kind and device as ``x``, shape (B,), dtype of ``x`` (float64 for NumPy), sums to 1.

    Raises
    ------
    ValueError
        If ``h`` is not > 0, ``eps`` is negative, ``x`` is not a finite (B, D) batch with B >= 2, or
        ``standardize`` does not fit ``x``.

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
        w = _weights(torch.exp(_log_kde(z, h)), eps)
        if warn:
            _warn_if_degenerate(w, h)
    if is_numpy:
        return w.cpu().numpy()
    return w.to(dtype=t.dtype)


def bu_weights_from_sq_dists(d2: Any, h: float, eps: float = 1e-6) -> torch.Tensor | np.ndarray:
    """:func:`bu_weights` (no standardisation, no warning) from the squared distances ``d2`` (B, B).

    Returns ``w``, same kind as ``d2``, shape (B,), dtype of ``d2`` (float64 for NumPy), summing to 1 (higher =
    rarer); the numbers of ``bu_weights(x, h, eps)`` for ``d2 = pairwise_sq_dists(x)`` up to rounding (this path forms
    the full product, :func:`bu_weights` on the CPU only its symmetric half).

    Raises
    ------
    ValueError
        If ``h`` is not > 0, ``eps`` is negative or ``d2`` is not a finite, non-negative square matrix.
    """
    t, is_numpy, h, eps = _check_sq_dists(d2, h, eps)
    w = _weights(torch.exp(_log_kde_d2(t, h)), eps)
    return w.cpu().numpy() if is_numpy else w.to(dtype=t.dtype)


def median_heuristic(x: Any, standardize: Any = None, max_samples: int = 2000, random_state: int = 0) -> float:
    """Bandwidth h = median_{n != m} ||x_n - x_m|| / sqrt(2) (spec §1.5 proposal).

    With the 2 h^2 exponent, the kernel then equals e^-1 at the median pairwise distance. At most
    ``max_samples`` rows (drawn with ``random_state``) are used.

    Raises
    ------
    ValueError
        If ``x`` is not a finite (B, D) batch with B >= 2, ``standardize`` does not fit it, or all samples are
        identical.
    """
    t, _ = _check_batch(x)
    t = standardize_with(t, standardize)
    if t.shape[0] > max_samples:
        g = torch.Generator().manual_seed(int(random_state))
        t = t[torch.randperm(t.shape[0], generator=g)[:max_samples].to(t.device)]
    d2 = sq_dists(t)
    iu = torch.triu_indices(d2.shape[0], d2.shape[0], offset=1, device=d2.device)
    med = float(torch.sqrt(d2[iu[0], iu[1]]).median())
    if med <= 0:
        raise ValueError("x: all samples are identical; no bandwidth can separate them")
    return med / math.sqrt(2.0)


# --------------------------------------------------------------------------------------- diagnostics


@dataclass(frozen=True)
class GramDiagnostics:
    """How usable a bandwidth is for BU on a batch (see :func:`gram_diagnostics`)."""

    h: float
    mean_offdiag: float  # mean of K_nm over n != m; ~0: K ~ identity, ~1: K ~ all ones
    condition_number: float  # lambda_max / lambda_min of K (inf if singular, nan if not computed)
    weight_ratio: float  # max w / min w of the BU weights
    ess_fraction: float  # effective sample size of the BU weights / B (1 = uniform)
    status: str  # "ok", "identity" or "ill-conditioned"

    def as_dict(self) -> dict:
        return asdict(self)


def _diagnostics(d2: torch.Tensor, h: float, eps: float, condition: bool) -> GramDiagnostics:
    K = _gram(d2, h)
    B = K.shape[0]
    mean_off = float((K.sum() - B) / (B * (B - 1)))
    cond = math.nan
    if condition:
        ev = torch.linalg.eigvalsh(K)
        lo, hi = float(ev[0]), float(ev[-1])
        cond = hi / lo if lo > 0 else math.inf
    w = _weights(K.mean(1), eps)
    return GramDiagnostics(h, mean_off, cond, float(w.max() / w.min()), float(_ess(w)), _gram_status(mean_off))


def gram_diagnostics(x: Any, h: float, eps: float = 1e-6, standardize: Any = None) -> GramDiagnostics:
    """Measure the paper's rule "the Gram matrix is neither the identity nor ill-conditioned".

    ``status`` is ``"identity"`` when the mean off-diagonal kernel value is below 0.01 (every sample only
    sees itself: all p_hat ~ 1/B), ``"ill-conditioned"`` when it is above 0.5 (every sample sees all others:
    all p_hat ~ 1), else ``"ok"``. In both degenerate cases the weights are nearly uniform and BU = SNP.

    Raises
    ------
    ValueError
        If ``h`` is not > 0, ``eps`` is negative, ``x`` is not a finite (B, D) batch with B >= 2, or
        ``standardize`` does not fit ``x``.
    """
    h = check_positive(h, "h")
    eps = check_positive(eps, "eps", strict=False)
    t, _ = _check_batch(x)
    return _diagnostics(sq_dists(standardize_with(t, standardize)), h, eps, condition=True)


def gram_diagnostics_from_sq_dists(d2: Any, h: float, eps: float = 1e-6, *, condition: bool = True) -> GramDiagnostics:
    """:func:`gram_diagnostics` from the squared distances ``d2`` (B, B) of :func:`pairwise_sq_dists`.

    ``condition=False`` skips cond(K), one symmetric eigen-decomposition (the costly part); it is then ``nan``.
    Raises ``ValueError`` as :func:`bu_weights_from_sq_dists` does.
    """
    t, _, h, eps = _check_sq_dists(d2, h, eps)
    return _diagnostics(t, h, eps, condition)
