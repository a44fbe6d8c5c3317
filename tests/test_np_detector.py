"""NPDetector and Algorithm 2: the scikit-learn contract, rejection sampling, the Neyman-Pearson oracle in 1-D,
a performance floor, and bad input (empty O, too few vectors, a sampler that accepts nothing)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sklearn.metrics import roc_auc_score
from sklearn.utils.estimator_checks import parametrize_with_checks

import adskit.detectors.np_algorithm as np_algorithm
import adskit.detectors.np_vae as np_vae
import adskit.losses as losses
from adskit.detectors.neyman_pearson import NPDetector
from adskit.detectors.np_algorithm import SamplingError, sample_anomalous_features, train_np_score
from adskit.gmm import GaussianMixture
from adskit.threshold import NeymanPearsonThreshold

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {"hidden": (8,), "latent_dim": 2, "n_components": 2, "n_steps": 10, "batch_size": 8, "device": "cpu"}


_FLOAT32 = (
    "a float32 network: a row's score differs by ~1e-7 absolute between batch sizes (BLAS blocking), the "
    "check's atol is 1e-7"
)


@parametrize_with_checks(
    [NPDetector(extractor="vae", **TINY), NPDetector(extractor="ae", **TINY)],
    expected_failed_checks=lambda est: {"check_methods_subset_invariance": _FLOAT32},
)
def test_sklearn_contract(estimator, check):
    # extractor="np" needs X_other in fit, which the checks cannot pass; its contract is the same code path
    check(estimator)


def _clusters(seed: int, shift: float = 2.0):
    """D: one Gaussian cluster in 16-D; O: five other clusters; anomalies: D's cluster moved by ``shift`` sd."""
    rng = np.random.default_rng(seed)
    q = 16
    centres = rng.normal(0, 3, size=(6, q))

    def draw(ids, n):
        return centres[rng.choice(ids, n)] + rng.normal(size=(n, q))

    D, O = draw([0], 1000), draw([1, 2, 3, 4, 5], 1500)
    test_normal = draw([0], 300)
    anomalies = draw([0], 300) + rng.normal(0, 1, size=q) * shift
    return D, O, test_normal, anomalies


# ------------------------------------------------------------------ Algorithm 2


def _gmm(seed: int = 0) -> GaussianMixture:
    X = np.random.default_rng(seed).normal(0.0, 0.3, size=(400, 3))
    return GaussianMixture(n_components=2, random_state=0, device="cpu").fit(X)


def test_algorithm2_accepts_only_above_phi():
    gmm = _gmm()
    X = np.random.default_rng(1).normal(0.0, 0.3, size=(400, 3))
    phi = float(np.quantile(-gmm.score_samples(X), 0.95))
    g = torch.Generator().manual_seed(0)
    f, st = sample_anomalous_features(lambda z: -gmm.log_prob(z), phi, 200, 3, generator=g)
    assert f.shape == (200, 3)
    assert (-gmm.score_samples(f.double().numpy()) > phi).all()
    assert 0 < st["acceptance_rate"] <= 1 and st["n_accepted"] >= 200


