import math
import warnings

import numpy as np
import pytest
import torch
from sklearn.neighbors import KernelDensity

import adskit.kde
from adskit.kde import (
    ESS_COLLAPSED_BELOW,
    ESS_UNIFORM_ABOVE,
    BandwidthWarning,
    bu_weights,
    bu_weights_from_density,
    bu_weights_from_sq_dists,
    gaussian_kde,
    gaussian_kde_from_sq_dists,
    gram_diagnostics,
    gram_diagnostics_from_sq_dists,
    gram_matrix,
    log_gaussian_kde,
    median_heuristic,
    pairwise_sq_dists,
    weights_status,
)


@pytest.mark.parametrize("shape", [(2, 1), (7, 2), (64, 3), (200, 16), (128, 640)])
@pytest.mark.parametrize("scale", [0.3, 1.0, 5.0])
def test_kde_matches_sklearn_up_to_constant(shape, scale):
    rng = np.random.default_rng(sum(shape))
    x = rng.normal(size=shape) * scale + 3.0
    B, D = shape
    h = scale * math.sqrt(D) * 0.7
    ours = log_gaussian_kde(x, h)
    ref = KernelDensity(kernel="gaussian", bandwidth=h).fit(x).score_samples(x)
    np.testing.assert_allclose(ours, ref + 0.5 * D * math.log(2 * math.pi * h * h), atol=1e-5, rtol=0)
    np.testing.assert_allclose(np.log(gaussian_kde(x, h)), ours, atol=1e-10)


def test_kde_torch_in_torch_out_and_bounds():
    x = torch.randn(50, 4)
    p = gaussian_kde(x, 0.5)
    assert isinstance(p, torch.Tensor) and p.shape == (50,)
    assert (p >= 1 / 50 - 1e-12).all() and (p <= 1 + 1e-12).all()


def test_large_dimension_far_from_origin_is_stable():
    rng = np.random.default_rng(0)
    x = (rng.normal(size=(64, 2048)) + 1e3).astype(np.float32)
    h = 40.0
    ours = log_gaussian_kde(x, h)
    ref = KernelDensity(bandwidth=h).fit(x.astype(np.float64)).score_samples(x.astype(np.float64))
    np.testing.assert_allclose(ours, ref + 1024 * math.log(2 * math.pi * h * h), atol=1e-4)


def test_weights_sum_to_one_and_order_inversely_to_density():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 0.3, (90, 2)), rng.normal(4, 0.3, (10, 2))])
    p = gaussian_kde(x, 0.5)
    w = bu_weights(x, 0.5)
    assert abs(w.sum() - 1) < 1e-12
    order_p = np.argsort(p)
    assert np.all(np.diff(w[order_p]) <= 1e-15)  # higher density -> lower weight
    assert w[90:].mean() > 3 * w[:90].mean()


def test_weights_without_gradient_and_dtype_device():
    x = torch.randn(32, 3, requires_grad=True)
    w = bu_weights(x, 1.0)
    assert not w.requires_grad and w.dtype == x.dtype and w.device == x.device


def test_standardize_matches_manual():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(40, 5)) * np.array([1, 10, 100, 0.1, 1]) + 7
    mean, std = x.mean(0), x.std(0)
    w1 = bu_weights(x, 1.5, standardize=(mean, std))
    w2 = bu_weights((x - mean) / std, 1.5)
    np.testing.assert_allclose(w1, w2, atol=1e-12)
    from sklearn.preprocessing import StandardScaler

    w3 = bu_weights(x, 1.5, standardize=StandardScaler().fit(x))
    np.testing.assert_allclose(w1, w3, atol=1e-12)


def test_eps_flattens_weights_to_uniform():
    x = np.random.default_rng(3).normal(size=(30, 2))
    w = bu_weights(x, 0.5, eps=1e6, warn=False)
    np.testing.assert_allclose(w, np.full(30, 1 / 30), atol=1e-6)


