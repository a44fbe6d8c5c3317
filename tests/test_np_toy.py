"""The known-answer setting of issue 14 (adskit.experiments.np_toy) and PROP's training diagnostics on it:
closed-form optima against Monte Carlo, the result's shape, the diagnostics record, a forced collapse warns."""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import norm

from adskit.detectors.neyman_pearson import DIAGNOSTICS, NPCollapseWarning, NPDetector
from adskit.experiments.np_toy import TOY_DETECTOR, ToySetting, compare_np_options, np_toy_seed, run_np_toy
from adskit.threshold import NeymanPearsonThreshold

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = ToySetting(n_normal=300, n_other=400, n_calibration=400, n_valid=100, n_test=2000, n_mc=20_000)
QUICK = {"hidden": (16,), "n_steps": 15}


def test_optimum_closed_form_and_monte_carlo_agree():
    """Equal-covariance Gaussians: the most powerful test at FPR rho has power Phi(Delta - z_{1-rho}); the
    true log likelihood ratio thresholded on normal draws reaches it (and rho) on fresh draws."""
    s, rho = ToySetting(), 0.05
    assert s.optimum_tpr(rho) == pytest.approx(norm.cdf(2.5 - norm.ppf(0.95)), abs=1e-12)
    assert s.optimum_tpr(rho) == pytest.approx(0.8037, abs=1e-4)
    rng = np.random.default_rng(0)
    thr = NeymanPearsonThreshold(rho).fit(s.log_likelihood_ratio(s.normal(rng, 200_000))).threshold_
    n = 200_000
    tpr = np.mean(s.log_likelihood_ratio(s.anomalous(rng, n)) > thr)
    fpr = np.mean(s.log_likelihood_ratio(s.normal(rng, n)) > thr)
    assert abs(tpr - s.optimum_tpr(rho)) < 0.006  # binomial sd ~0.0009 each from threshold and test draws
    assert abs(fpr - rho) < 0.004
    # the perfect one-class detector (threshold the true p_D, i.e. ||x||^2) against its noncentral chi^2 power
    r2 = np.sum(s.normal(rng, n) ** 2, 1)
    t2 = NeymanPearsonThreshold(rho).fit(r2).threshold_
    assert abs(np.mean(np.sum(s.anomalous(rng, n) ** 2, 1) > t2) - s.one_class_tpr(rho)) < 0.006
    assert s.one_class_tpr(rho) < s.optimum_tpr(rho)


def test_other_set_covers_normal_and_anomalies():
    s = ToySetting()
    O = s.other(np.random.default_rng(1), 30_000)
    near_d = np.linalg.norm(O, axis=1) < 3.0
    near_a = np.linalg.norm(O - s.delta * np.eye(s.dim)[0], axis=1) < 3.0
    assert near_d.mean() > 0.2 and near_a.mean() > 0.2
    assert O.shape == (30_000, 8) and abs(O[:, 1].mean() - s.other_offset / 3) < 0.05


def test_run_np_toy_shape_and_files(tmp_path):
    res = run_np_toy(seeds=(0,), setting=SMALL, detector=QUICK, out=tmp_path)
    assert res["rho"] == 0.05 and res["n_seeds"] == 1 and res["seeds"] == [0]
    assert set(res["methods"]) == {"AE", "VAE", "PROP", "optimum"}
    for m in res["methods"].values():
        for k in ("tpr", "fpr"):
            assert set(m[k]) >= {"mean", "ci_low", "ci_high"}
            assert 0.0 <= m[k]["mean"] <= 1.0 and m[k]["ci_low"] is None  # one seed: no interval
    # 2000 test anomalies: binomial sd 0.009; the threshold from 20,000 normal draws adds less
    assert abs(res["methods"]["optimum"]["tpr"]["mean"] - SMALL.optimum_tpr(0.05)) < 0.04
    pairs = [(c["a"], c["b"]) for c in res["comparisons"]]
    assert pairs == [("PROP", "VAE"), ("PROP", "AE"), ("optimum", "PROP")]
    assert all(c["verdict"] == "no difference detected" and c["metric"] == "tpr" for c in res["comparisons"])
    assert res["setting"]["optimum_tpr"] == pytest.approx(SMALL.optimum_tpr(0.05))
    diag = res["diagnostics"]["0"]
    assert diag["n_np_steps"] == QUICK["n_steps"] and 0 < diag["acceptance_rate"]["late"] <= 1
    on_disk = json.loads((tmp_path / "np_toy.json").read_text())
    assert on_disk["methods"]["PROP"]["tpr"]["mean"] == res["methods"]["PROP"]["tpr"]["mean"]
    assert (tmp_path / "np_toy_diagnostics.png").stat().st_size > 0


