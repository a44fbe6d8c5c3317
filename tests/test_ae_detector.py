"""AEDetector: the scikit-learn contract, training from memory and from streams, presets, thresholds, floors."""

import dataclasses

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from adskit.audio.datasets import FeatureCache, FrameSampler
from adskit.audio.features import FeatureConfig
from adskit.audio.io import save_audio
from adskit.detectors import AEDetector
from adskit.detectors.ae import AE_PRESETS, lr_schedule
from adskit.detectors.presets import FEATURE_PRESETS, feature_config_dict
from adskit.metrics import auc
from adskit.scores import score_clips
from adskit.threshold import phi_rho

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {"hidden": (8,), "latent_dim": 2, "n_updates": 5, "batch_size": 16, "device": "cpu"}

EXPECTED_FAILURES = {
    "check_methods_subset_invariance": (
        "float32 inference: a BLAS matrix product over 20 rows and over 2 rows rounds differently in the 7th "
        "digit (relative 3e-7), above the check's 1e-7 tolerance"
    ),
}


@parametrize_with_checks(
    [AEDetector("re", **TINY), AEDetector("bu", **TINY)],
    expected_failed_checks=lambda est: EXPECTED_FAILURES if est.cost == "re" else {},
)
def test_sklearn_contract(estimator, check):
    """Each scikit-learn check_* function raises AssertionError (or fails outright) on a contract violation."""
    check(estimator)


def _rare_cluster_data(seed=0, n=3000, d=10, rare=0.05, held_out=False):
    """Normal = a frequent 2-D plane + a rare 2-D plane (5 %) in 10-D; anomalies = isotropic, larger.

    ``seed`` picks the planes; ``held_out=True`` draws fresh vectors from the same planes (a test set).
    """
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    a, b = q[:, :2], q[:, 2:4]
    if held_out:
        rng = np.random.default_rng([seed, 1])
    n_rare = int(rare * n)
    common = rng.normal(size=(n - n_rare, 2)) @ a.T + 0.05 * rng.normal(size=(n - n_rare, d))
    rare_pts = 2.0 + rng.normal(size=(n_rare, 2)) @ b.T + 0.05 * rng.normal(size=(n_rare, d))
    X = np.vstack([common, rare_pts]).astype(np.float32)
    is_rare = np.r_[np.zeros(n - n_rare, bool), np.ones(n_rare, bool)]
    anomalies = (1.5 * rng.normal(size=(600, d))).astype(np.float32)
    return X, is_rare, anomalies


def test_performance_floor_and_bu_lowers_rare_scores():
    """AUC above 0.9 for RE, SNP and BU on held-out vectors; BU's rare/frequent score ratio below 0.7 x RE's.

    Seed check 2026-11-29 (this data with random_state 0-7, and data seed = random_state = 1-7): AUC min
    0.987 (RE), 0.999 (SNP), 0.9998 (BU), means above 0.998; floor 0.9. BU's ratio / RE's ratio max 0.073
    (bound 0.7). The held-out normals used to come from ``seed=1``, i.e. from two *other* planes; with them
    the AUCs were 0.86-0.99 and measured distance from the origin more than normality.
    """
    X, is_rare, Xa = _rare_cluster_data()
    Xt, _, Xat = _rare_cluster_data(held_out=True)
    kw = {"hidden": (32,), "latent_dim": 2, "n_updates": 400, "batch_size": 256, "lr": 3e-3, "device": "cpu"}
    res = {}
    for cost in ("re", "snp", "bu"):
        det = AEDetector(cost, **kw).fit(X, X_anomalous=None if cost == "re" else Xa[:300])
        s_norm, s_anom = det.anomaly_score(Xt), det.anomaly_score(Xat[300:])
        res[cost] = {
            "auc": auc(np.r_[np.zeros(len(Xt)), np.ones(len(s_anom))], np.r_[s_norm, s_anom]),
            "rare_ratio": det.anomaly_score(X[is_rare]).mean() / det.anomaly_score(X[~is_rare]).mean(),
        }
    for cost in res:
        assert res[cost]["auc"] > 0.9, res
    # BU's weights pull the rare plane's scores down relative to the frequent one
    assert res["bu"]["rare_ratio"] < 0.7 * res["re"]["rare_ratio"], res


