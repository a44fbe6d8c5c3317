"""The scores stage: clip aggregation and rules, frame/clip scores of a fitted detector, the ScoreSet and its
persistence, and notebook 04's build_scoreset on a tiny folder of recordings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.exceptions import NotFittedError

from adskit.audio.cache import FeatureCache
from adskit.audio.features import FeatureConfig, stack_context
from adskit.audio.io import save_audio
from adskit.detectors import AEDetector
from adskit.experiments import thresholds
from adskit.scores import (
    ScoreSet,
    clip_decisions,
    clip_scores,
    demo_scoreset,
    frame_decisions,
    frame_scores,
    score_clips,
    scores_from_detectors,
)
from adskit.threshold import NeymanPearsonThreshold

pytestmark = pytest.mark.usefixtures("one_thread")


TINY = {"hidden": (8,), "latent_dim": 2, "n_updates": 5, "batch_size": 16, "device": "cpu"}
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


# ------------------------------------------------------------------ frame and clip rules


def test_frame_and_clip_decisions():
    clips = [np.array([0.1, 0.2, 3.0]), np.array([0.5, 0.4]), np.array([2.0])]
    np.testing.assert_array_equal(frame_decisions(clips[0], 1.0), [False, False, True])
    np.testing.assert_array_equal(clip_decisions(clips, 1.0), [True, False, True])
    np.testing.assert_array_equal(clip_decisions(clips, 2.0), [True, False, False])  # strict >
    np.testing.assert_allclose(clip_scores(clips, "max"), [3.0, 0.5, 2.0])
    np.testing.assert_allclose(clip_scores(clips, "mean"), [3.3 / 3, 0.45, 2.0])
    fitted = NeymanPearsonThreshold(0.5).fit([0.0, 1.0, 2.0, 3.0])  # 2nd largest = 2.0
    np.testing.assert_array_equal(clip_decisions(clips, fitted), clip_decisions(clips, 2.0))


@settings(max_examples=100, deadline=None)
@given(
    clips=st.lists(arrays(np.float64, st.integers(1, 20), elements=finite), min_size=1, max_size=10),
    threshold=finite,
)
def test_clip_anomalous_iff_any_frame(clips, threshold):
    expected = [bool(frame_decisions(c, threshold).any()) for c in clips]
    np.testing.assert_array_equal(clip_decisions(clips, threshold), expected)


def test_clip_bad_input():
    with pytest.raises(ValueError, match="aggregate"):
        clip_scores([[1.0]], "median")
    with pytest.raises(ValueError, match=r"clips\[1\]: is empty"):
        clip_scores([[1.0], []])
    with pytest.raises(ValueError, match="clips: is empty"):
        clip_decisions([], 1.0)
    with pytest.raises(ValueError, match="threshold"):
        frame_decisions([1.0], float("nan"))


# ------------------------------------------------------------------ scores of a fitted detector


def test_score_clips_max_and_mean_match_a_manual_computation():
    rng = np.random.default_rng(0)
    F, frames = 4, 3
    X = rng.normal(size=(300, F * frames))
    det = AEDetector("re", **TINY).fit(X)
    specs = [rng.normal(size=(T, F)) for T in (5, 9, 3)]
    manual = [det.anomaly_score(stack_context(S, frames)) for S in specs]
    s_max, per_frame = score_clips(det, specs, "max", return_frames=True)
    np.testing.assert_allclose(s_max, [m.max() for m in manual])
    np.testing.assert_allclose(score_clips(det, specs, "mean"), [m.mean() for m in manual])
    for a, b in zip(per_frame, manual, strict=True):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(score_clips(det, [torch.as_tensor(S) for S in specs]), s_max)  # tensors too
    with pytest.raises(ValueError, match=r"spectrograms\[0\].*5 features per frame"):
        score_clips(det, [rng.normal(size=(6, 5))])
    with pytest.raises(ValueError, match=r"spectrograms\[0\].*fewer than the 3-frame"):
        score_clips(det, [rng.normal(size=(2, F))])
    with pytest.raises(ValueError, match="aggregate"):
        score_clips(det, specs, "median")
    with pytest.raises(ValueError, match="spectrograms: is empty"):
        score_clips(det, [])


class _NormDetector:
    """A stand-in detector: A(x) = ||x||^2 (higher = more anomalous)."""

    def __init__(self, d: int | None = None) -> None:
        if d is not None:
            self.n_features_in_ = d

    def anomaly_score(self, X):
        return (np.asarray(X, dtype=np.float64) ** 2).sum(1)


def test_frame_scores_of_any_detector_and_already_stacked_vectors():
    rng = np.random.default_rng(1)
    S = rng.normal(size=(7, 3)).astype(np.float32)
    np.testing.assert_allclose(frame_scores(_NormDetector(6), S), (stack_context(S, 2) ** 2).sum(1), rtol=1e-6)
    X = stack_context(S, 2)  # (T', d) with d = F: one "frame" per row
    np.testing.assert_allclose(frame_scores(_NormDetector(6), X), (X**2).sum(1), rtol=1e-6)
    with pytest.raises(NotFittedError, match="not fitted"):
        frame_scores(_NormDetector(), S)
    with pytest.raises(NotFittedError):
        frame_scores(AEDetector("re", **TINY), S)
    with pytest.raises(ValueError, match="NaN"):
        frame_scores(_NormDetector(6), np.full((4, 3), np.nan))


def test_score_clips_from_the_feature_cache(tmp_path):
    rng = np.random.default_rng(0)
    paths = [save_audio(tmp_path / f"normal_{i}.wav", 0.1 * rng.standard_normal(16000), 16000) for i in range(3)]
    cache = FeatureCache(tmp_path / "cache", FeatureConfig.preset("dcase2020"), device="cpu")
    specs = [cache.get(p) for p in paths]  # read-only memmaps (T, 128)
    s, frames = score_clips(_NormDetector(640), specs, return_frames=True)
    assert s.shape == (3,) and [f.size for f in frames] == [S.shape[0] - 4 for S in specs]
    np.testing.assert_array_equal(s, clip_scores(frames))


# ------------------------------------------------------------------ ScoreSet


@pytest.fixture(scope="module")
def ss() -> ScoreSet:
    return demo_scoreset(seed=0)


def test_scoreset_clip_scores_phi_rho_and_times(ss):
    for m in ss.methods:
        np.testing.assert_array_equal(ss.clip_scores(m), [c.max() for c in ss.scores[m]])
        assert ss.phi_rho(m, 0.1) == NeymanPearsonThreshold(0.1).fit(ss.train_scores[m]).threshold_
    mean = ScoreSet(ss.scores, ss.labels, ss.process, aggregate="mean")
    np.testing.assert_array_equal(mean.clip_scores("RE"), clip_scores(ss.scores["RE"], "mean"))
    np.testing.assert_array_equal(mean.frame_times(0), np.arange(100.0))
    assert ss.frame_times(0)[1] == pytest.approx(0.032)
    with pytest.raises(ValueError, match="method"):
        ss.clip_scores("XX")
    with pytest.raises(ValueError, match="train_scores"):
        mean.phi_rho("RE", 0.1)
    with pytest.warns(FutureWarning, match="use ScoreSet.phi_rho"):  # the old name, for old scripts
        assert ss.np_threshold("RE", 0.001) == ss.phi_rho("RE", 0.001)


def test_scoreset_save_load_roundtrip(ss, tmp_path):
    ss.save(tmp_path / "cache")
    back = ScoreSet.load(tmp_path / "cache")
    assert ScoreSet.exists(tmp_path / "cache")
    assert back.methods == ss.methods and back.process == ss.process and back.names == ss.names
    for m in ss.methods:
        for a, b in zip(ss.scores[m], back.scores[m], strict=True):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ss.train_scores[m], back.train_scores[m])
    np.testing.assert_array_equal(back.times[5], ss.times[5])
    np.testing.assert_allclose(back.audio[2], ss.audio[2])
    assert back.segments == ss.segments and back.info == ss.info and back.sr == ss.sr
    # an npz from another save is refused
    other = tmp_path / "other"
    demo_scoreset(seed=1).save(other)
    (tmp_path / "cache" / "scoreset.npz").write_bytes((other / "scoreset.npz").read_bytes())
    with pytest.raises(ValueError, match="does not match"):
        ScoreSet.load(tmp_path / "cache")


def test_scoreset_with_audio_paths_roundtrip(ss, tmp_path):
    wav = tmp_path / "a.wav"
    wav.write_bytes(ss.audio_bytes(0))
    s2 = ScoreSet({"RE": ss.scores["RE"][:2]}, [0, 0], ["frequent", "rare"], audio=[str(wav), str(wav)])
    back = ScoreSet.load(s2.save(tmp_path / "c"))
    assert back.audio == [str(wav), str(wav)] and back.audio_bytes(1)[:4] == b"RIFF"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"process": ["anomaly", "anomaly"]}, "exactly the clips with label 1"),
        ({"process": ["frequent", "weird"]}, "unknown tags"),
        ({"labels": [0, 2]}, "expected 0"),
        ({"scores": {"RE": [np.ones(3)], "BU": [np.ones(3), np.ones(3)]}}, "2 clips|1 clips"),
        ({"scores": {"RE": [np.ones(3), np.ones(3)], "BU": [np.ones(3), np.ones(4)]}}, "frame counts"),
        ({"scores": {"RE": [np.ones(3), np.array([1.0, np.nan, 1.0])]}}, "NaN"),
        ({"audio": [np.zeros(4), np.zeros(4)]}, "sr"),
        ({"train_scores": {"XX": np.ones(4)}}, "no training scores"),
        ({"aggregate": "median"}, "aggregate"),
    ],
)
def test_scoreset_validation(kwargs, match):
    args = {"scores": {"RE": [np.ones(3), np.ones(3)]}, "labels": [0, 1], "process": ["rare", "anomaly"]}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        ScoreSet(**args)


def test_scores_from_detectors():
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal((5, 3)), rng.standard_normal((7, 3)) + 3.0]
    train = [rng.standard_normal((4, 3)) for _ in range(6)]
    ss = scores_from_detectors({"NORM": _NormDetector()}, clips, [0, 1], ["frequent", "anomaly"], train_clips=train)
    assert [c.size for c in ss.scores["NORM"]] == [5, 7]
    np.testing.assert_allclose(ss.scores["NORM"][1], (clips[1] ** 2).sum(1))
    np.testing.assert_allclose(ss.train_scores["NORM"], [(t**2).sum(1).max() for t in train])
    assert ss.phi_rho("NORM", 0.2) == NeymanPearsonThreshold(0.2).fit(ss.train_scores["NORM"]).threshold_
    assert ss.clip_scores("NORM")[1] > ss.phi_rho("NORM", 0.2)
    mean = scores_from_detectors(
        {"N": _NormDetector()}, clips, [0, 1], ["rare", "anomaly"], train_clips=train, aggregate="mean"
    )
    np.testing.assert_allclose(mean.train_scores["N"], [(t**2).sum(1).mean() for t in train])


# ------------------------------------------------------------------ notebook 04's build_scoreset


@pytest.fixture
def recordings(tmp_path):
    """A folder of recordings in build_scoreset's layout: 5 normal training clips, 4 test clips (1 s each)."""
    rng = np.random.default_rng(0)
    t = np.arange(16000) / 16000
    root = tmp_path / "rec"
    for i in range(5):
        save_audio(
            root / "train" / f"n{i}.wav", 0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.standard_normal(16000), 16000
        )
    for name, f0 in (("normal_a", 440), ("rare_b", 440), ("normal_c", 440), ("anomaly_d", 1300)):
        save_audio(
            root / "test" / f"{name}.wav", 0.3 * np.sin(2 * np.pi * f0 * t) + 0.05 * rng.standard_normal(16000), 16000
        )
    return root


