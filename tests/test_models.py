import math

import pytest
import torch

import adskit.models.autoencoder as autoencoder
from adskit.models import ACTIVATIONS, VAE, Autoencoder, fuse_batchnorm, glorot_init_


def test_same_seed_same_parameters_different_seed_different():
    a, b, c = (Autoencoder(10, (8, 8), 3, seed=s) for s in (0, 0, 1))
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.parameters(), c.parameters(), strict=True))


def test_glorot_bounds_and_zero_bias():
    ae = Autoencoder(640, (128,), 8, seed=0)
    lin = ae.encoder[0]
    bound = math.sqrt(6 / (640 + 128))
    assert lin.weight.abs().max() <= bound and lin.weight.abs().max() > 0.9 * bound
    assert torch.all(lin.bias == 0)
    assert abs(float(lin.weight.var()) - bound**2 / 3) < 0.1 * bound**2 / 3


def test_dcase_shape_and_batchnorm():
    ae = Autoencoder(640, (128, 128, 128, 128), 8, batchnorm=True, seed=0)
    n_lin = sum(isinstance(m, torch.nn.Linear) for m in ae.modules())
    n_bn = sum(isinstance(m, torch.nn.BatchNorm1d) for m in ae.modules())
    assert n_lin == 10 and n_bn == 9
    assert ae(torch.randn(4, 640)).shape == (4, 640)


def test_sigmoid_2d_architecture():
    ae = Autoencoder(2, (64,), 2, decoder_hidden=(64,), activation="sigmoid", seed=0)
    sizes = [m.out_features for m in ae.modules() if isinstance(m, torch.nn.Linear)]
    assert sizes == [64, 2, 64, 2]
    assert isinstance(ae.decoder[-1], torch.nn.Linear)


def test_seeding_does_not_touch_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(1)
    torch.manual_seed(123)
    Autoencoder(5, (4,), 2, seed=7)
    assert torch.equal(torch.rand(1), expected)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"input_dim": 0}, "input_dim"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"activation": "gelu2"}, "activation"),
        ({"hidden": (3, 0)}, "hidden"),
    ],
)
def test_bad_arguments(kwargs, match):
    base = {"input_dim": 4, "hidden": (3,), "latent_dim": 2}
    base.update(kwargs)
    with pytest.raises(ValueError, match=match):
        Autoencoder(**base)


def test_shared_layers_keep_the_old_names_and_layouts():
    """Autoencoder and VAE build from one set of layer helpers (models/_layers.py); the old import path
    ``adskit.models.autoencoder`` still gives ACTIVATIONS and glorot_init_, and the layer order (hence the
    state_dict keys of saved checkpoints) is unchanged."""
    assert autoencoder.ACTIVATIONS is ACTIVATIONS and autoencoder.glorot_init_ is glorot_init_
    ae = Autoencoder(10, (8,), 3, batchnorm=True, seed=0)
    assert list(ae.state_dict())[:6] == [
        "encoder.0.weight",
        "encoder.0.bias",
        "encoder.1.weight",
        "encoder.1.bias",
        "encoder.1.running_mean",
        "encoder.1.running_var",
    ]
    assert [type(m).__name__ for m in ae.decoder] == ["Linear", "BatchNorm1d", "ReLU", "Linear"]
    vae = VAE(6, hidden=(4,), latent_dim=2, seed=0)
    assert [type(m).__name__ for m in vae.decoder] == ["Linear", "ReLU", "Dropout", "Linear"]
    with pytest.raises(ValueError, match="hidden"):
        VAE(6, hidden=(4, 0))


def test_fuse_batchnorm_gives_the_evaluation_outputs_and_leaves_the_model_alone():
    """Linear + BatchNorm folded into one Linear: equal to the eval-mode network (oracle: the network itself)."""
    torch.manual_seed(0)
    ae = Autoencoder(640, (128, 128, 128, 128), 8, batchnorm=True, seed=0)
    ae.train()
    for _ in range(5):  # running statistics away from (0, 1), affine parameters away from (1, 0)
        ae(torch.randn(256, 640) * 3 + 1)
    with torch.no_grad():
        for m in ae.modules():
            if isinstance(m, torch.nn.BatchNorm1d):
                m.weight.uniform_(0.5, 2.0)
                m.bias.normal_()
    x = torch.randn(300, 640) * 3 + 1
    fused = fuse_batchnorm(ae)
    assert ae.training  # untouched: still in training mode, still with its BatchNorm layers
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in ae.modules()) == 9
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in fused.modules())
    with torch.no_grad():
        want = ae.eval()(x)
        got = fused(x)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * float(want.abs().max()))
    assert not any(p.requires_grad for p in fused.parameters())
