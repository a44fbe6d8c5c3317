"""The VAE of the Neyman-Pearson feature extractor: KL term against torch.distributions, shapes, dropout, seeds."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from adskit.losses import kl_standard_normal, vae_loss
from adskit.models.vae import VAE, GaussianEncoder

pytestmark = pytest.mark.usefixtures("one_thread")


def test_kl_matches_torch_distributions():
    g = torch.Generator().manual_seed(0)
    f = torch.randn(50, 7, generator=g, dtype=torch.float64) * 2
    log_var = torch.randn(50, 7, generator=g, dtype=torch.float64)
    ours = kl_standard_normal(f, log_var)
    ref = kl_divergence(Normal(f, (0.5 * log_var).exp()), Normal(torch.zeros_like(f), torch.ones_like(f))).sum(-1)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-12)
    assert (ours >= 0).all()  # the standard, non-negative sign of eq 20


def test_kl_zero_exactly_at_the_prior():
    assert kl_standard_normal(torch.zeros(3, 4), torch.zeros(3, 4)).abs().max() == 0


def test_vae_loss_is_reconstruction_plus_kl():
    g = torch.Generator().manual_seed(1)
    x, x_hat = torch.randn(6, 5, generator=g), torch.randn(6, 5, generator=g)
    f, lv = torch.randn(6, 2, generator=g), torch.randn(6, 2, generator=g)
    expected = ((x_hat - x) ** 2).sum(1).mean() + kl_standard_normal(f, lv).mean()
    torch.testing.assert_close(vae_loss(x, x_hat, f, lv), expected)


def test_forward_shapes_and_reparameterisation():
    vae = VAE(12, hidden=(16, 8), latent_dim=3, seed=0).eval()
    x = torch.randn(4, 12)
    eps = torch.randn(4, 3)
    x_hat, f, log_var = vae(x, noise=eps)
    assert x_hat.shape == (4, 12) and f.shape == (4, 3) and log_var.shape == (4, 3)
    torch.testing.assert_close(x_hat, vae.decoder(f + (0.5 * log_var).exp() * eps))
    f2, lv2 = vae.encoder(x)
    torch.testing.assert_close(f, f2)
    torch.testing.assert_close(log_var, lv2)


def test_decoder_mirrors_encoder_and_dropout_positions():
    vae = VAE(10, hidden=(32, 16), latent_dim=4, input_dropout=0.2, hidden_dropout=0.5, seed=0)
    enc = [m for m in vae.encoder.trunk if isinstance(m, torch.nn.Linear)]
    dec = [m for m in vae.decoder if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in enc] == [(10, 32), (32, 16)]
    assert [(m.in_features, m.out_features) for m in dec] == [(4, 16), (16, 32), (32, 10)]
    drops = [m.p for m in vae.encoder.trunk if isinstance(m, torch.nn.Dropout)]
    assert drops == [0.2, 0.5, 0.5]
    assert [m.p for m in vae.decoder if isinstance(m, torch.nn.Dropout)] == [0.5, 0.5]
    assert isinstance(vae.decoder[-1], torch.nn.Linear)  # linear output


def test_dropout_only_in_train_mode():
    vae = VAE(20, hidden=(64,), latent_dim=2, seed=0)
    x = torch.randn(8, 20)
    vae.eval()
    a, b = vae.encoder(x)[0], vae.encoder(x)[0]
    torch.testing.assert_close(a, b)
    vae.train()
    assert not torch.allclose(vae.encoder(x)[0], vae.encoder(x)[0])


def test_seed_gives_identical_parameters_and_keeps_global_rng():
    state = torch.random.get_rng_state()
    a, b = VAE(9, hidden=(5,), latent_dim=2, seed=3), VAE(9, hidden=(5,), latent_dim=2, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"input_dropout": 1.0}, "input_dropout"),
        ({"hidden_dropout": -0.1}, "hidden_dropout"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"hidden": (4, 0)}, "hidden"),
        ({"activation": "gelu"}, "activation"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, name):
    with pytest.raises(ValueError, match=name):
        VAE(6, **{"hidden": (4,), **kwargs})


def test_noise_shape_checked():
    with pytest.raises(ValueError, match="noise"):
        VAE(6, hidden=(4,), latent_dim=2)(torch.zeros(3, 6), noise=torch.zeros(3, 3))


def test_encoder_alone():
    f, lv = GaussianEncoder(6, hidden=(4,), latent_dim=2).eval()(torch.zeros(2, 6))
    assert f.shape == lv.shape == (2, 2)