def test_run_np_toy_pairs_seeds_with_intervals():
    res = run_np_toy(seeds=(0, 1), setting=SMALL, detector={"hidden": (8,), "n_steps": 5})
    opt = res["methods"]["optimum"]["tpr"]
    assert opt["ci_low"] <= opt["mean"] <= opt["ci_high"] and len(opt["values"]) == 2
    c = res["comparisons"][2]
    diffs = np.subtract(opt["values"], res["methods"]["PROP"]["tpr"]["values"])
    assert c["mean_diff"] == pytest.approx(diffs.mean()) and c["n_seeds"] == 2
    with pytest.raises(ValueError, match="seeds"):
        run_np_toy(seeds=(1, 1))
    with pytest.raises(ValueError, match="dim"):
        ToySetting(dim=1)


def _toy_data(seed: int = 0):
    rng = np.random.default_rng(seed)
    s = SMALL
    valid = np.r_[s.normal(rng, 200), s.anomalous(rng, 200)]
    return s.normal(rng, s.n_normal), s.other(rng, s.n_other), valid, np.r_[np.zeros(200), np.ones(200)]


def test_diagnostics_are_recorded_per_np_step():
    D, O, V, y = _toy_data()
    kw = {**TOY_DETECTOR, "hidden": (16,), "n_steps": 12, "warmup_steps": 2, "em_every": 3}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NPCollapseWarning)
        det = NPDetector(**kw).fit(D, X_other=O, X_valid=V, y_valid=y)
    d = det.diagnostics_
    assert set(d) == set(DIAGNOSTICS) and all(v.shape == (10,) for v in d.values())
    np.testing.assert_array_equal(d["step"], np.arange(2, 12))
    np.testing.assert_array_equal(d["phi"], det.history_["phi"][2:])
    np.testing.assert_array_equal(d["acceptance_rate"], det.history_["acceptance_rate"][2:])
    np.testing.assert_allclose(d["tpr_term"] - d["fpr_term"], det.history_["np_objective"][2:], atol=1e-6)
    assert d["feature_trace"][0] == d["feature_trace"][2] != d["feature_trace"][3]  # refreshed every 3 steps
    assert np.all(d["gmm_min_var"] >= d["gmm_floor"]) and np.all(d["gmm_floor"] == 1e-6)
    for k in ("saturated_anomalous", "saturated_normal", "valid_tpr", "valid_fpr"):
        assert np.all((d[k] >= 0) & (d[k] <= 1)), k
    base = NPDetector(extractor="vae", **kw).fit(D, X_other=O)
    assert all(v.size == 0 for v in base.diagnostics_.values()) and base.collapse_warnings_ == ()


def test_forced_collapse_warns_with_cause_and_step():
    """The NP step shrinks the normal features onto one point within 40 steps here (the paper's
    degenerate optimum); the warning names the cause and the first step below 1 % of the starting spread."""
    D, O, _, _ = _toy_data()
    det = NPDetector(**{**TOY_DETECTOR, "hidden": (32, 32), "n_steps": 40, "np_lr": 0.01})
    with pytest.warns(NPCollapseWarning) as rec:
        det.fit(D, X_other=O)
    assert "spread" in det.collapse_warnings_
    msg = next(str(w.message) for w in rec if "shrank" in str(w.message))
    d = det.diagnostics_
    first = int(d["step"][np.argmax(d["feature_trace"] < 0.01 * d["feature_trace"][0])])
    assert re.search(rf"at step {first}:", msg), msg
    # thresholds out of reach: the same fit warns about nothing
    quiet = NPDetector(**{**TOY_DETECTOR, "hidden": (32, 32), "n_steps": 40, "np_lr": 0.01})
    quiet.collapse_spread, quiet.collapse_saturation = 0.0, 1.0
    with warnings.catch_warnings():
        warnings.simplefilter("error", NPCollapseWarning)
        quiet.fit(D, X_other=O)
    assert quiet.collapse_warnings_ == ()
    np.testing.assert_array_equal(quiet.anomaly_score(D[:50]), det.anomaly_score(D[:50]))


# ------------------------------------------------------------------ candidate fixes (issue 14, deliverable 3)

NO_DROPOUT = {"input_dropout": 0.0, "hidden_dropout": 0.0}


def _decoded_prior_spread(det: NPDetector) -> float:
    """tr Cov of G(f), f ~ N(0, I): how much of the input space the decoded prior draws cover."""
    det.model_.eval()
    with torch.no_grad():
        x = det.model_.decoder(torch.randn(2000, det.latent_dim, generator=torch.Generator().manual_seed(0)))
    return float(np.trace(np.cov(x.numpy().T)))