def test_algorithm2_is_seeded():
    gmm = _gmm()
    a, _ = sample_anomalous_features(lambda z: -gmm.log_prob(z), 0.0, 20, 3, generator=torch.Generator().manual_seed(5))
    b, _ = sample_anomalous_features(lambda z: -gmm.log_prob(z), 0.0, 20, 3, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_algorithm2_nothing_accepted_is_a_clear_error():
    with pytest.raises(SamplingError, match=r"acceptance rate 0/5000"):
        sample_anomalous_features(lambda z: z.sum(1) * 0.0, 1.0, 10, 2, max_draws=5000)


def test_algorithm2_nan_scores_are_rejected_not_propagated():
    with pytest.raises(SamplingError, match="acceptance rate"):
        sample_anomalous_features(lambda z: torch.full((z.shape[0],), float("nan")), 0.0, 4, 2, max_draws=300)


def test_algorithm2_partial_budget_returns_the_accepted():
    g = torch.Generator().manual_seed(0)
    # P(|z| > 3) ~ 0.0027: with 2,000 draws about 5 are accepted, fewer than the 100 asked for
    f, st = sample_anomalous_features(lambda z: z.abs()[:, 0], 3.0, 100, 1, max_draws=2000, generator=g)
    assert 0 < f.shape[0] < 100 and (f.abs() > 3.0).all()
    assert st["acceptance_rate"] == pytest.approx(f.shape[0] / 2000)


@pytest.mark.parametrize(
    ("kwargs", "name"), [({"n": 0}, "n"), ({"max_draws": 3}, "max_draws"), ({"phi": np.nan}, "phi")]
)
def test_algorithm2_bad_arguments(kwargs, name):
    args = {"phi": 0.0, "n": 5, "dim": 2, **kwargs}
    with pytest.raises(ValueError, match=name):
        sample_anomalous_features(lambda z: z.sum(1), args.pop("phi"), args.pop("n"), args.pop("dim"), **args)


def test_refresh_copies_the_mixture_and_leaves_the_previous_one_alone():
    """Algorithm 1 refreshes p(f | z=0) through ``GaussianMixture.with_params`` (a new mixture with the new
    variance floor) instead of overwriting the tracked mixture's public ``reg_covar``: same numbers as the old
    in-place way, and the previous mixture is untouched."""
    gmm = _gmm()
    X = np.random.default_rng(2).normal(0.1, 0.4, size=(300, 3))
    before = (gmm.weights_, gmm.means_, gmm.covariances_, gmm.n_iter_, list(gmm.lower_bounds_))
    new = gmm.with_params(reg_covar=0.05).partial_em(X, 2)
    assert new is not gmm and gmm.reg_covar == 1e-6 and new.reg_covar == 0.05
    after = (gmm.weights_, gmm.means_, gmm.covariances_, gmm.n_iter_, list(gmm.lower_bounds_))
    for a, b in zip(before, after, strict=True):
        np.testing.assert_array_equal(a, b)
    old_way = copy.deepcopy(gmm)
    old_way.reg_covar = 0.05
    old_way.partial_em(X, 2)
    for name in ("weights_", "means_", "covariances_", "n_iter_", "lower_bounds_"):
        np.testing.assert_array_equal(getattr(new, name), getattr(old_way, name))
    cont = new.with_params(warm_start=True, max_iter=3, tol=0.0).fit(X)
    assert cont.n_iter_ == 3 and new.n_iter_ == gmm.n_iter_ + 2
    with pytest.raises(ValueError, match="n_components"):
        gmm.with_params(n_components=3)
    with pytest.raises(ValueError, match="bogus"):
        gmm.with_params(bogus=1)


def test_np_vae_is_a_face_of_the_new_modules():
    assert np_vae.NPDetector is NPDetector
    assert np_vae.sample_anomalous_features is sample_anomalous_features and np_vae.SamplingError is SamplingError
    assert np_vae.train_np_score is train_np_score
    assert np_vae.kl_standard_normal is losses.kl_standard_normal and np_vae.vae_loss is losses.vae_loss
    assert all(hasattr(np_vae, name) for name in np_vae.__all__)


# ------------------------------------------------------------------ the NP objective reaches the NP power


def test_1d_gaussian_reaches_the_neyman_pearson_power():
    """Normal N(0, 1) vs anomalous N(mu, 1): the most powerful test at FPR rho is x > z_{1-rho}, with power
    1 - Phi(z_{1-rho} - mu). A linear score trained by (12) with phi_rho from the normal training data must
    reach that FPR and power on held-out data.

    In 1-D any positive weight gives the same decisions, so FPR and power depend on the (numpy) draws, not on
    the training path. Seed check 2026-11-29 (data, init and batch seeds 0-7): objective over the last 20
    steps min 0.571 (bound 0.5), |FPR - rho| max 0.0051 (bound 0.006), |TPR - power| max 0.0099 (bound 0.02).
    """
    rho, mu = 0.05, 2.0
    rng = np.random.default_rng(0)
    xn, xa = rng.normal(size=(20000, 1)), rng.normal(mu, 1.0, size=(20000, 1))
    torch.manual_seed(0)
    model = torch.nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(-0.5)  # start pointing the wrong way: the objective must turn it round
    hist = train_np_score(model, xn, xa, rho=rho, n_steps=300, lr=0.05, batch_size=512, random_state=0)
    assert np.isfinite(hist["objective"]).all() and hist["objective"][-20:].mean() > 0.5
    with torch.no_grad():

        def score(x):
            return model(torch.as_tensor(x, dtype=torch.float32)).reshape(-1).numpy()

        thr = NeymanPearsonThreshold(rho).fit(score(xn))
        hn, ha = rng.normal(size=(40000, 1)), rng.normal(mu, 1.0, size=(40000, 1))
        fpr = float(np.mean(score(hn) > thr.threshold_))
        tpr = float(np.mean(score(ha) > thr.threshold_))
    power = 1 - norm.cdf(norm.ppf(1 - rho) - mu)
    assert abs(fpr - rho) < 0.006  # 4 binomial sd of the 20,000 fitting draws, 3.2 sd with the 40,000 test draws
    assert abs(tpr - power) < 0.02


# ------------------------------------------------------------------ the detector


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_performance_floor_np(seed):
    """PROP (the paper's settings, 200 steps) separates D from D shifted by N(0, 3^2) per axis: AUC above 0.80.

    Seed check 2026-11-29 (data seeds 0-7 x random_state 0-3, 32 fits): AUC min 0.875, mean 0.986; floor
    0.80. Held-out FPR at the training phi_rho: max 0.087 (rho 0.05); bound 0.11. The fit is chaotic in the
    initialisation: with a shift of N(0, 2^2) per axis (the test before) the same 32 fits gave AUC 0.70-1.00 (the
    VAE+GMM baseline 0.63-1.00), so a floor of 0.9 failed on another machine (0.814) while passing here.
    The anomalies are drawn after D, O and the test normals, so the shift changes only the test set.
    The floor catches gross breakage (a reversed score, collapse to ties), not a sign error in (12): with
    the NP loss negated the same fits gave AUC 0.59-1.00 (mean 0.90); the 1-D test above catches that.
    """
    D, O, tn, ta = _clusters(seed, shift=3.0)
    det = NPDetector(hidden=(32,), latent_dim=4, n_components=2, n_steps=200, lr=3e-3, device="cpu", random_state=0)
    det.fit(D, X_other=O)
    s = np.r_[det.anomaly_score(tn), det.anomaly_score(ta)]
    auc = roc_auc_score(np.r_[np.zeros(len(tn)), np.ones(len(ta))], s)
    assert auc > 0.80, auc
    fpr = float(np.mean(det.anomaly_score(tn) > det.threshold_))
    assert fpr < 0.05 + 0.06  # 300 held-out vectors: rho + about 3.5 binomial sd (in-sample phi_rho sits low)
    h = det.history_
    assert set(h) == {"recon", "np_objective", "phi", "slope", "acceptance_rate"}
    assert all(np.isfinite(v).all() for v in h.values())
    assert 0 < det.acceptance_rate_ <= 1
    assert det.timings_["total"] >= sum(det.timings_[k] for k in ("vae_step", "em", "sampling", "np_step")) * 0.99


def test_directions_threshold_and_features():
    """Seed check 2026-11-29 (data seeds 0-5 x random_state 0-1): mean anomaly score of the anomalies 6.3-118,
    of the normal vectors -0.01-1.34; the training FPR is 0.049 by construction (phi_rho on D)."""
    D, O, tn, ta = _clusters(0, shift=4.0)
    det = NPDetector(extractor="vae", hidden=(16,), latent_dim=3, n_components=2, n_steps=60, device="cpu")
    det.fit(D, X_other=O)
    assert det.features(tn[:5]).shape == (5, 3)
    a_n, a_a = det.anomaly_score(tn), det.anomaly_score(ta)
    assert a_a.mean() > a_n.mean()  # higher = more anomalous
    np.testing.assert_allclose(det.score_samples(tn), -a_n)
    np.testing.assert_allclose(det.decision_function(tn), -a_n + det.threshold_)
    assert np.mean(det.anomaly_score(D) > det.threshold_) <= 0.05


def test_same_seed_same_scores_and_global_rng_untouched():
    D, O, tn, _ = _clusters(0)
    kw = {"hidden": (16,), "latent_dim": 2, "n_components": 2, "n_steps": 15, "device": "cpu", "random_state": 4}
    state = torch.random.get_rng_state()
    a = NPDetector(**kw).fit(D, X_other=O).anomaly_score(tn)
    assert torch.equal(torch.random.get_rng_state(), state)
    b = NPDetector(**kw).fit(D, X_other=O).anomaly_score(tn)
    np.testing.assert_array_equal(a, b)


def test_em_every_and_subset():
    D, O, _, _ = _clusters(1)
    det = NPDetector(hidden=(8,), latent_dim=2, n_components=2, n_steps=12, em_every=4, n_em_vectors=100, device="cpu")
    det.fit(D, X_other=O)
    phi = det.history_["phi"]
    assert np.all(phi[0:4] == phi[0]) and np.all(phi[4:8] == phi[4])


def test_warmup_and_vae_data():
    D, O, tn, _ = _clusters(1)
    kw = {"hidden": (8,), "latent_dim": 2, "n_components": 2, "n_steps": 10, "em_every": 3, "device": "cpu"}
    det = NPDetector(warmup_steps=4, vae_data="both", **kw).fit(D, X_other=O)
    h = det.history_
    assert np.all(h["phi"][:4] == 0) and np.all(h["acceptance_rate"][4:] > 0)
    assert h["phi"][4] == h["phi"][6] != h["phi"][7]  # refreshes counted from the end of the warm-up
    assert det.acceptance_rate_ == pytest.approx(h["acceptance_rate"][4:].mean())
    assert np.isfinite(det.anomaly_score(tn)).all()


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("other", [None, np.zeros((0, 16))])
def test_empty_other_set_is_a_clear_error(other):
    D, _, _, _ = _clusters(0)
    with pytest.raises(ValueError, match="X_other"):
        NPDetector(**{**TINY, "n_components": 2}).fit(D, X_other=other)


def test_baselines_accept_missing_other_set():
    D, _, tn, _ = _clusters(0)
    assert np.isfinite(NPDetector(extractor="vae", **TINY).fit(D).anomaly_score(tn)).all()


def test_fewer_vectors_than_components():
    D, O, _, _ = _clusters(0)
    with pytest.raises(ValueError, match="n_components"):
        NPDetector(**{**TINY, "n_components": 16}).fit(D[:10], X_other=O)
    with pytest.raises(ValueError, match="n_em_vectors"):
        NPDetector(**{**TINY, "n_components": 4, "n_em_vectors": 3}).fit(D, X_other=O)


def test_sampler_that_accepts_nothing_fails_loudly_not_nan(monkeypatch):
    """A normal model that covers the whole prior (every L below phi): Algorithm 2 raises, no NaN appears."""
    real = np_algorithm.sample_anomalous_features

    def covering(score_fn, phi, n, dim, **kw):
        return real(lambda f: torch.full((f.shape[0],), -np.inf), phi, n, dim, **kw)

    monkeypatch.setattr(np_algorithm, "sample_anomalous_features", covering)  # where the NP step looks it up
    D, O, _, _ = _clusters(0)
    with pytest.raises(SamplingError, match=r"acceptance rate 0/64 with phi="):
        NPDetector(**{**TINY, "max_draws": 64}).fit(D, X_other=O)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"extractor": "pca"}, "extractor"),
        ({"rho": 1.5}, "rho"),
        ({"em_every": 0}, "em_every"),
        ({"batch_size": 1}, "batch_size"),
        ({"lr": -1.0}, "lr"),
        ({"vae_data": "d"}, "vae_data"),
        ({"warmup_steps": -1}, "warmup_steps"),
        ({"slope": "mad"}, "slope"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, name):
    D, O, _, _ = _clusters(0)
    with pytest.raises(ValueError, match=name):
        NPDetector(**{**TINY, **kwargs}).fit(D, X_other=O)