@pytest.fixture
def quick_networks(monkeypatch):
    monkeypatch.setitem(thresholds.NETWORKS, True, {"hidden": (8,), "latent_dim": 2, "n_updates": 10, "batch_size": 32})


def test_build_scoreset_on_a_folder_then_from_the_cache(recordings, tmp_path, quick_networks, monkeypatch):
    cache_dir = tmp_path / "cache"
    ss, dets = thresholds.build_scoreset(recordings, fast=True, seed=0, cache_dir=cache_dir, progress=False)
    assert ss.methods == ["RE", "SNP", "BU"] and sorted(dets) == ["BU", "RE", "SNP"]
    assert ss.names == ["anomaly_d.wav", "normal_a.wav", "normal_c.wav", "rare_b.wav"]
    assert ss.process == ["anomaly", "frequent", "frequent", "rare"] and list(ss.labels) == [1, 0, 0, 0]
    assert all(ts.size == 2 for ts in ss.train_scores.values())  # max(5 // 4, 2) clips held out
    assert dets["SNP"].n_updates_ == 10 and ss.info["kind"] == "trained"
    # the scores are the detectors' frame scores of the clips' log-mel spectrograms
    cache = FeatureCache(cache_dir / "features", thresholds.feature_config(), device="cpu")
    np.testing.assert_array_equal(
        ss.scores["BU"][3], frame_scores(dets["BU"], cache.get(recordings / "test" / "rare_b.wav"))
    )
    (run,) = [p for p in cache_dir.iterdir() if p.name.startswith("rec-")]
    assert (run / "scoreset.json").is_file() and not list(cache_dir.glob(".*partial*"))

    def no_training(*args, **kwargs):
        raise AssertionError("a cached run trained again")

    monkeypatch.setattr(AEDetector, "fit", no_training)
    ss2, dets2 = thresholds.build_scoreset(recordings, fast=True, seed=0, cache_dir=cache_dir, progress=False)
    for m in ss.methods:
        np.testing.assert_array_equal(np.concatenate(ss2.scores[m]), np.concatenate(ss.scores[m]))
        np.testing.assert_array_equal(ss2.train_scores[m], ss.train_scores[m])
    X = cache.vectors(recordings / "test" / "normal_a.wav")
    np.testing.assert_array_equal(dets2["RE"].anomaly_score(X), dets["RE"].anomaly_score(X))
    # a new adskit version never reads the old folder
    monkeypatch.setattr(thresholds, "version", lambda name: "999")
    with pytest.raises(AssertionError, match="trained again"):
        thresholds.build_scoreset(recordings, fast=True, seed=0, cache_dir=cache_dir, progress=False)


