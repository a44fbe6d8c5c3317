"""The two products behind :mod:`adskit.kde`: pairwise squared distances of a mini-batch (the full B x B matrix
product) and the log of the KDE's row means from the lower triangle of the Gram matrix alone (BLAS ``syrk`` on one
thread, or three half-batch block products on torch's threads when it has two or more).

Both centre the batch first, which removes most of the cancellation in ||a||^2 + ||b||^2 - 2 a.b for data far from
the origin or of large dimension; that keeps float32 accurate enough for the BU weights (a float64 Gram matrix would
cost most of a training step on the CPU). Both work in the dtype of the batch (float32 or float64; other floating
dtypes are computed in float32).
"""

from __future__ import annotations

from functools import cache

import torch
from scipy.linalg import get_blas_funcs
from threadpoolctl import ThreadpoolController

from ._utils import exp_floor


@cache
def _openblas() -> ThreadpoolController:
    """The OpenBLAS libraries loaded in this process (SciPy's among them), found once."""
    return ThreadpoolController().select(internal_api="openblas")


def centred(x: torch.Tensor) -> torch.Tensor:
    """``x`` (B, D) without gradient, minus its column means, contiguous, float32 or float64 (float64 stays)."""
    z = x.detach()
    if z.dtype not in (torch.float32, torch.float64):
        z = z.to(torch.float32)
    return z - z.mean(0, keepdim=True)


def sq_dists(x: torch.Tensor) -> torch.Tensor:
    """Pairwise squared distances (B, B) of ``x`` (B, D) with one full matrix product (any device), in the dtype of
    the centred batch (see :func:`centred`); clamped at 0, diagonal exactly 0."""
    z = centred(x)
    sq = (z * z).sum(1)
    d2 = torch.addmm(sq.unsqueeze(1), z, z.T, alpha=-2.0)  # ||a||^2 - 2 a.b, fused into the product
    d2.add_(sq.unsqueeze(0))
    d2.clamp_(min=0.0)
    d2.fill_diagonal_(0.0)
    return d2


def log_kde_symmetric(x: torch.Tensor, h: float) -> torch.Tensor:
    """log p_hat_n = log (1/B) sum_m exp(-||x_n - x_m||^2 / (2 h^2)) (BU paper eq 15), (B,) float64, on the CPU.

    Only the symmetric half of the Gram matrix is formed, by the BLAS ``syrk`` that SciPy exposes (``ssyrk`` for
    float32, ``dsyrk`` for float64): B(B+1)D/2 multiply-adds instead of the B^2 D of a full product. The centred
    batch is handed to BLAS as it lies in memory (a C-ordered (B, D) array is the Fortran-ordered (D, B) one, hence
    ``trans=1``), so nothing is copied. With G = Z Z^T / h^2 and s_n = G_nn / 2, the exponent is
    G_nm - s_n - s_m = -||z_n - z_m||^2 / (2 h^2), computed in place on the lower triangle (diagonal exactly 0);
    each row mean of the full kernel matrix is then its lower triangle's row sum plus column sum minus the diagonal.
    Every term is at most 1 (up to rounding; the sums are clamped at B) and the diagonal is exactly 1, so the sums
    lie in [1, B] and the log never underflows (no log-sum-exp is needed).

    The product runs on one OpenBLAS thread: after a multi-threaded call OpenBLAS's workers keep spinning for a while,
    and beside torch's own threads (the AE's step right after) they slowed that step several-fold on this 2-core
    machine under load. When torch itself has two or more threads (``torch.get_num_threads()``, which
    :func:`adskit._threads.cpu_threads` sets from the idle cores), the lower triangle is formed instead by torch in
    two halves of the batch: the two diagonal blocks and the one block below them, three products of (B/2)^2 D
    multiply-adds (3/4 of the full product) on torch's threads. At B = 512, D = 640 on 2 threads that took 1.8 ms
    against syrk's 3.9 ms on one (medians of one run each; with one torch thread syrk took 2.3 ms, the blocks 3.4 ms).

    The CUDA path of :mod:`adskit.kde` keeps the full product (:func:`sq_dists`): cuBLAS's GEMM is fast enough there,
    and this function needs host memory.

    Parameters
    ----------
    x : torch.Tensor [shape=(B, D)], on the CPU, finite, B >= 1
    h : float > 0, the bandwidth (exponent convention 2 h^2)

    Returns
    -------
    torch.Tensor [shape=(B,)], float64, in [-log B, 0]

    Raises
    ------
    ValueError
        If ``x`` is not on the CPU.
    """
    if x.device.type != "cpu":
        raise ValueError(f"x: log_kde_symmetric needs a CPU tensor, got one on {x.device}")
    z = centred(x)
    B = z.shape[0]
    if torch.get_num_threads() >= 2:
        rows = _row_sums_blocks(z, h)
    else:
        zn = z.numpy()  # shares memory with z
        syrk = get_blas_funcs("syrk", (zn,))
        with _openblas().limit(limits=1):  # no OpenBLAS worker left spinning beside torch's threads (see above)
            g = syrk(1.0 / (h * h), zn.T, trans=1)  # (B, B), Fortran order: upper triangle = z_n . z_m / h^2, rest 0
        k = torch.from_numpy(g.T)  # the same memory in C order: the lower triangle holds the products
        s = k.diagonal() * 0.5
        k.sub_(s.unsqueeze(1)).sub_(s.unsqueeze(0))  # on the lower triangle: -||z_n - z_m||^2 / (2 h^2)
        k.clamp_min_(exp_floor(k.dtype)).exp_().tril_()  # in place: no B x B buffer besides BLAS's output
        rows = k.sum(1) + k.sum(0) - k.diagonal()
    rows = rows.clamp_(max=B)  # rounding could push a sum of terms <= 1 past B
    return torch.log(rows.to(torch.float64) / B)


def _row_sums_blocks(z: torch.Tensor, h: float) -> torch.Tensor:
    """Row sums (B,) of the kernel matrix exp(-||z_n - z_m||^2 / (2 h^2)) of a centred batch z (B, D) from its lower
    block triangle: the two diagonal blocks of the halves a, b and the block b a^T below them (torch's threads)."""
    m = z.shape[0] // 2
    a, b = z[:m], z[m:]
    scale = 1.0 / (h * h)
    gaa = torch.mm(a, a.T).mul_(scale)
    gbb = torch.mm(b, b.T).mul_(scale)
    gba = torch.mm(b, a.T).mul_(scale)
    sa, sb = gaa.diagonal() * 0.5, gbb.diagonal() * 0.5  # the exponent's diagonal is then exactly 0
    floor = exp_floor(z.dtype)
    for g, s_row, s_col in ((gaa, sa, sa), (gbb, sb, sb), (gba, sb, sa)):
        g.sub_(s_row.unsqueeze(1)).sub_(s_col.unsqueeze(0)).clamp_min_(floor).exp_()
    return torch.cat([gaa.sum(1) + gba.sum(0), gbb.sum(1) + gba.sum(1)])
