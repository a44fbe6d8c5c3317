"""Anomaly score and training costs (Koizumi et al., WASPAA 2019 eqs 5-16; EUSIPCO 2017 eqs 12, 19-20).

All costs are to be **minimised** and take anomaly scores, not models, so that the same functions serve any
model. Scores point the same way everywhere: higher = more anomalous.

=====  ==========================================================  ==============
cost   formula                                                     paper eq.
=====  ==========================================================  ==============
RE     mean_n A(x_n)                                               (7)
SNP    mean_n A(x_n) - mean_m min(A(x~_m), C)                      (9)-(10)
BU     sum_n w_n A(x_n) - mean_m min(A(x~_m), C)                   (16)
NP     -[mean_a sigmoid(L_a - phi) - mean_n sigmoid(L_n - phi)]    EUSIPCO (12)
VAE    mean_n ||G(zeta_n) - x_n||^2 + KL[N(f, sigma^2) || N(0, I)]  EUSIPCO (19)-(20)
=====  ==========================================================  ==============
"""

from __future__ import annotations

import torch

from ._utils import check_positive

__all__ = ["anomaly_score", "bu_loss", "kl_standard_normal", "np_loss", "re_loss", "snp_loss", "vae_loss"]


def _check_same_shape(ref: torch.Tensor, other: torch.Tensor, ref_name: str, other_name: str) -> None:
    if other.shape != ref.shape:
        raise ValueError(f"{other_name}: shape {tuple(other.shape)} does not match {ref_name} {tuple(ref.shape)}")


def anomaly_score(x: torch.Tensor, x_hat: torch.Tensor) -> torch.Tensor:
    """A(x) = ||x - x_hat||_2^2, summed over the feature dimensions (BU paper eq 5). Higher = more anomalous.

    Parameters
    ----------
    x, x_hat : torch.Tensor [shape=(n, d)] (any leading shape; the last axis is summed)

    Returns
    -------
    torch.Tensor [shape=(n,)]

    Raises
    ------
    ValueError
        If ``x_hat`` does not have the shape of ``x``.

    Examples
    --------
    >>> import torch
    >>> anomaly_score(torch.zeros(2, 3), torch.ones(2, 3)).tolist()
    [3.0, 3.0]
    """
    _check_same_shape(x, x_hat, "x", "x_hat")
    return ((x - x_hat) ** 2).sum(dim=-1)


def _check_scores(a: torch.Tensor, name: str, allow_empty: bool = False) -> torch.Tensor:
    if not isinstance(a, torch.Tensor):
        raise ValueError(f"{name}: expected a torch.Tensor of scores, got {type(a).__name__}")
    if a.ndim != 1:
        raise ValueError(f"{name}: expected a 1-D tensor of per-sample scores, got shape {tuple(a.shape)}")
    if a.shape[0] == 0 and not allow_empty:
        raise ValueError(f"{name}: expected at least one score, got none")
    return a


def re_loss(a_normal: torch.Tensor) -> torch.Tensor:
    """J_RE = (1/N) sum_n A(x_n): the plain reconstruction-error cost (BU paper eq 7).

    ``a_normal`` has shape (N,), N >= 1.

    Raises
    ------
    ValueError
        If ``a_normal`` is not a non-empty 1-D tensor.
    """
    return _check_scores(a_normal, "a_normal").mean()


def _clipped_anomalous_term(a_anomalous: torch.Tensor, C: float) -> torch.Tensor:
    C = check_positive(C, "C")
    return a_anomalous.clamp(max=C).mean()


def snp_loss(a_normal: torch.Tensor, a_anomalous: torch.Tensor, C: float) -> torch.Tensor:
    """J_SNP = (1/N) sum_n A(x_n) - (1/M) sum_m min(A(x~_m), C) (BU paper eqs 9-10).

    The clip C stops the anomalous term from diverging: once a simulated anomaly scores above C it gives
    no gradient. ``a_normal`` (N,), N >= 1; ``a_anomalous`` (M,), M >= 1 (SNP needs simulated anomalies).

    Raises
    ------
    ValueError
        If a score tensor is not a non-empty 1-D tensor, or ``C`` is not positive.
    """
    a_normal = _check_scores(a_normal, "a_normal")
    a_anomalous = _check_scores(a_anomalous, "a_anomalous")
    return a_normal.mean() - _clipped_anomalous_term(a_anomalous, C)


