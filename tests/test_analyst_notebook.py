"""The threshold explorer opens real results (issue 13, deliverable 6): :func:`scoreset_from_results` on a tiny model
made by ``fit_model`` on generated clips and the scores ``score_files`` wrote, and notebook 04's demo results.

Clips: 1-s fan clips at 16 kHz from the synthetic generator; 12 normal training clips (4 held out for calibration),
and a test folder of 4 normal, 4 anomalous, 1 rare-normal (``rare_*``), 1 unlabelled and 1 corrupt file.
"""

from __future__ import annotations

import csv

import numpy as np
import pytest

from adskit.audio.io import save_audio
from adskit.audio.synth import generate_clip
from adskit.experiments import analyst_results
from adskit.experiments.analyst import fit_model
from adskit.experiments.analyst_model import load_model
from adskit.experiments.analyst_results import demo_results, scoreset_from_results
from adskit.experiments.analyst_score import score_files
from adskit.widgets import threshold_explorer

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 16000
TINY = {"hidden": (16, 16), "latent_dim": 4, "n_updates": 40, "batch_size": 64}
RHO = 0.2


def _clip(rng, label="normal"):
    y, _ = generate_clip(
        "fan", label, rng=rng, sr=SR, duration=1.0, rare=False, anr_db=0.0 if label == "anomaly" else None
    )
    return y


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("results")
    rng = np.random.default_rng(0)
    for k in range(12):
        save_audio(root / "train" / f"normal_{k:03d}.wav", _clip(rng), SR)
    test = root / "test"
    for k in range(4):
        save_audio(test / f"normal_{k:03d}.wav", _clip(rng), SR)
        save_audio(test / f"anomaly_{k:03d}.wav", _clip(rng, "anomaly"), SR)
    save_audio(test / "rare_b.wav", _clip(rng), SR)
    save_audio(test / "recording.wav", _clip(rng), SR)  # no label in its name
    (test / "normal_bad.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEnot really audio")
    model = fit_model(root / "train", root / "model", cost="re", seed=0, calibration_fraction=0.34, rho=RHO,
                      device="cpu", progress=False, detector_overrides=TINY)  # fmt: skip
    report = score_files(model, [test], root / "scores.csv", frames_dir=root / "frames", progress=False)
    return {"root": root, "model": model, "csv": root / "scores.csv", "frames": root / "frames", "report": report}


def test_clip_scores_labels_and_left_out_files_come_from_the_csv(results):
    ss = scoreset_from_results(results["model"], results["csv"])
    with open(results["csv"], newline="") as fh:
        rows = {r["path"].rsplit("/", 1)[-1]: r for r in csv.DictReader(fh)}
    assert sorted(ss.names) == sorted([f"normal_{k:03d}.wav" for k in range(4)]
                                      + [f"anomaly_{k:03d}.wav" for k in range(4)] + ["rare_b.wav", "recording.wav"])  # fmt: skip
    for name, s, p, y in zip(ss.names, ss.clip_scores("RE"), ss.process, ss.labels, strict=True):
        assert s == pytest.approx(float(rows[name]["score"]), rel=1e-8)
        want = ("anomaly" if name.startswith("anomaly") else "rare" if name.startswith("rare")
                else "unlabelled" if name == "recording.wav" else "frequent")  # fmt: skip
        assert p == want and y == {"anomaly": 1, "unlabelled": -1}.get(p, 0)
    assert all(len(f) == 1 for f in ss.scores["RE"])  # without frames: one frame per clip, its clip score
    reasons = {b["path"].rsplit("/", 1)[-1]: b["reason"] for b in ss.info["left_out"]}
    assert set(reasons) == {"normal_bad.wav"}  # the new recording without a label is kept, as unlabelled
    assert reasons["normal_bad.wav"].startswith("not scored:")


def test_phi_rho_is_the_threshold_adskit_score_applies(results):
    ss = scoreset_from_results(results["model"], results["csv"])
    model = load_model(results["model"])
    np.testing.assert_array_equal(ss.train_scores["RE"], model.calibration_scores)
    for rho in (0.05, RHO, 0.5):
        assert ss.phi_rho("RE", rho) == model.threshold(rho).threshold_
    assert ss.info["default_rho"] == RHO and ss.phi_rho("RE", RHO) == results["report"].threshold
    # the CSV's decisions (made at the model's default rho) are the rule score > phi_rho on the stored scores
    decided = (ss.clip_scores("RE") > ss.phi_rho("RE", RHO)).astype(int)
    assert decided.tolist() == ss.info["csv_decisions"]