def test_bu_weighted_term_alone_lowers_the_rare_cluster():
    """Without anomalies (the weighted term of eq 16 alone) BU scores the rare plane lower, relative to the
    frequent one, than RE: the median over five fits of (BU's rare/frequent ratio) / (RE's) is below 0.5.

    One fit is not enough: which plane a 2-D bottleneck learns depends on the start. Seed check 2026-11-29
    (data seeds 2-9 x random_state 0-7, 64 pairs): per-pair quotient median 0.11, above 0.7 in 5 pairs, above
    1 (RE < BU) in one (data 2, random_state 3: 2.96). Median of the five pairs used here (data 2+k,
    random_state k) 0.13; over the 32 sets (data 2+j+k, random_state (k+o) mod 8; j 0-3, o 0-7) at most 0.26;
    0.8 % of random five-pair subsets have a median above 0.5. Bound 0.5.
    """
    kw = {"hidden": (32,), "latent_dim": 2, "n_updates": 300, "batch_size": 256, "lr": 3e-3, "device": "cpu"}
    quotients = []
    for k in range(5):
        X, is_rare, _ = _rare_cluster_data(seed=2 + k)
        re_ = AEDetector("re", random_state=k, **kw).fit(X)
        bu = AEDetector("bu", random_state=k, **kw).fit(X)
        ratio = {d.cost: d.anomaly_score(X[is_rare]).mean() / d.anomaly_score(X[~is_rare]).mean() for d in (re_, bu)}
        quotients.append(ratio["bu"] / ratio["re"])
    assert np.median(quotients) < 0.5, quotients


def test_fit_batches_callable_iterable_and_sampler_agree_on_shapes_and_are_seeded():
    rng = np.random.default_rng(0)
    X, Xa = rng.normal(size=(500, 6)).astype(np.float32), (3 + rng.normal(size=(100, 6))).astype(np.float32)

    def batch(step):
        g = np.random.default_rng([1, step])
        return X[g.integers(0, 500, 64)], Xa[g.integers(0, 100, 16)]

    kw = {"hidden": (8,), "latent_dim": 2, "device": "cpu"}
    a = AEDetector("snp", **kw).fit_batches(batch, 20)
    b = AEDetector("snp", **kw).fit_batches(batch, 20)
    np.testing.assert_array_equal(a.anomaly_score(X), b.anomaly_score(X))
    assert a.n_updates_ == 20 and a.frames_seen_ == 20 * 80 and a.n_features_in_ == 6

    class Sampler:
        batches_per_epoch = 3
        mean_, scale_ = X.mean(0), X.std(0)

        def batch(self, step):
            return {"X": X[step * 10 : step * 10 + 40], "X_anomalous": Xa[:8]}

    c = AEDetector("bu", n_epochs=4, **kw).fit_batches(Sampler())  # the sampler's statistics and epoch length
    assert c.n_updates_ == 12 and np.allclose(c.mean_, X.mean(0))
    old = AEDetector("bu", n_epochs=4, **kw).fit_sampler(Sampler())  # the old name of the same
    np.testing.assert_array_equal(old.anomaly_score(X), c.anomaly_score(X))
    assert old.threshold_ == c.threshold_
    d = AEDetector("re", **kw).fit_batches(iter([X[:50]] * 6), n_updates=6, n_stat_batches=2)
    assert d.n_updates_ == 6 and np.isfinite(d.history_["loss"]).all()
    with pytest.raises(ValueError, match="iterable ended after 3"):
        AEDetector("re", **kw).fit_batches([X[:50]] * 3, n_updates=6, n_stat_batches=1)
    with pytest.raises(ValueError, match="snp.*X_anomalous"):
        AEDetector("snp", **kw).fit_batches(lambda s: X[:40], 3, n_stat_batches=1)