def test_training_vectors_are_the_fit_clips(recordings, tmp_path):
    cache_dir = tmp_path / "cache"
    x = thresholds.training_vectors(recordings, seed=0, n=50, cache_dir=cache_dir, progress=False)
    cache = FeatureCache(cache_dir / "features", thresholds.feature_config(), device="cpu")
    fit = np.concatenate([cache.vectors(p) for p in sorted((recordings / "train").iterdir())])
    assert x.shape == (50, 320)
    assert {r.tobytes() for r in x} <= {r.tobytes() for r in fit}
    everything = thresholds.training_vectors(recordings, seed=0, n=10**6, cache_dir=cache_dir, progress=False)
    assert len(everything) == 3 * len(cache.vectors(recordings / "train" / "n0.wav"))  # 5 clips, 2 held out


def test_build_scoreset_needs_enough_clips(tmp_path):
    for i in range(2):
        save_audio(tmp_path / "rec" / "train" / f"n{i}.wav", np.zeros(16000), 16000)
    save_audio(tmp_path / "rec" / "test" / "normal.wav", np.zeros(16000), 16000)
    with pytest.raises(ValueError, match="at least 3"):
        thresholds.build_scoreset(tmp_path / "rec", cache_dir=tmp_path / "cache", progress=False)


def test_frame_scores_refuse_a_spectrogram_of_other_bands_than_the_detectors():
    """A 64-band spectrogram given to a detector trained on 128-band features: refused, not silently re-stacked
    (128 x 5 = 640 inputs would otherwise read it as 10 frames of 64 bands)."""
    rng = np.random.default_rng(0)
    det = AEDetector("re", **{**TINY, "feature_config": "dcase2020"}).fit(rng.normal(size=(50, 640)))
    with pytest.raises(ValueError, match="64 features per frame.*128-band"):
        frame_scores(det, rng.normal(size=(40, 64)))
    assert frame_scores(det, rng.normal(size=(40, 128))).shape == (36,)  # its own bands: 5-frame context
    assert frame_scores(det, rng.normal(size=(7, 640))).shape == (7,)  # already stacked vectors
    with pytest.raises(AttributeError, match=r"frame_scores moved: call adskit\.scores\.frame_scores"):
        det.frame_scores(rng.normal(size=(40, 64)))  # the old method name says where scoring went
    assert not hasattr(det, "no_such_attribute")  # every other missing name: the usual AttributeError


