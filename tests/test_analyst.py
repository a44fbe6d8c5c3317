"""The analyst's path: ``adskit fit`` and ``adskit score`` on small real files (issue 13, deliverables 1-2).

Inputs are made by the synthetic generator at 44.1 kHz stereo (2-s clips), plus a corrupt file and a 0.5-s clip
in each folder. One tiny BU model is trained once for the module (a few seconds on one core).
"""

from __future__ import annotations

import csv
import json
import os
import pickle
import shutil

import numpy as np
import pytest
import torch
from scipy import stats

from adskit.audio.features import log_mel
from adskit.audio.io import load_audio, save_audio
from adskit.audio.synth import generate_clip
from adskit.cli import main
from adskit.detectors import CheckpointError
from adskit.experiments.analyst import fit_model
from adskit.experiments.analyst_model import DETECTOR_FILE, MODEL_FILE, SCORER_FILE, file_sha256, load_model
from adskit.experiments.analyst_score import CSV_HEADER, recording_scores, score_files
from adskit.scores import frame_scores

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 44100
TINY = {"hidden": (32, 32), "latent_dim": 4, "n_updates": 150, "batch_size": 128}
RHO = 0.1


def _stereo(rng, seconds):
    y, _ = generate_clip("fan", "normal", rng=rng, sr=SR, duration=seconds)
    return np.clip(np.stack([y, 0.8 * y + 0.01 * rng.standard_normal(y.size)], axis=1), -1, 1)


def _folder(root, n, seed):
    """``n`` normal 2-s clips at 44.1 kHz stereo, a corrupt file and a 0.5-s clip."""
    rng = np.random.default_rng(seed)
    root.mkdir(parents=True)
    for i in range(n):
        save_audio(root / f"clip_{i:03d}.wav", _stereo(rng, 2.0), SR)
    (root / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEnot really audio")
    save_audio(root / "short.wav", _stereo(rng, 0.5), SR)
    return root


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("analyst")
    normal = _folder(root / "normal", 40, 0)
    new = _folder(root / "new", 40, 1)
    torch.set_num_threads(1)
    model = fit_model(
        normal,
        root / "model",
        cost="bu",
        seed=0,
        calibration_fraction=0.5,
        rho=RHO,
        device="cpu",
        progress=False,
        detector_overrides=TINY,
    )
    return {"root": root, "normal": normal, "new": new, "model": model}


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.reader(fh))


def test_fit_lists_bad_files_and_records_what_it_set(data):
    info = json.loads((data["model"] / MODEL_FILE).read_text())
    reasons = {os.path.basename(b["path"]): b["reason"] for b in info["bad_files"]}
    assert set(reasons) == {"corrupt.wav", "short.wav"}
    assert "not a readable audio file" in reasons["corrupt.wav"] and "too short" in reasons["short.wav"]
    e = info["models"][0]
    assert (e["section"], e["cost"], e["preset"], e["score"], e["aggregate"]) == (None, "bu", "dcase2020", "mse", "max")
    assert info["features"]["sr"] == 16000 and info["adskit_version"]
    fitted = e["fitted"]
    d = info["features"]["n_mels"] * info["features"]["frames"]
    assert len(fitted["scaler"]["mean"]) == len(fitted["scaler"]["scale"]) == d
    assert fitted["h"] > 0 and fitted["C"] > 0 and fitted["bandwidth"]["rule"] == "median"
    assert e["data"]["something_else"]["source"] == "generated"
    train = {f["path"] for f in e["data"]["train"]}
    calib = {f["path"] for f in e["data"]["calibration"]}
    assert len(train) == len(calib) == 20 and not train & calib
    assert all(f["size"] > 0 and len(f["sha256_edges"]) == 64 for f in e["data"]["train"])
    assert len(e["calibration"]["clip_scores"]) == 20 and e["calibration"]["default_rho"] == RHO
    assert e["detector_sha256"] == file_sha256(data["model"] / DETECTOR_FILE)
    m = load_model(data["model"])  # the stored scaler is the detector's
    assert np.allclose(m.detector.mean_, fitted["scaler"]["mean"]) and m.detector.h_ == pytest.approx(fitted["h"])


