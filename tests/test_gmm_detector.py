"""GMMDetector: the scikit-learn outlier contract, a performance floor, and scores equal to scikit-learn's."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp
from sklearn.metrics import roc_auc_score
from sklearn.mixture import GaussianMixture as SkGMM
from sklearn.utils.estimator_checks import parametrize_with_checks

from adskit.detectors.gmm import GMMDetector
from adskit.gmm import GaussianMixture

_FEW_ROWS = "the check fits on 10-15 rows, fewer than the default n_components=16: ValueError naming X"


def _expected_failed(estimator) -> dict[str, str]:
    if estimator.n_components <= 10:
        return {}
    return {
        "check_n_features_in_after_fitting": _FEW_ROWS,
        "check_estimators_nan_inf": _FEW_ROWS,
        "check_classifier_data_not_an_array": _FEW_ROWS,
    }


@parametrize_with_checks(
    [GMMDetector(n_components=2, max_iter=20, device="cpu"), GMMDetector(device="cpu")],
    expected_failed_checks=_expected_failed,
)
def test_sklearn_contract(estimator, check):
    """Each scikit-learn check_* function raises AssertionError (or fails outright) on a contract violation."""
    check(estimator)


def _normal_vs_shifted(seed: int):
    """Normal: a 4-cluster mixture in 8-D; anomalous: the same mixture shifted by 1 sd along every axis.

    Returns the cluster centres too, so the test can score with the true normal density (the oracle).
    """
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, size=(4, 8))

    def draw(n, shift):
        lab = rng.integers(0, 4, n)
        return centres[lab] + rng.normal(size=(n, 8)) + shift

    return draw(2000, 0.0), draw(500, 0.0), draw(500, 1.0), centres


def _true_anomaly_score(X, centres):
    d2 = ((X[:, None, :] - centres[None]) ** 2).sum(-1)
    return -logsumexp(-0.5 * d2, axis=1)  # -ln p(x) up to a constant


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_floor(seed):
    """The paper's default (16 diagonal components) stays within 0.03 AUC of the true-density oracle.

    Seed check 2026-11-29 (data seeds 0-7, each with random_state seed, seed+100, seed+200; 24 fits): AUC
    min 0.839, mean 0.856; floor 0.78. Oracle AUC 0.839-0.872; oracle - AUC max 0.013 (bound 0.03), and the
    three initialisations of one data set differ by at most 0.008.
    """
    train, test_normal, test_anom, centres = _normal_vs_shifted(seed)
    det = GMMDetector(random_state=seed, device="cpu").fit(train)
    y = np.r_[np.zeros(500), np.ones(500)]
    auc = roc_auc_score(y, np.r_[det.anomaly_score(test_normal), det.anomaly_score(test_anom)])
    oracle = roc_auc_score(y, np.r_[_true_anomaly_score(test_normal, centres), _true_anomaly_score(test_anom, centres)])
    assert auc >= 0.78
    assert auc >= oracle - 0.03


def test_directions_and_threshold():
    """Seed check 2026-11-29 (data seeds 3-10 x random_state 0-1): share of anomalies flagged 0.44-0.69, of
    normal test vectors 0.07-0.12; the training FPR is 0.0995 by construction (phi_rho on the training set)."""
    train, test_normal, test_anom, _ = _normal_vs_shifted(3)
    det = GMMDetector(n_components=4, rho=0.1, random_state=0, device="cpu").fit(train)
    assert np.allclose(det.score_samples(train), -det.anomaly_score(train))
    train_fpr = np.mean(det.predict(train) == -1)
    assert train_fpr <= 0.1
    assert np.mean(det.predict(test_anom) == -1) > np.mean(det.predict(test_normal) == -1)
    det.set_threshold(1e9)
    assert np.all(det.predict(test_anom) == 1)


@pytest.mark.parametrize("covariance_type", ["diag", "full"])
def test_scores_equal_sklearn_with_copied_parameters(covariance_type):
    train, test_normal, _, _ = _normal_vs_shifted(4)
    sk = SkGMM(4, covariance_type=covariance_type, random_state=0).fit(train)
    det = GMMDetector(n_components=4, covariance_type=covariance_type, standardize=False, device="cpu").fit(train)
    det.gmm_ = GaussianMixture.from_sklearn(sk, device="cpu")
    np.testing.assert_allclose(det.anomaly_score(test_normal), -sk.score_samples(test_normal), rtol=0, atol=1e-8)


def test_standardize_keeps_the_density_of_x():
    """With standardisation the score is still -ln p(x): equal to sklearn fitted on z plus sum(ln scale)."""
    train, test_normal, _, _ = _normal_vs_shifted(5)
    train = train * np.array([1, 10, 100, 0.1, 1, 1, 1, 1])
    det = GMMDetector(n_components=4, random_state=0, device="cpu").fit(train)
    sk = det.gmm_.to_sklearn()
    z = (test_normal - det.mean_) / det.scale_
    expected = -sk.score_samples(z) + np.log(det.scale_).sum()
    np.testing.assert_allclose(det.anomaly_score(test_normal), expected, rtol=1e-10)


def test_constant_feature_no_nan():
    X = np.random.default_rng(0).normal(size=(300, 3))
    X[:, 1] = 5.0
    det = GMMDetector(n_components=3, random_state=0, device="cpu").fit(X)
    assert np.isfinite(det.anomaly_score(X)).all()
    assert det.scale_[1] == 1.0 and det.mean_[1] == 5.0  # a constant feature is only centred
    np.testing.assert_allclose(det.scale_[[0, 2]], X[:, [0, 2]].std(0))  # ddof 0


def test_bad_rho():
    with pytest.raises(ValueError, match="rho"):
        GMMDetector(n_components=2, rho=1.5, device="cpu").fit(np.random.default_rng(0).normal(size=(50, 2)))
