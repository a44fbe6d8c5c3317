"""k-means in torch: greedy k-means++ seeding and Lloyd iterations, several starts batched in one tensor.

The GMM's default start (:mod:`adskit._gmm_init`). Several starts run side by side: their S x K centres
share one (n, D) x (D, S K) matrix product per iteration, so S starts cost about one S-times-wider product
rather than S passes over the data. The start with the lowest inertia is kept.

Implements Arthur & Vassilvitskii (2007), "k-means++: the advantages of careful seeding" (greedy variant
with ``2 + ln K`` candidates per centre, as scikit-learn's ``kmeans_plusplus``), and Lloyd's algorithm with
scikit-learn's stopping rule (labels unchanged, or the squared centre shift below ``tol`` times the mean
per-feature variance of X). Tested against ``sklearn.cluster.KMeans`` in ``tests/test_kmeans.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

__all__ = ["KMeansResult", "kmeans", "kmeans_plusplus", "nearest_centres"]


@dataclass(frozen=True)
class KMeansResult:
    """The best of several k-means starts.

    Attributes
    ----------
    centers : torch.Tensor [shape=(K, D)]
    labels : torch.Tensor [shape=(n,)], int64
        Index of the nearest centre of each row.
    inertia : float
        Sum of squared distances of the rows to their nearest centre (lower = tighter clusters).
    n_iter : int
        Lloyd iterations run (all starts run together, until the last one stops).
    inertias : tuple of float
        The final inertia of every start.
    all_labels : torch.Tensor [shape=(n, S)], int64
        The labels of every start (column ``argmin(inertias)`` is ``labels``).
    all_centers : torch.Tensor [shape=(S, K, D)]
        The centres of every start.
    """

    centers: torch.Tensor
    labels: torch.Tensor
    inertia: float
    n_iter: int
    inertias: tuple[float, ...]
    all_labels: torch.Tensor
    all_centers: torch.Tensor


def _check(X: torch.Tensor, n_clusters: int, n_starts: int) -> None:
    if X.ndim != 2 or not X.is_floating_point():
        raise ValueError(f"X: expected a 2-D floating-point tensor, got shape {tuple(X.shape)} and {X.dtype}")
    if not isinstance(n_clusters, int) or not 1 <= n_clusters <= X.shape[0]:
        raise ValueError(f"n_clusters: expected an integer in [1, {X.shape[0]}] (rows of X), got {n_clusters!r}")
    if not isinstance(n_starts, int) or n_starts < 1:
        raise ValueError(f"n_starts: expected an integer >= 1, got {n_starts!r}")


def _sq_dist(X: torch.Tensor, sq: torch.Tensor, C: torch.Tensor) -> torch.Tensor:
    """Squared distances (m, n) of the rows of C (m, D) to the rows of X (n, D); ``sq`` = row norms of X squared.

    Centre-major: every later reduction (over candidates, centres or starts) runs across rows of length n, which
    torch vectorises; the (n, m) layout made the k-means++ step 3-4x slower (strided broadcasts).
    """
    return torch.addmm((C * C).sum(1)[:, None], C, X.T, alpha=-2.0).add_(sq).clamp_min_(0.0)


def _assign(X: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Squared distance to the nearest centre minus |x|^2, and its index, both (S, n), for centres (S, K, D)."""
    S, K, D = centers.shape
    C = centers.reshape(S * K, D)
    d = torch.addmm((C * C).sum(1)[:, None], C, X.T, alpha=-2.0).view(S, K, X.shape[0])
    # torch's min/argmin with indices over a middle dimension are 3-20x slower than amin (measured); the index is
    # found with value-only reductions instead: the lowest k among the entries equal to the minimum (as argmin)
    dmin = d.amin(1, keepdim=True)
    k = torch.arange(K, dtype=d.dtype, device=d.device)[None, :, None]
    first = d.sub_(dmin).sign_().mul_(K).add_(k).amin(1)  # K * [d > min] + k
    return dmin.squeeze(1), first.long()