def test_fit_sampler_streams_from_the_feature_cache(tmp_path):
    rng = np.random.default_rng(0)
    paths = [save_audio(tmp_path / f"normal_{i}.wav", 0.1 * rng.standard_normal(16000), 16000) for i in range(3)]
    cache = FeatureCache(tmp_path / "cache", FeatureConfig.preset("dcase2020"), device="cpu")
    cache.build(paths, progress=False)
    sampler = FrameSampler(cache, paths, batch_size=32, random_state=0)
    det = AEDetector.preset("dcase2020", cost="re", n_updates=4, device="cpu").fit_sampler(sampler)
    assert det.n_features_in_ == 640 and det.feature_config_["n_mels"] == 128
    assert score_clips(det, [cache.get(p) for p in paths]).shape == (3,)


def test_presets_and_lr_schedule():
    assert set(AE_PRESETS) == {"fcn40-large", "fcn40-small", "fcn64-large", "fcn64-small", "dcase2020"}
    big = AEDetector.preset("fcn64-large", cost="snp")
    assert big.hidden == (512, 512, 512) and big.latent_dim == 64 and big.feature_config["n_mels"] == 64
    assert big.optimizer == "amsgrad" and big.n_epochs == 200 and big.batches_per_epoch == 500
    small = AEDetector.preset("fcn40-small", n_updates=7)
    assert small.hidden == (128, 128) and small.latent_dim == 16 and small.n_updates == 7
    dc = AEDetector.preset("dcase2020")
    assert dc.batchnorm and dc.optimizer == "adam" and dc.final_factor == 1.0 and dc.hidden == (128,) * 4
    with pytest.raises(ValueError, match="name"):
        AEDetector.preset("fcn32")
    # the presets' feature configurations are plain dicts, equal to what the audio front end makes
    for name, fc in FEATURE_PRESETS.items():
        assert fc == FeatureConfig.preset(name).to_dict() == feature_config_dict(name)
    assert big.feature_config == dataclasses.replace(FeatureConfig.preset("paper"), n_mels=64).to_dict()
    assert feature_config_dict(FeatureConfig.preset("np2017")) == FEATURE_PRESETS["np2017"]
    with pytest.raises(ValueError, match="feature_config"):
        AEDetector(feature_config="paper2019", **TINY).fit(np.eye(4))
    assert lr_schedule(0, 200) == 1.0 and lr_schedule(99, 200) == 1.0
    assert lr_schedule(199, 200) == pytest.approx(0.01, abs=0.01) and lr_schedule(150, 200) < 1.0
    det = AEDetector("re", hidden=(4,), latent_dim=2, n_updates=20, batch_size=8, device="cpu")
    det.fit(np.random.default_rng(0).normal(size=(64, 3)))
    assert det.history_["lr"][0] == 1e-3 and det.history_["lr"][-1] == pytest.approx(1e-3 * lr_schedule(19, 20))