def test_other_set_feature_mismatch():
    D, O, _, _ = _clusters(0)
    with pytest.raises(ValueError, match="X_other"):
        NPDetector(**TINY).fit(D, X_other=O[:, :5])


def test_calibrated_threshold_holds_rho_on_new_gaussian_data():
    """phi_rho refitted on held-out normal vectors: on fresh i.i.d. normal data its FPR is rho within 0.02.

    The calibrated FPR is a beta-distributed order statistic (sd sqrt(rho (1 - rho) / n_cal) = 0.0049 for
    2,000 calibration vectors) measured on 5,000 test vectors (sd 0.0031): 0.02 is about 3.5 sd of the two.
    Seed check 2026-11-29 (data and detector seeds 0-7): |FPR - 0.05| max 0.0106.
    """
    rng = np.random.default_rng(0)
    D, O = rng.normal(size=(300, 8)), rng.normal(1.5, 1.0, size=(300, 8))
    cal, new = rng.normal(size=(2000, 8)), rng.normal(size=(5000, 8))
    det = NPDetector(extractor="vae", hidden=(16,), latent_dim=3, n_components=2, n_steps=60, device="cpu")
    det.fit(D, X_other=O)
    phi_train = det.threshold_
    assert det.train_threshold_ == phi_train and det.n_calibration_ == 0
    assert det.calibrate(cal) is det and det.n_calibration_ == 2000
    assert det.train_threshold_ == phi_train != det.threshold_
    assert det.threshold_ == NeymanPearsonThreshold(0.05).fit(det.anomaly_score(cal)).threshold_
    fpr = float(np.mean(det.predict(new) == -1))
    assert abs(fpr - 0.05) <= 0.02, fpr


