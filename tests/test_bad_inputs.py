"""Any folder works (issue 11): every bad or unusual input a named outcome, in `adskit sound`, `adskit np` and the
paper's batch builder alike. One test per kind of input, each from a small input of that kind."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from adskit.audio.batches import MAX_SOMETHING_ELSE_FRACTION, PaperBatchBuilder
from adskit.audio.checks import audio_problem, min_samples
from adskit.audio.clips import label_from_name
from adskit.audio.features import FeatureConfig
from adskit.audio.io import AudioFileError, load_audio, save_audio
from adskit.audio.synth import generate_anomaly_source, generate_clip, generate_something_else
from adskit.cli import main

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 16000
FAST = ["--workers", "0", "--seeds", "0", "--device", "cpu", "--no-progress"]
SOUND = ["--models", "fcn40-small", "--n-updates", "3", *FAST]
NP = ["--steps", "3", "--hidden", "16", "--methods", "VAE", "--snrs", "0", *FAST]


def _clip(seed: int, sr: int = SR, seconds: float = 3.2, label: str = "normal") -> np.ndarray:
    kw = {"anr_db": 0.0} if label == "anomaly" else {"rare": False}
    return generate_clip("pump", label, rng=seed, sr=sr, duration=seconds, **kw)[0]


def _stereo(y: np.ndarray) -> np.ndarray:
    return np.stack([y, 0.9 * y], axis=1)


def _sounds(folder: Path, sr: int = SR, seconds: float = 1.0) -> Path:
    """Three something-else (or other-machine) sounds."""
    for i, kind in enumerate(("pink_burst", "chirp", "tone")):
        save_audio(folder / f"se_{i}.wav", generate_something_else(kind, 100 + i, sr, seconds), sr)
    return folder


def _anomalies(folder: Path, sr: int = SR, seconds: float = 0.6) -> Path:
    """Three isolated anomaly sources, one per group of the np experiment (named by kind)."""
    for i, kind in enumerate(("knock", "whine", "rub")):
        save_audio(folder / f"{kind}_{i}.wav", generate_anomaly_source(kind, 200 + i, sr, seconds), sr)
    return folder


def _summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())


def _bad(out: Path) -> dict[str, dict]:
    """File name -> bad-file entry of a report."""
    return {Path(b["path"]).name: b for b in _summary(out)["bad_files"]}


def _runs(out: Path, experiment: str) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((out / "runs" / experiment).glob("*/run.json"))]


# ------------------------------------------------------------------ the checker itself (no training)


def test_checker_names_each_kind_of_bad_file(tmp_path):
    """readable, finite, not silent, long enough for one context window at the target rate: one reason each."""
    cfg = FeatureConfig.preset("paper")  # 11 frames of hop 256 at 16 kHz: 2560 samples
    y = _clip(0, sr=44100, seconds=1.0)
    (tmp_path / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage, not audio")
    nan = y.copy()
    nan[100:110] = np.nan
    sf.write(tmp_path / "nan.wav", _stereo(nan), 44100, subtype="FLOAT")
    sf.write(tmp_path / "silent.wav", np.zeros((44100, 2), np.float32), 44100)
    n_short = int(np.ceil((min_samples(cfg) - 1) * 44100 / cfg.sr)) - 1  # one sample short at 16 kHz
    sf.write(tmp_path / "short.wav", y[:n_short], 44100)
    sf.write(tmp_path / "just.wav", y[: n_short + 2], 44100)
    reasons = {p.stem: audio_problem(p, cfg) for p in sorted(tmp_path.glob("*.wav"))}
    assert reasons["corrupt"].startswith("not a readable audio file")
    assert reasons["nan"].startswith("non-finite samples (NaN or Inf) in 10 of 44100")
    assert reasons["silent"] == "silent: every sample is 0"
    assert reasons["short"].startswith("too short") and "11-frame context window" in reasons["short"]
    assert reasons["just"] is None
    with pytest.raises(AudioFileError, match=r"nan\.wav: non-finite samples"):  # the one reader names the file
        load_audio(tmp_path / "nan.wav", sr=16000)


def test_one_label_reader_reads_every_naming():
    assert label_from_name("abnormal_003.wav") == 1 and label_from_name("x/anomalous_1.wav") == 1
    assert label_from_name("section_00_source_test_anomaly_0000_noAttribute.wav") == 1
    assert label_from_name("section_00_target_test_normal_0003_vel_4.wav") == 0
    assert label_from_name("pump_ok_000.wav") is None and label_from_name("id_01_00000001.wav") is None


# ------------------------------------------------------------------ the issue's acceptance folder


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    """12 synthetic clips at 44.1 kHz stereo, plus one corrupt, one 0.5-s, one NaN, one silent file and one named
    abnormal_003.wav; something-else, other-machine and anomaly folders that are clean."""
    root = tmp_path_factory.mktemp("messy")
    normal = root / "normal"
    for i in range(12):
        save_audio(normal / f"clip_{i:02d}.wav", _stereo(_clip(i, sr=44100)), 44100)
    (normal / "corrupt.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage, not audio")
    save_audio(normal / "short.wav", _stereo(_clip(20, sr=44100, seconds=0.5)), 44100)
    y = _clip(21, sr=44100)
    y[5000:6000] = np.nan
    sf.write(normal / "nan.wav", _stereo(y), 44100, subtype="FLOAT")
    sf.write(normal / "silent.wav", np.zeros((3 * 44100, 2), np.float32), 44100)
    save_audio(normal / "abnormal_003.wav", _stereo(_clip(22, sr=44100)), 44100)
    _sounds(root / "something_else", 44100)
    _anomalies(root / "anomalies", 44100)
    for i in range(3):
        y, _ = generate_clip("fan", "normal", rng=30 + i, sr=44100, duration=2.0, rare=False)
        save_audio(root / "other" / f"fan_{i}.wav", _stereo(y), 44100)
    return root


FIVE = {
    "corrupt.wav": "not a readable audio file",
    "short.wav": "too short: 0.500 s",
    "nan.wav": "non-finite samples",
    "silent.wav": "silent",
    "abnormal_003.wav": "named as anomalous",
}


def _said_last(err: str, n: int) -> set[str]:
    """The file names in the last ``n`` lines of what a command said (stderr): its bad-file warnings."""
    lines = err.strip().splitlines()[-n:]
    assert all(line.startswith("warning: left out (") for line in lines), lines
    return {Path(line.split(": ")[2]).name for line in lines}


def test_sound_finishes_and_lists_exactly_the_five_bad_files(messy, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["sound", "--normal", str(messy / "normal"), "--something-else", str(messy / "something_else")]
    argv += ["--anomalies", str(messy / "anomalies"), "--anr", "-10", "--costs", "re", "bu", *SOUND, "--out", str(out)]
    assert main(argv) == 0
    bad = _bad(out)
    assert set(bad) == set(FIVE)
    for name, reason in FIVE.items():
        assert bad[name]["role"] == "normal" and bad[name]["reason"].startswith(reason), bad[name]
    assert "too short: 0.500 s, expected at least 3 s (one 3-s training segment)" == bad["short.wav"]["reason"]
    assert "abnormal_003.wav" in (out / "summary.md").read_text()
    assert _said_last(capsys.readouterr().err, 5) == set(FIVE)  # the last lines the user reads
    own = json.loads((out / "sound.json").read_text())  # the command's own result file says the same
    assert {Path(b["path"]).name for b in own["bad_files"]} == set(FIVE) and own["data"]["user"]["n_train"] == 9
    for run in _runs(out, "sound"):  # the 12 good clips: 9 trained on, 3 held out
        assert run["data"]["user"]["n_train"] == 9 and run["data"]["user"]["n_test_normal"] == 3


def test_np_finishes_and_lists_exactly_the_five_bad_files(messy, tmp_path, capsys):
    out = tmp_path / "out"
    argv = ["np", "--normal", str(messy / "normal"), "--other", str(messy / "other")]
    argv += ["--anomalies", str(messy / "anomalies"), *NP, "--out", str(out)]
    assert main(argv) == 0
    bad = _bad(out)
    assert set(bad) == set(FIVE)
    for name, reason in FIVE.items():
        assert bad[name]["role"] == "normal" and bad[name]["reason"].startswith(reason), bad[name]
    assert "expected at least 0.533 s" in bad["short.wav"]["reason"]
    assert _said_last(capsys.readouterr().err, 5) == set(FIVE)
    own = json.loads((out / "np.json").read_text())
    assert {Path(b["path"]).name for b in own["bad_files"]} == set(FIVE)
    (run,) = _runs(out, "np")
    d = run["data"]
    assert d["n_train_clips"] + d["n_calibration_clips"] + d["n_test_normal_clips"] == 12


# ------------------------------------------------------------------ long something-else and anomaly files


def test_long_something_else_sounds_are_excerpted(tmp_path):
    """A 14-s (and a 60-s) something-else sound in 4 x 3-s batches: a random excerpt of a third of the batch,
    labelled where it lies; `adskit sound` runs to the end (it stopped with "expected at least 2 row(s), got 0")."""
    normal, se, anom = tmp_path / "normal", tmp_path / "se", tmp_path / "anom"
    for i in range(5):
        save_audio(normal / f"clip_{i}.wav", _clip(i), SR)
    save_audio(se / "long_60s.wav", generate_something_else("pink_burst", 1, SR, 60.0), SR)
    save_audio(se / "long_14s.wav", generate_something_else("chirp", 2, SR, 14.0), SR)
    save_audio(anom / "whine_20s.wav", generate_anomaly_source("whine", 3, SR, 20.0), SR)
    cfg = FeatureConfig.preset("paper")
    builder = PaperBatchBuilder(
        sorted(normal.glob("*.wav")), [se / "long_14s.wav"], cfg, n_segments=4, device="cpu", random_state=0
    )
    X, lab, info = builder.next_with_info()
    start, stop = info["span"]
    assert stop - start == int(MAX_SOMETHING_ELSE_FRACTION * 4 * 3 * SR)  # a third of the 12-s batch
    assert 0 < lab.sum() <= 0.4 * lab.size and len(X[~lab]) >= 0.6 * lab.size
    centre = (np.flatnonzero(lab) + cfg.frames // 2) * cfg.hop_length  # labelled vectors sit on the excerpt
    assert centre.min() >= start - cfg.n_fft and centre.max() <= stop + cfg.n_fft
    assert builder.bad_files_ == []
    # a long file is read only where the excerpt lies: the same samples as the whole file read and cut
    whole = load_audio(se / "long_60s.wav", sr=SR)[0]
    builder.rng = np.random.default_rng(5)
    part = builder._read_something_else(se / "long_60s.wav", 4 * SR)
    first = int(np.random.default_rng(5).integers(0, whole.size - 4 * SR + 1))
    np.testing.assert_array_equal(part, whole[first : first + 4 * SR])
    out = tmp_path / "out"
    argv = ["sound", "--normal", str(normal), "--something-else", str(se), "--anomalies", str(anom)]
    argv += ["--anr", "-10", "--costs", "re", "bu", *SOUND, "--out", str(out)]
    assert main(argv) == 0
    runs = _runs(out, "sound")
    assert len(runs) == 2 and _summary(out)["bad_files"] == []
    for run in runs:
        (by_cost,) = run["metrics"]["user"]["fcn40-small"].values()
        assert 0.0 <= by_cost["-10"]["clip_auc"] <= 1.0 and by_cost["-10"]["n_anomalous"] > 0


def test_paper_batch_builder_lists_its_bad_files(tmp_path):
    """The Python API checks too: a NaN normal clip, a too-short one, a silent something-else sound are listed
    by name in ``bad_files_`` (they ended in "100 draws in a row were silent", blaming the something-else folder)."""
    good = [save_audio(tmp_path / f"n{i}.wav", _clip(i), SR) for i in range(2)]
    y = _clip(5)
    y[100:] = np.nan
    sf.write(tmp_path / "nan.wav", y, SR, subtype="FLOAT")
    save_audio(tmp_path / "short.wav", _clip(6, seconds=2.0), SR)
    sf.write(tmp_path / "silent_se.wav", np.zeros(SR, np.float32), SR)
    se = save_audio(tmp_path / "se.wav", generate_something_else("tone", 1, SR, 1.0), SR)
    normal = [*good, tmp_path / "nan.wav", tmp_path / "short.wav"]
    b = PaperBatchBuilder(normal, [tmp_path / "silent_se.wav", se], FeatureConfig.preset("paper"), device="cpu")
    listed = {Path(e["path"]).name: (e["role"], e["reason"].split(":")[0]) for e in b.bad_files_}
    assert listed == {
        "nan.wav": ("normal", "non-finite samples (NaN or Inf) in 51100 of 51200 frames; expected finite audio"),
        "short.wav": ("normal", "too short"),
        "silent_se.wav": ("something_else", "silent"),
    }
    assert {p for p, _, _ in b.segments} == set(good) and b.something_else == [se]
    with pytest.raises(ValueError, match=r"something_else_paths: .*silent_se\.wav: silent"):
        PaperBatchBuilder(good, [tmp_path / "silent_se.wav"], FeatureConfig.preset("paper"), device="cpu")


# ------------------------------------------------------------------ labelled test files: names and audio


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """Normal training clips, and a test folder of DCASE 2020 and 2021+ names, MIMII's word, no label word,
    a NaN file and a 0.1-s file."""
    root = tmp_path_factory.mktemp("labelled")
    for i in range(5):
        save_audio(root / "train" / f"clip_{i}.wav", _clip(i), SR)
    test = root / "test"
    for i in range(2):
        save_audio(test / f"normal_id_00_{i:08d}.wav", _clip(10 + i), SR)
        save_audio(test / f"anomaly_id_00_{i:08d}.wav", _clip(20 + i, label="anomaly"), SR)
    save_audio(test / "abnormal_000.wav", _clip(30, label="anomaly"), SR)
    save_audio(test / "pump_ok_000.wav", _clip(31), SR)
    save_audio(test / "section_00_source_test_normal_0000_noAttribute.wav", _clip(32), SR)
    save_audio(test / "section_00_source_test_anomaly_0000_noAttribute.wav", _clip(33, label="anomaly"), SR)
    y = _clip(34)
    y[100:110] = np.nan
    sf.write(test / "normal_id_00_00000007.wav", y, SR, subtype="FLOAT")
    save_audio(test / "anomaly_id_00_00000099.wav", _clip(35, label="anomaly")[:1600], SR)  # 0.1 s
    _sounds(root / "se")
    return root


LABELLED_BAD = {
    "pump_ok_000.wav": "no label in its name",
    "normal_id_00_00000007.wav": "non-finite samples",
    "anomaly_id_00_00000099.wav": "too short: 0.100 s gives 7 frame(s)",
}


@pytest.mark.parametrize("command", ["sound", "np"])
def test_labelled_test_files_are_evaluated_or_listed(labelled, tmp_path, command):
    """Every test file is evaluated (3 normal, 4 anomalous: abnormal_* and DCASE 2021+ names read by the one
    label reader) or listed with its reason before training (no label word, NaN samples, 0.1 s)."""
    out = tmp_path / "out"
    folders = ["--normal", str(labelled / "train"), "--test", str(labelled / "test")]
    if command == "sound":
        argv = ["sound", *folders, "--something-else", str(labelled / "se"), "--costs", "re", *SOUND]
    else:
        argv = ["np", *folders, "--other", str(labelled / "se"), *NP]
    assert main([*argv, "--out", str(out)]) == 0
    bad = _bad(out)
    assert set(bad) == set(LABELLED_BAD)
    for name, reason in LABELLED_BAD.items():
        assert bad[name]["role"] == "test" and bad[name]["reason"].startswith(reason), bad[name]
    (run,) = _runs(out, command)
    if command == "sound":
        m = run["metrics"]["user"]["fcn40-small"]["re"]["test"]
        assert (m["n_normal"], m["n_anomalous"]) == (3, 4)
    else:
        assert run["data"]["n_test_clips"] == 7
        assert any(r["condition"] == "test clips" and r["metric"] == "auc" for r in run["records"])


# ------------------------------------------------------------------ a --normal folder holding test and anomalous files


@pytest.fixture(scope="module")
def machine_folder(tmp_path_factory):
    """A DCASE 2020 machine folder given whole as --normal: fan/train (6 normal), fan/test (3 normal, 3 anomaly)."""
    root = tmp_path_factory.mktemp("dcase")
    fan = root / "fan"
    for i in range(6):
        save_audio(fan / "train" / f"normal_id_00_{i:08d}.wav", _clip(i), SR)
    for i in range(3):
        save_audio(fan / "test" / f"normal_id_00_{i:08d}.wav", _clip(10 + i), SR)
        save_audio(fan / "test" / f"anomaly_id_00_{i:08d}.wav", _clip(20 + i, label="anomaly"), SR)
    _sounds(root / "se")
    _anomalies(root / "anom")
    return root


@pytest.mark.parametrize("command", ["sound", "np"])
def test_test_and_anomalous_files_in_the_normal_folder_are_listed_not_trained_on(machine_folder, tmp_path, command):
    """`--normal fan` (train/ and test/ inside): only the 6 train/ clips are normal clips; the 6 test/ files are
    listed (anomaly_* as named anomalous, the others as test files), never trained on nor scored as normal."""
    fan, out = machine_folder / "fan", tmp_path / "out"
    if command == "sound":  # the test folder given as --test too: its 6 files are evaluated as labelled
        argv = ["sound", "--normal", str(fan), "--test", str(fan / "test"), "--something-else"]
        argv += [str(machine_folder / "se"), "--costs", "re", *SOUND]
    else:  # anomalies mixed into held-out clips: the held-out clips come from train/ only
        argv = ["np", "--normal", str(fan), "--other", str(machine_folder / "se")]
        argv += ["--anomalies", str(machine_folder / "anom"), *NP]
    assert main([*argv, "--out", str(out)]) == 0
    bad = _summary(out)["bad_files"]
    assert sorted(Path(b["path"]).relative_to(fan).as_posix() for b in bad) == sorted(
        f"test/{lab}_id_00_{i:08d}.wav" for lab in ("normal", "anomaly") for i in range(3)
    )
    for b in bad:
        assert b["role"] == "normal"
        want = "named as anomalous" if Path(b["path"]).name.startswith("anomaly") else "in a test folder"
        assert b["reason"].startswith(want), b
    (run,) = _runs(out, command)
    if command == "sound":
        assert run["data"]["user"]["n_train"] == 6
        m = run["metrics"]["user"]["fcn40-small"]["re"]["test"]
        assert (m["n_normal"], m["n_anomalous"]) == (3, 3)
    else:
        d = run["data"]
        assert d["n_train_clips"] + d["n_calibration_clips"] + d["n_test_normal_clips"] == 6


# ------------------------------------------------------------------ formats: every file read or named


def test_every_format_libsndfile_reads_is_used_and_the_others_are_named(tmp_path, capsys):
    """MP3 and AIFF are read like WAV (libsndfile reads them); an .m4a (no libsndfile codec) is listed with advice,
    never dropped without a word; a folder of such files only says what it found (fresh-user trial of issue 11)."""
    from adskit.audio.io import AUDIO_EXTENSIONS, list_audio_files, no_audio_message

    normal = tmp_path / "normal"
    for i in range(3):
        save_audio(normal / f"clip_{i}.wav", _clip(i), SR)
    formats = {".aiff": "AIFF"} | ({".mp3": "MP3"} if ".mp3" in AUDIO_EXTENSIONS else {})
    for i, (ext, fmt) in enumerate(formats.items()):
        sf.write(normal / f"other_{i}{ext}", _clip(10 + i), SR, format=fmt)
    (normal / "phone.m4a").write_bytes(b"\x00\x00\x00 ftypM4A not decodable here")
    assert {p.suffix for p in list_audio_files(normal)} == {".wav", *formats}
    out = tmp_path / "out"
    argv = ["sound", "--normal", str(normal), "--anomalies", str(_anomalies(tmp_path / "anom")), "--anr", "-10"]
    argv += ["--costs", "re", *SOUND, "--out", str(out)]
    assert main(argv) == 0
    bad = _bad(out)
    assert set(bad) == {"phone.m4a"} and "cannot read (.m4a); convert it to WAV or FLAC" in bad["phone.m4a"]["reason"]
    (run,) = _runs(out, "sound")
    assert run["data"]["user"]["n_train"] + run["data"]["user"]["n_test_normal"] == 3 + len(formats)
    assert "phone.m4a" in capsys.readouterr().err.strip().splitlines()[-1]
    only = tmp_path / "only_m4a"
    only.mkdir()
    for i in range(2):
        (only / f"rec_{i}.m4a").write_bytes(b"x")
    msg = no_audio_message(only, "normal_dir")
    assert (
        msg.startswith(f"normal_dir: no audio file found in {only} (looked for .wav, .flac") and "found 2 .m4a" in msg
    )
    capsys.readouterr()
    argv = ["sound", "--normal", str(only), "--anomalies", str(tmp_path / "anom"), "--costs", "re", *SOUND]
    assert main([*argv, "--out", str(tmp_path / "out2")]) in (1, 2)  # refused (the run fails: nothing to train on)
    assert "found 2 .m4a" in capsys.readouterr().err