def test_score_gives_one_row_per_file_and_errors_as_rows(data, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    missing = tmp_path / "gone.wav"
    rc = main(["score", str(data["model"]), str(data["new"]), str(missing), "--rho", str(RHO), "--out", str(out),
               "--frames", str(tmp_path / "frames"), "--no-progress"])  # fmt: skip
    assert rc == 0
    rows = _rows(out)
    assert tuple(rows[0]) == CSV_HEADER
    by_name = {os.path.basename(r[0]): r for r in rows[1:]}
    assert len(rows) - 1 == len(by_name) == 43  # 40 clips, the corrupt, the short and the missing file
    for name in ("corrupt.wav", "gone.wav"):
        assert by_name[name][1:4] == ["", "", ""] and by_name[name][4]
    ok = [r for r in rows[1:] if not r[4]]
    assert len(ok) == 41 and all(r[2] in ("0", "1") and float(r[1]) > 0 for r in ok)
    assert all(0 <= float(r[3]) <= 2.0 for r in ok)
    frames = _rows(tmp_path / "frames" / "clip_000.wav.csv")
    assert frames[0] == ["time_s", "score"] and max(float(s) for _, s in frames[1:]) == pytest.approx(
        float(by_name["clip_000.wav"][1])
    )
    err = capsys.readouterr().err
    assert "41 of 43 files scored" in err and "2 not scored (error)" in err


@pytest.mark.parametrize("rho", [RHO, 0.3])
def test_realised_clip_false_alarm_rate_is_plausible_for_rho(data, tmp_path, rho):
    """40 held-out normal clips at phi_rho of K = 20 calibration clips: the number of alarms lies in its 99 %
    interval. New normal clips are exchangeable with the calibration clips, so each exceeds the k-th largest
    calibration score (k = floor(rho K)) with probability k / (K + 1) <= rho, and the count of n is beta-binomial
    (n, k, K + 1 - k): the binomial of a rate that is itself Beta(k, K + 1 - k), as the threshold is drawn with the
    calibration clips. At rho = 0.3 the interval excludes 0, so a threshold that never fires fails too."""
    report = score_files(data["model"], [data["new"]], tmp_path / "s.csv", rho=rho, progress=False)
    normal = [r for r in report.rows if os.path.basename(r["path"]).startswith("clip_")]
    alarms = sum(r["decision"] for r in normal)
    K = report.n_calibration
    k = max(int(np.floor(rho * K)), 1)
    lo, hi = stats.betabinom.interval(0.99, len(normal), k, K + 1 - k)
    assert (len(normal), K) == (40, 20) and report.expected_fpr == pytest.approx(k / (K + 1))
    assert report.expected_fpr <= rho
    assert lo <= alarms <= hi, (alarms, len(normal), (lo, hi))


def test_chunked_scores_equal_the_whole_file(data, tmp_path):
    m = load_model(data["model"])
    path = save_audio(tmp_path / "long.wav", _stereo(np.random.default_rng(5), 3.0), SR)
    y, _ = load_audio(path, sr=m.feature_config.sr)
    whole = frame_scores(m.detector, log_mel(y, m.feature_config, device="cpu"))
    t1, one = recording_scores(m.detector, path, m.feature_config, chunk_seconds=None)
    t2, chunked = recording_scores(m.detector, path, m.feature_config, chunk_seconds=0.25)  # 12 chunks
    assert len(whole) == len(one) == len(chunked) and np.array_equal(t1, t2)
    np.testing.assert_allclose(one, whole, rtol=1e-5)
    np.testing.assert_allclose(chunked, whole, rtol=1e-4)


def test_dcase_file_pair_has_the_dcase_format(data, tmp_path):
    d = tmp_path / "dcase"
    report = score_files(data["model"], [data["new"]], tmp_path / "s.csv", rho=RHO, dcase_dir=d,
                         dcase_name="fan_section_00_test", progress=False)  # fmt: skip
    scores = _rows(d / "anomaly_score_fan_section_00_test.csv")
    decisions = _rows(d / "decision_result_fan_section_00_test.csv")
    scored = [r for r in report.rows if not r["error"]]
    assert len(scores) == len(decisions) == len(scored) == 41  # no header; the corrupt file is left out
    assert all(len(r) == 2 for r in scores + decisions)
    assert [r[0] for r in scores] == [r[0] for r in decisions] == [os.path.basename(r["path"]) for r in scored]
    assert [float(r[1]) for r in scores] == pytest.approx([r["score"] for r in scored], rel=1e-8)
    assert [int(r[1]) for r in decisions] == [r["decision"] for r in scored]


def test_fit_refuses_to_overwrite_another_model_or_user_files(data, tmp_path):
    out = tmp_path / "model"
    shutil.copytree(data["model"], out)
    before = (out / MODEL_FILE).read_bytes()
    args = ["fit", "--normal", str(data["normal"]), "--n-updates", "5", "--device", "cpu", "--no-progress"]
    assert main([*args, "--out", str(out)]) == 2  # another model: refused, untouched
    assert (out / MODEL_FILE).read_bytes() == before
    (out / "notes.txt").write_text("mine")
    assert main([*args, "--force", "--out", str(out)]) == 2  # a file that is not ours: never replaced
    assert (out / "notes.txt").read_text() == "mine" and (out / MODEL_FILE).read_bytes() == before
    other = tmp_path / "other"
    other.mkdir()
    (other / "data.csv").write_text("x")
    with pytest.raises(ValueError, match="holds no adskit model"):
        fit_model(data["normal"], other, device="cpu", progress=False)
    (out / "notes.txt").unlink()
    assert main([*args, "--force", "--out", str(out)]) == 0  # --force replaces a model
    assert json.loads((out / MODEL_FILE).read_text())["models"][0]["fitted"]["n_updates"] == 5
    assert sorted(p.name for p in out.iterdir()) == [DETECTOR_FILE, SCORER_FILE, MODEL_FILE]
    assert not list(tmp_path.glob(".model.*"))  # no partial or old folder left behind


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def test_loading_never_unpickles_code(data, tmp_path, monkeypatch):
    seen = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: seen.append(k.get("weights_only")) or real(*a, **k))
    load_model(data["model"])
    assert seen == [True, True]  # the detector and the residual covariance, both weights only
    bad = tmp_path / "model"
    shutil.copytree(data["model"], bad)
    marker = tmp_path / "pwned"
    with open(bad / DETECTOR_FILE, "wb") as fh:
        pickle.dump({"format": "adskit-checkpoint", "x": _Payload(str(marker))}, fh, protocol=2)
    with pytest.raises(ValueError, match="SHA-256 differs"):  # not the file model.json was written with
        load_model(bad)
    info = json.loads((bad / MODEL_FILE).read_text())
    info["models"][0]["detector_sha256"] = file_sha256(bad / DETECTOR_FILE)
    (bad / MODEL_FILE).write_text(json.dumps(info))
    with pytest.raises(CheckpointError, match="weights_only"):
        load_model(bad)
    assert not marker.exists()
