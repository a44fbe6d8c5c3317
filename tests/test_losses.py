import math

import pytest
import torch

from adskit.kde import bu_weights
from adskit.losses import anomaly_score, bu_loss, kl_standard_normal, np_loss, re_loss, snp_loss, vae_loss


def test_anomaly_score_is_sum_of_squares():
    x = torch.tensor([[1.0, 2.0, 3.0]])
    assert anomaly_score(x, torch.zeros_like(x)).item() == pytest.approx(14.0)


def test_re_is_mean():
    a = torch.tensor([1.0, 2.0, 6.0])
    assert re_loss(a).item() == pytest.approx(3.0)


def test_snp_clips_and_stops_gradient_above_C():
    a_n = torch.tensor([1.0, 3.0])
    a_a = torch.tensor([0.5, 10.0], requires_grad=True)
    loss = snp_loss(a_n, a_a, C=2.0)
    assert loss.item() == pytest.approx(2.0 - (0.5 + 2.0) / 2)
    loss.backward()
    assert a_a.grad.tolist() == [-0.5, 0.0]


def test_bu_equals_re_with_uniform_weights_and_matches_formula():
    a_n = torch.tensor([1.0, 2.0, 4.0, 9.0])
    u = torch.full((4,), 0.25)
    assert bu_loss(a_n, u).item() == pytest.approx(re_loss(a_n).item())
    a_a = torch.tensor([1.0, 7.0])
    w = torch.tensor([0.1, 0.2, 0.3, 0.4])
    expected = float((w * a_n).sum()) - (1.0 + 3.0) / 2
    assert bu_loss(a_n, w, a_a, C=3.0).item() == pytest.approx(expected)
    assert bu_loss(a_n, u, a_a, C=3.0).item() == pytest.approx(snp_loss(a_n, a_a, 3.0).item())


def test_bu_weights_detached_and_m_zero_allowed():
    x = torch.randn(16, 2)
    w = bu_weights(x, 1.0).requires_grad_(True)
    a_n = torch.rand(16, requires_grad=True)
    loss = bu_loss(a_n, w, torch.empty(0), C=None)
    loss.backward()
    assert w.grad is None and torch.allclose(a_n.grad, w.detach())


def test_np_loss_sign_rewards_separation():
    phi = 0.0
    good = np_loss(torch.tensor([5.0, 6.0]), torch.tensor([-5.0, -6.0]), phi)
    bad = np_loss(torch.tensor([-5.0]), torch.tensor([5.0]), phi)
    assert good.item() < -0.98 and bad.item() > 0.98


def test_kl_by_hand():
    """KL[N(1, e) || N(0, 1)] = 1/2 (mu^2 + sigma^2 - 1 - ln sigma^2) = 1/2 (1 + e - 1 - 1) = (e - 1) / 2."""
    kl = kl_standard_normal(torch.tensor([[1.0, 0.0]]), torch.tensor([[1.0, 0.0]], dtype=torch.float32))
    assert kl.item() == pytest.approx((math.e - 1) / 2)


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: snp_loss(torch.ones(3), torch.empty(0), 1.0), "a_anomalous"),
        (lambda: snp_loss(torch.ones(3), torch.ones(2), 0.0), "C"),
        (lambda: bu_loss(torch.ones(3), torch.full((2,), 0.5)), "weights"),
        (lambda: bu_loss(torch.ones(2), torch.tensor([0.2, 0.2])), "weights"),
        (lambda: bu_loss(torch.ones(2), torch.full((2,), 0.5), torch.ones(2)), "C"),
        (lambda: re_loss(torch.ones(2, 2)), "a_normal"),
        (lambda: re_loss(torch.empty(0)), "a_normal"),
        (lambda: anomaly_score(torch.ones(2, 3), torch.ones(2, 2)), "x_hat"),
        (lambda: kl_standard_normal(torch.ones(2, 3), torch.ones(2, 2)), "log_var"),
        (lambda: vae_loss(torch.ones(2, 3), torch.ones(3, 3), torch.ones(2, 1), torch.ones(2, 1)), "x_hat"),
        (lambda: vae_loss(torch.ones(2, 3), torch.ones(2, 3), torch.ones(2, 1), torch.ones(2, 2)), "log_var"),
    ],
)
def test_bad_input_names_argument(call, match):
    with pytest.raises(ValueError, match=match):
        call()
