import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, precision_score, recall_score, roc_auc_score

import adskit.metrics
from adskit.experiments.verification import normal_density_on_grid, uniform_density_on_grid
from adskit.metrics import (
    auc,
    boltzmann_density,
    grid_points,
    kl_divergence,
    pauc,
    precision_recall_f1,
    roc,
)


@pytest.fixture
def labelled():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(300, int), np.ones(100, int)]
    s = np.r_[rng.normal(0, 1, 300), rng.normal(1.2, 1, 100)]
    return y, np.round(s, 1)  # rounding creates ties


def test_auc_and_pauc_match_sklearn(labelled):
    y, s = labelled
    assert auc(y, s) == roc_auc_score(y, s)
    assert pauc(y, s) == roc_auc_score(y, s, max_fpr=0.1)
    assert pauc(y, s, max_fpr=0.3) == roc_auc_score(y, s, max_fpr=0.3)
    fpr, tpr, _ = roc(y, s)
    assert fpr[0] == 0 and tpr[-1] == 1


def test_pauc_of_perfect_and_chance_detector():
    y = np.r_[np.zeros(50), np.ones(50)]
    assert pauc(y, y.astype(float)) == 1.0
    assert pauc(y, np.zeros(100)) == pytest.approx(0.5)


def test_precision_recall_f1_match_sklearn(labelled):
    y, s = labelled
    pred = (s >= 0.8).astype(int)
    m = precision_recall_f1(y, pred)
    assert m["precision"] == pytest.approx(precision_score(y, pred))
    assert m["recall"] == pytest.approx(recall_score(y, pred))
    assert m["f1"] == pytest.approx(f1_score(y, pred))
    assert m["fpr"] == pytest.approx(((pred == 1) & (y == 0)).sum() / 300)


def test_oracle_threshold_lives_in_threshold_only():
    """One oracle P/R/F1 threshold: ``threshold.MaxMeanPRFThreshold`` (rule ``score > u``; its brute-force test
    is in test_threshold.py); the metrics pair with the opposite tie rule (``score >= t``) is gone."""
    assert not {"threshold_sweep", "best_threshold", "ThresholdSweep"} & set(dir(adskit.metrics))


def test_analytic_kl_anchors():
    _, _, pts = grid_points(3.0, 0.01)
    p = normal_density_on_grid(pts)
    pu = uniform_density_on_grid(pts)
    # q = p: KL[p||q] = 0, KL[p_U||q] = ln 2 - 1/2 (analytic 0.193)
    assert kl_divergence(p, p) == pytest.approx(0.0, abs=1e-12)
    assert kl_divergence(pu, p) == pytest.approx(math.log(2) - 0.5, abs=5e-3)
    # q = p_U: KL[p||p_U] = 1 - ln 2 (~0.307 analytic, ~0.30 on the 0.01 grid), KL[p_U||q] = 0
    assert kl_divergence(p, pu) == pytest.approx(1 - math.log(2), abs=1e-2)
    assert kl_divergence(pu, pu) == pytest.approx(0.0, abs=1e-12)
    # flat q over [-3,3]^2 (spec §1.4: 1.351 / 1.052)
    flat = np.ones(len(pts))
    assert kl_divergence(p, flat) == pytest.approx(1.351, abs=2e-3)
    assert kl_divergence(pu, flat) == pytest.approx(1.052, abs=2e-3)


def test_kl_by_hand_and_infinite_case():
    p = np.array([0.5, 0.5, 0.0])
    q = np.array([0.25, 0.25, 0.5])
    assert kl_divergence(p, q) == pytest.approx(math.log(2))
    assert kl_divergence(np.array([1.0, 0.0]), np.array([0.0, 1.0])) == math.inf


def test_boltzmann_is_stable_and_normalised():
    q = boltzmann_density(np.array([1000.0, 1001.0, 5000.0]))
    assert q.sum() == pytest.approx(1.0) and q[0] / q[1] == pytest.approx(math.e)


def test_grid_points_are_cell_centres():
    c, _, pts = grid_points(1.0, 0.5)
    np.testing.assert_allclose(c, [-0.75, -0.25, 0.25, 0.75])
    assert pts.shape == (16, 2) and np.allclose(pts[1], [-0.25, -0.75])


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: auc([0, 0, 0], [1, 2, 3]), "y_true"),
        (lambda: auc([0, 1], [1.0, np.nan]), "scores"),
        (lambda: auc([0, 1, 1], [1.0, 2.0]), "scores"),
        (lambda: pauc([0, 1], [0.0, 1.0], max_fpr=0), "max_fpr"),
        (lambda: kl_divergence(np.array([1.0, -1.0]), np.ones(2)), "values"),
    ],
)
def test_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
