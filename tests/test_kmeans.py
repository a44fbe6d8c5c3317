"""adskit._kmeans (the GMM's default start) against sklearn.cluster.KMeans, and Lloyd's fixed point."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from adskit._kmeans import kmeans, kmeans_plusplus, nearest_centres


@pytest.fixture(scope="module")
def separated():
    """6 clusters far apart (centres in a box of half-width 20, spreads 0.5 to 1.5), 3000 rows in 5-D."""
    X, y = make_blobs(
        n_samples=3000, n_features=5, centers=6, cluster_std=[0.5, 1.0, 1.5, 0.8, 1.2, 0.7], random_state=3
    )
    return X, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_inertia_and_partition_match_sklearn_on_separated_data(separated, seed):
    """Both with 4 k-means++ starts: the same inertia (rel. 1e-9) and the same partition (up to renaming)."""
    X, _ = separated
    sk = KMeans(6, n_init=4, random_state=seed).fit(X)
    ours = kmeans(torch.from_numpy(X), 6, n_starts=4, generator=torch.Generator().manual_seed(seed))
    assert abs(ours.inertia - sk.inertia_) <= 1e-9 * sk.inertia_
    labels = ours.labels.numpy()
    assert len(np.unique(labels)) == len(np.unique(sk.labels_)) == 6
    assert adjusted_rand_score(sk.labels_, labels) == 1.0
    assert len(ours.inertias) == 4 and ours.inertia == min(ours.inertias)


def test_result_is_a_lloyd_fixed_point():
    """tol=0: every centre is the mean of its rows and every row's label is its nearest centre."""
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(800, 3)))
    res = kmeans(X, 5, n_starts=3, tol=0.0, generator=torch.Generator().manual_seed(0))
    for c in range(5):
        torch.testing.assert_close(res.centers[c], X[res.labels == c].mean(0), rtol=0, atol=1e-10)
    d = torch.cdist(X, res.centers)
    assert torch.equal(d.argmin(1), res.labels)
    np.testing.assert_allclose(res.inertia, float((d.min(1).values ** 2).sum()), rtol=1e-10)


def test_empty_cluster_is_moved_to_the_farthest_row():
    """A start with a centre far from every row: that cluster would be empty; it ends with rows of its own."""
    rng = np.random.default_rng(1)
    X = torch.from_numpy(np.r_[rng.normal(0, 1, (200, 2)), rng.normal(8, 1, (200, 2))])
    init = torch.tensor([[[0.0, 0.0], [8.0, 8.0], [1e3, 1e3]]], dtype=X.dtype)
    res = kmeans(X, 3, init=init)
    assert torch.bincount(res.labels, minlength=3).min() > 0
    assert float(res.centers.abs().max()) < 100


def test_kmeans_plusplus_draws_distinct_rows_and_is_seeded(separated):
    X = torch.from_numpy(separated[0])
    a = kmeans_plusplus(X, 6, n_starts=3, generator=torch.Generator().manual_seed(5))
    b = kmeans_plusplus(X, 6, n_starts=3, generator=torch.Generator().manual_seed(5))
    assert a.shape == (3, 6, 5) and torch.equal(a, b)
    rows = {tuple(r) for r in X.numpy().tolist()}
    for s in range(3):
        assert all(tuple(c) in rows for c in a[s].tolist())
        assert len({tuple(c) for c in a[s].tolist()}) == 6
    # on well-separated data every seeding puts one centre in each true cluster
    nearest = torch.cdist(a.reshape(-1, 5), X).argmin(1).view(3, 6)
    y = torch.from_numpy(separated[1])
    assert all(len(set(y[nearest[s]].tolist())) == 6 for s in range(3))


def test_identical_rows_do_not_break_seeding():
    X = torch.ones(50, 2, dtype=torch.float64)
    res = kmeans(X, 3, n_starts=2, generator=torch.Generator().manual_seed(0))
    assert res.inertia == 0.0 and res.labels.shape == (50,)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_clusters": 0}, "n_clusters"),
        ({"n_clusters": 11}, "n_clusters"),
        ({"n_starts": 0}, "n_starts"),
        ({"max_iter": 0}, "max_iter"),
        ({"tol": -1.0}, "tol"),
        ({"init": torch.zeros(1, 2, 2)}, "init"),
    ],
)
def test_bad_arguments(kwargs, match):
    X = torch.zeros(10, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=match):
        kmeans(X, **{"n_clusters": 2, **kwargs})
    with pytest.raises(ValueError, match="X: expected a 2-D floating-point"):
        kmeans(torch.zeros(10, dtype=torch.float64), 2)


def test_nearest_centres_labels_and_inertias_against_numpy():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(500, 6))
    centres = rng.normal(size=(3, 4, 6))  # three sets of four centres
    labels, inertias = nearest_centres(torch.as_tensor(X), torch.as_tensor(centres))
    for s in range(3):
        d = ((X[:, None, :] - centres[s][None]) ** 2).sum(-1)
        np.testing.assert_array_equal(labels[:, s].numpy(), d.argmin(1))
        np.testing.assert_allclose(float(inertias[s]), d.min(1).sum(), rtol=1e-10)


def test_nearest_centres_with_tied_centres_picks_a_nearest_one():
    """Duplicate centres (exact ties) and rows sitting on a centre: each label names a centre at the minimum distance
    (which of two tied copies wins may depend on BLAS rounding), in float32 and float64."""
    rng = np.random.default_rng(4)
    base = rng.normal(size=(3, 5))
    centres = np.stack([base[[0, 1, 0, 2, 1]], base[[2, 2, 1, 0, 0]]])  # (2 sets, 5 centres), each with duplicates
    X = np.concatenate([base, rng.normal(size=(200, 5))])  # the first rows sit exactly on centres
    for dtype in (torch.float32, torch.float64):
        labels, inertias = nearest_centres(torch.as_tensor(X, dtype=dtype), torch.as_tensor(centres, dtype=dtype))
        tol = 1e-4 if dtype == torch.float32 else 1e-10
        for s in range(2):
            d = ((X[:, None, :] - centres[s][None]) ** 2).sum(-1)
            lab = labels[:, s].numpy()
            assert ((lab >= 0) & (lab < 5)).all()
            np.testing.assert_allclose(d[np.arange(len(X)), lab], d.min(1), rtol=tol, atol=tol)
            np.testing.assert_allclose(float(inertias[s]), d.min(1).sum(), rtol=tol)
