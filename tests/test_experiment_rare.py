"""The rare-normal experiment: its measurements against hand-computed values, its data, and `adskit rare` end to end."""

import json

import numpy as np
import pytest

from adskit.audio import read_manifest
from adskit.audio.features import FeatureConfig
from adskit.audio.synth import RARE_DISTINCTNESS
from adskit.cli import main
from adskit.detectors import AEDetector
from adskit.experiments.rare import RareConfig, label_of, rare_tables, rarity_condition
from adskit.experiments.rare_data import evaluate_rare, load_rare_data, make_rare_dataset
from adskit.threshold import phi_rho

pytestmark = pytest.mark.usefixtures("one_thread")


def _clips():
    """Two calibration clips (scores 0..199), one held-out frequent clip, one rare clip, one anomalous clip."""
    cal = [np.arange(100.0), np.arange(100.0, 200.0)]
    freq = np.linspace(0, 210, 50)
    rare = np.r_[np.full(30, 10.0), np.full(10, 195.0)]
    anom = np.r_[np.full(20, 5.0), np.full(5, 300.0)]
    frames = [*cal, freq, rare, anom]
    roles = ["calibration", "calibration", "frequent", "rare", "anomaly"]
    rare_masks = [np.zeros(len(f), bool) for f in frames]
    rare_masks[3] = np.r_[np.zeros(30, bool), np.ones(10, bool)]
    anomaly_masks = [np.zeros(len(f), bool) for f in frames]
    anomaly_masks[4] = np.r_[np.zeros(20, bool), np.ones(5, bool)]
    return frames, roles, rare_masks, anomaly_masks


def test_evaluate_rare_matches_hand_computed_rates():
    frames, roles, rare_masks, anomaly_masks = _clips()
    m = evaluate_rare(frames, roles, rare_masks, anomaly_masks, fa_target=0.05)
    phi = phi_rho(np.arange(200.0), 0.05)  # the 10th largest of 0..199 (EUSIPCO 2017 after eq 14)
    assert m["phi_frame"] == phi == 190.0
    assert m["fa_frequent_frames"] == pytest.approx(np.mean(frames[2] > 190.0))
    assert m["fa_rare_frames"] == 1.0  # the rare segment (195) is above, the frequent part of the clip not counted
    assert m["tpr_anomaly_frames"] == 1.0
    # clip level: phi_rho of the two calibration maxima (99, 199) at 5 % is the largest, 199
    assert m["phi_clip"] == 199.0
    assert m["fa_frequent_clips"] == 1.0  # its maximum 210 > 199
    assert m["fa_rare_clips"] == 0.0 and m["tpr_anomaly"] == 1.0
    assert m["n_rare_frames"] == 10 and m["n_frequent_frames"] == 50
    # auc_anomaly: the anomalous clip (300) above both normal clips (210, 195)
    assert m["auc_anomaly"] == 1.0


def test_evaluate_rare_refuses_inconsistent_input():
    frames, roles, rare_masks, anomaly_masks = _clips()
    with pytest.raises(ValueError, match="one entry per clip"):
        evaluate_rare(frames[:-1], roles, rare_masks, anomaly_masks)
    with pytest.raises(ValueError, match="roles"):
        evaluate_rare(frames, ["normal", *roles[1:]], rare_masks, anomaly_masks)
    with pytest.raises(ValueError, match="calibration"):
        evaluate_rare(frames, ["frequent", "frequent", *roles[2:]], rare_masks, anomaly_masks)


def test_data_set_holds_the_rarity_and_the_roles(tmp_path):
    root = make_rare_dataset(
        tmp_path / "d",
        rarity=0.05,
        distinctness=0.5,
        seed=3,
        n_train=8,
        n_test_normal=8,
        n_test_anomaly=2,
        n_something_else=4,
        duration=4.0,
    )
    man = read_manifest(root)
    assert man["rare_share_train"]["fan"] == pytest.approx(0.05, abs=1e-3)
    fcfg = FeatureConfig.preset("paper")
    data = load_rare_data(root, fcfg, seed=3)
    assert data.roles.count("rare") == 4 and data.roles.count("anomaly") == 2
    assert data.roles.count("calibration") == 2 and data.roles.count("frequent") == 2
    # the rare training vectors are about the rarity's share of the vectors (context windows blur the edges)
    assert 0.02 < data.rare_train.mean() < 0.08
    assert all(m.any() for m, r in zip(data.rare_masks, data.roles, strict=True) if r == "rare")
    assert not any(
        m.any() for m, r in zip(data.rare_masks, data.roles, strict=True) if r in ("calibration", "frequent")
    )
    assert data.anomalous.shape[1] == data.X_train.shape[1] and len(data.anomalous) > 0


def test_kde_input_is_the_standardised_input():
    rng = np.random.default_rng(0)
    X = rng.normal(3.0, 2.0, size=(64, 5))
    det = AEDetector(hidden=(4,), cost="re", n_updates=2, batch_size=16, random_state=0, device="cpu").fit(X)
    z = det.kde_input(X)
    np.testing.assert_allclose(z, (X - X.mean(0)) / X.std(0, ddof=1), rtol=1e-5, atol=1e-5)


