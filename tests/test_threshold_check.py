"""NeymanPearsonThreshold.check with groups: the clip bootstrap and the clip-level rate, against hand computations."""

import numpy as np
import pytest
from scipy import stats

from adskit.threshold import NeymanPearsonThreshold

# 3 clips: clip 0 has 1 of 4 scores above 10, clip 1 none of 3, clip 2 2 of 2
SCORES = np.array([1.0, 2.0, 11.0, 3.0, 4.0, 5.0, 6.0, 12.0, 13.0])
GROUPS = np.array([0, 0, 0, 0, 7, 7, 7, 3, 3])


def _fitted(threshold: float = 10.0) -> NeymanPearsonThreshold:
    t = NeymanPearsonThreshold(0.05)
    t.threshold_ = threshold  # fixed by hand: what check does must not depend on how phi_rho was fitted
    return t


def test_vector_and_clip_rates_by_hand():
    out = _fitted().check(SCORES, groups=GROUPS, random_state=0)
    assert (out["n"], out["n_false_positives"], out["fpr"]) == (9, 3, 3 / 9)
    # clip level: clips 0 and 3 have a score above 10, clip 7 none
    assert (out["n_clips"], out["n_clip_alarms"], out["clip_fpr"]) == (3, 2, 2 / 3)
    # Clopper-Pearson from the beta quantiles (the textbook form, not scipy's binomtest)
    lo, hi = stats.beta.ppf(0.025, 2, 3 - 2 + 1), stats.beta.ppf(0.975, 2 + 1, 3 - 2)
    assert out["clip_ci_low"] == pytest.approx(lo, rel=1e-9) and out["clip_ci_high"] == pytest.approx(hi, rel=1e-9)
    lo, hi = stats.beta.ppf(0.025, 3, 9 - 3 + 1), stats.beta.ppf(0.975, 3 + 1, 9 - 3)
    assert out["ci_low"] == pytest.approx(lo, rel=1e-9) and out["ci_high"] == pytest.approx(hi, rel=1e-9)


def test_bootstrap_resamples_whole_clips():
    """The interval equals a loop that draws clips with replacement and pools their scores."""
    out = _fitted().check(SCORES, alpha=0.1, groups=GROUPS, n_boot=500, random_state=[5, 3])
    rng = np.random.default_rng([5, 3])
    clips = [0, 3, 7]  # sorted ids, as drawn
    draws = rng.integers(0, 3, (500, 3))
    fpr = []
    for row in draws:
        pooled = np.concatenate([SCORES[GROUPS == clips[i]] for i in row])
        fpr.append(np.mean(pooled > 10.0))
    assert out["boot_low"] == pytest.approx(np.quantile(fpr, 0.05), abs=1e-12)
    assert out["boot_high"] == pytest.approx(np.quantile(fpr, 0.95), abs=1e-12)
    assert out["boot_low"] <= out["fpr"] <= out["boot_high"]


def test_bootstrap_is_wider_than_clopper_pearson_for_dependent_scores():
    """Clips whose scores all move together: resampling clips shows the width the independent interval hides."""
    rng = np.random.default_rng(0)
    clip_level = rng.normal(size=40)
    scores = np.repeat(clip_level, 50) + 0.05 * rng.normal(size=2000)
    groups = np.repeat(np.arange(40), 50)
    t = NeymanPearsonThreshold(0.1).fit(rng.normal(size=5000))
    out = t.check(scores, groups=groups, random_state=1)
    assert out["boot_high"] - out["boot_low"] > 2 * (out["ci_high"] - out["ci_low"])


def test_same_seed_same_interval_and_no_groups_no_bootstrap():
    t = _fitted()
    a = t.check(SCORES, groups=GROUPS, random_state=4)
    assert a == t.check(SCORES, groups=GROUPS, random_state=4)
    plain = t.check(SCORES)
    assert "boot_low" not in plain and {k: a[k] for k in plain} == plain


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"groups": [0, 1]}, "groups"), ({"groups": GROUPS, "n_boot": 0}, "n_boot"), ({"alpha": 0.0}, "alpha")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        _fitted().check(SCORES, **kwargs)