def nearest_centres(X: torch.Tensor, centers: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Labels and inertias of the rows of X (n, D) under each of S sets of centres (S, K, D).

    Returns
    -------
    labels : torch.Tensor [shape=(n, S)], int64
        Index of the nearest centre of each row, per set (a transposed view).
    inertias : torch.Tensor [shape=(S,)]
        Sum of squared distances of the rows to their nearest centre, per set.
    """
    dmin, labels = _assign(X, centers)
    return labels.T, dmin.add_((X * X).sum(1)).clamp_min_(0.0).sum(1)


def kmeans_plusplus(
    X: torch.Tensor,
    n_clusters: int,
    *,
    n_starts: int = 1,
    generator: torch.Generator | None = None,
    n_trials: int | None = None,
) -> torch.Tensor:
    """Greedy k-means++ seeding, ``n_starts`` independent seedings at once.

    Each new centre is the best (lowest potential) of ``n_trials`` rows drawn with probability proportional
    to their squared distance to the nearest centre chosen so far (Arthur & Vassilvitskii 2007; greedy form
    as scikit-learn's ``kmeans_plusplus``).

    Parameters
    ----------
    X : torch.Tensor [shape=(n, D)]
        Floating point, any device.
    n_clusters : int
        K, in [1, n].
    n_starts : int
        S independent seedings.
    generator : torch.Generator or None
        A CPU generator (the draws are made on the CPU so every device seeds alike); None uses torch's global one.
    n_trials : int or None
        Candidates per centre; None means ``2 + int(ln K)``.

    Returns
    -------
    torch.Tensor [shape=(S, K, D)]
        Rows of X, in X's dtype and device.

    Raises
    ------
    ValueError
        If X is not a 2-D floating-point tensor, or ``n_clusters`` / ``n_starts`` is out of range.
    """
    _check(X, n_clusters, n_starts)
    n, S, dev = X.shape[0], n_starts, X.device
    T = 2 + int(math.log(n_clusters)) if n_trials is None else int(n_trials)
    sq = (X * X).sum(1)
    rows = torch.arange(S, device=dev)
    idx = torch.empty(S, n_clusters, dtype=torch.long, device=dev)
    idx[:, 0] = torch.randint(n, (S,), generator=generator).to(dev)
    closest = _sq_dist(X, sq, X[idx[:, 0]])  # (S, n): distance to the nearest centre so far
    for j in range(1, n_clusters):
        weights = closest.cpu()
        flat = weights.sum(1, keepdim=True) <= 0  # every row sits on a centre: draw uniformly
        weights = torch.where(flat, torch.ones_like(weights), weights)
        cand = torch.multinomial(weights, T, replacement=True, generator=generator).to(dev)  # (S, T)
        d = _sq_dist(X, sq, X[cand.reshape(-1)]).view(S, T, n)
        torch.minimum(d, closest[:, None, :], out=d)  # each candidate's new distances
        best = d.sum(2).argmin(1)  # (S,) lowest potential
        closest = d[rows, best]
        idx[:, j] = cand[rows, best]
    return X[idx]


def _lloyd_update(X: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Means (S, K, D) of the clusters given labels (S, n); an empty cluster moves to the row farthest from its centre.

    The S K sums are one (S K, n) x (n, D) product with a one-hot matrix (one kernel, not S scatter-adds).
    """
    S, K, D = centers.shape
    onehot = torch.zeros(S * K, X.shape[0], dtype=X.dtype, device=X.device)
    onehot.view(S, K, -1).scatter_(1, labels[:, None, :], 1.0)
    counts = onehot.sum(1).view(S, K)
    new = (onehot @ X).view(S, K, D) / counts.clamp_min(1.0)[:, :, None]
    empty = counts == 0
    if bool(empty.any()):  # as scikit-learn: relocate to the rows farthest from their centre
        for s in torch.nonzero(empty.any(1)).flatten().tolist():
            lost = torch.nonzero(empty[s]).flatten()
            d = (X - centers[s][labels[s]]).pow(2).sum(1)
            new[s, lost] = X[d.topk(len(lost)).indices]
    return new


def kmeans(
    X: torch.Tensor,
    n_clusters: int,
    *,
    n_starts: int = 1,
    max_iter: int = 300,
    tol: float = 1e-4,
    generator: torch.Generator | None = None,
    init: torch.Tensor | None = None,
) -> KMeansResult:
    """Lloyd's k-means from ``n_starts`` k-means++ seedings run side by side; the lowest inertia is kept.

    Each start stops as scikit-learn's ``KMeans(algorithm="lloyd")`` does: when no label changes, or when the
    summed squared shift of its centres is at most ``tol * mean(var(X, axis=0))``.

    Parameters
    ----------
    X : torch.Tensor [shape=(n, D)]
        Floating point, any device; computed in X's dtype.
    n_clusters : int
        K, in [1, n].
    n_starts : int
        S independent k-means++ starts (scikit-learn's ``n_init``).
    max_iter : int
        Maximum Lloyd iterations (>= 1).
    tol : float
        Relative tolerance on the centre shift (>= 0), scikit-learn's meaning.
    generator : torch.Generator or None
        CPU generator for the seeding (see :func:`kmeans_plusplus`).
    init : torch.Tensor or None [shape=(S, K, D)]
        Starting centres instead of k-means++ seeding (S = ``n_starts``).

    Returns
    -------
    KMeansResult
        Centres (K, D), labels (n,), inertia of the best start, iterations, and every start's inertia.

    Raises
    ------
    ValueError
        If X is not a 2-D floating-point tensor, ``n_clusters`` / ``n_starts`` / ``max_iter`` is out of
        range, ``tol`` is negative, or ``init`` has the wrong shape.
    """
    _check(X, n_clusters, n_starts)
    if not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter: expected an integer >= 1, got {max_iter!r}")
    if not tol >= 0:
        raise ValueError(f"tol: expected a number >= 0, got {tol!r}")
    n, D = X.shape
    S, K = n_starts, n_clusters
    if init is None:
        centers = kmeans_plusplus(X, K, n_starts=S, generator=generator)
    elif tuple(init.shape) != (S, K, D):
        raise ValueError(f"init: expected shape {(S, K, D)}, got {tuple(init.shape)}")
    else:
        centers = init.to(device=X.device, dtype=X.dtype, copy=True)  # updated in place below
    tol_abs = float(tol) * float(X.var(0, unbiased=False).mean())
    sq = (X * X).sum(1)

    done = torch.zeros(S, dtype=torch.bool, device=X.device)
    dmin, labels = _assign(X, centers)  # (S, n) each
    n_iter = 0
    while n_iter < max_iter:
        n_iter += 1
        act = torch.nonzero(~done).flatten()  # only the starts still moving are updated
        c_act = centers[act]
        new = _lloyd_update(X, labels[act], c_act)
        shift = ((new - c_act) ** 2).sum((1, 2))
        d_act, lab_act = _assign(X, new)
        stop = (shift <= tol_abs) | (lab_act == labels[act]).all(1)  # small shift, or no label changed
        centers[act], dmin[act], labels[act] = new, d_act, lab_act
        done[act] = stop
        if bool(done.all()):
            break
    inertias = dmin.add_(sq).clamp_min_(0.0).sum(1)
    best = int(inertias.argmin())
    return KMeansResult(
        centers=centers[best].clone(),
        labels=labels[best].clone(),
        inertia=float(inertias[best]),
        n_iter=n_iter,
        inertias=tuple(float(v) for v in inertias),
        all_labels=labels.T,
        all_centers=centers,
    )
