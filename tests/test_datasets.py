"""Tests of the data-set modules: labelling (clips), folders, the feature cache, the samplers (batches)."""

from __future__ import annotations

import dataclasses
import os

import numpy as np
import pytest
import soundfile as sf
import torch

import adskit.audio.datasets as datasets_face
from adskit.audio import batches, cache, clips, folders
from adskit.audio.batches import FrameSampler, PaperBatchBuilder
from adskit.audio.cache import CacheReport, FeatureCache, dataset_stats, iter_clip_vectors
from adskit.audio.clips import label_from_name, parse_clip
from adskit.audio.features import FeatureConfig, log_mel, n_frames, stack_context
from adskit.audio.folders import FolderDataset, dcase2020_dev, mimii, synthetic, toy_car, toyadmos
from adskit.audio.io import AudioFileError, load_audio, save_audio
from adskit.detectors import AEDetector

SR = 16000
# A small front end keeps the tests fast: 16 mels, 3 frames.
CFG = dataclasses.replace(FeatureConfig.preset("paper"), n_mels=16, frames=3)


def _tone(seconds: float, seed: int, sr: int = SR, channels: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.3 * np.sin(2 * np.pi * (200 + 50 * seed) * t) + 0.05 * rng.standard_normal(t.size)
    return np.stack([y, 0.5 * y], axis=1) if channels == 2 else y


def _touch_wav(path, seconds=0.2, seed=0):
    save_audio(path, _tone(seconds, seed), SR)
    return path


def test_datasets_face_re_exports_the_four_modules():
    homes = (clips, folders, cache, batches)
    for name in datasets_face.__all__:
        obj = getattr(datasets_face, name)
        assert any(getattr(m, name, None) is obj and name in m.__all__ for m in homes), name
    assert sorted(n for m in homes for n in m.__all__ if n != "CACHE_VERSION") == sorted(datasets_face.__all__)


# --------------------------------------------------------------------------------------------- labels


@pytest.mark.parametrize(
    "path, label, machine, section",
    [
        ("fan/train/normal_id_00_00000000.wav", 0, "fan", "id_00"),
        ("ToyCar/test/anomaly_id_01_00000123.wav", 1, "ToyCar", "id_01"),
        ("valve/source_test/section_00_source_test_anomaly_0001.wav", 1, "valve", "section_00"),
        ("bearing/train/section_02_target_train_normal_0003_vel_6.wav", 0, "bearing", "section_02"),
        ("6dB/pump/id_02/normal/00000000.wav", 0, "pump", "id_02"),
        ("-6_dB_fan/fan/id_04/abnormal/00000007.wav", 1, "fan", "id_04"),
        ("ToyCar/case1/AnomalousSound_IND/1101010001_ToyCar_case1_ab01_IND_ch1_0001.wav", 1, "ToyCar", "case1"),
        ("ToyCar/case2/NormalSound_IND/1100010001_ToyCar_case2_normal_IND_ch1_0001.wav", 0, "ToyCar", "case2"),
        ("recordings/pump_a/clip_0001.wav", None, None, None),
    ],
)
def test_parse_clip_known_layouts(path, label, machine, section):
    c = parse_clip(path)
    assert (c.label, c.machine, c.section) == (label, machine, section)
    assert label_from_name(path) == label


def test_parse_clip_extras_and_toyadmos_prefixes():
    c = parse_clip("-6_dB_fan/fan/id_04/abnormal/00000007.wav")
    assert c.extra["snr_db"] == -6 and c.split is None
    t = parse_clip("ToyCar/case1/AnomalousSound_IND/1101010001_ToyCar_case1_ab03_IND_ch2_0001.wav")
    assert t.extra == {"condition": "ab03", "channel": "ch2", "mode": "IND"}
    assert parse_clip("valve/target_test/section_00_target_test_normal_0001.wav").extra["domain"] == "target"
    assert label_from_name("x/ab07_0001.wav", layout="toyadmos") == 1
    assert label_from_name("x/N01_0001.wav", layout="toyadmos") == 0
    assert label_from_name("fan/train/normal_id_00_0.wav", layout="flat") is None
    with pytest.raises(ValueError, match="layout"):
        parse_clip("a.wav", layout="nope")


# ------------------------------------------------------------------------------------------- folders


def test_dcase_folder_train_test_and_machine_filter(tmp_path):
    root = tmp_path / "dev_data"
    for m in ("fan", "pump"):
        _touch_wav(root / m / "train" / "normal_id_00_00000000.wav")
        _touch_wav(root / m / "train" / "normal_id_00_00000001.wav")
        _touch_wav(root / m / "test" / "anomaly_id_02_00000000.wav")
        _touch_wav(root / m / "test" / "normal_id_02_00000001.wav")
    (root / "fan" / "train" / "notes.txt").write_text("not audio")
    ds = dcase2020_dev(tmp_path)  # the parent of dev_data also works
    assert len(ds) == 8 and ds.machines == ["fan", "pump"]
    fan = dcase2020_dev(root, machine="fan")
    assert len(fan.train) == 2 and fan.train.labels.tolist() == [0, 0]
    assert sorted(fan.test.labels.tolist()) == [0, 1]
    assert len(dcase2020_dev(root, section="id_02")) == 4
    assert fan.summary() == {"normal": 3, "anomalous": 1, "unlabelled": 0, "train": 2, "test": 2}
    with pytest.raises(ValueError, match="machine: \\['valve'\\] not found.*fan"):
        dcase2020_dev(root, machine="valve")


def test_mimii_and_toyadmos_layouts(tmp_path):
    mroot = tmp_path / "mimii"
    for snr in ("6dB", "-6dB"):
        for lab in ("normal", "abnormal"):
            _touch_wav(mroot / snr / "fan" / "id_00" / lab / "00000000.wav")
            _touch_wav(mroot / snr / "fan" / "id_02" / lab / "00000000.wav")
    ds = mimii(mroot, machine="fan", snr=6, id=0)
    assert len(ds) == 2 and sorted(ds.labels.tolist()) == [0, 1]
    assert {c.extra["snr_db"] for c in ds} == {6} and {c.section for c in ds} == {"id_00"}
    assert len(mimii(mroot / "-6dB", snr=-6)) == 4  # root may be one SNR folder

    troot = tmp_path / "toyadmos"
    for case in (1, 2):
        for ch in (1, 2):
            n = troot / "ToyCar" / f"case{case}" / "NormalSound_IND"
            a = troot / "ToyCar" / f"case{case}" / "AnomalousSound_IND"
            _touch_wav(n / f"1100010001_ToyCar_case{case}_normal_IND_ch{ch}_0001.wav")
            _touch_wav(a / f"1101010001_ToyCar_case{case}_ab01_IND_ch{ch}_0001.wav")
    ds = toyadmos(troot, machine="ToyCar", case=1, channel=1)
    assert len(ds) == 2 and sorted(ds.labels.tolist()) == [0, 1]
    assert ds.filter(label=1)[0].extra["condition"] == "ab01"


def test_csv_labels_override_names(tmp_path):
    for name in ("a.wav", "b.wav", "sub/c.flac"):
        p = tmp_path / name
        p.parent.mkdir(exist_ok=True)
        save_audio(p.with_suffix(".wav"), _tone(0.1, 0), SR)
        if p.suffix == ".flac":
            import soundfile as sf

            sf.write(p, _tone(0.1, 0), SR, format="FLAC")
            (p.with_suffix(".wav")).unlink()
    (tmp_path / "labels.csv").write_text("file,label,comment\na.wav,normal,x\nsub/c.flac,1,y\n\n")
    ds = FolderDataset(tmp_path, labels=tmp_path / "labels.csv", layout="flat")
    assert [c.path.name for c in ds] == ["a.wav", "b.wav", "c.flac"]
    assert ds.labels.tolist() == [0, -1, 1]


@pytest.mark.parametrize(
    "text, match",
    [
        ("name,label\na.wav,normal\n", r"row 1: expected a header with columns 'file' and 'label'"),
        ("file,label\na.wav,normal\na.wav,broken\n", r"row 3: label 'broken' of 'a.wav'"),
        ("file,label\nmissing.wav,0\n", r"row 2: file 'missing.wav' not found"),
        ("file,label\na.wav\n", r"row 2: expected 2 columns"),
        ("", r"is empty"),
    ],
)
def test_csv_errors_name_file_and_row(tmp_path, text, match):
    _touch_wav(tmp_path / "a.wav")
    csv_path = tmp_path / "labels.csv"
    csv_path.write_text(text)
    with pytest.raises(ValueError, match=match) as err:
        FolderDataset(tmp_path, labels=csv_path)
    assert "labels.csv" in str(err.value)


def test_any_audio_extension_case_and_hidden_files(tmp_path):
    save_audio(tmp_path / "LOUD.WAV", _tone(0.1, 0), SR)
    _touch_wav(tmp_path / "quiet.wav")
    _touch_wav(tmp_path / ".hidden" / "x.wav")
    _touch_wav(tmp_path / ".y.wav")
    assert [c.path.name for c in FolderDataset(tmp_path)] == ["LOUD.WAV", "quiet.wav"]
    assert [c.path.name for c in FolderDataset(tmp_path, pattern="*.wav")] == ["quiet.wav"]


def test_missing_csv_and_missing_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.csv"):
        FolderDataset(tmp_path, labels=tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="not a directory"):
        FolderDataset(tmp_path / "absent")


def test_split_train_test_normal_folder(tmp_path):
    for i in range(10):
        _touch_wav(tmp_path / f"clip_{i:02d}.wav")
    _touch_wav(tmp_path / "anomaly" / "bad.wav")
    ds = FolderDataset(tmp_path)
    train, test = ds.split_train_test(test_fraction=0.3, random_state=1)
    assert len(train) == 7 and len(test) == 4  # 3 normal + the anomalous clip
    assert set(train.paths).isdisjoint(test.paths)
    assert train.labels.tolist() == [0] * 7 and {c.split for c in train} == {"train"}
    assert (tmp_path / "anomaly" / "bad.wav").resolve() in test.paths
    again = ds.split_train_test(test_fraction=0.3, random_state=1)
    assert again[0].paths == train.paths
    with pytest.raises(ValueError, match="test_fraction"):
        ds.split_train_test(test_fraction=1.0)


def test_toy_car_unlabelled_clips_are_normal(tmp_path):
    _touch_wav(tmp_path / "extracted" / "train" / "car_0001.wav")
    _touch_wav(tmp_path / "extracted" / "test" / "car_0002.wav")
    ds = toy_car(tmp_path)
    assert ds.labels.tolist() == [0, 0] and len(ds.train) == 1 and len(ds.test) == 1


def test_synthetic_manifest_spans(tmp_path):
    from adskit.audio.synth import make_dataset

    root = tmp_path / "synth"
    make_dataset(
        root,
        machines=("fan",),
        n_train=8,
        n_test_normal=1,
        n_test_anomaly=2,
        duration=1.5,
        n_something_else=2,
        n_anomaly_sources=1,
        progress=False,
    )
    ds = synthetic(root, machine="fan")
    assert len(ds.train) == 8 and sorted(ds.test.labels.tolist()) == [0, 1, 1]
    assert all(c.path.is_file() for c in ds)
    assert sum(bool(c.extra["processes"]["rare"]) for c in ds.train) == 1  # round(0.125 * 8)
    anomalous = ds.anomalous
    assert all(len(c.extra["anomaly"]) == 1 for c in anomalous if c.extra["anomaly_kind"] != "speed_change")
    assert len(synthetic(root, what="something_else")) == 2
    with pytest.raises(FileNotFoundError, match="manifest.json"):
        synthetic(tmp_path)


# ------------------------------------------------------------------------------------------ the cache


@pytest.fixture()
def messy_folder(tmp_path):
    """An analyst's folder: 16 kHz mono, 44.1 kHz stereo, a corrupt file, an empty file."""
    root = tmp_path / "recordings"
    save_audio(root / "mono16k.wav", _tone(0.5, 1), SR)
    save_audio(root / "stereo44k.wav", _tone(0.4, 2, sr=44100, channels=2), 44100)
    save_audio(root / "sub" / "short.wav", _tone(0.25, 3), SR)
    (root / "corrupt.wav").write_bytes(b"RIFF\x00\x00garbage, not a wav file")
    (root / "empty.wav").write_bytes(b"")
    return root


def test_cache_reports_bad_files_and_caches_the_rest(messy_folder, tmp_path):
    ds = FolderDataset(messy_folder)
    cache = FeatureCache(tmp_path / "cache", CFG, device="cpu")
    report = cache.build(ds.paths, progress=False)
    assert isinstance(report, CacheReport)
    failed = {p.name for p, _ in report.failed}
    assert failed == {"corrupt.wav", "empty.wav"}
    assert all(str(why) for _, why in report.failed)
    assert {p.name for p in report.computed} == {"mono16k.wav", "stereo44k.wav", "short.wav"}
    assert "FAILED" in str(report)
    again = cache.build(report.ok, progress=False)
    assert len(again.cached) == 3 and not again.computed
    with pytest.raises(AudioFileError, match="corrupt.wav"):
        cache.build([messy_folder / "corrupt.wav"], progress=False, on_error="raise")
    # the user's folder is untouched: same files as before
    assert sorted(p.name for p in messy_folder.rglob("*")) == sorted(
        ["mono16k.wav", "stereo44k.wav", "sub", "short.wav", "corrupt.wav", "empty.wav"]
    )


def test_cached_values_equal_fresh_logmel_and_are_memmaps(messy_folder, tmp_path):
    cache = FeatureCache(tmp_path / "cache", CFG, device="cpu")
    for name in ("mono16k.wav", "stereo44k.wav"):
        path = messy_folder / name
        S = cache.get(path)
        assert isinstance(S, np.memmap) and S.dtype == np.float32 and not S.flags.writeable
        y, sr = load_audio(path, sr=CFG.sr)
        assert sr == CFG.sr
        np.testing.assert_allclose(np.asarray(S), log_mel(y, CFG, device="cpu"), rtol=1e-5, atol=1e-5)
        assert S.shape == (n_frames(y.size, CFG), CFG.n_mels)
    # batched build (files of equal length share one LogMel call) gives the same numbers
    other = FeatureCache(tmp_path / "cache2", CFG, device="cpu", batch_size=4)
    other.build([messy_folder / "mono16k.wav", messy_folder / "stereo44k.wav"], progress=False)
    np.testing.assert_array_equal(other.get(messy_folder / "mono16k.wav"), cache.get(messy_folder / "mono16k.wav"))


def test_cache_entries_are_written_atomically_with_the_umask(tmp_path):
    paths = [_touch_wav(tmp_path / f"a{i}.wav", 0.3, seed=i) for i in range(3)]
    c = FeatureCache(tmp_path / "cache", CFG, device="cpu", batch_size=2)
    c.build(paths, progress=False)
    files = sorted(c.folder.iterdir())
    assert [f.suffix for f in files] == [".npy"] * 3  # no temporary file left behind
    umask = os.umask(0)
    os.umask(umask)
    assert {f.stat().st_mode & 0o777 for f in files} == {0o666 & ~umask}  # as open() would make them
    with pytest.raises(FileNotFoundError, match="absent.wav"):
        c.get(tmp_path / "absent.wav")


def test_cache_key_changes_with_config_and_file(tmp_path):
    path = _touch_wav(tmp_path / "a.wav", 0.3, seed=0)
    shared = tmp_path / "cache"
    c1 = FeatureCache(shared, CFG, device="cpu")
    c2 = FeatureCache(shared, dataclasses.replace(CFG, n_mels=20), device="cpu")
    assert c1.key(path) != c2.key(path) and c1.folder != c2.folder
    assert c1.get(path).shape[1] == 16 and c2.get(path).shape[1] == 20  # one shared cache folder
    assert FeatureCache(shared, CFG, channel=0, device="cpu").key(path) != c1.key(path)
    old_key, old_S = c1.key(path), np.array(c1.get(path))
    st = os.stat(path)
    save_audio(path, _tone(0.3, seed=5), SR)  # same size, other content
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert c1.key(path) != old_key and not c1.is_cached(path)
    assert not np.allclose(c1.get(path), old_S)
    assert c1.size_bytes() > 0 and c1.size_bytes([path]) == c1.entry(path).stat().st_size


# -------------------------------------------------------------------------------------- frame sampling


@pytest.fixture()
def cached(tmp_path):
    paths = [_touch_wav(tmp_path / f"c{i}.wav", s, seed=i) for i, s in enumerate((0.2, 0.5, 1.0))]
    cache = FeatureCache(tmp_path / "cache", CFG, device="cpu")
    cache.build(paths, progress=False)
    return cache, paths


def test_frame_sampler_shapes_determinism_and_content(cached):
    cache, paths = cached
    s1 = FrameSampler(cache, paths, batch_size=64, n_batches=3, random_state=7)
    s2 = FrameSampler(cache, paths, batch_size=64, n_batches=3, random_state=7)
    b1, b2 = list(s1), list(s2)
    assert len(b1) == 3 and len(s1) == 3
    assert all(b.shape == (64, CFG.dim) and b.dtype == np.float32 for b in b1)
    for a, b in zip(b1, b2, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(b1[0], b1[1])
    # each row is exactly the context vector at the drawn (file, offset)
    loc = FrameSampler(cache, paths, random_state=3).locate(100)
    X = FrameSampler(cache, paths, random_state=3).sample(100)
    full = [cache.vectors(p) for p in paths]
    expected = np.stack([full[f][o] for f, o in zip(*loc, strict=True)])
    np.testing.assert_array_equal(X, expected)


def test_frame_sampler_content_with_one_open_file_and_cache_untouched(cached):
    """Evicting every other file (max_open=1) changes nothing in the rows; standardising a sample in place never
    writes into the cache's arrays (the gathered rows are copies of read-only views)."""
    cache, paths = cached
    before = [np.array(cache.vectors(p)) for p in paths]
    stats = dataset_stats(cache, paths)
    loc = FrameSampler(cache, paths, random_state=5).locate(300)
    s = FrameSampler(cache, paths, random_state=5, max_open=1, mean=stats.mean, std=stats.std, in_memory=False)
    X = s.sample(300)
    expected = np.stack([before[f][o] for f, o in zip(*loc, strict=True)])
    np.testing.assert_allclose(X, (expected - s.mean_) / s.scale_, rtol=1e-6, atol=1e-6)
    assert len(s._open) == 1 and X.flags.writeable
    for p, b in zip(paths, before, strict=True):
        np.testing.assert_array_equal(cache.vectors(p), b)


def test_frame_sampler_in_memory_equals_streamed(cached, monkeypatch):
    """The frames held in memory give the same batches, bit for bit, as the memmaps (same seed, same stream), a
    sample standardised in place writes into neither, and the default picks memory up to IN_MEMORY_MAX_BYTES."""
    cache, paths = cached
    stats = dataset_stats(cache, paths)
    before = [np.array(cache.vectors(p)) for p in paths]
    kw = dict(batch_size=257, random_state=11, mean=stats.mean, std=stats.std)
    mem, disk = FrameSampler(cache, paths, in_memory=True, **kw), FrameSampler(cache, paths, in_memory=False, **kw)
    assert mem.in_memory_ and not disk.in_memory_ and not disk._open
    assert mem.frames_nbytes_ == sum(b.shape[0] + CFG.frames - 1 for b in before) * CFG.n_mels * 4
    for step in range(4):
        a = mem.sample() if step % 2 else mem.batch(step)
        b = disk.sample() if step % 2 else disk.batch(step)
        np.testing.assert_array_equal(a, b)
        assert a.flags.writeable and a.flags.c_contiguous and a.dtype == np.float32
    loc = FrameSampler(cache, paths, random_state=2).locate(500)
    X = FrameSampler(cache, paths, random_state=2, in_memory=True)._draw(500)
    np.testing.assert_array_equal(X, np.stack([before[f][o] for f, o in zip(*loc, strict=True)]))
    X -= 1e6  # in place, as sample() does: the held frames and the cache stay as they were
    np.testing.assert_array_equal(FrameSampler(cache, paths, random_state=2, in_memory=True)._draw(500) - 1e6, X)
    for p, b in zip(paths, before, strict=True):
        np.testing.assert_array_equal(cache.vectors(p), b)
    # the default: memory up to the limit, streamed above it
    assert FrameSampler(cache, paths).in_memory_
    monkeypatch.setattr("adskit.audio.batches.IN_MEMORY_MAX_BYTES", mem.frames_nbytes_ - 1)
    assert not FrameSampler(cache, paths).in_memory_


def test_frame_sampler_keeps_every_file_open_by_default_and_checks_max_open(tmp_path, cached):
    """Streamed, the default LRU holds every training file (it held 64: with more files, each batch reopened
    most of them), up to half the open-file limit; a bad max_open is named."""
    cache, paths = cached
    many = [_touch_wav(tmp_path / f"m{i:02d}.wav", 0.12, seed=i) for i in range(70)]
    cache.build(many, progress=False)
    s = FrameSampler(cache, many, batch_size=2000, random_state=0, in_memory=False)
    s.batch(0)
    assert s.max_open == len(many) and len(s._open) == len(many)
    assert FrameSampler(cache, paths, in_memory=False, max_open=2).max_open == 2
    for bad in (0, -1, 1.5, True):
        with pytest.raises(ValueError, match="max_open"):
            FrameSampler(cache, paths, max_open=bad)


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"frames": 1.5}, "frames: expected an int >= 1"),
        ({"frames": True}, "frames: expected an int >= 1"),
        ({"frames": "x"}, "frames: expected an int >= 1"),
        ({"frames": 0}, "frames: expected an int >= 1"),
        ({"batch_size": 2.0}, "batch_size"),
        ({"n_batches": 0}, "n_batches: expected an int >= 1"),
        ({"n_batches": -2}, "n_batches"),
        ({"n_batches": 2.7}, "n_batches"),
        ({"n_batches": "3"}, "n_batches"),
        ({"in_memory": "no"}, "in_memory: expected True, False or None"),
        ({"mean": np.zeros(64)}, r"mean: expected 48 values \(frames=3 x n_mels=16\)"),  # CFG: 3 x 16
        ({"std": np.ones(704)}, "std: expected 48 values"),
        ({"mean": np.full(48, np.nan)}, "mean: expected finite values"),
    ],
)
def test_frame_sampler_names_a_bad_argument(cached, kw, match):
    cache, paths = cached
    with pytest.raises(ValueError, match=match):
        FrameSampler(cache, paths, **kw)