def test_any_feature_scale_works():
    """Same AUC at every input scale (one machine, one process). Seed check 2026-11-29 (data and detector seeds
    0-7): AUC 1.0 at every scale, spread 0; floor 0.9."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5))
    Xa = 4 + rng.normal(size=(100, 5))
    y = np.r_[np.zeros(200), np.ones(100)]
    aucs = []
    for scale in (1e-4, 1.0, 1e4):
        det = AEDetector("re", hidden=(16,), latent_dim=2, n_updates=150, batch_size=64, device="cpu")
        det.fit(scale * X[:200])
        aucs.append(auc(y, det.anomaly_score(scale * np.vstack([X[200:], Xa]))))
    assert np.allclose(aucs, aucs[0], atol=1e-3) and aucs[0] > 0.9


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"cost": "np"}, "cost"),
        ({"optimizer": "sgd"}, "optimizer"),
        ({"h": -1.0}, "h"),
        ({"h": "ess:1.5"}, "h"),
        ({"h": "mean"}, "h"),
        ({"C": 0}, "C"),
        ({"h_factor": 0}, "h_factor"),
        ({"n_epochs": 0}, "n_epochs"),
        ({"batch_size": 1}, "batch_size"),
    ],
)
def test_bad_parameters_are_named(kwargs, match):
    with pytest.raises(ValueError, match=match):
        AEDetector(**{**TINY, **kwargs}).fit(np.zeros((10, 2)) + np.arange(10)[:, None])


def test_ess_bandwidth_rule_reaches_its_target_and_the_median_rule_is_recorded():
    X, _, anomalies = _rare_cluster_data(n=1200)
    kw = {**TINY, "n_updates": 5, "batch_size": 256}
    ess = AEDetector("bu", h="ess:0.6", **kw).fit(X, X_anomalous=anomalies)
    assert ess.bandwidth_["rule"] == "ess" and ess.bandwidth_["reached"]
    assert ess.bandwidth_["ess"] == pytest.approx(0.6, abs=0.01) and ess.h_ == ess.bandwidth_["h"]
    assert ess.bandwidth_["min_ess"] <= min(0.6, ess.bandwidth_["ess_h0"]) and ess.bandwidth_["ess_h0"] <= 1.0
    med = AEDetector("bu", **kw).fit(X, X_anomalous=anomalies)
    assert med.bandwidth_ == {"rule": "median", "h": med.h_}
    # the weights' ESS is recorded per update (BU only); at h fixed on the first rows it stays near the target
    assert np.all((ess.history_["ess"] > 0) & (ess.history_["ess"] <= 1))
    assert abs(float(np.mean(ess.history_["ess"])) - 0.6) < 0.15
    assert np.isnan(AEDetector("re", **kw).fit(X).history_["ess"]).all()


def test_snp_needs_anomalies_and_features_must_match():
    X = np.random.default_rng(0).normal(size=(50, 3))
    with pytest.raises(ValueError, match="X_anomalous.*snp"):
        AEDetector("snp", **TINY).fit(X)
    with pytest.raises(ValueError, match="X_anomalous: has 2 features"):
        AEDetector("bu", **TINY).fit(X, X_anomalous=X[:, :2])
    det = AEDetector("re", **TINY).fit(X)
    with pytest.raises(ValueError, match="X has 2 features, but AEDetector is expecting 3"):
        det.anomaly_score(X[:, :2])


def test_threshold_is_phi_rho_of_the_training_scores():
    """The offset set from the standardised training rows on the device equals phi_rho of anomaly_score(X)."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 4)) * [1.0, 10.0, 0.1, 1.0]
    for det in (
        AEDetector("re", rho=0.1, **TINY).fit(X),
        AEDetector("bu", standardize_input=False, **TINY).fit(X, X_anomalous=X[:20] + 5),
    ):
        assert det.threshold_ == phi_rho(det.anomaly_score(X), det.rho) == -det.offset_
    stream = AEDetector("re", **TINY).fit_batches(lambda s: X[s * 40 : s * 40 + 40], 5, n_stat_batches=2)
    assert stream.threshold_ == phi_rho(stream.anomaly_score(X[:80]), 0.05)
    cal = AEDetector("re", **TINY).fit_batches(lambda s: X[s * 40 : s * 40 + 40], 5, calibration=X[200:])
    assert cal.threshold_ == phi_rho(cal.anomaly_score(X[200:]), 0.05)
    with pytest.raises(ValueError, match="calibration: has 3 features"):
        AEDetector("re", **TINY).fit_batches(lambda s: X[:40], 5, calibration=X[:, :3])


