"""Checkpoints: round trip, resume, refusing pickled or tampered files, atomic writes."""

import io
import os
import pickle

import numpy as np
import pytest
import torch

from adskit.detectors import AEDetector
from adskit.detectors.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

pytestmark = pytest.mark.usefixtures("one_thread")

SMALL = {"hidden": (16,), "latent_dim": 2, "batch_size": 32, "device": "cpu"}


def _data(seed=0, n=256, d=6):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)).astype(np.float32), (3 + rng.normal(size=(64, d))).astype(np.float32)


def test_round_trip_equal_scores_params_and_threshold(tmp_path):
    X, Xa = _data()
    det = AEDetector("bu", n_updates=15, feature_config="paper", **SMALL).fit(X, X_anomalous=Xa)
    path = det.save(tmp_path / "ae.pt")
    back = AEDetector.load(path, device="cpu")
    np.testing.assert_array_equal(back.anomaly_score(X), det.anomaly_score(X))
    np.testing.assert_array_equal(back.predict(X), det.predict(X))
    assert back.threshold_ == det.threshold_ and back.h_ == det.h_ and back.C_ == det.C_
    assert back.get_params() == det.get_params() | {"feature_config": back.feature_config}
    assert back.feature_config_["n_mels"] == 64 and back.feature_config_["hop_length"] == 256
    np.testing.assert_array_equal(back.mean_, det.mean_)
    np.testing.assert_array_equal(back.history_["loss"], det.history_["loss"])
    ck = load_checkpoint(path, kind="AEDetector")
    assert ck.adskit_version and ck.optimizer is None and set(ck.scaler) == {"mean", "scale"}


class _Stop(Exception):
    pass


def _batches(fail_at=None):
    X, Xa = _data(1)

    def get(step):
        if fail_at is not None and step == fail_at:
            raise _Stop(step)
        g = np.random.default_rng([5, step])
        return X[g.integers(0, len(X), 40)], Xa[g.integers(0, len(Xa), 10)]

    return get


@pytest.mark.parametrize("cost,standardize", [("re", True), ("snp", True), ("bu", True), ("bu", False)])
def test_resume_gives_the_uninterrupted_result(tmp_path, cost, standardize):
    kw = SMALL | {"standardize_input": standardize}  # bu without: the KDE standardises its input itself
    straight = AEDetector(cost, **kw).fit_batches(_batches(), 24)
    path = tmp_path / "run.pt"
    with pytest.raises(_Stop):
        AEDetector(cost, **kw).fit_batches(_batches(fail_at=17), 24, checkpoint=path, checkpoint_every=8)
    assert load_checkpoint(path).state["step"] == 16
    resumed = AEDetector(cost, **kw).fit_batches(_batches(), 24, checkpoint=path, checkpoint_every=8, resume=True)
    for k, v in straight.model_.state_dict().items():
        assert torch.equal(v, resumed.model_.state_dict()[k]), k
    np.testing.assert_array_equal(straight.history_["loss"], resumed.history_["loss"])
    assert load_checkpoint(path).state["step"] == 24 and "threshold" in load_checkpoint(path).state


def test_resume_refuses_other_settings(tmp_path):
    path = tmp_path / "run.pt"
    AEDetector("re", **SMALL).fit_batches(_batches(), 8, checkpoint=path)
    with pytest.raises(ValueError, match="other settings.*lr"):
        AEDetector("re", lr=0.01, **SMALL).fit_batches(_batches(), 8, checkpoint=path, resume=True)


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_refuses_pickled_code_without_running_it(tmp_path):
    marker = tmp_path / "pwned"
    for i, writer in enumerate((lambda f, o: torch.save(o, f), lambda f, o: pickle.dump(o, open(f, "wb")))):
        path = tmp_path / f"evil{i}.pt"
        writer(path, {"format": "adskit-checkpoint", "x": _Evil(str(marker))})
        with pytest.raises(CheckpointError, match=f"evil{i}.pt.*refused"):
            AEDetector.load(path)
        assert not marker.exists()


def test_refuses_tampered_truncated_foreign_and_newer_files(tmp_path):
    X, _ = _data()
    path = AEDetector("re", n_updates=3, **SMALL).fit(X).save(tmp_path / "ae.pt")
    payload = torch.load(path, weights_only=True)
    payload["state_dict"]["encoder.0.weight"] += 1e-3
    torch.save(payload, tmp_path / "edited.pt")
    with pytest.raises(CheckpointError, match="edited.pt.*digest mismatch"):
        AEDetector.load(tmp_path / "edited.pt")
    data = path.read_bytes()
    (tmp_path / "cut.pt").write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match="cut.pt"):
        AEDetector.load(tmp_path / "cut.pt")
    torch.save({"w": torch.ones(2)}, tmp_path / "plain.pt")
    with pytest.raises(CheckpointError, match="not an adskit checkpoint"):
        AEDetector.load(tmp_path / "plain.pt")
    save_checkpoint(tmp_path / "other.pt", kind="GMMDetector", config={}, state_dict={})
    with pytest.raises(CheckpointError, match="expected a 'AEDetector'"):
        AEDetector.load(tmp_path / "other.pt")
    payload = torch.load(path, weights_only=True)
    payload["format_version"] = 99
    torch.save(payload, tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match="newer"):
        load_checkpoint(tmp_path / "newer.pt")
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "missing.pt")