def test_frame_sampler_paths_and_sizes(cached):
    """One path (a str or Path, a file or a folder) is not a sequence of files; frames longer than every clip say
    how long the longest is; sample(0) is empty in both modes and a bad n is named."""
    cache, paths = cached
    for one in (str(paths[0]), paths[0], str(paths[0].parent)):
        with pytest.raises(ValueError, match="paths: expected a sequence of audio files"):
            FrameSampler(cache, one)
    longest = max(np.load(cache.entry(p), mmap_mode="r").shape[0] for p in paths)
    with pytest.raises(ValueError, match=f"frames=1000 frames in 3 file.*the longest has {longest} frames"):
        FrameSampler(cache, paths, frames=1000)
    for in_memory in (True, False):
        s = FrameSampler(cache, [str(p) for p in paths], in_memory=in_memory, random_state=0)
        assert s.sample(0).shape == (0, CFG.dim) and s.batch(0).shape == (512, CFG.dim)
        for bad in (-1, 2.5):
            with pytest.raises(ValueError, match="n: expected an int >= 0"):
                s.sample(bad)


def test_frame_sampler_uniform_over_positions(cached):
    cache, paths = cached
    s = FrameSampler(cache, paths, random_state=0)
    n = 60_000
    files, offsets = s.locate(n)
    p = s.counts_ / s.counts_.sum()
    freq = np.bincount(files, minlength=len(paths)) / n
    np.testing.assert_allclose(freq, p, atol=4 * np.sqrt(p.max() / n))
    assert np.all(offsets >= 0) and np.all(offsets < s.counts_[files])
    big = files == 2
    hist = np.bincount(offsets[big], minlength=s.counts_[2]) / big.sum()
    assert hist.min() > 0.5 / s.counts_[2] and hist.max() < 1.5 / s.counts_[2]


