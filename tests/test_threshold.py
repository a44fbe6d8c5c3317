"""adskit.threshold against order statistics, np.quantile, scipy and brute-force scikit-learn metrics."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from sklearn.metrics import f1_score, precision_score, recall_score

from adskit.detectors import np_threshold
from adskit.detectors.base import np_threshold as base_np_threshold
from adskit.threshold import (
    GammaThreshold,
    MaxMeanPRFThreshold,
    NeymanPearsonThreshold,
    phi_rho,
)

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
rhos = st.floats(min_value=1e-6, max_value=1 - 1e-6, exclude_min=True, exclude_max=True)
# few distinct values so that ties are common
tied_scores = arrays(np.float64, st.integers(1, 300), elements=st.sampled_from([-2.0, 0.0, 0.5, 1.0, 3.0]))
any_scores = arrays(np.float64, st.integers(1, 300), elements=finite)


# ------------------------------------------------------------------ Neyman-Pearson


@pytest.mark.parametrize("K", [1, 2, 19, 20, 21, 100, 1001])
@pytest.mark.parametrize("rho", [0.01, 0.05, 0.1, 0.25, 0.5, 0.9])
def test_phi_rho_is_the_floor_rho_k_th_largest(K, rho):
    s = np.random.default_rng(K).normal(size=K)
    t = NeymanPearsonThreshold(rho).fit(s)
    k = max(int(np.floor(rho * K)), 1)
    assert t.threshold_ == np.sort(s)[::-1][k - 1] == phi_rho(s, rho)
    # the documented quantile relation, exactly
    assert t.threshold_ == np.quantile(s, 1 - (k - 0.5) / K, method="inverted_cdf")
    # the textbook (1 - rho) quantile is the next order statistic down (more alarms, still <= rho)
    if K > 1:
        assert np.quantile(s, 1 - rho, method="inverted_cdf") == np.sort(s)[::-1][min(int(np.floor(rho * K)), K - 1)]
    assert t.n_fit_ == K
    assert t.train_fpr_ == pytest.approx((k - 1) / K)


def test_phi_rho_floor_zero_takes_the_largest():
    s = np.arange(10.0)
    t = NeymanPearsonThreshold(0.05).fit(s)  # floor(0.5) = 0
    assert t.threshold_ == 9.0 == phi_rho(s, 0.05) and t.train_fpr_ == 0.0


def test_phi_rho_old_name_and_no_estimators_loaded():
    """``np_threshold`` (its old name) still works; importing adskit.threshold loads no estimator."""
    assert np_threshold is base_np_threshold is phi_rho
    code = "import sys, adskit.threshold; print(any(m.startswith('adskit.detectors') for m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"


@settings(max_examples=300, deadline=None)
@given(scores=st.one_of(tied_scores, any_scores), rho=rhos)
def test_training_fpr_never_exceeds_rho(scores, rho):
    t = NeymanPearsonThreshold(rho).fit(scores)
    assert t.train_fpr_ <= rho
    assert np.mean(t.predict(scores)) == t.train_fpr_
    assert t.threshold_ in scores


@settings(max_examples=100, deadline=None)
@given(scores=any_scores, rho=rhos)
def test_np_uses_only_normal_scores_when_labelled(scores, rho):
    y = (np.arange(scores.size) % 3 == 0).astype(int)
    if (y == 0).sum() == 0:
        return
    a = NeymanPearsonThreshold(rho).fit(scores, y)
    b = NeymanPearsonThreshold(rho).fit(scores[y == 0])
    assert a.threshold_ == b.threshold_


def test_held_out_check_report():
    rng = np.random.default_rng(0)
    t = NeymanPearsonThreshold(0.05).fit(rng.normal(size=200_000))
    report = t.check(rng.normal(size=20_000), alpha=0.05)
    assert report["ci_low"] <= report["fpr"] <= report["ci_high"]
    assert report["n"] == 20_000 and report["n_false_positives"] == round(report["fpr"] * 20_000)
    ci = stats.binomtest(report["n_false_positives"], 20_000).proportion_ci(0.95, method="exact")
    assert (report["ci_low"], report["ci_high"]) == (ci.low, ci.high)
    assert abs(report["fpr"] - 0.05) < 0.005


def test_held_out_interval_covers_rho_about_95_percent_of_the_time():
    """rho lies in the 95% Clopper-Pearson interval in about 95% of repeated experiments.

    One experiment is random, so a single verdict can be "violated" by chance (about 1 in 20); what the
    kit promises is the calibration of the verdict, tested here over 400 independent repetitions. The
    training set is 50x the held-out set so that the threshold's own sampling noise is negligible.
    """
    rng = np.random.default_rng(0)
    hits = []
    for _ in range(400):
        t = NeymanPearsonThreshold(0.05).fit(rng.normal(size=100_000))
        hits.append(t.check(rng.normal(size=2_000), alpha=0.05)["rho_in_ci"])
    coverage = np.mean(hits)
    assert 0.90 <= coverage <= 0.995, coverage


def test_check_flags_violation_and_conservative():
    rng = np.random.default_rng(0)
    t = NeymanPearsonThreshold(0.05).fit(rng.normal(size=10_000))
    assert t.check(rng.normal(loc=1.0, size=5_000))["verdict"] == "violated"  # shifted normal data: more alarms
    assert t.check(rng.normal(loc=-1.0, size=5_000))["verdict"] == "conservative"


@pytest.mark.parametrize("rho", [0.0, 1.0, -0.1, 1.5, float("nan"), "x"])
def test_np_bad_rho(rho):
    with pytest.raises(ValueError, match="rho"):
        NeymanPearsonThreshold(rho).fit([1.0, 2.0])


@pytest.mark.parametrize(
    ("scores", "match"),
    [([], "scores: is empty"), ([1.0, np.nan], "scores: contains NaN"), ([[1.0, 2.0]], "scores: expected a 1-D")],
)
def test_bad_scores(scores, match):
    for t in (NeymanPearsonThreshold(0.1), GammaThreshold()):
        with pytest.raises(ValueError, match=match):
            t.fit(scores)
    with pytest.raises(ValueError, match=match):
        MaxMeanPRFThreshold().fit(scores, np.zeros(np.size(scores)))


def test_check_bad_input():
    t = NeymanPearsonThreshold(0.1).fit(np.arange(100.0))
    with pytest.raises(ValueError, match="held_out_normal_scores"):
        t.check([np.nan])
    with pytest.raises(ValueError, match="alpha"):
        t.check([1.0], alpha=1.5)
    with pytest.raises(AttributeError, match="not fitted"):
        NeymanPearsonThreshold(0.1).check([1.0])


# ------------------------------------------------------------------ gamma (DCASE baseline)


def test_gamma_threshold_equals_scipy():
    s = np.random.default_rng(0).gamma(2.5, 1.3, size=2000) + 4.0
    t = GammaThreshold(percentile=0.9).fit(s)
    a, loc, scale = stats.gamma.fit(s)
    assert t.threshold_ == stats.gamma.ppf(0.9, a, loc=loc, scale=scale)
    assert (t.shape_, t.loc_, t.scale_) == (a, loc, scale)
    # on gamma data the rate is about 1 - percentile (not promised in general)
    assert abs(np.mean(t.predict(s)) - 0.1) < 0.02


def test_gamma_fixed_location():
    s = np.random.default_rng(1).gamma(2.0, 1.0, size=1000)
    t = GammaThreshold(0.95, floc=0.0).fit(s)
    a, _, scale = stats.gamma.fit(s, floc=0.0)
    assert t.threshold_ == pytest.approx(stats.gamma.ppf(0.95, a, scale=scale))
    with pytest.raises(ValueError, match="scores: a gamma fit with floc=0.0"):
        GammaThreshold(floc=0.0).fit(s - 1.0)
    # free location (the default, as the DCASE baseline) accepts negative scores
    assert np.isfinite(GammaThreshold().fit(s - 10.0).threshold_)


def test_gamma_bad_input():
    with pytest.raises(ValueError, match="percentile"):
        GammaThreshold(1.0).fit([1.0, 2.0])
    with pytest.raises(ValueError, match="scores"):
        GammaThreshold().fit([1.0, 1.0, 1.0])


# ------------------------------------------------------------------ max mean(P, R, F1) oracle


def _brute_force(scores, y, criterion):
    best, best_t = -1.0, None
    cands = np.r_[np.unique(scores)[::-1], np.nextafter(scores.min(), -np.inf)]
    for t in cands:  # highest threshold first, strict > keeps the first maximum
        pred = scores > t
        p = precision_score(y, pred, zero_division=0)
        r = recall_score(y, pred, zero_division=0)
        f = f1_score(y, pred, zero_division=0)
        c = f if criterion == "f1" else (p + r + f) / 3
        if c > best + 1e-12:
            best, best_t = c, t
    return best, best_t


@settings(max_examples=60, deadline=None)
@given(
    scores=arrays(np.float64, st.integers(2, 60), elements=st.integers(-5, 5).map(float)),
    seed=st.integers(0, 2**16),
    criterion=st.sampled_from(["mean_prf", "f1"]),
)
def test_max_mean_prf_equals_brute_force(scores, seed, criterion):
    y = np.random.default_rng(seed).integers(0, 2, scores.size)
    if y.min() == y.max():
        y[0] = 1 - y[0]
    t = MaxMeanPRFThreshold(criterion).fit(scores, y)
    best, best_t = _brute_force(scores, y, criterion)
    assert t.best_score_ == pytest.approx(best, abs=1e-12)
    assert t.threshold_ == best_t
    pred = t.predict(scores)
    assert t.f1_ == pytest.approx(f1_score(y, pred, zero_division=0))
    assert t.precision_ == pytest.approx(precision_score(y, pred, zero_division=0))
    assert t.recall_ == pytest.approx(recall_score(y, pred, zero_division=0))


def test_max_mean_prf_separable_and_bad_input():
    t = MaxMeanPRFThreshold().fit([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])
    assert t.threshold_ == 0.2 and t.best_score_ == 1.0
    with pytest.raises(ValueError, match="y"):
        MaxMeanPRFThreshold().fit([0.1, 0.2], [0, 0])
    with pytest.raises(ValueError, match="y"):
        MaxMeanPRFThreshold().fit([0.1, 0.2], [0, 2])
    with pytest.raises(ValueError, match="criterion"):
        MaxMeanPRFThreshold("auc").fit([0.1, 0.2], [0, 1])


def test_repr_and_unfitted():
    t = NeymanPearsonThreshold(0.05)
    assert repr(t) == "NeymanPearsonThreshold(rho=0.05)"
    assert "threshold_=" in repr(t.fit(np.arange(100.0)))
    assert repr(GammaThreshold()) == "GammaThreshold(percentile=0.9, floc=None)"
    with pytest.raises(AttributeError, match="not fitted"):
        MaxMeanPRFThreshold().predict([1.0])
