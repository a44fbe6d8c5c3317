"""Starting partitions for :class:`adskit.gmm.GaussianMixture` (its ``init`` argument).

``"kmeans++"`` and ``"random_from_data"`` return hard labels, which the mixture turns into weights, means and
covariances by one M-step, as scikit-learn's ``GaussianMixture._initialize_parameters`` does.

``"kmeans"`` (the default) returns the partitions of :data:`KMEANS_STARTS` k-means starts, run side by side
(:func:`adskit._kmeans.kmeans`), on a random subset of at most :data:`KMEANS_SUBSAMPLE` rows (scikit-learn's
``MiniBatchKMeans`` also initialises on a subset, ``init_size``): greedy k-means++ seeding on the whole subset,
Lloyd iterations (scikit-learn's stopping rule, at most :data:`LLOYD_MAX_ITER`) on its first
:data:`LLOYD_SUBSAMPLE` rows, then each start's centres label the whole subset. The mixture then runs EM (to its
``tol``, in float32; for "diag" the runs side by side) on the subset from each of the :data:`EM_STARTS`
lowest-inertia distinct partitions and keeps the highest likelihood as the start of EM on all rows (in the data's
dtype): EM from several starts on a cheaper problem, keep the best, as in the "short runs" strategy of Biernacki,
Celeux & Govaert (2003), "Choosing starting values for the EM algorithm", Comput. Stat. Data Anal. 41. Why not
scikit-learn's one start (``KMeans(n_init=1)``)? One start often leaves two centres in one true cluster and none in
another, a local optimum EM does not leave; and the lowest k-means inertia is not always the highest likelihood
when clusters overlap or differ in spread (``tests/test_gmm.py`` holds a case of each).

The sizes, measured with ``benchmarks/bench_gmm.py``'s family at N = 100k (36 data sets, each fitted with four
``random_state`` values): the seeding uses all 30,000 rows because a component of weight 0.34 % ("unequal",
D = 32, seed 2: about 34 rows per 10,000) got no centre of its own with 10,000 (fit 0.35 below scikit-learn's, an
earlier measurement) and with 20,000 on a ``random_state`` where 30,000 found it (0.22 below; one comparison, not
a rate). Lloyd on 5,000 of the rows and the short EM runs in float32 gave the same worst gap as Lloyd on all
30,000 in float64 (one data set in 144 fits, the same one, 0.22 below scikit-learn's in both) in half the time.
Lloyd stopped after 20 iterations gave that same single gap (as did 30, and 300, scikit-learn's ``max_iter``); 10
added two (0.010 and 0.22 below), so 20 it is: EM refines the partition anyway. Overlapping clusters took 47-69
Lloyd iterations at D = 64 (0.10-0.13 s of a 0.54 s fit), separated ones 17-27.
k-means runs in float32: it only chooses partitions.
"""

from __future__ import annotations

import torch

from ._kmeans import kmeans, kmeans_plusplus, nearest_centres

KMEANS_STARTS = 8  #: k-means++ starts of init="kmeans"
EM_STARTS = 4  #: at most this many distinct partitions (lowest inertia first) get a short EM run
KMEANS_SUBSAMPLE = 30_000  #: rows the starts (seeding, labels, short EM runs) use; all rows when there are fewer
LLOYD_SUBSAMPLE = 5_000  #: the first rows of that subset on which the Lloyd iterations run
LLOYD_MAX_ITER = 20  #: Lloyd iterations of init="kmeans" at most (see the module docstring)
OLD_LLOYD = 10  #: Lloyd iterations of init="kmeans++" (one start, in the data's dtype)
INITS = ("kmeans", "kmeans++", "random_from_data")


def nearest(X: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Index (n,) of the nearest row of ``centers`` (K, D) for each row of X (n, D)."""
    return nearest_centres(X, centers[None])[0][:, 0]


def kmeans_starts(
    X: torch.Tensor, n_components: int, generator: torch.Generator, *, centre: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """The distinct partitions of init="kmeans" (see the module docstring).

    Parameters
    ----------
    X : torch.Tensor [shape=(n, D)]
        The training vectors, n >= n_components.
    n_components : int
    generator : torch.Generator
        CPU generator (``random_state``).
    centre : torch.Tensor or None [shape=(D,)]
        Subtracted from the rows of the subset (the mixture centres its data); None: X is used as it is.

    Returns
    -------
    subset : torch.Tensor [shape=(m, D)], float32
        The random subset of at most :data:`KMEANS_SUBSAMPLE` rows of X (all rows when there are fewer), minus
        ``centre``, which the short EM runs reuse.
    labels : torch.Tensor [shape=(m, S')], int64
        One column per distinct partition (starts of equal inertia, to 1e-6 relative, counted once), the
        lowest inertia first, at most :data:`EM_STARTS`.
    """
    n = X.shape[0]
    sub = X
    if n > KMEANS_SUBSAMPLE:
        sub = X[torch.randperm(n, generator=generator)[:KMEANS_SUBSAMPLE].to(X.device)]
    if centre is not None:
        sub = sub - centre
    sub = sub.float()
    seeds = kmeans_plusplus(sub, n_components, n_starts=KMEANS_STARTS, generator=generator)
    lloyd = sub[:LLOYD_SUBSAMPLE]
    if lloyd.shape[0] < n_components:  # (LLOYD_SUBSAMPLE set below n_components)
        lloyd = sub
    res = kmeans(lloyd, n_components, n_starts=KMEANS_STARTS, init=seeds, max_iter=LLOYD_MAX_ITER)
    labels, inertias_t = nearest_centres(sub, res.all_centers)
    inertias = inertias_t.tolist()
    keep: list[int] = []
    for s in sorted(range(KMEANS_STARTS), key=lambda i: inertias[i]):
        if all(abs(inertias[s] - inertias[j]) > 1e-6 * abs(inertias[j]) for j in keep):
            keep.append(s)
    return sub, labels[:, keep[:EM_STARTS]]


def initial_labels(X: torch.Tensor, n_components: int, init: str, generator: torch.Generator) -> torch.Tensor:
    """Hard labels (n,) of a starting partition of X (n, D) into ``n_components`` groups.

    Parameters
    ----------
    X : torch.Tensor [shape=(n, D)]
        The (centred) training vectors, n >= n_components.
    n_components : int
    init : {"kmeans++", "random_from_data"}
        ``"kmeans++"`` (adskit's default before issue 15): one greedy
        k-means++ seeding and at most :data:`OLD_LLOYD` Lloyd iterations. ``"random_from_data"``: nearest of
        ``n_components`` distinct random rows.
    generator : torch.Generator
        CPU generator (``random_state``).

    Returns
    -------
    torch.Tensor [shape=(n,)], int64, on X's device

    Raises
    ------
    ValueError
        If ``init`` is not "kmeans++" or "random_from_data".
    """
    n, k, dev = X.shape[0], n_components, X.device
    if init == "kmeans++":
        return kmeans(X, k, max_iter=OLD_LLOYD, tol=0.0, generator=generator).labels
    if init == "random_from_data":
        idx = torch.randperm(n, generator=generator)[:k].to(dev)
        labels = nearest(X, X[idx])
        labels[idx] = torch.arange(k, device=dev)
        return labels
    raise ValueError(f"init: expected 'kmeans++' or 'random_from_data' here, got {init!r}")