def test_standardised_batches_and_errors(cached):
    cache, paths = cached
    stats = dataset_stats(cache, paths)
    s = FrameSampler(cache, paths, batch_size=4000, random_state=0, mean=stats.mean, std=stats.std)
    X = s.sample()
    assert np.all(np.abs(X.mean(axis=0)) < 0.2) and np.all(np.abs(X.std(axis=0) - 1) < 0.2)
    # the protocol's batch is raw; standardising it with mean_ / scale_ gives what sample() gives
    a = FrameSampler(cache, paths, batch_size=64, random_state=1, mean=stats.mean, std=stats.std)
    b = FrameSampler(cache, paths, batch_size=64, random_state=1, mean=stats.mean, std=stats.std)
    np.testing.assert_array_equal((a.batch(0) - a.mean_) / a.scale_, b.sample())
    np.testing.assert_array_equal(a.mean_, stats.mean.astype(np.float32))
    np.testing.assert_array_equal(a.scale_, stats.std.astype(np.float32))
    # one statistic alone: the other is neutral; a constant dimension is only centred
    c = FrameSampler(cache, paths, mean=stats.mean)
    assert np.all(c.scale_ == 1) and c.mean_.dtype == c.scale_.dtype == np.float32
    std0 = stats.std.copy()
    std0[3] = 0.0
    assert FrameSampler(cache, paths, std=std0).scale_[3] == 1 and np.all(stats.scale_ > 0)
    with pytest.raises(ValueError, match="batch_size"):
        FrameSampler(cache, paths, batch_size=0)
    with pytest.raises(ValueError, match="no context vector of frames=1000 frames"):
        FrameSampler(cache, paths, frames=1000)
    with pytest.raises(TypeError, match="endless"):
        len(FrameSampler(cache, paths))