def bu_loss(
    a_normal: torch.Tensor,
    weights: torch.Tensor,
    a_anomalous: torch.Tensor | None = None,
    C: float | None = None,
) -> torch.Tensor:
    """J_BU = sum_n w_n A(x_n) - (1/M) sum_m min(A(x~_m), C) (BU paper eq 16).

    Parameters
    ----------
    a_normal : torch.Tensor [shape=(N,)], scores of the normal samples
    weights : torch.Tensor [shape=(N,)], non-negative, summing to 1 (see :func:`adskit.kde.bu_weights`);
        treated as constants (detached)
    a_anomalous : torch.Tensor [shape=(M,)] or None; None or M = 0 gives the weighted term alone
    C : float > 0, the clip; required when anomalous scores are given

    Raises
    ------
    ValueError
        If a score tensor is not 1-D (``a_normal`` and ``weights`` non-empty), the weights do not match
        ``a_normal`` in shape, are negative, not finite or do not sum to 1, or ``C`` is missing or not positive.
    """
    a_normal = _check_scores(a_normal, "a_normal")
    weights = _check_scores(weights, "weights")
    _check_same_shape(a_normal, weights, "a_normal", "weights")
    w = weights.detach().to(a_normal.dtype)
    if not torch.isfinite(w).all() or (w < 0).any():
        raise ValueError("weights: expected finite, non-negative values")
    if abs(float(w.sum()) - 1.0) > 1e-3:
        raise ValueError(f"weights: expected to sum to 1, they sum to {float(w.sum()):.6g}")
    loss = (w * a_normal).sum()
    if a_anomalous is not None and a_anomalous.numel() > 0:
        if C is None:
            raise ValueError("C: the clip is required when a_anomalous is given")
        loss = loss - _clipped_anomalous_term(_check_scores(a_anomalous, "a_anomalous"), C)
    return loss


def np_loss(l_anomalous: torch.Tensor, l_normal: torch.Tensor, phi: float, slope: float = 1.0) -> torch.Tensor:
    """Negative sigmoid-smoothed TPR - FPR at a fixed threshold phi (EUSIPCO 2017 eqs 11-12), to minimise.

    -( (1/K_a) sum_k sigmoid(slope (L(a_k) - phi)) - (1/K_d) sum_k sigmoid(slope (L(d_k) - phi)) )

    The paper's eq (11) as extracted reads 1/(1+exp(L - phi)), which *decreases* with L; we use
    sigmoid(L - phi), the form consistent with its decision rule (5) (spec §2.1). ``phi`` is a constant
    (no gradient), ``slope`` = 1 is the paper's.

    Raises
    ------
    ValueError
        If ``l_anomalous`` or ``l_normal`` is not a non-empty 1-D tensor, or ``slope`` is not positive.
    """
    l_anomalous = _check_scores(l_anomalous, "l_anomalous")
    l_normal = _check_scores(l_normal, "l_normal")
    slope = check_positive(slope, "slope")
    phi = float(phi)
    tpr = torch.sigmoid(slope * (l_anomalous - phi)).mean()
    fpr = torch.sigmoid(slope * (l_normal - phi)).mean()
    return -(tpr - fpr)


def kl_standard_normal(f: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """KL[N(f, diag sigma^2) || N(0, I)] per row (EUSIPCO 2017 eq 20 with the standard sign).

    -1/2 sum_d (1 + ln sigma_d^2 - f_d^2 - sigma_d^2), which is >= 0 (the extracted eq 20 lost the leading
    minus; spec §2.1).

    Parameters
    ----------
    f : torch.Tensor [shape=(n, D)]
        Means.
    log_var : torch.Tensor [shape=(n, D)]
        ln sigma^2.

    Returns
    -------
    torch.Tensor [shape=(n,)]
        KL divergences in nats, >= 0.

    Raises
    ------
    ValueError
        If the shapes of ``f`` and ``log_var`` differ.

    Examples
    --------
    >>> kl_standard_normal(torch.zeros(2, 3), torch.zeros(2, 3)).tolist()
    [0.0, 0.0]
    """
    _check_same_shape(f, log_var, "f", "log_var")
    return 0.5 * (f.pow(2) + log_var.exp() - 1.0 - log_var).sum(dim=-1)  # = -1/2 sum (1 + ln s2 - f2 - s2)


def vae_loss(x: torch.Tensor, x_hat: torch.Tensor, f: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """Mini-batch mean of ||G(zeta) - x||^2 (eq 19) + KL (eq 20), to minimise.

    The paper sums over the K_o vectors; the mean only rescales the step size.

    Parameters
    ----------
    x, x_hat : torch.Tensor [shape=(n, Q)]
        Inputs and their reconstructions G(zeta).
    f, log_var : torch.Tensor [shape=(n, D)]
        The encoder's means and ln sigma^2.

    Returns
    -------
    torch.Tensor, a scalar

    Raises
    ------
    ValueError
        If ``x_hat`` does not have the shape of ``x``, or ``log_var`` that of ``f``.
    """
    return anomaly_score(x, x_hat).mean() + kl_standard_normal(f, log_var).mean()
