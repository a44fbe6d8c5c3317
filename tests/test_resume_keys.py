"""Nothing silently reused: a run's result folder is keyed by its data (file list, sizes, times, content hashes).

Issue 11, fault 1 (case 01) as a kind: a data folder whose files were added, removed, renamed or replaced gets a
new result folder, and the old one is kept untouched; unchanged data is skipped as before.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import numpy as np
import pytest
import torch

from adskit.audio import make_dataset
from adskit.audio.io import save_audio
from adskit.audio.synth import generate_anomaly_source, generate_clip
from adskit.cli import main
from adskit.experiments.fingerprints import EDGE_BYTES, data_fingerprints, folder_fingerprint
from adskit.experiments.neyman_pearson import NPConfig, plan_np
from adskit.experiments.runs import data_changes, execute_run, run_folder
from adskit.experiments.sound import SoundConfig, plan_sound

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 16000


def _machine(folder, machine, n, seed):
    for i in range(n):
        y, _ = generate_clip(machine, "normal", rng=seed + i, sr=SR, duration=3.2, rare=False)
        save_audio(folder / f"clip_{i:02d}.wav", y, SR)


def _folders(root):
    """Normal clips (pump), and isolated anomalies: the smallest user data `adskit sound --costs re` reads."""
    normal, anom = root / "normal", root / "anomalies"
    _machine(normal, "pump", 5, 0)
    for i, kind in enumerate(("knock", "whine")):
        save_audio(anom / f"an_{i}.wav", generate_anomaly_source(kind, 200 + i, SR, 0.6), SR)
    return normal, anom


def _replace_keeping_size_and_time(path, data: bytes) -> None:
    """Overwrite ``path`` with other bytes of the same length and put its modification time back (as ``cp -p``)."""
    st = path.stat()
    assert len(data) == st.st_size
    path.write_bytes(data)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_folder_fingerprint_sees_every_kind_of_change(tmp_path):
    d = tmp_path / "normal"
    _machine(d, "fan", 3, 0)
    big = d / "sub" / "long.wav"  # longer than 2 MiB: hashed at both ends only
    save_audio(big, 0.1 * np.random.default_rng(0).standard_normal(3 * EDGE_BYTES // 2), SR)
    fp0 = folder_fingerprint(d)
    assert fp0["files"] == 4 and fp0["bytes"] == sum(p.stat().st_size for p in d.rglob("*.wav"))
    assert folder_fingerprint(d) == fp0  # unchanged: the same key

    (d / ".DS_Store").write_bytes(b"x")  # files the readers never read do not count
    (d / "notes.txt").write_text("recorded on Monday")
    assert folder_fingerprint(d)["sha256"] == fp0["sha256"]

    keys = {fp0["sha256"]}
    extra = d / "clip_99.wav"
    shutil.copy2(d / "clip_00.wav", extra)  # added (a duplicate of an existing clip)
    keys.add(folder_fingerprint(d)["sha256"])
    extra.unlink()  # removed again: the key comes back
    assert folder_fingerprint(d)["sha256"] == fp0["sha256"]

    (d / "clip_02.wav").rename(d / "clip_03.wav")  # renamed
    keys.add(folder_fingerprint(d)["sha256"])
    (d / "clip_03.wav").rename(d / "clip_02.wav")

    a, b = (d / "clip_00.wav").read_bytes(), (d / "clip_01.wav").read_bytes()
    _replace_keeping_size_and_time(d / "clip_00.wav", b)  # replaced by another recording, size and time kept
    keys.add(folder_fingerprint(d)["sha256"])
    _replace_keeping_size_and_time(d / "clip_00.wav", a)
    assert folder_fingerprint(d)["sha256"] == fp0["sha256"]

    raw = bytearray(big.read_bytes())  # an edit in the middle of a long file, same size: its time changes
    raw[len(raw) // 2] ^= 0xFF
    big.write_bytes(bytes(raw))
    os.utime(big, ns=(big.stat().st_atime_ns, big.stat().st_mtime_ns + 1_000_000_000))
    keys.add(folder_fingerprint(d)["sha256"])
    assert len(keys) == 5  # every change above gave a key of its own

    with pytest.raises(FileNotFoundError, match="^normal_dir: .* is not a folder"):
        data_fingerprints({"normal_dir": tmp_path / "missing"})


def test_plans_key_runs_by_the_data(tmp_path):
    normal, anom = _folders(tmp_path)
    cfg = SoundConfig.quick(
        normal_dir=str(normal), anomalies_dir=str(anom), models=("fcn40-small",), costs=("re",), device="cpu"
    )
    before = [r.key for r in plan_sound(cfg, [0, 1])]
    assert [r.key for r in plan_sound(cfg, [0, 1])] == before
    clip = normal / "clip_00.wav"
    orig = clip.read_bytes()
    _replace_keeping_size_and_time(clip, (normal / "clip_01.wav").read_bytes())
    after = plan_sound(cfg, [0, 1])
    assert not set(r.key for r in after) & set(before)  # same folder path, other contents: other folders
    assert after[0].data["normal_dir"]["path"] == str(normal) and set(after[0].data) == {"normal_dir", "anomalies_dir"}
    _replace_keeping_size_and_time(clip, orig)
    assert [r.key for r in plan_sound(cfg, [0, 1])] == before

    other = tmp_path / "other"
    _machine(other, "fan", 2, 50)
    np_cfg = NPConfig.quick(normal_dir=str(normal), other_dir=str(other), anomalies_dir=str(anom), device="cpu")
    np_before = {r.key for r in plan_np(np_cfg, [0])}
    _machine(other, "fan", 3, 50)  # one more clip of O
    np_after = plan_np(np_cfg, [0])
    assert not {r.key for r in np_after} & np_before and np_after[0].data["other_dir"]["files"] == 3

    synth = tmp_path / "synth"  # a synthetic data set is keyed by its manifest
    make_dataset(synth, machines=("fan",), n_train=1, n_test_normal=1, n_test_anomaly=0, duration=1.0, progress=False)
    runs = plan_sound(SoundConfig.quick(data_dir=str(synth), models=("fcn40-small",), costs=("re",)), [0])
    assert runs[0].data["data_dir"]["kind"] == "manifest" and runs[0].data["data_dir"]["files"] > 0


def _scaler_mean(folder):
    (ck,) = (folder / "models").glob("*.pt")
    return _scaler_mean_of(ck)


def _scaler_mean_of(checkpoint):
    return torch.load(checkpoint, weights_only=True)["scaler"]["mean"].numpy()


def test_changed_folder_trains_anew_and_keeps_the_old_result(tmp_path, capsys):
    """`adskit sound` into the same --out with the same --normal path: skipped while the files are the same,
    a new run folder (and a message) once they change; the old folder is byte for byte untouched."""
    normal, anom = _folders(tmp_path)
    out = tmp_path / "out"
    argv = ["sound", "--normal", str(normal), "--anomalies", str(anom), "--anr", "-10", "--costs", "re"]
    argv += ["--models", "fcn40-small", "--n-updates", "3", "--out", str(out), "--device", "cpu"]
    argv += ["--no-progress", "--seeds", "0", "--workers", "0"]
    assert main(argv) == 0
    (old,) = (out / "runs" / "sound").iterdir()
    old_files = {p: p.read_bytes() for p in old.rglob("*") if p.is_file()}
    capsys.readouterr()

    assert main(argv) == 0  # unchanged data: skipped
    assert "0 executed, 1 already complete" in capsys.readouterr().err

    _machine(normal, "fan", 5, 100)  # the same folder now holds another machine's clips (same names)
    assert main(argv) == 0
    printed = capsys.readouterr().err
    folders = sorted((out / "runs" / "sound").iterdir())
    (new,) = [f for f in folders if f != old]
    assert f"data in {normal} (normal_dir: 5 files, 0.5 MB, other contents or modification times)" in printed
    assert f"changed since run {old.name}: training anew in {new.name}" in printed
    assert "1 executed, 0 already complete" in printed
    assert "left out of the report: 1 earlier run(s) of the same cells with other settings or data" in printed
    assert {p: p.read_bytes() for p in old.rglob("*") if p.is_file()} == old_files  # the old result untouched
    assert not np.allclose(_scaler_mean(new), _scaler_mean(old))  # a model of the new data, not the old one
    summary = json.loads((out / "summary.json").read_text())
    assert summary["runs"] == 1  # the report is of the new data only (the old run stays in its folder)
    (published,) = (out / "models").glob("*.pt")  # the top-level models are the new data's, not the old
    assert published.name == f"{new.name}.pt" and np.allclose(_scaler_mean_of(published), _scaler_mean(new))
    assert json.loads((out / "sound.json").read_text())["models"] == {new.name: [str(published)]}
    fps = [json.loads((f / "run.json").read_text())["data_fingerprints"]["normal_dir"] for f in (old, new)]
    assert fps[0]["files"] == fps[1]["files"] == 5 and fps[0]["sha256"] != fps[1]["sha256"]  # what each was fed


def test_a_run_refuses_data_that_changed_after_planning(tmp_path):
    normal, anom = _folders(tmp_path)
    cfg = SoundConfig.quick(
        normal_dir=str(normal), anomalies_dir=str(anom), models=("fcn40-small",), costs=("re",), device="cpu"
    )
    (run,) = plan_sound(cfg, [0])
    (normal / "clip_04.wav").unlink()  # e.g. while the sweep waited for a worker
    with pytest.raises(ValueError, match=rf"data changed after the run was planned \(normal_dir {normal}: 5 files"):
        execute_run(run, tmp_path / "out")
    assert not (tmp_path / "out" / "runs").exists()  # nothing started, no folder made


@pytest.mark.skipif(torch.cuda.is_available(), reason="interrupts a run by asking for a CUDA device it lacks")
def test_an_interrupted_run_of_other_data_is_named_and_kept(tmp_path):
    """A partial folder (a run that stopped) of the same settings but other data is never resumed: it is named."""
    normal, anom = _folders(tmp_path)
    kw = dict(normal_dir=str(normal), anomalies_dir=str(anom), models=("fcn40-small",), costs=("re",))
    (run,) = plan_sound(SoundConfig.quick(**kw, device="cuda"), [0])
    with pytest.raises(ValueError, match="cuda"):  # stops after its partial folder was made
        execute_run(run, tmp_path)
    partial = run_folder(tmp_path, run).parent / f".{run.key}.partial"
    assert json.loads((partial / "plan.json").read_text())["data_fingerprints"] == run.data
    _machine(normal, "fan", 1, 100)  # clip_00 replaced
    (new,) = plan_sound(SoundConfig.quick(**kw, device="cpu"), [0])
    (line,) = data_changes(tmp_path, [new])
    assert line.startswith(f"data in {normal} (normal_dir: 5 files")
    assert line.endswith(
        f"changed since the interrupted run {partial.name}: training anew in {new.key}; the old folder is kept"
    )


def test_python_checkpoint_folder_is_keyed_by_data(tmp_path):
    """`run_sound(checkpoint_dir=D)` reused for another machine's clips: a new checkpoint, not a resume of the
    first machine's model (the case-01 kind, through the Python API)."""
    from adskit.experiments.sound import run_sound

    normal, anom = _folders(tmp_path)
    ckdir = tmp_path / "checkpoints"
    kw = dict(anomalies_dir=str(anom), models=("fcn40-small",), costs=("re",), device="cpu", seed=0)
    cfg = SoundConfig.quick(normal_dir=str(normal), n_updates=3, anr_db=(-10.0,), **kw)
    run_sound(cfg, progress=False, checkpoint_dir=ckdir)
    (first,) = ckdir.glob("*.pt")
    other = tmp_path / "other_machine"
    _machine(other, "fan", 5, 100)
    run_sound(dataclasses.replace(cfg, normal_dir=str(other)), progress=False, checkpoint_dir=ckdir)
    second = sorted(set(ckdir.glob("*.pt")) - {first})
    assert len(second) == 1  # trained anew beside the first, which is kept
    assert not np.allclose(_scaler_mean_of(second[0]), _scaler_mean_of(first))