def test_frames_give_the_time_series_and_the_explorer_opens_them(results):
    ss = scoreset_from_results(results["model"], results["csv"], frames_dir=results["frames"])
    assert ss.n_clips == 10 and min(len(f) for f in ss.scores["RE"]) > 10
    assert ss.times is not None and ss.times[0][0] > 0
    plain = scoreset_from_results(results["model"], results["csv"])
    np.testing.assert_allclose(ss.clip_scores("RE"), plain.clip_scores("RE"), rtol=1e-6)
    panel = threshold_explorer(ss, rho=RHO)
    try:
        st = panel.state
        assert st["mode"] == "rho" and st["thresholds"]["RE"] == ss.phi_rho("RE", RHO)
        normal = ss.labels == 0
        assert st["methods"]["RE"]["fp"] == int((ss.clip_scores("RE")[normal] > ss.phi_rho("RE", RHO)).sum())
        unl = ss.labels == -1
        re = st["methods"]["RE"]
        assert re["n_unlabelled"] == 1 and re["n_normal"] + re["n_anomaly"] == 9  # in no rate
        assert re["alarms_unlabelled"] == int((ss.clip_scores("RE")[unl] > ss.phi_rho("RE", RHO)).sum())
        assert "alarms on unlabelled clips: RE" in panel.summary.value and "adskit-unlabelled" in panel.counts.value
        panel.rho.value = 0.5
        assert panel.state["thresholds"]["RE"] == ss.phi_rho("RE", 0.5)
    finally:
        panel.close()


def test_frames_of_another_run_are_left_out(results, tmp_path):
    frames = tmp_path / "frames"
    frames.mkdir()
    for f in results["frames"].iterdir():
        text = f.read_text()
        if f.name.startswith("anomaly_000"):
            head, *lines = text.splitlines()
            text = "\n".join([head] + [f"{ln.split(',')[0]},0.5" for ln in lines]) + "\n"
        if not f.name.startswith("normal_001"):
            (frames / f.name).write_text(text)
    ss = scoreset_from_results(results["model"], results["csv"], frames_dir=frames)
    reasons = {b["path"].rsplit("/", 1)[-1]: b["reason"] for b in ss.info["left_out"]}
    assert "frames of another run" in reasons["anomaly_000.wav"]
    assert reasons["normal_001.wav"].startswith("no frame scores")
    assert ss.n_clips == 8


def test_a_labels_csv_overrides_the_names(results, tmp_path):
    labels = tmp_path / "labels.csv"
    labels.write_text("file,label\nrecording.wav,anomaly\nnormal_000.wav,anomaly\n")
    ss = scoreset_from_results(results["model"], results["csv"], labels=labels)
    proc = dict(zip(ss.names, ss.process, strict=True))
    assert proc["recording.wav"] == "anomaly" and proc["normal_000.wav"] == "anomaly"
    assert "recording.wav" not in {b["path"].rsplit("/", 1)[-1] for b in ss.info["left_out"]}


def test_bad_inputs_are_refused(results, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("file,score\na.wav,1\n")
    with pytest.raises(ValueError, match="header"):
        scoreset_from_results(results["model"], bad)
    with pytest.raises(ValueError, match="section"):
        scoreset_from_results(results["model"], results["csv"], section="id_00")
    only_unlabelled = tmp_path / "unlabelled.csv"
    only_unlabelled.write_text("path,score,decision,max_frame_time_s,error\nx/recording.wav,1.5,1,0.5,\n")
    only = scoreset_from_results(results["model"], only_unlabelled)  # new recordings only: all unlabelled
    assert only.process == ["unlabelled"] and only.labels.tolist() == [-1]
    panel = threshold_explorer(only, rho=RHO)
    try:
        re = panel.state["methods"]["RE"]
        assert (re["n_normal"], re["n_anomaly"], re["n_unlabelled"]) == (0, 0, 1)
        assert re["alarms_unlabelled"] == int(1.5 > only.phi_rho("RE", RHO))
    finally:
        panel.close()
    errors_only = tmp_path / "errors.csv"
    errors_only.write_text("path,score,decision,max_frame_time_s,error\nx/a.wav,,,,not readable\n")
    with pytest.raises(ValueError, match="no file with a score"):
        scoreset_from_results(results["model"], errors_only)


def test_demo_results_are_made_once_and_keyed_by_the_version(tmp_path, monkeypatch):
    monkeypatch.setenv("ADSKIT_DATA", str(tmp_path / "data"))
    monkeypatch.setitem(analyst_results.DEMO_NETWORKS, True, {**TINY, "n_updates": 20})
    first = demo_results(fast=True, seed=0)
    assert first["made"] and first["scores_csv"].is_file() and (first["model_dir"] / "model.json").is_file()
    again = demo_results(fast=True, seed=0)
    assert not again["made"] and again["folder"] == first["folder"]
    ss = scoreset_from_results(again["model_dir"], again["scores_csv"], again["frames_dir"])
    assert ss.n_clips == 36 and set(ss.process) == {"frequent", "anomaly"}
    clips = analyst_results.lecture_clips(None, fast=True, seed=0, progress=False)
    key = analyst_results._demo_key(clips, True, 0)
    monkeypatch.setattr(analyst_results, "version", lambda name: "0.0.0-other")
    assert analyst_results._demo_key(clips, True, 0) != key