def test_collapse_options_run_and_are_recorded():
    """The non-paper options against PROP's collapse: slope from the score spread, relative floor, scaling."""
    D, O, tn, _ = _clusters(0)
    kw = {"hidden": (8,), "latent_dim": 2, "n_components": 2, "n_steps": 10, "em_every": 5, "device": "cpu"}
    det = NPDetector(slope="iqr", reg_covar=1e-2, reg_covar_relative=True, standardize_features=True, **kw)
    det.fit(D, X_other=O)
    s = det.history_["slope"]
    assert s[0] == s[4] != 1.0 and s[5] > 0  # 1 / IQR of L over D, refreshed with phi_rho
    f = (det.features(D) - det.feature_mean_) / det.feature_scale_
    np.testing.assert_allclose(f.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(f.std(0), 1, atol=1e-4)
    assert det.gmm_.reg_covar == pytest.approx(1e-2)  # x mean variance of standardised features = 1
    assert np.isfinite(det.anomaly_score(tn)).all()
    paper = NPDetector(**kw).fit(D, X_other=O)
    assert np.all(paper.history_["slope"] == 1.0) and paper.gmm_.reg_covar == 1e-6


# ------------------------------------------------------------------ training diagnostics (issue 14)


def test_diagnostics_observe_without_changing_the_fit():
    """The same seed gives the same scores and history with and without a validation set to observe."""
    D, O, tn, ta = _clusters(0, shift=3.0)
    kw = {"hidden": (16,), "latent_dim": 2, "n_components": 2, "n_steps": 20, "device": "cpu"}
    plain = NPDetector(**kw).fit(D, X_other=O)
    seen = NPDetector(**kw).fit(D, X_other=O, X_valid=np.r_[tn, ta], y_valid=np.r_[np.zeros(300), np.ones(300)])
    np.testing.assert_array_equal(plain.anomaly_score(tn), seen.anomaly_score(tn))
    for k, v in plain.history_.items():
        np.testing.assert_array_equal(v, seen.history_[k])
    assert np.isnan(plain.diagnostics_["valid_tpr"]).all() and np.isfinite(seen.diagnostics_["valid_tpr"]).all()
    d = seen.diagnostics_
    for k in ("acceptance_rate", "feature_trace", "phi", "tpr_term", "fpr_term", "saturated_normal"):
        np.testing.assert_array_equal(d[k], plain.diagnostics_[k])


@pytest.mark.parametrize(
    "X_valid, y_valid, match",
    [
        (np.zeros((4, 16)), None, "y_valid"),
        (np.zeros((4, 16)), [0, 1, 1], "y_valid"),
        (np.zeros((4, 16)), [0, 1, 2, 1], "y_valid"),
        (np.zeros((4, 3)), [0, 1, 0, 1], "X_valid"),
        (None, [0, 1], "y_valid"),
        (np.full((2, 16), np.nan), [0, 1], "NaN"),
    ],
)
def test_bad_validation_set_names_itself(X_valid, y_valid, match):
    D, O, _, _ = _clusters(0)
    with pytest.raises(ValueError, match=match):
        NPDetector(**TINY).fit(D, X_other=O, X_valid=X_valid, y_valid=y_valid)


def test_plot_np_diagnostics_draws_six_panels():
    import matplotlib.pyplot as plt

    from adskit.plots import plot_np_diagnostics

    D, O, _, _ = _clusters(0)
    det = NPDetector(**TINY).fit(D, X_other=O)
    fig = plot_np_diagnostics(det.diagnostics_)
    assert len(fig.axes) == 6 and len(fig.axes[0].lines) == 1
    empty = plot_np_diagnostics(NPDetector(extractor="vae", **TINY).fit(D, X_other=O).diagnostics_)
    assert len(empty.axes) == 6
    plt.close("all")


# ------------------------------------------------------------------ candidate fixes (issue 14, deliverable 3)


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"kl_warmup": -1}, "kl_warmup"),
        ({"kl_warmup": 2.5}, "kl_warmup"),
        ({"kl_warmup": True}, "kl_warmup"),
        ({"anomaly_sampler": "uniform"}, "anomaly_sampler"),
        ({"anomaly_sampler": None}, "anomaly_sampler"),
    ],
)
def test_fix_options_bad_values_name_themselves(kwargs, name):
    D, O, _, _ = _clusters(0)
    with pytest.raises(ValueError, match=name):
        NPDetector(**{**TINY, **kwargs}).fit(D, X_other=O)