def test_without_dropout_the_vae_decodes_prior_draws_apart():
    """The diagnosed posterior collapse: with the paper's dropout (0.2 / 0.5) on the toy's small networks, G
    decodes every prior draw to nearly one point (tr Cov ~0.0015 after 150 steps, seeds 0-2; O's is 8.6);
    without dropout the draws spread (0.78-1.78). Algorithm 2's candidates from the features of O
    (``anomaly_sampler="encoded"``) are then rejected in part (acceptance 0.52-0.63), where the prior's are
    all accepted (1.00). Thresholds sit at 20x and 1.5x margins from those seed checks."""
    D, O, _, _ = _toy_data()
    kw = {**TOY_DETECTOR, "n_steps": 150}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NPCollapseWarning)
        paper = NPDetector(**kw).fit(D, X_other=O)
        fixed = NPDetector(**kw, **NO_DROPOUT).fit(D, X_other=O)
        encoded = NPDetector(**kw, **NO_DROPOUT, anomaly_sampler="encoded").fit(D, X_other=O)
    assert _decoded_prior_spread(paper) < 0.03
    assert _decoded_prior_spread(fixed) > 0.3
    assert paper.acceptance_rate_ > 0.99 and encoded.acceptance_rate_ < 0.9


def test_compare_np_options_pairs_each_candidate_with_the_literal_run(tmp_path):
    cands = {"no dropout": NO_DROPOUT}
    res = compare_np_options(cands, seeds=(0, 1), setting=SMALL, detector={"hidden": (8,), "n_steps": 5}, out=tmp_path)
    assert set(res["runs"]) == {"literal", "no dropout"} and res["runs"]["no dropout"]["options"] == NO_DROPOUT
    c = res["comparisons"]["no dropout"]
    assert [(x["a"], x["b"]) for x in c] == [
        ("PROP (no dropout)", "PROP (literal)"),
        ("PROP (no dropout)", "VAE (no dropout)"),
        ("PROP (no dropout)", "VAE (literal)"),
        ("VAE (no dropout)", "VAE (literal)"),
        ("optimum", "PROP (no dropout)"),
    ]
    tpr = {k: r["methods"]["PROP"]["tpr"]["values"] for k, r in res["runs"].items()}
    assert c[0]["mean_diff"] == pytest.approx(np.mean(np.subtract(tpr["no dropout"], tpr["literal"])))
    assert c[0]["n_seeds"] == 2 and c[0]["ci_low"] <= c[0]["mean_diff"] <= c[0]["ci_high"]
    assert res["recommended"] in (*res["eligible"], None)
    assert json.loads((tmp_path / "np_options.json").read_text())["eligible"] == res["eligible"]
    with pytest.raises(ValueError, match="candidates"):
        compare_np_options({"literal": {}})


def test_np_toy_command_writes_the_issue_shaped_file(tmp_path, capsys):
    """`adskit np --toy --seeds ... --out DIR` (issue 14's acceptance shape), with few steps."""
    from adskit.cli import main

    argv = ["np", "--toy", "--seeds", "0", "1", "--steps", "10", "--input-dropout", "0", "--hidden-dropout", "0"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "np_toy.json").read_text())
    assert res["rho"] == 0.05 and res["n_seeds"] == 2 and set(res["methods"]) == {"AE", "VAE", "PROP", "optimum"}
    for m in res["methods"].values():
        assert {"mean", "ci_low", "ci_high"} <= set(m["tpr"]) and {"mean", "ci_low", "ci_high"} <= set(m["fpr"])
    assert res["detector"]["input_dropout"] == 0.0 and res["detector"]["n_steps"] == 10
    assert {(c["a"], c["b"]) for c in res["comparisons"]} >= {("PROP", "VAE"), ("PROP", "AE"), ("optimum", "PROP")}
    assert "| PROP |" in capsys.readouterr().out


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_performance_floor_prop_on_the_known_answer_setting(seed):
    """PROP without dropout (the fix of issue 14) detects anomalies where the most powerful test reaches 0.80:
    TPR at rho 0.05 above 0.45, and near rho false alarms on fresh normal draws.

    Seed check 2026-11-29 (this machine, 10 seeds 0-9, TOY_DETECTOR with input_dropout = hidden_dropout = 0):
    PROP's TPR at rho 0.672 [0.574, 0.761] on seeds 0-4 and 0.685 [0.655, 0.715] on 5-9, every seed above 0.59;
    floor 0.45. Again 2026-11-30 after the GMM's EM in blocks and Lloyd stopped at 20: 0.694 [0.593, 0.795] and
    0.714 [0.620, 0.808], lowest seed 0.571; on another machine the same day, seeds 0-4: 0.671 [0.622, 0.720], lowest
    0.623. The literal algorithm (the paper's dropout) gives 0.005 (collapse): the floor catches it.
    """
    res = np_toy_seed(seed, detector={"input_dropout": 0.0, "hidden_dropout": 0.0})
    prop = res["rates"]["PROP"]
    assert prop["tpr"] > 0.45, prop
    assert prop["fpr"] < 0.05 + 0.03  # 20,000 fresh draws; the threshold from 2,000 held-out ones