def test_validation_uses_scikit_learn_messages_and_streams_are_checked():
    with pytest.raises(ValueError, match="minimum of 2 is required by AEDetector"):
        AEDetector("re", **TINY).fit(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="Input X contains NaN"):
        AEDetector("re", **TINY).fit(np.array([[0.0, 1.0], [np.nan, 2.0], [1.0, 1.0]]))
    X = np.random.default_rng(0).normal(size=(100, 3))
    with pytest.raises(ValueError, match="batches: expected an object with batch"):
        AEDetector("re", **TINY).fit_batches(42, 3)
    with pytest.raises(ValueError, match=r"batches\[0\] X: contains NaN"):
        AEDetector("re", **TINY).fit_batches(lambda s: np.full((8, 3), np.nan), 3)
    with pytest.raises(ValueError, match=r"batches\[3\] X: has 2 features, batch 0 has 3"):
        AEDetector("re", **TINY).fit_batches(lambda s: X[:20] if s < 3 else X[:20, :2], 5, n_stat_batches=1)
    with pytest.raises(ValueError, match="n_updates"):
        AEDetector("re", **TINY | {"n_updates": None}).fit_batches(lambda s: X[:20])
    with pytest.raises(ValueError, match="scaler: mean/std have 2/2 entries"):
        AEDetector("re", **TINY).fit_batches(lambda s: X[:20], 3, scaler=(np.zeros(2), np.ones(2)))
    with pytest.raises(FloatingPointError, match="diverged"):
        AEDetector("re", **TINY).fit_batches(
            lambda s: X[:20] if s < 1 else np.full((20, 3), np.inf), 3, n_stat_batches=1
        )


def test_scores_follow_the_network_when_its_weights_change():
    """The scoring copy (BatchNorm folded) is remade when model_ changes in place, so scores never go stale."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 20)).astype(np.float32)
    det = AEDetector("re", hidden=(16,), latent_dim=4, batchnorm=True, n_updates=30, batch_size=64, device="cpu")
    det.fit(X)
    before = det.anomaly_score(X[:50])
    with torch.no_grad():
        z = (torch.from_numpy(X[:50]) - det._mean_t) / det._scale_t
        want = ((z - det.model_.eval()(z)) ** 2).sum(1).double().numpy()
    np.testing.assert_allclose(before, want, rtol=1e-4)
    with torch.no_grad():
        next(det.model_.parameters()).mul_(2.0)  # an in-place change, as an optimiser step makes
        want2 = ((z - det.model_(z)) ** 2).sum(1).double().numpy()
    after = det.anomaly_score(X[:50])
    assert not np.allclose(after, before)
    np.testing.assert_allclose(after, want2, rtol=1e-4)


def test_joined_batch_standardises_once_and_leaves_the_caller_arrays_alone():
    """The loop's batch (issue 15): normal and anomalous rows in one tensor, standardised in place, equal to
    standardising each part; the caller's arrays are not written; EpochBatches gathers straight into one tensor."""
    from adskit.detectors._training import EpochBatches, joined_batch

    g = torch.Generator().manual_seed(0)
    X, Xa = torch.randn(6, 4, generator=g) * 3 + 1, torch.randn(3, 4, generator=g)
    mean, scale = torch.tensor([1.0, 0.0, -1.0, 2.0]), torch.tensor([3.0, 1.0, 0.5, 2.0])
    X0, Xa0 = X.clone(), Xa.clone()
    z, nb = joined_batch(X, Xa, mean, scale, torch.device("cpu"))
    assert nb == 6 and z.shape == (9, 4)
    assert torch.equal(z, torch.cat([(X0 - mean) / scale, (Xa0 - mean) / scale]))
    assert torch.equal(X, X0) and torch.equal(Xa, Xa0)
    z, nb = joined_batch(X, None, mean, scale, torch.device("cpu"))
    assert nb == 6 and torch.equal(z, (X0 - mean) / scale) and torch.equal(X, X0)

    Z, Za = torch.arange(40.0).reshape(20, 2), -torch.arange(1.0, 11.0).reshape(5, 2)
    z, nb = EpochBatches(Z, Za, batch_size=8, anomalous_batch_size=3, seed=1)(2)
    assert nb == 8 and z.shape == (11, 2)
    assert all((Z == r).all(1).any() for r in z[:8]) and all((Za == r).all(1).any() for r in z[8:])
    z, nb = EpochBatches(Z, None, batch_size=8, anomalous_batch_size=None, seed=1)(2)
    assert nb == 8 and z.shape == (8, 2)