def test_config_is_checked_and_labels_name_the_rule():
    with pytest.raises(ValueError, match="rarities"):
        RareConfig.quick(rarities=(0.0,)).validate()
    with pytest.raises(ValueError, match="bandwidths"):
        RareConfig.quick(bandwidths=("ess:0.5", "ess:0.3")).validate()
    with pytest.raises(ValueError, match="set per run"):
        RareConfig.quick(h=0.3).validate()
    assert label_of("bu", "median") == "BU" and label_of("bu", "ess:0.4") == "BU-ESS" and label_of("snp", None) == "SNP"
    assert rarity_condition(0.005) == "rarity 0.5 %"


def test_rare_command_writes_the_documented_files(tmp_path, capsys):
    """`adskit rare` end to end, tiny: rare.json of the issue's shape, two figures, rare.md, a resumable sweep."""
    out = tmp_path / "out"
    argv = ["rare", "--rarity", "0.2", "--costs", "re", "bu", "--bandwidths", "median", "ess:0.5"]
    argv += ["--n-updates", "20", "--seeds", "0", "1", "--workers", "0", "--device", "cpu", "--no-progress"]
    argv += ["--data-dir", str(tmp_path / "data"), "--out", str(out)]
    assert main(argv) == 0
    doc = json.loads((out / "rare.json").read_text())
    need = {
        "rarity",
        "cost",
        "bandwidth",
        "fa_rare_frames",
        "fa_rare_frames_ci",
        "fa_frequent_frames",
        "fa_rare_clips",
        "tpr_anomaly",
        "tpr_anomaly_ci",
        "mean_ess",
        "rare_weight_share",
        "n_seeds",
    }
    assert len(doc["cells"]) == 3
    for cell in doc["cells"]:
        assert need <= set(cell) and cell["rarity"] == 0.2 and cell["n_seeds"] == 2
        assert len(cell["fa_rare_frames_ci"]) == 2
    bu = {c["bandwidth"]: c for c in doc["cells"] if c["cost"] == "BU"}
    assert set(bu) == {"median", "ess:0.5"}
    assert all(0 < c["mean_ess"] <= 1 and c["rare_weight_share"] > 0 for c in bu.values())
    re_ = next(c for c in doc["cells"] if c["cost"] == "RE")
    assert re_["bandwidth"] is None and re_["mean_ess"] is None
    pairs = {(c["a"], c["b"], c["metric"]) for c in doc["comparisons"]}
    assert ("BU", "RE", "fa_rare_frames") in pairs and ("BU-ESS", "RE", "tpr_anomaly") in pairs
    for name in ("rare_fa.png", "rare_tpr.png", "rare.md", "summary.json"):
        assert (out / name).stat().st_size > 0
    md = (out / "rare.md").read_text()
    assert "Not run here (`--full` runs them): rarities 0.5 %, 1 %, 2 %, 5 %, 10 %" in md  # quick modes say so
    assert doc["settings"]["rarities"] == [0.2] and doc["settings"]["distinctness"] == 0.5
    capsys.readouterr()
    assert main(argv) == 0  # a second call resumes: nothing is trained again
    assert "0 executed, 6 already complete" in capsys.readouterr().err


def test_rare_tables_from_a_summary():
    cells = [
        {
            "experiment": "rare",
            "machine": "fan",
            "model": "m",
            "cost": c,
            "condition": "rarity 2 %",
            "metric": k,
            "mean": v,
            "ci_low": v - 0.01,
            "ci_high": v + 0.01,
            "n_seeds": 3,
            "values": [v] * 3,
            "seeds": [0, 1, 2],
        }
        for c, k, v in (("RE", "fa_rare_frames", 0.2), ("BU-ESS", "fa_rare_frames", 0.1), ("BU-ESS", "mean_ess", 0.5))
    ]
    results = [{"labels": {"cost": "BU-ESS"}, "bandwidth": "ess:0.5"}, {"labels": {"cost": "RE"}, "bandwidth": None}]
    doc = rare_tables({"cells": cells, "comparisons": []}, results)
    re_, bu = doc["cells"]
    assert (re_["cost"], re_["rarity"], re_["fa_rare_frames"]) == ("RE", 0.02, 0.2)
    assert (bu["cost"], bu["bandwidth"], bu["mean_ess"]) == ("BU", "ess:0.5", 0.5)
    assert bu["fa_rare_frames_ci"] == pytest.approx([0.09, 0.11])


@pytest.mark.slow
def test_plain_re_fires_on_the_rare_process(tmp_path):
    """The phenomenon the experiment is built on, with RE alone (quick settings, rarity 0.5 %, seed 0).

    Checked over seeds 0-4 before committing (`adskit rare --quick --seeds 0 1 2 3 4`, distinctness 0.5): AUC of
    rare-normal against held-out frequent-normal frames 0.885, 0.901, 0.905, 0.868, 0.836; false alarms on
    rare-normal frames over those on frequent-normal frames 9.5, 13.3, 11.7, 7.8, 6.0. Floors: 0.70 and 3 (the
    issue's ratio), well below the worst seed.
    """
    from adskit.experiments.rare import plan_rare
    from adskit.experiments.runs import execute_run

    cfg = RareConfig.quick(rarities=(0.005,), costs=("re",), device="cpu", data_dir=str(tmp_path / "data"))
    (run,) = plan_rare(cfg, [0])
    assert read_manifest(run.config.dataset)["config"]["distinctness"] == RARE_DISTINCTNESS == 0.5
    m = execute_run(run, tmp_path / "out")["metrics"]
    assert m["auc_rare_vs_frequent"] >= 0.70, m
    assert m["fa_rare_frames"] >= 3 * m["fa_frequent_frames"], m
