"""Notebook 04's data side: the rare-normal synthetic default and the rare mask of the training vectors."""

import os

import numpy as np
import pytest
import soundfile as sf

from adskit.audio import data_dir, load_audio, log_mel, read_manifest, stack_context
from adskit.audio.features import frame_times
from adskit.audio.io import save_audio
from adskit.audio.synth.dataset import MIN_RARE_SECONDS, RARE_DISTINCTNESS, _rare_plan
from adskit.experiments.thresholds import (
    LECTURE_RARITY,
    SYNTHETIC_SIZES,
    _folder,
    _run_folder,
    feature_config,
    lecture_clips,
    training_vectors,
)

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("fast", [True, False])
def test_lecture_rarity_fits_both_sizes(fast):
    """make_dataset lays the rarity out by _rare_plan (and raises from it): segments of 0.5-3 s, half a clip at most."""
    size = SYNTHETIC_SIZES[fast]
    n_rare, seconds = _rare_plan(LECTURE_RARITY, size["n_train"], size["duration"])
    assert 1 <= n_rare <= size["n_train"]
    assert MIN_RARE_SECONDS <= seconds <= min(3.0, size["duration"] / 2)
    assert n_rare * seconds == pytest.approx(LECTURE_RARITY * size["n_train"] * size["duration"])


def test_training_vectors_rare_mask_matches_manifest(tmp_path, monkeypatch):
    monkeypatch.setenv("ADSKIT_DATA", str(tmp_path / "data"))
    seed, cfg = 0, feature_config()  # at seed 0 an unstratified hold-out drew the one rare training clip
    kw = {"fast": True, "seed": seed, "cache_dir": tmp_path / "cache", "progress": False}
    X, rare = training_vectors(n=None, return_rare=True, **kw)

    root = data_dir() / "notebook04-fast-rarity2-d0.5-s0"  # the rarity and distinctness are in the folder's name
    man = read_manifest(root)
    assert man["config"]["rarity"] == LECTURE_RARITY and man["config"]["distinctness"] == RARE_DISTINCTNESS
    assert man["rare_share_train"]["fan"] == pytest.approx(LECTURE_RARITY, abs=1e-4)
    train = [r for r in man["files"] if r["split"] == "train"]
    # the hold-out draw of build_scoreset: a quarter of the clips (at least 2) by default_rng(seed).permutation,
    # stratified: a quarter of the rare clips (rounded down) and the rest from the others
    order = np.random.default_rng(seed).permutation(len(train))
    n_hold = max(len(train) // 4, 2)
    rare_clips = [i for i in order if train[i]["processes"]["rare"]]
    other = [i for i in order if not train[i]["processes"]["rare"]]
    k = len(rare_clips) // 4
    fit = rare_clips[k:] + other[n_hold - k :]
    vectors = [
        stack_context(log_mel(load_audio(root / train[i]["path"], sr=cfg.sr)[0], cfg, "cpu"), cfg.frames) for i in fit
    ]
    expected = []
    for i, v in zip(fit, vectors, strict=True):
        t, m = frame_times(len(v), cfg), np.zeros(len(v), bool)  # a vector is rare when its centre time is
        for a, b in train[i]["processes"]["rare"]:
            m |= (t >= a) & (t < b)
        expected.append(m)
    expected = np.concatenate(expected)
    np.testing.assert_allclose(X, np.concatenate(vectors), rtol=1e-5, atol=1e-5)
    assert rare.dtype == bool and rare.shape == (len(X),)
    np.testing.assert_array_equal(rare, expected)
    # one 1.92-s segment at a 32-ms hop: 60 vectors, in a single run
    assert rare.sum() == 60 and np.count_nonzero(np.diff(rare.astype(int))) == 2

    # n rows: drawn by default_rng(seed) from the same vectors, the mask drawn with them
    Xn, rare_n = training_vectors(n=300, return_rare=True, **kw)
    rows = np.random.default_rng(seed).choice(len(X), 300, replace=False)
    np.testing.assert_array_equal(Xn, X[rows])
    np.testing.assert_array_equal(rare_n, rare[rows])
    # without return_rare: the array alone, as before
    out = training_vectors(n=300, **kw)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, Xn)


def test_training_vectors_of_a_folder_have_no_rare_mask(tmp_path):
    rng = np.random.default_rng(0)
    for name in ("train/a.wav", "train/b.wav", "train/c.wav", "test/normal.wav"):
        save_audio(tmp_path / "rec" / name, 0.1 * rng.standard_normal(16000), 16000)
    X, rare = training_vectors(tmp_path / "rec", n=5, cache_dir=tmp_path / "cache", progress=False, return_rare=True)
    assert X.shape == (5, 64 * 5) and rare is None


@pytest.mark.parametrize("n", [0, -3, 2.5, True])
def test_training_vectors_refuses_a_bad_n(n):
    with pytest.raises(ValueError, match="n: expected an int >= 1 or None"):
        training_vectors(n=n)


def test_a_folder_is_read_by_the_kits_label_reader_and_checker(tmp_path):
    """Notebook 04 on a user's folder: the same labels and checks as the commands; every file used or listed."""
    rng = np.random.default_rng(0)
    rec = tmp_path / "rec"

    def clip():
        return 0.1 * rng.standard_normal(16000)

    for name in ("train/a.wav", "train/b.flac", "train/c.WAV", "train/anomaly_x.wav"):
        save_audio(rec / name, clip(), 16000)
    (rec / "train" / "broken.wav").write_bytes(b"RIFF not audio")
    for name in ("normal_1.wav", "normal_rare_2.wav", "anomaly_3.wav", "abnormal_4.ogg", "pump_ok.wav"):
        save_audio(rec / "test" / name, clip(), 16000)
    sf.write(rec / "test" / "normal_5.wav", np.zeros(16000, np.float32), 16000)
    clips = lecture_clips(rec, progress=False)
    assert sorted(os.path.basename(r["path"]) for r in clips["train"]) == ["a.wav", "b.flac", "c.WAV"]
    assert {os.path.basename(r["path"]): r["process"] for r in clips["test"]} == {
        "normal_1.wav": "frequent",
        "normal_rare_2.wav": "rare",
        "anomaly_3.wav": "anomaly",
        "abnormal_4.ogg": "anomaly",
    }
    reasons = {os.path.basename(b["path"]): b["reason"] for b in clips["bad"]}
    assert set(reasons) == {"anomaly_x.wav", "broken.wav", "pump_ok.wav", "normal_5.wav"}
    assert reasons["pump_ok.wav"].startswith("no label in its name") and reasons["normal_5.wav"].startswith("silent")

    # the score cache is keyed by content: the same size and time, other samples, another cache folder
    before = _run_folder(_folder(rec), True, 0)[1]
    path = rec / "test" / "normal_1.wav"
    st = path.stat()
    save_audio(path, clip(), 16000)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size
    assert _run_folder(_folder(rec), True, 0)[1] != before
