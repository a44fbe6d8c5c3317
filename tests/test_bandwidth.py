"""The ESS bandwidth rule: the ESS curve against a direct NumPy computation, its U shape, and the search."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import cdist

from adskit.bandwidth import ess_bandwidth, ess_curve, parse_bandwidth_rule, weight_share
from adskit.kde import median_heuristic


def _ess_numpy(x: np.ndarray, h: float, eps: float) -> float:
    """ESS / B of the BU weights (eq 16) from scratch: unnormalised Gaussian KDE over the batch."""
    p = np.exp(-cdist(x, x, "sqeuclidean") / (2 * h * h)).mean(1)
    w = 1.0 / (p + eps)
    w /= w.sum()
    return 1.0 / (len(x) * np.sum(w * w))


def _two_clusters(n_frequent: int = 190, n_rare: int = 10, d: int = 8, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.vstack([rng.normal(0, 1, (n_frequent, d)), rng.normal(6, 1, (n_rare, d))])


def test_ess_curve_matches_a_direct_computation_on_one_full_batch():
    x = _two_clusters()
    factors = np.array([0.05, 0.3, 1.0, 5.0])
    # one batch holding every row: the random batch is then x itself (in another order: ESS does not care)
    h, ess, h0 = ess_curve(x, factors, batch_size=len(x), n_batches=1, eps=1e-6)
    assert h0 == pytest.approx(median_heuristic(x))
    np.testing.assert_allclose(ess, [_ess_numpy(x, v, 1e-6) for v in h], rtol=1e-9)


def test_ess_is_uniform_at_both_ends_and_lower_between():
    h, ess, _ = ess_curve(_two_clusters(), [1e-3, 0.5, 1.0, 1e3], batch_size=200, n_batches=1)
    assert ess[0] > 0.999 and ess[-1] > 0.999  # Gram ~ identity, Gram ~ all ones
    assert min(ess[1:3]) < 0.9  # the rare cluster gets more weight in between


def test_ess_bandwidth_hits_the_target_on_the_larger_h_side():
    x = _two_clusters()
    c = ess_bandwidth(x, 0.8, batch_size=200, n_batches=1)
    assert c.reached and c.ess == pytest.approx(0.8, abs=2e-3)
    assert c.ess == pytest.approx(_ess_numpy(x, c.h, 1e-6), rel=1e-6)
    assert c.h > c.h_min_ess and c.min_ess < 0.8


def test_an_unreachable_target_returns_the_least_uniform_h():
    c = ess_bandwidth(_two_clusters(), 0.001, batch_size=200, n_batches=1)
    assert not c.reached and c.h == c.h_min_ess and c.ess == c.min_ess > 0.001


@pytest.mark.parametrize(
    "h, expected", [("median", ("median", None)), ("ess:0.5", ("ess", 0.5)), (0.7, ("fixed", 0.7))]
)
def test_parse_bandwidth_rule(h, expected):
    assert parse_bandwidth_rule(h) == expected


@pytest.mark.parametrize("h", ["ess:1.5", "ess:", "ess:x", "mean", -1.0, 0.0])
def test_parse_bandwidth_rule_refuses(h):
    with pytest.raises(ValueError, match="h"):
        parse_bandwidth_rule(h)


def test_given_batches_are_used_as_they_are():
    """Streamed training passes its own first batches: the ESS is theirs, not that of random subsets."""
    x = _two_clusters()
    a, b = x[::2], x[1::2]
    h, ess, h0 = ess_curve([a, b], [0.3, 1.0])
    assert h0 == pytest.approx(median_heuristic(np.vstack([a, b])))
    np.testing.assert_allclose(ess, [(_ess_numpy(a, v, 1e-6) + _ess_numpy(b, v, 1e-6)) / 2 for v in h], rtol=1e-9)
    with pytest.raises(ValueError, match="x: "):
        ess_curve([a, a[:1]])


def test_weight_share_of_a_rare_cluster():
    x = _two_clusters()  # 10 of 200 rows in a far cluster
    rare = np.r_[np.zeros(190, bool), np.ones(10, bool)]
    h = median_heuristic(x)
    p = np.exp(-cdist(x, x, "sqeuclidean") / (2 * h * h)).mean(1)
    w = 1 / (p + 1e-6)
    w /= w.sum()
    assert weight_share(x, h, rare) == pytest.approx(w[rare].sum() / 0.05, rel=1e-9)
    assert weight_share(x, h, rare) > 2  # the rare cluster is up-weighted
    assert weight_share(x, 1e-4, rare) == pytest.approx(1.0, abs=1e-6)  # Gram ~ identity: uniform, as SNP
    assert np.isnan(weight_share(x, h, np.zeros(200, bool)))
    both = weight_share([x[:100], x[100:]], h, [rare[:100], rare[100:]])
    assert both > 1
    with pytest.raises(ValueError, match="mask"):
        weight_share(x, h, rare[:5])
