"""The EUSIPCO 2017 comparison end to end on a tiny synthetic data set: outputs, CLI glue, real-folder path."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from adskit.audio import make_dataset
from adskit.experiments.neyman_pearson import (
    PAPER_TABLE_I,
    NPConfig,
    load_np_data,
    plot_np_roc,
    run_neyman_pearson,
)

TINY = {
    "hidden": (16,),
    "latent_dim": 4,
    "n_components": 2,
    "n_steps": 12,
    "em_every": 3,
    "snrs": (-5.0, 5.0),
    "device": "cpu",
}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def tiny_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("np") / "synth"
    make_dataset(
        root,
        machines=("fan", "pump", "gearbox"),
        n_train=3,
        n_test_normal=2,
        n_test_anomaly=0,
        duration=2.0,
        n_something_else=0,
        n_anomaly_sources=1,
        progress=False,
    )
    return root


def test_run_reports_every_method_threshold_and_table(tiny_root):
    cfg = NPConfig.quick(data_dir=str(tiny_root), **TINY)
    res = run_neyman_pearson(cfg, progress=False)
    assert set(res.metrics) == {"AE", "VAE", "PROP"}
    for m in res.metrics:
        assert set(res.metrics[m]) == {"-5", "5"}
        for v in res.metrics[m].values():
            for rule in ("oracle", "at_phi", "at_phi_train"):
                assert all(np.isfinite(v[rule][k]) and 0 <= v[rule][k] <= 1 for k in ("precision", "recall", "f1"))
            assert set(v["auc_by_group"]) == {"sustained", "time_varying", "sudden"}
            assert 0 <= v["auc"] <= 1
        for which in ("calibrated", "training"):
            c = res.fpr_check[m][which]
            assert 0 <= c["fpr"] <= 1 and 0 <= c["clip_fpr"] <= 1 and c["boot_low"] <= c["fpr"] <= c["boot_high"]
            assert c["n_clips"] == res.data_info["n_test_normal_clips"]
        assert res.fpr_check[m]["calibrated"]["n_fit"] == res.data_info["vectors"]["calibration"]
    assert 0 < res.training["PROP"]["acceptance_rate"] <= 1
    assert res.config["mode"] == "quick" and any(k.startswith("F1: PROP >= VAE") for k in res.pattern())
    table = res.table_markdown()
    assert "| 5 dB | PROP |" in table and "at calibrated phi_rho" in table and "at training phi_rho (paper)" in table
    assert " / ".join(f"{v:.2f}" for v in PAPER_TABLE_I[5]["PROP"]) in table
    assert "| PROP | calibration (" in res.fpr_markdown()
    fig = plot_np_roc(res)
    assert len(fig.axes) == 2 and fig.axes[0].get_title() == "-5 dB"


def test_same_seed_same_numbers(tiny_root):
    cfg = NPConfig.quick(data_dir=str(tiny_root), methods=("PROP",), **TINY)
    data = load_np_data(cfg, progress=False)
    a = run_neyman_pearson(cfg, progress=False, data=data)
    b = run_neyman_pearson(cfg, progress=False, data=data)
    assert a.metrics["PROP"]["5"]["auc"] == b.metrics["PROP"]["5"]["auc"]


def test_calibration_split_is_by_clip_and_disjoint(tiny_root):
    cfg = NPConfig.quick(data_dir=str(tiny_root), **TINY)
    data = load_np_data(cfg, progress=False)
    info = data.info
    assert info["n_calibration_clips"] == 1 and info["n_train_clips"] == 2  # round(0.2 x 3) -> at least one
    assert len(data.calibration) == info["vectors"]["calibration"] > 0
    # whole clips: no calibration vector is also a training vector
    assert not (data.calibration[:, None, :8] == data.train[None, :, :8]).all(-1).any()
    assert data.test_normal_clip.shape == (len(data.test_normal),)
    assert np.unique(data.test_normal_clip).size == info["n_test_normal_clips"]
    again = load_np_data(cfg, progress=False)
    np.testing.assert_array_equal(again.calibration, data.calibration)


def test_mixtures_are_labelled_inside_the_anomaly(tiny_root):
    data = load_np_data(NPConfig.quick(data_dir=str(tiny_root), **TINY), progress=False)
    assert {k[1] for k in data.positives} == {"sustained", "time_varying", "sudden"}
    assert data.train.shape[1] == 64 * 21 == data.other.shape[1]
    # louder anomaly, same place: the positive vectors differ only by the mixing gain
    lo, hi = data.positives[(-5.0, "sustained")], data.positives[(5.0, "sustained")]
    assert lo.shape == hi.shape and hi.mean() > lo.mean()


def test_cli_options_reach_the_config_and_runs(tiny_root, tmp_path):
    """`adskit np` options land in NPConfig (defaults from the config class), and the command writes a summary."""
    from adskit.cli import build_parser, config_from_args, main

    argv = ["np", "--out", str(tmp_path), "--data-dir", str(tiny_root), "--steps", "6", "--hidden", "16"]
    argv += ["--snrs", "0", "--methods", "VAE", "PROP", "--device", "cpu", "--no-progress", "--reg-covar", "0.01"]
    argv += ["--reg-covar-relative", "--calibration-fraction", "0.34", "--seeds", "0", "--workers", "0"]
    cfg = config_from_args("np", build_parser().parse_args(argv))
    det = cfg.detector_params()
    assert cfg.mode == "quick" and det["n_steps"] == 6 and det["hidden"] == (16,) and cfg.methods == ("VAE", "PROP")
    assert det["reg_covar"] == 0.01 and det["vae_data"] == "other" and cfg.data_dir == str(tiny_root)
    assert det["reg_covar_relative"] is True and cfg.calibration_fraction == 0.34
    assert det["em_every"] == 5 and det["batch_size"] == 100  # quick's choice; NPDetector's own default
    assert main(argv) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert {c["cost"] for c in summary["cells"]} == {"VAE", "PROP"}
    assert {(c["a"], c["b"]) for c in summary["comparisons"]} == {("PROP", "VAE")}
    assert (tmp_path / "np_roc.png").stat().st_size > 500
    assert (tmp_path / "np_diagnostics.png").stat().st_size > 500  # PROP's training, step by step
    (prop,) = [r for r in (tmp_path / "runs" / "np").iterdir() if "PROP" in r.name]
    diag = json.loads((prop / "run.json").read_text())["training"]["PROP"]["diagnostics"]
    assert len(diag["step"]) > 0 and len(diag["acceptance_rate"]) == len(diag["step"])
    own = json.loads((tmp_path / "np.json").read_text())
    assert isinstance(own["warnings"], list)  # a collapsed training is listed there (and said on stderr)
    # no np options: the quick defaults; --full: the paper's
    full = config_from_args("np", build_parser().parse_args(["np", "--out", str(tmp_path), "--full"]))
    assert full.mode == "full" and full.detector == {}  # the detector's own defaults are the paper's
    assert full.detector_params()["hidden"] == (512, 512, 512) and full.detector_params()["n_steps"] is None


def test_real_folders(tiny_root, tmp_path):
    for sub in ("normal", "other", "anomalies", "test"):
        (tmp_path / sub).mkdir()
    for p in (tiny_root / "fan" / "train").glob("*.wav"):
        shutil.copy(p, tmp_path / "normal" / p.name)
    for p in (tiny_root / "pump" / "train").glob("*.wav"):
        shutil.copy(p, tmp_path / "other" / p.name)
    for p in (tiny_root / "anomaly_sources").glob("*.wav"):
        shutil.copy(p, tmp_path / "anomalies" / p.name)
    for i, p in enumerate((tiny_root / "fan" / "test").glob("*.wav")):
        shutil.copy(p, tmp_path / "test" / f"normal_id_00_{i:08d}.wav")
    shutil.copy(
        tmp_path / "normal" / sorted((tmp_path / "normal").iterdir())[0].name, tmp_path / "test" / "anomaly_x.wav"
    )
    cfg = NPConfig.quick(
        normal_dir=str(tmp_path / "normal"),
        other_dir=str(tmp_path / "other"),
        anomalies_dir=str(tmp_path / "anomalies"),
        test_dir=str(tmp_path / "test"),
        methods=("VAE",),
        **{**TINY, "snrs": (0.0,)},
    )
    res = run_neyman_pearson(cfg, progress=False)
    assert res.data_info["source"] == "folders" and res.data_info["n_test_normal_clips"] == 1
    assert set(res.metrics["VAE"]["0"]["auc_by_group"]) == {"sustained", "time_varying", "sudden"}
    assert "auc" in res.clip_metrics["VAE"]


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"normal_dir": "x"}, "other_dir"),
        ({"normal_dir": "x", "other_dir": "y"}, "anomalies_dir"),
        ({"methods": ("PCA",)}, "methods"),
        ({"rho": 0.0}, "rho"),
        ({"snrs": ()}, "snrs"),
        ({"calibration_fraction": 0.0}, "calibration_fraction"),
        ({"latent_dim": 0}, "latent_dim"),
        ({"hiden": (3,)}, "hiden: not a setting of NPConfig"),
        ({"detector": {"n_stepz": 3}}, "n_stepz"),
    ],
)
def test_bad_config_names_the_field(kwargs, name):
    with pytest.raises(ValueError, match=name):
        NPConfig.quick(**kwargs).validate()


def test_unknown_machine(tiny_root):
    with pytest.raises(ValueError, match="machine"):
        load_np_data(NPConfig.quick(data_dir=str(tiny_root), machine="valve"), progress=False)


def test_empty_other_folder(tmp_path, tiny_root):
    (tmp_path / "n").mkdir()
    (tmp_path / "o").mkdir()
    for p in (tiny_root / "fan" / "train").glob("*.wav"):
        shutil.copy(p, tmp_path / "n" / p.name)
    cfg = NPConfig.quick(
        normal_dir=str(tmp_path / "n"), other_dir=str(tmp_path / "o"), anomalies_dir=str(tmp_path / "n")
    )
    with pytest.raises(ValueError, match="other_dir"):
        load_np_data(cfg, progress=False)
