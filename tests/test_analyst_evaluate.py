"""Sections and ``adskit evaluate`` (issue 13, deliverables 3-4) on a DCASE-layout folder of 3 synthetic machine ids.

``fan/train/normal_id_0X_*.wav`` (12 clips per id) and ``fan/test/{normal,anomaly}_id_0X_*.wav`` (8 + 8 per id),
1-s clips at 16 kHz; ids 00, 01, 02 are the generator's fan, pump and gearbox, so each id sounds different and
the other ids are "other machines". A corrupt file and an unlabelled file sit in the test folder. One per-section
BU model (60 updates each, the other sections as something-else sounds) is trained once through the CLI.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
from scipy import stats
from sklearn.metrics import roc_auc_score

from adskit.audio.io import save_audio
from adskit.audio.synth import generate_clip
from adskit.cli import main
from adskit.experiments.analyst import fit_model
from adskit.experiments.analyst_evaluate import _metrics, evaluate_model
from adskit.experiments.analyst_model import DETECTOR_FILE, MODEL_FILE, SCORER_FILE, load_model, load_models
from adskit.experiments.analyst_score import recording_scores, score_files

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 16000
IDS = {"id_00": "fan", "id_01": "pump", "id_02": "gearbox"}
TINY = {"hidden": (32, 32), "latent_dim": 4, "n_updates": 60, "batch_size": 128}


def _clip(rng, sound, label="normal"):
    anr = 0.0 if label == "anomaly" else None
    y, _ = generate_clip(sound, label, rng=rng, sr=SR, duration=1.0, rare=False, anr_db=anr)
    return y


@pytest.fixture(scope="module")
def dcase(tmp_path_factory):
    import torch

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("dcase")
    rng = np.random.default_rng(0)
    for sec, sound in IDS.items():
        for k in range(12):
            save_audio(root / "fan" / "train" / f"normal_{sec}_{k:08d}.wav", _clip(rng, sound), SR)
        for k in range(8):
            for label in ("normal", "anomaly"):
                save_audio(root / "fan" / "test" / f"{label}_{sec}_{k:08d}.wav", _clip(rng, sound, label), SR)
    test = root / "fan" / "test"
    (test / "anomaly_id_00_99999999.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEnot really audio")
    save_audio(test / "recording.wav", _clip(rng, "fan"), SR)  # no label in its name
    model = root / "model"
    rc = main(["fit", "--normal", str(root / "fan" / "train"), "--per-section", "--cost", "bu", "--other-sections",
               "--n-updates", "60", "--device", "cpu", "--no-progress", "--out", str(model)])  # fmt: skip
    assert rc == 0
    return {"root": root, "train": root / "fan" / "train", "test": test, "model": model}


def _rows(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh))


def test_fit_per_section_trains_one_model_per_id(dcase):
    info = json.loads((dcase["model"] / MODEL_FILE).read_text())
    assert info["training"] == "per_section"
    assert [e["section"] for e in info["models"]] == list(IDS)
    for e in info["models"]:
        assert e["detector"] == f"{e['section']}/{DETECTOR_FILE}" and (dcase["model"] / e["detector"]).is_file()
        train = {f["path"] for f in e["data"]["train"] + e["data"]["calibration"]}
        assert len(train) == 12 and all(f"normal_{e['section']}_" in p for p in train)  # its own clips only
        assert len(e["calibration"]["clip_scores"]) == 3
        other = e["data"]["something_else"]
        assert other["source"] == "other_sections" and other["sections"] == [s for s in IDS if s != e["section"]]
        assert other["files"] == 2 * 9  # the other two sections' training clips
    models = load_models(dcase["model"])
    assert list(models) == list(IDS)
    assert models["id_01"].detector.mean_.tolist() != models["id_02"].detector.mean_.tolist()  # own scalers


def test_evaluate_prints_the_per_id_table_with_both_means(dcase, tmp_path, capsys):
    out = tmp_path / "eval"
    rc = main(["evaluate", str(dcase["model"]), str(dcase["test"]), "--rho", "0.3", "--out", str(out),
               "--no-progress"])  # fmt: skip
    assert rc == 0
    std = capsys.readouterr()
    for sec in IDS:
        assert f"| fan | {sec} | 8 | 8 |" in std.out  # the corrupt anomaly of id_00 is not counted
    assert "**arithmetic mean** (3 sections)" in std.out and "**harmonic mean** (3 sections)" in std.out
    assert "per_section (3 model(s))" in std.out and "other_sections" in std.out
    table = _rows(out / "evaluate.csv")
    secs = [r for r in table if r["section"] in IDS]
    assert [r["section"] for r in table] == [*IDS, "arithmetic mean", "harmonic mean"]
    aucs, paucs = [float(r["auc"]) for r in secs], [float(r["pauc"]) for r in secs]
    mean, hmean = table[3], table[4]
    assert float(mean["auc"]) == pytest.approx(np.mean(aucs)) and float(mean["pauc"]) == pytest.approx(np.mean(paucs))
    assert float(hmean["auc"]) == pytest.approx(stats.hmean(aucs)) and float(hmean["pauc"]) == pytest.approx(
        stats.hmean(paucs)
    )
    assert np.mean(aucs) > 0.6  # a floor: 60 updates on 9 clips tell 0-dB anomalies apart
    assert (out / "evaluate.json").is_file() and not list(out.glob(".*tmp"))


def test_pauc_and_auc_are_scikit_learns_per_section(dcase):
    report = evaluate_model(dcase["model"], dcase["test"], rho=0.3, progress=False)
    for sec in IDS:
        files = [f for f in report.files if f["section"] == sec and f["score"] is not None]
        assert all(f["model"] == sec for f in files)  # each file scored by its section's model
        y, s = [f["label"] for f in files], [f["score"] for f in files]
        row = next(r for r in report.table if r["section"] == sec)
        assert row["pauc"] == roc_auc_score(y, s, max_fpr=0.1) and row["auc"] == roc_auc_score(y, s)
    assert report.max_fpr == 0.1


def test_false_alarm_interval_is_clopper_pearson_and_holds_the_realised_rate(dcase):
    report = evaluate_model(dcase["model"], dcase["test"], rho=0.3, progress=False)
    assert [t["model"] for t in report.thresholds] == list(IDS)
    for t in report.thresholds:
        m = load_model(dcase["model"], t["model"])
        assert t["threshold"] == m.threshold(0.3).threshold_ and t["n_calibration"] == 3
        normal = [f for f in report.files if f["model"] == t["model"] and f["label"] == 0 and f["score"] is not None]
        k, n = sum(f["score"] > t["threshold"] for f in normal), len(normal)
        assert (t["false_alarms"], t["n_normal_scored"]) == (k, n) and t["fa_rate"] == pytest.approx(k / n)
        lo = stats.beta.ppf(0.025, k, n - k + 1) if k else 0.0  # Clopper-Pearson from beta quantiles
        hi = stats.beta.ppf(0.975, k + 1, n - k) if k < n else 1.0
        assert (t["fa_ci_low"], t["fa_ci_high"]) == pytest.approx((lo, hi))
        assert t["fa_ci_low"] <= t["fa_rate"] <= t["fa_ci_high"]
        assert t["expected_fpr"] == pytest.approx(1 / 4)  # k = max(floor(0.3 x 3), 1) = 1 of K + 1 = 4
        assert t["expected_in_interval"] == (lo <= 0.25 <= hi)


def test_bad_and_unlabelled_files_are_listed_never_a_stop(dcase, tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["evaluate", str(dcase["model"]), str(dcase["test"]), "--out", str(out), "--no-progress"]) == 0
    std = capsys.readouterr()
    files = {r["path"].rsplit("/", 1)[-1]: r for r in _rows(out / "evaluate_files.csv")}
    assert len(files) == 48 + 2
    assert "not a readable audio file" in files["anomaly_id_00_99999999.wav"]["error"]
    assert files["anomaly_id_00_99999999.wav"]["score"] == ""
    assert "no label in its name" in files["recording.wav"]["error"] and files["recording.wav"]["label"] == ""
    assert "anomaly_id_00_99999999.wav" in std.out and "recording.wav" in std.out  # the table's list
    assert std.err.count("warning: left out (test)") == 2
    bad = json.loads((out / "evaluate.json").read_text())["bad_files"]
    assert {b["path"].rsplit("/", 1)[-1] for b in bad} == {"anomaly_id_00_99999999.wav", "recording.wav"}
    id00 = next(r for r in _rows(out / "evaluate.csv") if r["section"] == "id_00")
    assert (id00["n_normal"], id00["n_anomalous"]) == ("8", "8")


def test_evaluate_on_a_folder_without_labels_is_a_clear_error(dcase, tmp_path, capsys):
    """Every file readable and none labelled (an analyst pointing evaluate at new recordings): exit 2, say why."""
    folder = tmp_path / "new"
    folder.mkdir()
    for k, src in enumerate(sorted(dcase["test"].glob("normal_id_00_*.wav"))[:2]):
        (folder / f"recording_{k}.wav").write_bytes(src.read_bytes())
    assert main(["evaluate", str(dcase["model"]), str(folder), "--out", str(tmp_path / "e"), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert "none of the 2 audio file(s)" in err and "adskit score" in err


def test_score_picks_each_files_section_model_and_says_when_none(dcase, tmp_path):
    new = tmp_path / "new"
    new.mkdir()
    rng = np.random.default_rng(7)
    for name, sound in (("normal_id_01_00000000.wav", "pump"), ("normal_id_07_00000000.wav", "fan"),
                        ("machine.wav", "fan")):  # fmt: skip
        save_audio(new / name, _clip(rng, sound), SR)
    report = score_files(dcase["model"], [new], tmp_path / "s.csv", rho=0.3, progress=False)
    rows = {r["path"].rsplit("/", 1)[-1]: r for r in report.rows}
    assert rows["normal_id_01_00000000.wav"]["section"] == "id_01" and rows["normal_id_01_00000000.wav"]["score"]
    assert "no model for its section id_07" in rows["normal_id_07_00000000.wav"]["error"]
    assert "no section or id in its name" in rows["machine.wav"]["error"]
    assert report.threshold is None and "3 section models" in report.summary()
    assert any("sections without a model" in w for w in report.warnings)


def test_pooled_default_and_option_checks(dcase, tmp_path):
    pooled = fit_model(dcase["train"], tmp_path / "pooled", seed=0, device="cpu", progress=False,
                       detector_overrides=TINY)  # fmt: skip
    info = json.loads((pooled / MODEL_FILE).read_text())
    assert info["training"] == "pooled" and [e["section"] for e in info["models"]] == [None]
    assert len(info["models"][0]["data"]["train"]) + len(info["models"][0]["calibration"]["clip_scores"]) == 36
    report = evaluate_model(pooled, dcase["test"], rho=0.3, progress=False)
    assert [t["model"] for t in report.thresholds] == [None] and report.thresholds[0]["n_normal_scored"] == 24
    assert [r["section"] for r in report.table] == [*IDS, "arithmetic mean", "harmonic mean"]
    flat = tmp_path / "flat"  # a labels CSV instead of DCASE names
    flat.mkdir()
    for i, name in enumerate(["normal_id_02_00000000.wav", "anomaly_id_02_00000000.wav"] * 2):
        (flat / f"rec{i}.wav").write_bytes((dcase["test"] / name.replace("0000.", f"000{i // 2}.")).read_bytes())
    (flat / "labels.csv").write_text("file,label\nrec0.wav,normal\nrec1.wav,anomaly\nrec2.wav,0\nrec3.wav,1\n")
    report = evaluate_model(pooled, flat, labels=flat / "labels.csv", progress=False)
    assert [(r["section"], r["n_normal"], r["n_anomalous"]) for r in report.table[:1]] == [("-", 2, 2)]
    assert report.table[0]["auc"] is not None and not report.bad_files
    with pytest.raises(ValueError, match="needs per_section"):
        fit_model(dcase["train"], tmp_path / "x", cost="bu", other_sections=True)
    with pytest.raises(ValueError, match="RE trains on normal clips only"):
        fit_model(dcase["train"], tmp_path / "x", per_section=True, other_sections=True)


def test_force_replaces_a_per_section_model_but_never_user_files(dcase, tmp_path):
    import shutil

    out = tmp_path / "model"
    shutil.copytree(dcase["model"], out)
    (out / "id_00" / "notes.txt").write_text("mine")
    with pytest.raises(ValueError, match="did not write"):
        fit_model(dcase["train"], out, force=True, per_section=True, device="cpu", progress=False)
    (out / "id_00" / "notes.txt").unlink()
    fit_model(dcase["train"], out, force=True, device="cpu", progress=False, detector_overrides=TINY)
    assert sorted(p.name for p in out.iterdir()) == [
        DETECTOR_FILE,
        SCORER_FILE,
        MODEL_FILE,
    ]  # pooled replaced the sections


def test_evaluate_reports_both_frame_scores_under_both_clip_rules(dcase, tmp_path, capsys):
    """Deliverable 5: mse and the residual Mahalanobis, max and mean, each AUC / pAUC equal to scikit-learn's on
    clip scores computed here from the stored scorers; the model's own (mse, max) equals the main table."""
    report = evaluate_model(dcase["model"], dcase["test"], rho=0.3, out_dir=tmp_path / "e", progress=False)
    variants = {r["score"] for r in report.scores}
    assert variants == {"mse, max", "mse, mean", "mahalanobis, max", "mahalanobis, mean"}
    models = load_models(dcase["model"])
    for sec in IDS:
        own = next(r for r in report.scores if r["score"] == "mse, max" and r["section"] == sec)
        main_row = next(r for r in report.table if r["section"] == sec)
        assert (own["auc"], own["pauc"]) == (main_row["auc"], main_row["pauc"])
        files = [f for f in report.files if f["section"] == sec and f["score"] is not None]
        m = models[sec]
        assert m.mahalanobis is not None and m.scorer is m.detector  # fitted with mse, covariance stored too
        s = [float(np.mean(recording_scores(m.mahalanobis, f["path"], m.feature_config)[1])) for f in files]
        y = [f["label"] for f in files]
        row = next(r for r in report.scores if r["score"] == "mahalanobis, mean" and r["section"] == sec)
        assert row["auc"] == pytest.approx(roc_auc_score(y, s), abs=1e-12)
        assert row["pauc"] == pytest.approx(roc_auc_score(y, s, max_fpr=0.1), abs=1e-12)
    means = [r for r in report.scores if r["score"] == "mahalanobis, max" and r["section"] == "harmonic mean"]
    secs = [r["auc"] for r in report.scores if r["score"] == "mahalanobis, max" and r["section"] in IDS]
    assert means[0]["auc"] == pytest.approx(stats.hmean(secs))
    md = report.markdown()
    assert "Frame scores and clip rules compared" in md and "**mse, max** (decisions)" in md
    assert "mahalanobis, mean" in md and "refit it" not in md
    rows = _rows(tmp_path / "e" / "evaluate_scores.csv")
    assert len(rows) == 4 * (len(IDS) + 2) and {r["score"] for r in rows} == variants