def test_atomic_write_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    X, _ = _data()
    det = AEDetector("re", n_updates=3, **SMALL).fit(X)
    path = det.save(tmp_path / "ae.pt")
    before = path.read_bytes()

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", broken)
    with pytest.raises(OSError, match="disk full"):
        AEDetector("re", n_updates=4, **SMALL).fit(X).save(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ae.pt"]  # no temporary file left behind
    AEDetector.load(path)


def test_checkpoint_is_plain_tensors_and_json(tmp_path):
    X, _ = _data()
    path = AEDetector("re", n_updates=3, **SMALL).fit(X).save(tmp_path / "ae.pt")
    payload = torch.load(io.BytesIO(path.read_bytes()), weights_only=True)
    assert payload["format"] == "adskit-checkpoint" and isinstance(payload["meta_json"], str)


def test_loads_the_format_1_layout_written_before_the_checkpoint_code_moved(tmp_path):
    """The AEDetector layout of format 1, written out key by key: files saved by earlier versions still load,
    and a save today writes the same keys."""
    X, Xa = _data()
    det = AEDetector("bu", n_updates=6, standardize_input=False, feature_config="dcase2020", **SMALL)
    det.fit(X, X_anomalous=Xa)
    config = det.get_params() | {"hidden": [16], "feature_config": det.feature_config_}
    state = {
        "step": 6,
        "n_updates": 6,
        "n_features_in": 6,
        "h": det.h_,
        "ema_max": det._ema_max,
        "frames_seen": det.frames_seen_,
        "fit_seconds": 0.5,
        "threshold": det.threshold_,
        "offset": det.offset_,
    }
    tensors = {f"history/{k}": torch.as_tensor(v) for k, v in det.history_.items()}
    tensors["kde/mean"] = torch.as_tensor(np.asarray(det._kde_std[0], dtype=np.float64))
    tensors["kde/std"] = torch.as_tensor(np.asarray(det._kde_std[1], dtype=np.float64))
    path = save_checkpoint(
        tmp_path / "v1.pt",
        kind="AEDetector",
        config=config,
        feature_config=det.feature_config_,
        state=state,
        state_dict=det.model_.state_dict(),
        scaler={"mean": torch.as_tensor(det.mean_), "scale": torch.as_tensor(det.scale_)},
        tensors=tensors,
    )
    back = AEDetector.load(path, device="cpu")
    np.testing.assert_array_equal(back.anomaly_score(X), det.anomaly_score(X))
    assert back.threshold_ == det.threshold_ and back.h_ == det.h_ and back.C_ == det.C_
    assert back.feature_config_ == det.feature_config_ and back.feature_config_["n_mels"] == 128
    assert back.n_updates_ == 6 and back.frames_seen_ == det.frames_seen_ and back.fit_seconds_ == 0.5
    np.testing.assert_array_equal(back._kde_std[1], det._kde_std[1])
    now = load_checkpoint(det.save(tmp_path / "now.pt"))
    assert set(now.state) == set(state) and set(now.tensors) == set(tensors) and now.config == config


class _Sampler:
    """A non-seeking sampler, as adskit.audio.batches': ``batch(step)`` returns the next draw whatever the step."""

    def __init__(self, fail_at=None):
        self.X, self.Xa = _data(2)
        self.rng, self.n, self.fail_at = np.random.default_rng(9), 0, fail_at

    def batch(self, step=None):
        if self.fail_at is not None and self.n == self.fail_at:
            raise _Stop(self.n)
        self.n += 1
        return self.X[self.rng.integers(0, len(self.X), 40)], self.Xa[self.rng.integers(0, len(self.Xa), 10)]


@pytest.mark.parametrize("cost", ["re", "bu"])
def test_a_sampler_run_resumes_to_the_uninterrupted_result(tmp_path, cost):
    """A fresh sampler after a crash replays its draws up to the checkpoint's step (the sound experiment's case)."""
    straight = AEDetector(cost, **SMALL).fit_batches(_Sampler(), 24, n_stat_batches=2)
    path = tmp_path / "run.pt"
    with pytest.raises(_Stop):
        AEDetector(cost, **SMALL).fit_batches(
            _Sampler(fail_at=19), 24, n_stat_batches=2, checkpoint=path, checkpoint_every=8
        )
    assert load_checkpoint(path).state["step"] == 16
    sampler = _Sampler()
    resumed = AEDetector(cost, **SMALL).fit_batches(
        sampler, 24, n_stat_batches=2, checkpoint=path, checkpoint_every=8, resume=True
    )
    assert sampler.n == 24  # 2 read ahead for the statistics, 14 replayed, 8 trained on
    for k, v in straight.model_.state_dict().items():
        assert torch.equal(v, resumed.model_.state_dict()[k]), k
    np.testing.assert_array_equal(straight.history_["loss"], resumed.history_["loss"])
