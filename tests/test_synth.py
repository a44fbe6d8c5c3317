"""adskit.audio.synth: determinism, layout and manifest, the rare-normal process, and spectral sanity."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pooch
import pytest
import torch

from adskit.audio import download, paths, synth
from adskit.audio.features import FeatureConfig, LogMel
from adskit.audio.io import load_audio
from adskit.audio.synth import (
    ANOMALY_GROUPS,
    ANOMALY_KINDS,
    MACHINES,
    SOMETHING_ELSE_KINDS,
    default_data_dir,
    ensure_synthetic,
    generate_anomaly_source,
    generate_clip,
    generate_something_else,
    make_dataset,
    read_manifest,
)
from adskit.audio.synth import dataset as synth_dataset

SMALL = dict(
    machines=("fan", "gearbox"),
    n_train=8,
    n_test_normal=8,
    n_test_anomaly=6,
    duration=2.0,
    n_something_else=4,
    n_anomaly_sources=1,
)


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def small_set(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "data"
    make_dataset(root, seed=3, progress=False, **SMALL)
    return root


def test_generate_clip_is_deterministic_and_seeded():
    a, info_a = generate_clip("pump", "anomaly", rng=5, duration=2.0)
    b, info_b = generate_clip("pump", "anomaly", rng=np.random.default_rng(5), duration=2.0)
    c, _ = generate_clip("pump", "anomaly", rng=6, duration=2.0)
    assert a.dtype == np.float32 and a.shape == (32000,)
    assert np.array_equal(a, b) and info_a == info_b and not np.array_equal(a, c)
    assert 0.005 < np.sqrt(np.mean(a**2)) and np.max(np.abs(a)) < 1.0


@pytest.mark.parametrize("machine", sorted(MACHINES))
def test_clip_info_records_processes(machine):
    y, info = generate_clip(machine, "normal", rng=0, duration=8.0, rare=True)
    (r0, r1) = info["rare"][0]
    assert 1.0 <= r1 - r0 <= 3.0 + 1e-3 and 0 <= r0 < r1 <= 8.0
    assert info["anomaly"] == [] and info["anomaly_kind"] is None
    covered = sum(b - a for a, b in info["steady"] + info["rare"] + info["idle"])
    assert covered == pytest.approx(8.0, abs=1e-3)  # steady, idle and rare tile the clip
    for kind in ANOMALY_KINDS:
        y, info = generate_clip(machine, "anomaly", rng=1, duration=8.0, anomaly_kind=kind, rare=False)
        (a0, a1) = info["anomaly"][0]
        assert info["anomaly_group"] == ANOMALY_GROUPS[kind] and info["rare"] == []
        assert 0 <= a0 < a1 <= 8.0 and a1 - a0 >= 0.8 - 1e-3
        assert (info["anr_db"] is None) == (kind == "speed_change")
        assert (info["speed_factor"] is None) != (kind == "speed_change")
    with pytest.raises(ValueError, match="machine"):
        generate_clip("turbine", rng=0)
    with pytest.raises(ValueError, match="anomaly_kind"):
        generate_clip(machine, "normal", rng=0, anomaly_kind="knock")


def test_sources_and_something_else():
    groups = {ANOMALY_GROUPS[k] for k in ANOMALY_KINDS}
    assert groups == {"sustained", "time_varying", "sudden"}
    for kind in SOMETHING_ELSE_KINDS:
        s = generate_something_else(kind, rng=0)
        assert 0.3 * 16000 - 1 <= s.size <= 2.0 * 16000 + 1 and np.max(np.abs(s)) == pytest.approx(0.5)
    for kind in (k for k in ANOMALY_KINDS if k != "speed_change"):
        s = generate_anomaly_source(kind, rng=0, duration=1.0)
        assert s.shape == (16000,) and np.isfinite(s).all() and np.max(np.abs(s)) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="kind"):
        generate_anomaly_source("speed_change", rng=0)


def test_layout_and_manifest(small_set):
    manifest = json.loads((small_set / "manifest.json").read_text())
    assert manifest["complete"] and manifest["seed"] == 3 and manifest["version"] == synth.SYNTH_VERSION
    files = manifest["files"]
    n_clips = 2 * (8 + 8 + 6)
    assert len(files) == manifest["n_files"] == n_clips + 4 + 5
    on_disk = {p.relative_to(small_set).as_posix() for p in small_set.rglob("*.wav")}
    assert on_disk == {r["path"] for r in files}
    for machine in ("fan", "gearbox"):
        assert (small_set / machine / "train" / "normal_id_00_00000007.wav").is_file()
        assert (small_set / machine / "test" / "normal_id_00_00000007.wav").is_file()
        assert (small_set / machine / "test" / "anomaly_id_00_00000005.wav").is_file()
    assert len(list((small_set / "something_else").glob("*.wav"))) == 4
    assert {p.name.split("_0")[0] for p in (small_set / "anomaly_sources").glob("*.wav")} == {
        k for k in ANOMALY_KINDS if k != "speed_change"
    }
    clips = [r for r in files if r["machine"]]
    for r in clips:
        assert r["split"] in ("train", "test") and r["label"] in ("normal", "anomaly")
        assert set(r["processes"]) == {"steady", "idle", "rare", "anomaly"}
        assert r["rare"] == bool(r["processes"]["rare"])
        assert (r["label"] == "anomaly") == bool(r["processes"]["anomaly"]) == (r["anomaly_kind"] is not None)
        assert r["split"] == "test" or r["label"] == "normal"
    y, sr = load_audio(small_set / clips[0]["path"])
    assert sr == 16000 and y.shape == (32000,)
    kinds = sorted(r["anomaly_kind"] for r in clips if r["label"] == "anomaly" and r["machine"] == "fan")
    assert kinds == sorted(ANOMALY_KINDS)  # balanced: 6 clips, one per kind


def test_same_seed_same_bytes_and_idempotent(small_set, tmp_path):
    before = _digest(small_set)
    mtime = (small_set / "manifest.json").stat().st_mtime_ns
    assert make_dataset(small_set, seed=3, progress=False, **SMALL) == small_set / "manifest.json"
    assert (small_set / "manifest.json").stat().st_mtime_ns == mtime  # returned without regenerating
    twin = tmp_path / "twin"
    make_dataset(twin, seed=3, progress=False, **SMALL)
    assert _digest(twin) == before
    other = tmp_path / "other"
    make_dataset(other, seed=4, progress=False, **{**SMALL, "machines": ("fan",)})
    assert _digest(other)["fan/train/normal_id_00_00000000.wav"] != before["fan/train/normal_id_00_00000000.wav"]
    # a file gone missing is regenerated, identical; the rest is left alone
    (twin / "fan" / "test" / "anomaly_id_00_00000002.wav").unlink()
    make_dataset(twin, seed=3, progress=False, **SMALL)
    assert _digest(twin) == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folder left


def test_refuses_foreign_files_and_other_settings(small_set, tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="not made by"):
        make_dataset(foreign, progress=False, **SMALL)
    assert [p.name for p in foreign.iterdir()] == ["notes.txt"]
    with pytest.raises(FileExistsError, match="other settings"):
        make_dataset(small_set, seed=4, progress=False, **SMALL)
    empty = tmp_path / "empty"
    empty.mkdir()
    make_dataset(empty, progress=False, **{**SMALL, "machines": ("pump",), "n_train": 1, "n_test_anomaly": 0})
    assert (empty / "manifest.json").is_file()
    with pytest.raises(ValueError, match="machines"):
        make_dataset(tmp_path / "x", machines=("turbine",), progress=False)


@pytest.mark.parametrize("preset", ["fast", "full"])
def test_rare_process_in_10_to_15_percent_of_normal_clips(preset):
    cfg = synth_dataset._resolve_config(preset, 0, 16000)
    jobs = [j for j in synth_dataset._plan(cfg) if j["what"] == "clip" and j["label"] == "normal"]
    frac = np.mean([j["rare"] for j in jobs])
    assert 0.10 <= frac <= 0.15
    for split in ("train", "test"):  # normal, so present in both
        assert any(j["rare"] for j in jobs if j["split"] == split)


def test_rare_fraction_when_drawn():
    rare = [bool(generate_clip("fan", rng=i, duration=0.5)[1]["rare"]) for i in range(400)]
    assert 0.09 <= np.mean(rare) <= 0.16


def test_anomalies_and_rare_process_differ_spectrally_from_normal():
    """Mean log-mel of a segment, in units of the normal segment-to-segment spread, max over mel bins.

    The anomalous segments must stand out from normal segments on average (the data are not noise), the
    warm-up too (it is a distinct process), while some anomaly kinds stay close to normal on some machines
    (the data are not trivial).
    """
    cfg = FeatureConfig.preset("paper")
    lm = LogMel(cfg, device="cpu")
    hop_s = cfg.hop_length / cfg.sr

    def seg_mean(y, a, b):
        with torch.inference_mode():
            F = lm(y).numpy()
        t = np.arange(F.shape[0]) * hop_s
        return F[(t >= a) & (t < b)].mean(axis=0)

    normal_d, anomaly_d, rare_d = [], [], []
    for mi, machine in enumerate(sorted(MACHINES)):
        train = [generate_clip(machine, rng=[1, mi, i], duration=4.0, rare=False)[0] for i in range(10)]
        segs = np.array([seg_mean(y, a, a + 1.5) for y in train for a in (0.0, 1.0, 2.0)])
        mu, sd = segs.mean(axis=0), segs.std(axis=0) + 1e-3

        def dist(v, mu=mu, sd=sd):
            return float(np.max(np.abs(v - mu) / sd))

        for i in range(6):
            normal_d.append(dist(seg_mean(generate_clip(machine, rng=[2, mi, i], duration=4.0, rare=False)[0], 1, 2.5)))
        for ki, kind in enumerate(ANOMALY_KINDS):
            y, info = generate_clip(machine, "anomaly", rng=[3, mi, ki], duration=4.0, rare=False, anomaly_kind=kind)
            anomaly_d.append(dist(seg_mean(y, *info["anomaly"][0])))
        for i in range(2):
            y, info = generate_clip(machine, rng=[4, mi, i], duration=4.0, rare=True)
            rare_d.append(dist(seg_mean(y, *info["rare"][0])))
    normal_d, anomaly_d, rare_d = map(np.array, (normal_d, anomaly_d, rare_d))
    assert np.mean(anomaly_d) > 1.8 * np.mean(normal_d)
    assert np.median(anomaly_d) > np.median(normal_d)
    assert np.mean(rare_d) > 1.5 * np.mean(normal_d)
    assert np.mean(anomaly_d < np.max(normal_d)) > 0.15  # a good share of anomalies hide among normals


def test_default_dir_ensure_synthetic_and_cli(tmp_path, monkeypatch):
    monkeypatch.setenv("ADSKIT_DATA", str(tmp_path / "cache"))
    assert default_data_dir() == tmp_path / "cache"
    tiny = {**SMALL, "machines": ("conveyor",), "n_train": 2, "n_test_normal": 1, "n_test_anomaly": 1}
    monkeypatch.setitem(synth.PRESETS, "fast", tiny)
    root = ensure_synthetic("fast", seed=2, progress=False)
    assert root == tmp_path / "cache" / "synthetic-fast-s2" and (root / "manifest.json").is_file()
    script = Path(__file__).resolve().parents[1] / "data_scripts" / "make_synthetic.py"
    spec = importlib.util.spec_from_file_location("make_synthetic", script)
    cli = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cli)
    assert cli.main(["--out", str(tmp_path / "cli"), "--preset", "fast", "--seed", "2", "--quiet"]) == 0
    assert _digest(tmp_path / "cli") == _digest(root)
    monkeypatch.delenv("ADSKIT_DATA")
    assert default_data_dir() == Path(pooch.os_cache("adskit"))
    if sys.platform.startswith("linux"):
        monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
        assert default_data_dir() == Path.home() / ".cache" / "adskit"


def test_one_data_root_for_synthetic_and_downloaded_data(tmp_path, monkeypatch):
    assert default_data_dir is paths.data_dir and download.data_dir is paths.data_dir
    monkeypatch.setenv(paths.DATA_ENV, str(tmp_path / "root"))
    assert default_data_dir() == download.data_dir() == tmp_path / "root"
    assert download.dataset_dir("mimii") == tmp_path / "root" / "mimii"


def test_read_manifest_returns_the_checked_records(small_set):
    manifest = read_manifest(small_set)
    assert manifest == json.loads((small_set / "manifest.json").read_text())
    assert read_manifest(small_set / "manifest.json") == manifest  # what make_dataset returns works too
    assert manifest["generator"] == synth.GENERATOR == "adskit.audio.synth"
    assert all((small_set / r["path"]).is_file() for r in manifest["files"])


def test_read_manifest_errors_name_the_file_and_the_expectation(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"manifest\.json not found; expected .*make_dataset"):
        read_manifest(tmp_path)
    bad = {
        "not valid JSON": "{",
        "generator 'someone'": json.dumps({"generator": "someone", "files": []}),
        "no 'files' list": json.dumps({"generator": "adskit.audio.synth"}),
        r"files\[1\]": json.dumps({"generator": "adskit.audio.synth", "files": [{"path": "a.wav", "split": "x"}, {}]}),
        "relative 'path'": json.dumps({"generator": "adskit.audio.synth", "files": [{"path": "../a", "split": "x"}]}),
        "JSON list, not an object": "[]",
    }
    for i, (what, text) in enumerate(bad.items()):
        folder = tmp_path / f"bad{i}"
        folder.mkdir()
        (folder / "manifest.json").write_text(text)
        with pytest.raises(ValueError, match=what) as err:
            read_manifest(folder)
        assert str(folder / "manifest.json") in str(err.value)


def test_face_reexports_every_public_name():
    for module in (synth_dataset, synth.machines, synth.sounds):
        for name in module.__all__:
            assert getattr(synth, name) is getattr(module, name) and name in synth.__all__, name
    for name in download.__all__:
        assert hasattr(download, name), name


@pytest.mark.parametrize("rarity", [0.005, 0.02, 0.1])
def test_rarity_is_the_exact_share_of_training_seconds(tmp_path, rarity):
    n_train, duration = 20, 6.0
    m = make_dataset(
        tmp_path / "d",
        machines=("fan",),
        n_train=n_train,
        n_test_normal=4,
        n_test_anomaly=2,
        duration=duration,
        n_something_else=0,
        n_anomaly_sources=0,
        rarity=rarity,
        progress=False,
    )
    man = read_manifest(m)
    train = [r for r in man["files"] if r["split"] == "train"]
    rare_s = sum(t1 - t0 for r in train for t0, t1 in r["processes"]["rare"])
    assert rare_s == pytest.approx(rarity * n_train * duration, abs=1e-6)
    assert man["rare_share_train"]["fan"] == pytest.approx(rarity, abs=1e-6)
    tests = [r for r in man["files"] if r["split"] == "test" and r["label"] == "normal"]
    assert sum(bool(r["processes"]["rare"]) for r in tests) == 2  # half of the normal test clips


def test_distinctness_adds_the_rare_series_only_in_the_rare_segment():
    y0, info = generate_clip("fan", rng=3, duration=4.0, rare=True, rare_seconds=1.5)
    y1, info1 = generate_clip("fan", rng=3, duration=4.0, rare=True, rare_seconds=1.5, distinctness=1.0)
    assert info["rare"] == info1["rare"] and info["rare"][0][1] - info["rare"][0][0] == pytest.approx(1.5)
    t0, t1 = info["rare"][0]
    diff = np.abs(y1.astype(np.float64) - y0)
    sr = info["sr"]
    outside = np.r_[diff[: int((t0 - 0.2) * sr)], diff[int((t1 + 0.2) * sr) :]]
    assert diff[int(t0 * sr) : int(t1 * sr)].max() > 0.01 and (outside.size == 0 or outside.max() < 1e-6)
    # the spectrum gains partials at k x 1.47 x f0 inside the segment
    seg = slice(int((t0 + 0.3) * sr), int((t1 - 0.3) * sr))
    f = np.fft.rfftfreq(seg.stop - seg.start, 1 / sr)
    p0, p1 = (np.abs(np.fft.rfft(v[seg])) ** 2 for v in (y0, y1))
    near = np.abs(f - 1.47 * info["f0"]) < 6.0
    assert p1[near].sum() > 3 * p0[near].sum()


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"rarity": 0.0}, "rarity"),
        ({"rarity": 0.7}, "rarity"),
        ({"rarity": 0.0001}, "rarity"),
        ({"distinctness": -1}, "distinctness"),
    ],
)
def test_rare_knobs_refuse_bad_values(tmp_path, kw, match):
    with pytest.raises(ValueError, match=match):
        make_dataset(
            tmp_path / "d",
            machines=("fan",),
            n_train=10,
            n_test_normal=2,
            n_test_anomaly=2,
            duration=4.0,
            progress=False,
            **kw,
        )