def test_gram_diagnostics_identify_both_failure_modes():
    x = np.random.default_rng(4).uniform(-2, 2, (300, 2))
    assert gram_diagnostics(x, 1e-3).status == "identity"
    assert gram_diagnostics(x, 100.0).status == "ill-conditioned"
    d = gram_diagnostics(x, 0.3)
    assert d.status == "ok" and 0.01 <= d.mean_offdiag <= 0.5 and d.weight_ratio > 1
    K = gram_matrix(x, 0.3).numpy()
    off = (K.sum() - 300) / (300 * 299)
    assert abs(off - d.mean_offdiag) < 1e-12
    assert d.condition_number == pytest.approx(np.linalg.cond(K), rel=1e-3)


def test_warning_when_weights_degenerate():
    x = np.random.default_rng(5).uniform(-2, 2, (100, 2))
    with pytest.warns(BandwidthWarning, match="nearly uniform"):
        bu_weights(x, 1e-4)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        bu_weights(x, 0.3)


def test_median_heuristic_value():
    x = np.array([[0.0, 0.0], [3.0, 4.0], [6.0, 8.0]])  # distances 5, 5, 10 -> median 5
    assert median_heuristic(x) == pytest.approx(5 / math.sqrt(2))


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"h": 0.0}, "h"),
        ({"h": -1.0}, "h"),
        ({"h": float("nan")}, "h"),
        ({"h": 1.0, "eps": -1e-3}, "eps"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        bu_weights(np.zeros((4, 2)), **kwargs)


def test_bad_batches():
    with pytest.raises(ValueError, match="x: a KDE needs a mini-batch of at least 2"):
        gaussian_kde(np.zeros((1, 3)), 1.0)
    with pytest.raises(ValueError, match="x: contains NaN or Inf"):
        gaussian_kde(np.array([[0.0], [np.nan]]), 1.0)
    with pytest.raises(ValueError, match="x: contains NaN or Inf"):
        bu_weights(np.array([[0.0], [np.inf]]), 1.0)
    with pytest.raises(ValueError, match="x: expected a 2-D array"):
        gaussian_kde(np.zeros(5), 1.0)
    with pytest.raises(ValueError, match="standardize"):
        bu_weights(np.zeros((4, 2)), 1.0, standardize=(np.zeros(3), np.ones(3)))


def test_same_input_same_numbers():
    x = np.random.default_rng(6).normal(size=(50, 3))
    np.testing.assert_array_equal(bu_weights(x, 0.7), bu_weights(x, 0.7))


# ---- the squared-distance entry points (what the bandwidth panel computes with) ----


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pairwise_sq_dists_against_scipy_and_kinds(dtype):
    from scipy.spatial.distance import cdist

    x = (np.random.default_rng(7).normal(size=(40, 6)) * 3 + 10).astype(dtype)
    d2 = pairwise_sq_dists(x)
    assert isinstance(d2, np.ndarray) and d2.dtype == dtype and d2.shape == (40, 40)
    assert (np.diag(d2) == 0).all() and (d2 >= 0).all()
    tol = 1e-4 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(d2, cdist(x.astype(np.float64), x.astype(np.float64), "sqeuclidean"), rtol=tol, atol=tol)
    t = pairwise_sq_dists(torch.as_tensor(x))
    assert isinstance(t, torch.Tensor) and np.array_equal(t.numpy(), d2)


@pytest.mark.parametrize("h", [0.05, 0.5, 4.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sq_dist_entry_points_give_the_same_numbers(h, dtype):
    x = np.random.default_rng(8).normal(size=(60, 3)).astype(dtype)
    d2 = pairwise_sq_dists(x)
    # the d2 entry points form the full product, the direct ones on the CPU its symmetric half: equal to rounding
    tol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(gaussian_kde_from_sq_dists(d2, h), gaussian_kde(x, h), rtol=tol, atol=0)
    w = bu_weights(x, h, eps=1e-3, warn=False)
    np.testing.assert_allclose(bu_weights_from_sq_dists(d2, h, eps=1e-3), w, rtol=tol, atol=0)
    np.testing.assert_array_equal(bu_weights_from_density(gaussian_kde(x, h), eps=1e-3), w)
    assert gram_diagnostics_from_sq_dists(d2, h, eps=1e-3) == gram_diagnostics(x, h, eps=1e-3)
    g = gram_diagnostics_from_sq_dists(d2, h, eps=1e-3, condition=False)
    assert math.isnan(g.condition_number) and g.ess_fraction == gram_diagnostics(x, h, eps=1e-3).ess_fraction
    wt = bu_weights_from_sq_dists(torch.as_tensor(d2), h, eps=1e-3)
    assert isinstance(wt, torch.Tensor) and wt.dtype == torch.as_tensor(d2).dtype


def test_weights_from_density_along_the_last_axis_and_ess():
    p = np.random.default_rng(9).uniform(0.01, 1.0, size=(5, 30))
    w, ess = bu_weights_from_density(p, eps=1e-2, return_ess=True)
    for row, wr, e in zip(p, w, ess, strict=True):
        inv = 1.0 / (row + 1e-2)
        np.testing.assert_allclose(wr, inv / inv.sum(), rtol=1e-15)
        assert e == pytest.approx(1.0 / (wr @ wr) / 30, rel=1e-12)
    _, ess_uniform = bu_weights_from_density(np.full(30, 0.3), return_ess=True)
    assert float(ess_uniform) == pytest.approx(1.0)
    assert weights_status(ess_uniform) == "uniform"
    assert weights_status(ESS_UNIFORM_ABOVE) == weights_status(ESS_COLLAPSED_BELOW) == weights_status(0.5) == "ok"
    assert weights_status(ESS_COLLAPSED_BELOW / 2) == "collapsed"


def test_bu_weights_validates_its_batch_once(monkeypatch):
    """One finiteness scan per BU step: the KDE inside bu_weights does not re-validate the batch."""
    calls = []
    real = adskit.kde.as_float_tensor

    def counting(*args, **kwargs):
        calls.append(args[1])
        return real(*args, **kwargs)

    monkeypatch.setattr(adskit.kde, "as_float_tensor", counting)
    x = torch.randn(64, 5)
    bu_weights(x, 1.0, standardize=(np.zeros(5), np.ones(5)))
    assert calls == ["x"]


def test_bad_squared_distances():
    with pytest.raises(ValueError, match="square"):
        bu_weights_from_sq_dists(np.zeros((3, 4)), 1.0)
    with pytest.raises(ValueError, match=">= 0"):
        gram_diagnostics_from_sq_dists(-np.ones((3, 3)), 1.0)
    with pytest.raises(ValueError, match="NaN"):
        gaussian_kde_from_sq_dists(np.full((3, 3), np.nan), 1.0)
    with pytest.raises(ValueError, match="at least 2"):
        gaussian_kde_from_sq_dists(np.zeros((1, 1)), 1.0)
    with pytest.raises(ValueError, match="eps"):
        gram_diagnostics_from_sq_dists(np.zeros((3, 3)), 1.0, eps=-1.0)
    with pytest.raises(ValueError, match="p_hat"):
        bu_weights_from_density(np.array([0.5, -0.1]))


def test_standardize_treats_near_constant_dimensions_as_constant():
    """The one standardiser's floor (adskit._scaling): a scale of 1e-12 next to 1.0 is taken as 1, not divided by."""
    x = np.random.default_rng(10).normal(size=(20, 2))
    w1 = bu_weights(x, 1.0, standardize=(np.zeros(2), np.array([1.0, 1e-12])), warn=False)
    w2 = bu_weights(x, 1.0, standardize=(np.zeros(2), np.ones(2)), warn=False)
    np.testing.assert_array_equal(w1, w2)


@pytest.mark.gpu
def test_cuda_matches_cpu():
    x = torch.randn(100, 8)
    np.testing.assert_allclose(bu_weights(x.cuda(), 1.0).cpu().numpy(), bu_weights(x, 1.0).numpy(), rtol=1e-5)


# ---- the symmetric half of the Gram matrix (CPU) against the full product and scikit-learn ----


@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(("B", "D", "h"), [(2, 1, 0.7), (2, 5, 3.0), (7, 3, 1.0), (129, 16, 2.5), (512, 640, 25.0)])
def test_symmetric_half_weights_equal_the_full_gram(dtype, B, D, h, threads):
    """bu_weights on the CPU (lower triangle only: syrk on one torch thread, torch's block products on two) against
    the full B x B product, to 1e-6, and log p_hat against scikit-learn's KernelDensity in float64."""
    rng = np.random.default_rng(B + D)
    x = (rng.normal(size=(B, D)) * 2.0 + 5.0).astype(dtype)
    full = bu_weights_from_sq_dists(pairwise_sq_dists(x), h, eps=1e-6)
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        for xin in (x, torch.from_numpy(x), np.asfortranarray(x), torch.from_numpy(x.T.copy()).T):
            w = bu_weights(xin, h, eps=1e-6, warn=False)
            w = w.numpy() if isinstance(w, torch.Tensor) else w
            np.testing.assert_allclose(w, full, rtol=0, atol=1e-6 if dtype == np.float32 else 1e-12)
            np.testing.assert_allclose(w, full, rtol=1e-4 if dtype == np.float32 else 1e-10)
        log_p = log_gaussian_kde(x, h)
    finally:
        torch.set_num_threads(before)
    ref = KernelDensity(bandwidth=h).fit(x.astype(np.float64)).score_samples(x.astype(np.float64))
    atol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(log_p, ref + 0.5 * D * math.log(2 * math.pi * h * h), atol=atol)


@pytest.mark.parametrize("threads", [1, 2])
def test_kernel_row_sums_are_exact_on_a_tiny_batch(threads):
    """Both lower-triangle paths against a hand value: two points at distance 2 with h = 1 give row sums 1 + e^-2."""
    from adskit._gram import log_kde_symmetric

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        got = log_kde_symmetric(torch.tensor([[0.0, 0.0], [2.0, 0.0]], dtype=torch.float64), 1.0)
    finally:
        torch.set_num_threads(before)
    np.testing.assert_allclose(got.numpy(), np.log((1 + np.exp(-2.0)) / 2) * np.ones(2), rtol=1e-15)


def test_cpu_kde_takes_the_symmetric_half(monkeypatch):
    """The CPU entry points go through log_kde_symmetric (so the test above compares two different computations)."""
    calls = []
    real = adskit.kde.log_kde_symmetric

    def counting(t, h):
        calls.append(tuple(t.shape))
        return real(t, h)

    monkeypatch.setattr(adskit.kde, "log_kde_symmetric", counting)
    x = torch.randn(9, 4)
    bu_weights(x, 1.0, warn=False)
    gaussian_kde(x, 1.0)
    assert calls == [(9, 4), (9, 4)]
    with pytest.raises(ValueError, match="x: log_kde_symmetric needs a CPU tensor"):
        real(torch.zeros(3, 2, device="meta"), 1.0)


def test_symmetric_half_keeps_the_float32_accuracy_far_from_the_origin():
    """Centring before the product: float32 weights of a batch at 1e3 from the origin in D = 2048 equal the
    float64 weights of the same batch to 1e-6."""
    x = (np.random.default_rng(11).normal(size=(65, 2048)) + 1e3).astype(np.float32)
    w32 = bu_weights(x, 40.0, warn=False)
    w64 = bu_weights(x.astype(np.float64), 40.0, warn=False)
    np.testing.assert_allclose(w32, w64, rtol=0, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_all_finite_agrees_with_isfinite(dtype):
    """The batch check's one-sum shortcut (adskit._utils.all_finite) gives torch.isfinite(t).all()'s answer, also
    when finite entries overflow the sum, for NaN, +-Inf, both infinities together, and an empty tensor."""
    from adskit._utils import all_finite

    big = torch.finfo(dtype).max
    cases = [
        torch.randn(50, 7),
        torch.full((4, 3), big, dtype=dtype),  # the sum overflows, the entries are finite
        torch.tensor([[0.0, float("nan")]]),
        torch.tensor([[1.0], [float("inf")]]),
        torch.tensor([[float("-inf"), 2.0]]),
        torch.tensor([[float("inf"), float("-inf")]]),
        torch.zeros(0, 3),
    ]
    for t in cases:
        t = t.to(dtype)
        assert all_finite(t) == bool(torch.isfinite(t).all())
    with pytest.raises(ValueError, match="x: contains NaN or Inf"):
        bu_weights(torch.tensor([[1.0, 2.0], [float("inf"), float("-inf")]]), 1.0)