def test_frame_sampler_speaks_the_streaming_protocol(cached):
    cache, paths = cached
    s = FrameSampler(cache, paths, batch_size=32, random_state=5)
    assert s.mean_ is None and s.scale_ is None
    assert s.batches_per_epoch == -(-s.n_vectors_ // 32)
    assert FrameSampler(cache, paths, n_batches=7).batches_per_epoch == 7
    # batch(step) is the stream in draw order: the same numbers as iterating a sampler of the same seed
    it = iter(FrameSampler(cache, paths, batch_size=32, random_state=5))
    for step in range(3):
        np.testing.assert_array_equal(s.batch(step), next(it))


def test_streaming_stats_and_clip_vectors_match_oracle(cached):
    cache, paths = cached
    vecs = dict(iter_clip_vectors(cache, paths))
    for p in paths:
        y, _ = load_audio(p, sr=CFG.sr)
        np.testing.assert_allclose(vecs[p], stack_context(log_mel(y, CFG, device="cpu"), CFG.frames), atol=1e-5)
    allX = np.concatenate(list(vecs.values())).astype(np.float64)
    stats = dataset_stats(cache, paths)
    assert stats.count == allX.shape[0]
    np.testing.assert_allclose(stats.mean, allX.mean(axis=0), rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(stats.std, allX.std(axis=0), rtol=1e-9, atol=1e-10)
    assert stats.mean_ is stats.mean and np.array_equal(stats.scale_, stats.std)  # usable as a scaler
    with pytest.raises(ValueError, match="no context vector"):
        dataset_stats(cache, paths, frames=1000)


# --------------------------------------------------------------------------------- the paper's batches


@pytest.fixture()
def paper_files(tmp_path):
    normal = [_touch_wav(tmp_path / "normal" / f"n{i}.wav", 3.5, seed=i) for i in range(3)]
    other = [_touch_wav(tmp_path / "se" / f"s{i}.wav", 0.4 + 0.2 * i, seed=10 + i) for i in range(2)]
    return normal, other


def _builder(paper_files, **kw):
    normal, other = paper_files
    args = {"segment_seconds": 1.0, "n_segments": 4, "device": "cpu", "random_state": 0}
    args.update(kw)
    return PaperBatchBuilder(normal, other, CFG, **args)


def test_paper_batch_shapes_and_labels(paper_files):
    b = _builder(paper_files)
    assert len(b.segments) == 9  # 3 files x 3 whole 1-s segments
    X, lab, info = b.next_with_info()
    n = 4 * SR
    assert info["mixture"].shape == (n,)
    assert X.shape == (n_frames(n, CFG) - CFG.frames + 1, CFG.dim)
    # the vectors are the log-mel context vectors of the mixture
    np.testing.assert_allclose(X, stack_context(log_mel(info["mixture"], CFG, device="cpu"), CFG.frames), atol=1e-4)
    # anomalous rows: exactly those whose centre frame's window overlaps the inserted span (by hand)
    start, stop = info["span"]
    centre = (np.arange(X.shape[0]) + CFG.frames // 2) * CFG.hop_length
    by_hand = (centre + CFG.win_length / 2 > start) & (centre - CFG.win_length / 2 < stop)
    np.testing.assert_array_equal(lab, by_hand)
    assert 0 < lab.sum() < lab.size
    # the mixture is the concatenated segments, changed only inside the span, at the drawn ANR
    x = np.concatenate([load_audio(p, sr=SR)[0][int(t * SR) : int(t * SR) + SR] for p, t in info["segments"]])
    diff = info["mixture"] - x
    assert np.allclose(diff[:start], 0, atol=1e-6) and np.allclose(diff[stop:], 0, atol=1e-6)
    anr = 10 * np.log10(np.sum(diff[start:stop] ** 2) / np.sum(x[start:stop] ** 2))
    assert -20 <= info["anr_db"] <= -10 and abs(anr - info["anr_db"]) < 1e-3


def test_paper_batch_protocol_and_determinism(paper_files):
    b = _builder(paper_files)
    Xn, Xa = b.batch(0)
    assert Xn.shape[1] == Xa.shape[1] == CFG.dim and Xa.shape[0] > 0 and Xn.shape[0] > Xa.shape[0]
    assert b.mean_ is None and b.scale_ is None and b.batches_per_epoch == 3  # 9 segments, 4 per batch
    a, b = _builder(paper_files, random_state=4), _builder(paper_files, random_state=4)
    c = _builder(paper_files, random_state=4)
    for step in range(2):
        (an, aa), (bn, ba) = next(a), b.batch(step)
        X, lab, _ = c.next_with_info()
        np.testing.assert_array_equal(an, bn)
        np.testing.assert_array_equal(aa, ba)
        np.testing.assert_array_equal(X[~lab], bn)
        np.testing.assert_array_equal(X[lab], ba)
    c = _builder(paper_files, random_state=5)
    assert not np.array_equal(next(c)[0], next(_builder(paper_files, random_state=4))[0])


def test_paper_batch_defaults_resampling_and_errors(paper_files, tmp_path):
    normal, other = paper_files
    save_audio(tmp_path / "n44.wav", _tone(3.2, 7, sr=44100, channels=2), 44100)
    b = PaperBatchBuilder([*normal, tmp_path / "n44.wav"], other, CFG, device="cpu", random_state=0)
    Xn, Xa = b.batch()  # the paper's 10 x 3 s = 30 s
    assert Xn.shape[0] + Xa.shape[0] == n_frames(30 * SR, CFG) - CFG.frames + 1 and Xa.shape[0] > 0
    with pytest.raises(ValueError, match="anr_range"):
        _builder(paper_files, anr_range=(-5, -10))
    with pytest.raises(ValueError, match="no file holds a whole 10-s segment"):
        _builder(paper_files, segment_seconds=10.0)
    with pytest.raises(ValueError, match="something_else_paths"):
        PaperBatchBuilder(normal, [], CFG, device="cpu")


class _Crash(Exception):
    pass


class _CrashAt:
    """A PaperBatchBuilder that raises on its n-th draw: a run killed mid-training."""

    def __init__(self, builder, n):
        self.builder, self.n, self.drawn = builder, n, 0

    def batch(self, step=None):
        if self.drawn == self.n:
            raise _Crash
        self.drawn += 1
        return self.builder.batch(step)


@pytest.mark.usefixtures("one_thread")  # bit-equal fits need one thread count: the policy picks it from the load
def test_an_interrupted_paper_batch_run_resumes_to_the_uninterrupted_weights(paper_files, tmp_path):
    """The sound experiment's case: a fresh builder after a crash replays its draws up to the checkpoint."""
    kw = {"hidden": (8,), "latent_dim": 2, "device": "cpu", "random_state": 0}
    straight = AEDetector("bu", **kw).fit_batches(_builder(paper_files), 12, n_stat_batches=2)
    path = tmp_path / "ck.pt"
    with pytest.raises(_Crash):
        AEDetector("bu", **kw).fit_batches(
            _CrashAt(_builder(paper_files), 9), 12, n_stat_batches=2, checkpoint=path, checkpoint_every=4
        )
    resumed = AEDetector("bu", **kw).fit_batches(
        _builder(paper_files), 12, n_stat_batches=2, checkpoint=path, checkpoint_every=4, resume=True
    )
    for k, v in straight.model_.state_dict().items():
        assert torch.equal(v, resumed.model_.state_dict()[k]), k
    np.testing.assert_array_equal(straight.history_["loss"], resumed.history_["loss"])


def test_cache_sees_a_file_replaced_with_the_same_size_and_time(tmp_path):
    """`cp -p` of another recording over a cached one keeps size and mtime: the cache must not serve the old
    features (issue 11: caches keyed by content, not by file statistics only)."""
    path = tmp_path / "clip.wav"
    rng = np.random.default_rng(0)
    sf.write(path, (0.1 * rng.standard_normal(16000)).astype(np.float32), 16000, subtype="FLOAT")
    cache = FeatureCache(tmp_path / "cache", CFG, device="cpu")
    first = np.array(cache.get(path))
    st = path.stat()
    sf.write(path, (0.5 * rng.standard_normal(16000)).astype(np.float32), 16000, subtype="FLOAT")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert path.stat().st_size == st.st_size and path.stat().st_mtime_ns == st.st_mtime_ns
    second = np.array(cache.get(path))
    y, _ = load_audio(path, sr=CFG.sr)
    np.testing.assert_allclose(second, log_mel(y, CFG, device="cpu"), rtol=1e-5, atol=1e-5)
    assert not np.allclose(first, second)