def test_unlabelled_clips_are_tagged_both_ways_and_survive_save_and_load(tmp_path):
    """label -1 exactly where process is "unlabelled" (an analyst's new recordings), kept through save / load."""
    from adskit.scores import UNLABELLED, ScoreSet

    scores = {"RE": [np.array([0.1, 0.2]), np.array([0.5]), np.array([2.0, 3.0])]}
    ss = ScoreSet(
        scores, np.array([0, UNLABELLED, 1]), ["frequent", "unlabelled", "anomaly"], train_scores={"RE": [0.1, 0.3]}
    )
    back = ScoreSet.load(ss.save(tmp_path / "ss"))
    assert back.labels.tolist() == [0, -1, 1] and back.process == ss.process
    with pytest.raises(ValueError, match="'unlabelled' must be exactly"):
        ScoreSet(scores, np.array([0, UNLABELLED, 1]), ["frequent", "frequent", "anomaly"])
    with pytest.raises(ValueError, match="'unlabelled' must be exactly"):
        ScoreSet(scores, np.array([0, 0, 1]), ["frequent", "unlabelled", "anomaly"])
    with pytest.raises(ValueError, match="expected 0 \\(normal\\), 1"):
        ScoreSet(scores, np.array([0, 2, 1]), ["frequent", "frequent", "anomaly"])
