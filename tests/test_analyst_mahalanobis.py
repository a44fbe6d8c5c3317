"""The residual Mahalanobis score (issue 13, deliverable 5): the estimator against numpy and scikit-learn, its
checkpoint, and ``adskit fit --score mahalanobis --aggregate mean`` -> ``score`` -> ``evaluate`` end to end.

The end-to-end data: ``fan/train/normal_id_00_*.wav`` (16 1-s clips at 16 kHz of the generator's fan) and
``fan/test/{normal,anomaly}_id_00_*.wav`` (6 + 6), plus a corrupt file; one tiny RE model trained through the CLI.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch
from sklearn.covariance import LedoitWolf

from adskit.audio.io import save_audio
from adskit.audio.synth import generate_clip
from adskit.cli import main
from adskit.detectors import AEDetector, ResidualMahalanobis, mahalanobis_scores
from adskit.experiments.analyst_model import DETECTOR_FILE, MODEL_FILE, SCORER_FILE, file_sha256, load_model
from adskit.experiments.analyst_score import recording_scores

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 16000


@pytest.fixture(scope="module")
def ae():
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 6)) @ rng.normal(size=(6, 6))
    det = AEDetector("re", hidden=(16,), latent_dim=2, n_updates=60, batch_size=64, device="cpu").fit(X)
    return det, X


def test_residuals_give_the_mse_score(ae):
    det, X = ae
    R = det.residuals(X)
    assert R.shape == X.shape and R.dtype == np.float64
    np.testing.assert_allclose((R**2).sum(axis=1), det.anomaly_score(X), rtol=1e-6)


def test_score_equals_a_direct_numpy_computation_with_the_same_covariance(ae):
    det, X = ae
    m = ResidualMahalanobis(det).fit(X[:300])
    assert m.method_ == "empirical" and m.shrinkage_ == 0.0  # 300 rows of 6 dims: well conditioned
    R = det.residuals(X[:300])
    np.testing.assert_allclose(m.location_, R.mean(axis=0), atol=1e-12)
    np.testing.assert_allclose(m.covariance_, np.cov(R, rowvar=False, bias=True), rtol=1e-9, atol=1e-12)
    D = det.residuals(X[300:]) - m.location_
    direct = np.einsum("ij,ji->i", D, np.linalg.solve(m.covariance_, D.T))
    np.testing.assert_allclose(m.anomaly_score(X[300:]), direct, rtol=1e-6)
    assert m.predict(X[300:]).shape == (100,) and m.n_features_in_ == 6


def test_identity_covariance_reduces_to_the_squared_residual_norm(ae):
    det, X = ae
    m = ResidualMahalanobis(det).fit(X)
    m.location_, m.precision_ = np.zeros(6), np.eye(6)
    np.testing.assert_allclose(m.anomaly_score(X), det.anomaly_score(X), rtol=1e-6)
    R = np.random.default_rng(1).normal(size=(5, 3))
    np.testing.assert_allclose(mahalanobis_scores(R, np.zeros(3), np.eye(3)), (R**2).sum(axis=1))


def test_ill_conditioned_covariance_is_shrunk_by_ledoit_wolf(ae):
    det, X = ae
    m = ResidualMahalanobis(det).fit(X[:5])  # 5 rows in 6 dims: singular
    R = det.residuals(X[:5])
    lw = LedoitWolf().fit(R)
    assert m.method_ == "ledoit-wolf" and 0 < m.shrinkage_ <= 1 and m.shrinkage_ == pytest.approx(lw.shrinkage_)
    np.testing.assert_allclose(m.covariance_, lw.covariance_, rtol=1e-9)
    assert np.all(np.isfinite(m.anomaly_score(X)))
    fixed = ResidualMahalanobis(det, shrinkage=0.5).fit(X)
    assert fixed.method_ == "shrunk" and fixed.shrinkage_ == 0.5
    with pytest.raises(ValueError, match="shrinkage"):
        ResidualMahalanobis(det, shrinkage="huge").fit(X)
    with pytest.raises(ValueError, match="fitted AEDetector"):
        ResidualMahalanobis(AEDetector("re")).fit(X)


def test_save_and_load_keep_the_scores_without_pickles(ae, tmp_path, monkeypatch):
    det, X = ae
    m = ResidualMahalanobis(det).fit(X)
    m.save(tmp_path / "m.pt")
    seen = []
    real = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **k: seen.append(k.get("weights_only")) or real(*a, **k))
    back = ResidualMahalanobis.load(tmp_path / "m.pt", det)
    assert seen == [True] and back.method_ == m.method_ and back.threshold_ == pytest.approx(m.threshold_)
    np.testing.assert_array_equal(back.anomaly_score(X), m.anomaly_score(X))


# ------------------------------------------------------------------------------------------- end to end
def _clip(rng, label="normal"):
    y, _ = generate_clip("fan", label, rng=rng, sr=SR, duration=1.0, rare=False,
                         anr_db=0.0 if label == "anomaly" else None)  # fmt: skip
    return y


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("maha")
    rng = np.random.default_rng(0)
    for k in range(16):
        save_audio(root / "fan" / "train" / f"normal_id_00_{k:08d}.wav", _clip(rng), SR)
    for k in range(6):
        for label in ("normal", "anomaly"):
            save_audio(root / "fan" / "test" / f"{label}_id_00_{k:08d}.wav", _clip(rng, label), SR)
    (root / "fan" / "test" / "anomaly_id_00_99999999.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEnot audio")
    model = root / "model"
    rc = main(["fit", "--normal", str(root / "fan" / "train"), "--score", "mahalanobis", "--aggregate", "mean",
               "--n-updates", "40", "--rho", "0.2", "--device", "cpu", "--no-progress", "--out", str(model)])  # fmt: skip
    assert rc == 0
    return {"root": root, "model": model, "test": root / "fan" / "test"}


def test_fit_stores_the_score_the_rule_and_the_covariance(fitted):
    info = json.loads((fitted["model"] / MODEL_FILE).read_text())
    e = info["models"][0]
    assert (e["score"], e["aggregate"], e["scorer"]) == ("mahalanobis", "mean", SCORER_FILE)
    assert e["scorer_sha256"] == file_sha256(fitted["model"] / SCORER_FILE)
    # 640-dimensional vectors from 12 training clips of 1 s (12 x 28 rows): singular, so Ledoit-Wolf
    maha = e["fitted"]["mahalanobis"]
    assert maha["method"] == "ledoit-wolf" and 0 < maha["shrinkage"] < 1 and maha["n_residuals"] > 0
    m = load_model(fitted["model"])
    assert isinstance(m.scorer, ResidualMahalanobis) and m.scorer.detector is m.detector
    assert (m.score, m.aggregate) == ("mahalanobis", "mean")
    calib = [p["path"] for p in e["data"]["calibration"]]
    again = [float(np.mean(recording_scores(m.scorer, p, m.feature_config)[1])) for p in calib]
    np.testing.assert_allclose(again, e["calibration"]["clip_scores"], rtol=1e-6)


def test_score_and_evaluate_use_the_stored_score(fitted, tmp_path, capsys):
    out = tmp_path / "scores.csv"
    assert main(["score", str(fitted["model"]), str(fitted["test"]), "--out", str(out), "--no-progress"]) == 0
    with open(out, newline="") as fh:
        rows = {r["path"]: r for r in csv.DictReader(fh)}
    m = load_model(fitted["model"])
    p = str(fitted["test"] / "anomaly_id_00_00000000.wav")
    frames = recording_scores(m.scorer, p, m.feature_config)[1]
    assert float(rows[p]["score"]) == pytest.approx(float(np.mean(frames)), rel=1e-6)
    assert float(rows[p]["score"]) != pytest.approx(
        float(np.mean(recording_scores(m.detector, p, m.feature_config)[1]))
    )
    assert rows[str(fitted["test"] / "anomaly_id_00_99999999.wav")]["error"]
    assert main(["evaluate", str(fitted["model"]), str(fitted["test"]), "--out", str(tmp_path / "ev"),
                 "--no-progress"]) == 0  # fmt: skip
    text = capsys.readouterr().out
    assert "score mahalanobis, clip rule mean" in text
    table = json.loads((tmp_path / "ev" / "evaluate.json").read_text())
    assert table["model"]["score"] == "mahalanobis"
    sec = [r for r in table["table"] if r["section"] == "id_00"][0]
    assert sec["auc"] is not None and (sec["n_normal"], sec["n_anomalous"]) == (6, 6)
    assert sorted(p.name for p in fitted["model"].iterdir()) == [DETECTOR_FILE, SCORER_FILE, MODEL_FILE]