def test_kl_warmup_ramps_the_kl_weight_for_np_and_vae():
    D, O, tn, _ = _clusters(0)
    det = NPDetector(kl_warmup=4, **TINY)
    assert [det._kl_weight(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert NPDetector(**TINY)._kl_weight(0) == 1.0  # the paper: weight 1 throughout
    for extractor in ("np", "vae"):
        paper = NPDetector(extractor=extractor, **TINY).fit(D, X_other=O)
        warm = NPDetector(extractor=extractor, kl_warmup=4, **TINY).fit(D, X_other=O)
        # same initialisation, batch and noise at step 0: only the KL weight (0.25 < 1) differs
        assert warm.history_["recon"][0] < paper.history_["recon"][0]
        assert np.isfinite(warm.anomaly_score(tn)).all()


def test_algorithm2_proposal_replaces_the_prior():
    centre = torch.full((3,), 5.0)
    f, st = sample_anomalous_features(lambda z: z.sum(1), 0.0, 50, 3, proposal=lambda m: centre + torch.randn(m, 3))
    assert f.shape == (50, 3) and st["acceptance_rate"] == 1.0 and float(f.mean()) > 4.0
    with pytest.raises(ValueError, match="proposal"):
        sample_anomalous_features(lambda z: z.sum(1), 0.0, 5, 3, proposal=lambda m: torch.zeros(m, 2))


@pytest.mark.parametrize("sampler", ["posterior", "encoded"])
def test_samplers_from_o_run_and_default_is_the_prior(sampler):
    D, O, tn, _ = _clusters(0)
    kw = {**TINY, "input_dropout": 0.0, "hidden_dropout": 0.0}
    det = NPDetector(anomaly_sampler=sampler, **kw).fit(D, X_other=O)
    assert np.isfinite(det.anomaly_score(tn)).all() and 0 < det.acceptance_rate_ <= 1
    prior = NPDetector(anomaly_sampler="prior", **kw).fit(D, X_other=O)
    default = NPDetector(**kw).fit(D, X_other=O)
    np.testing.assert_array_equal(prior.anomaly_score(tn), default.anomaly_score(tn))
    assert not np.array_equal(prior.history_["acceptance_rate"], det.history_["acceptance_rate"])