def test_domain_aucs_follow_the_dcase_2022_rule():
    """AUC (source): the source normal files against every anomalous file of the section; pAUC over all files."""
    rng = np.random.default_rng(3)
    files = []
    for domain in ("source", "target"):
        for label in (0, 1):
            for _ in range(6):
                shift = 1.0 if domain == "target" else 0.0  # the target domain's normal files score higher
                files.append({"domain": domain, "label": label, "score": float(rng.normal(shift + 2 * label))})
    m = _metrics(files, "score", 0.1)
    for d in ("source", "target"):
        mine = [f for f in files if f["domain"] == d or f["label"] == 1]
        assert m[f"auc_{d}"] == roc_auc_score([f["label"] for f in mine], [f["score"] for f in mine])
    y, s = [f["label"] for f in files], [f["score"] for f in files]
    assert (m["auc"], m["pauc"]) == (roc_auc_score(y, s), roc_auc_score(y, s, max_fpr=0.1))
    assert m["auc_source"] > m["auc_target"]  # the shifted domain is harder, as built
    no_domain = [{**f, "domain": "-"} for f in files]
    assert _metrics(no_domain, "score", 0.1)["auc_source"] is None


def test_evaluate_reads_dcase_2021_domains_from_the_names(dcase, tmp_path, capsys):
    """section_XX_{source,target}_test_{normal,anomaly}_*.wav: a pooled model's table gains the domain columns."""
    test = tmp_path / "fan" / "test"
    rng = np.random.default_rng(5)
    for domain in ("source", "target"):
        for label in ("normal", "anomaly"):
            for k in range(3):
                y = _clip(rng, "fan", label)
                save_audio(test / f"section_00_{domain}_test_{label}_{k:04d}.wav", y, SR)
    pooled = fit_model(dcase["train"], tmp_path / "pooled", seed=0, device="cpu", progress=False,
                       detector_overrides=TINY)  # fmt: skip
    assert main(["evaluate", str(pooled), str(test), "--out", str(tmp_path / "e"), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| AUC source | AUC target |" in out
    row = next(r for r in _rows(tmp_path / "e" / "evaluate.csv") if r["section"] == "section_00")
    assert row["auc_source"] and row["auc_target"] and (row["n_normal"], row["n_anomalous"]) == ("6", "6")
    files = _rows(tmp_path / "e" / "evaluate_files.csv")
    assert sorted({f["domain"] for f in files}) == ["source", "target"]
