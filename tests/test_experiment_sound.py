"""The sound experiment: user folders end to end (unseen rate, stereo, a corrupt file), labelled tests, config."""

import json

import numpy as np
import pytest

from adskit.audio.features import FeatureConfig
from adskit.audio.io import save_audio
from adskit.audio.synth import generate_anomaly_source, generate_clip, generate_something_else
from adskit.cli import main
from adskit.experiments.sound import (
    SoundConfig,
    _detector,
    build_test_set,
    plot_auc_bars,
    plot_rare_normal,
    run_sound,
    sound_figures,
)
from adskit.experiments.sound_data import load_example, save_example

pytestmark = pytest.mark.usefixtures("one_thread")

SR = 44100


def _stereo(y):
    return np.stack([y, 0.9 * y], axis=1)


def _user_folders(root, n_normal=8, test_names=False):
    """44.1 kHz stereo WAVs the kit has never seen, and one corrupt file among the normal clips."""
    normal, other, anom = root / "normal", root / "something_else", root / "anomalies"
    for i in range(n_normal):
        y, _ = generate_clip("pump", "normal", rng=i, sr=SR, duration=3.2, rare=False)
        save_audio(normal / f"machine_a_{i:02d}.wav", _stereo(y), SR)
    (normal / "broken_07.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage, not audio")
    for i, kind in enumerate(("pink_burst", "clicks", "chirp", "tone")):
        save_audio(other / f"se_{i}.wav", _stereo(generate_something_else(kind, 100 + i, SR, 0.5)), SR)
    for i, kind in enumerate(("knock", "whine", "rub")):
        save_audio(anom / f"an_{i}.wav", _stereo(generate_anomaly_source(kind, 200 + i, SR, 0.6)), SR)
    if test_names:
        test = root / "test"
        for i in range(3):
            y, _ = generate_clip("pump", "normal", rng=50 + i, sr=SR, duration=2.0)
            save_audio(test / f"normal_id_00_{i:08d}.wav", _stereo(y), SR)
            y, _ = generate_clip("pump", "anomaly", rng=60 + i, sr=SR, duration=2.0, anr_db=0.0)
            save_audio(test / f"anomaly_id_00_{i:08d}.wav", _stereo(y), SR)
    return normal, other, anom


def test_user_folders_end_to_end_reports_the_bad_file(tmp_path, capsys):
    """`adskit sound` on user folders: one run per cost, the corrupt file listed by name, a summary over seeds."""
    normal, other, anom = _user_folders(tmp_path)
    out = tmp_path / "out"
    argv = ["sound", "--normal", str(normal), "--something-else", str(other), "--anomalies", str(anom)]
    argv += ["--anr", "-10", "-20", "--models", "fcn40-small", "--n-updates", "3", "--out", str(out)]
    argv += ["--device", "cpu", "--no-progress", "--seeds", "0", "--workers", "0"]
    assert main(argv) == 0
    said = capsys.readouterr().err.strip().splitlines()
    assert said[-1].startswith("warning: left out (normal): ") and "broken_07.wav" in said[-1]  # last, seen
    assert "broken_07.wav" in (out / "summary.md").read_text()
    summary = json.loads((out / "summary.json").read_text())
    assert [b["role"] for b in summary["bad_files"]] == ["normal"] and "broken_07" in summary["bad_files"][0]["path"]
    runs = sorted((out / "runs" / "sound").glob("user-fcn40-small-*"))
    assert [r.name.split("-")[3] for r in runs] == ["BU", "RE", "SNP"]
    for r in runs:
        data = json.loads((r / "run.json").read_text())
        (cost,) = data["metrics"]["user"]["fcn40-small"]
        m = data["metrics"]["user"]["fcn40-small"][cost]
        assert set(m) == {"-10", "-20"}
        for v in m.values():
            assert 0.0 <= v["clip_auc"] <= 1.0 and 0.0 <= v["frame_auc"] <= 1.0
            assert v["n_normal"] == 2 and v["n_anomalous"] == 6  # 9 files: 7 train (1 corrupt), 2 test x 3 mixes
        assert data["data"]["user"]["n_train"] == 6
        assert len(list((r / "models").glob("*.pt"))) == 1
    cells = {(c["cost"], c["condition"], c["metric"]) for c in summary["cells"]}
    assert ("BU", "-10 dB", "clip_auc") in cells and ("RE", "-20 dB", "frame_auc") in cells
    assert {(c["a"], c["b"]) for c in summary["comparisons"]} == {("BU", "RE"), ("SNP", "RE"), ("BU", "SNP")}
    assert all(c["n_seeds"] == 1 and c["verdict"] == "no difference detected" for c in summary["comparisons"])
    for f in ("summary.md", "sound_cells.png", "sound_comparisons.png"):
        assert (out / f).stat().st_size > 500


def test_labelled_test_folder(tmp_path):
    normal, other, _ = _user_folders(tmp_path, n_normal=4, test_names=True)
    cfg = SoundConfig.quick(
        normal_dir=str(normal),
        something_else_dir=str(other),
        test_dir=str(tmp_path / "test"),
        models=("fcn40-small",),
        costs=("re", "bu"),
        n_updates=3,
        device="cpu",
        save_models=False,
    )
    res = run_sound(cfg, progress=False)
    m = res.metrics["user"]["fcn40-small"]["bu"]["test"]
    assert m["n_normal"] == 3 and m["n_anomalous"] == 3 and np.isnan(m["frame_auc"])
    assert "| user | fcn40-small | BU |" in res.table_markdown()
    fig = plot_auc_bars(res)  # a result, as notebook 03 passes it: one bar per cost
    assert len(fig.axes[0].patches) == 2 and fig.axes[0].get_xticklabels()[0].get_text() == "test"


def test_build_test_set_shares_draws_across_anrs(tmp_path):
    y, _ = generate_clip("fan", "normal", rng=0, duration=2.0)
    p = save_audio(tmp_path / "n.wav", y, 16000)
    a = save_audio(tmp_path / "a.wav", generate_anomaly_source("whine", 1, 16000, 0.5), 16000)
    clips = build_test_set([p], [a], (-10.0, -20.0), 2, 16000, seed=0)
    assert [c.label for c in clips] == [0, 1, 1, 1, 1]
    ten, twenty = clips[1:3], clips[3:5]
    assert [c.span for c in ten] == [c.span for c in twenty]
    for c10, c20 in zip(ten, twenty, strict=True):
        d10, d20 = c10.wave - y, c20.wave - y
        assert 10 * np.log10(np.sum(d10**2) / np.sum(d20**2)) == pytest.approx(10.0, abs=0.01)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"models": ("fcn32",)}, "models"),
        ({"costs": ("np",)}, "costs"),
        ({"normal_dir": "x", "something_else_dir": "y"}, "anomalies_dir/test_dir"),
        ({"anomalies_dir": "x"}, "normal_dir"),
        ({"normal_dir": "x", "anomalies_dir": "y"}, "something_else_dir"),
        ({"test_fraction": 1.0}, "test_fraction"),
        ({"C": -1.0}, "C"),
        ({"h_factor": -1.0}, "h_factor"),
        ({"n_update": 5}, "n_update: not a setting of SoundConfig"),
    ],
)
def test_bad_config_names_the_field(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SoundConfig.quick(**kwargs).validate()


def test_quick_defaults_and_the_re_max_clip():
    """The quick defaults documented in SoundConfig (1500 updates, C = 1 x the RE maximum) reach the detectors."""
    cfg = SoundConfig.quick(device="cpu")
    assert cfg.detector == {"n_updates": 1500, "c_factor": 1.0, "rho": 0.01} and cfg.train_anr == (-20.0, -10.0)
    assert cfg.n_updates == 1500 and cfg.rho == 0.01 and SoundConfig(device="cpu") == cfg
    assert SoundConfig.full().n_updates is None and SoundConfig.full().detector["c_factor"] == 1.0
    det = _detector(cfg, "fcn40-small", "snp", False, c_re=123.0)
    assert det.C == pytest.approx(123.0) and det.n_updates == 1500 and det.h_factor == 1.0 and det.lr == 1e-3
    assert _detector(SoundConfig.quick(c_factor=2.0), "fcn40-small", "bu", False, c_re=10.0).C == pytest.approx(20.0)


def _metrics(costs=("re", "snp", "bu"), anrs=("-10", "-20")):
    rng = np.random.default_rng(0)
    keys = ("clip_auc", "clip_pauc", "frame_auc")
    return {
        "fan": {"fcn40-small": {c: {a: {k: float(rng.uniform(0.5, 1)) for k in keys} for a in anrs} for c in costs}}
    }


def _example(costs=("re", "bu")):
    fcfg = FeatureConfig.preset("paper")
    rng = np.random.default_rng(1)
    spec = rng.normal(size=(60, fcfg.n_mels)).astype(np.float32)
    n_vec = spec.shape[0] - fcfg.frames + 1
    frames = {c: rng.uniform(0, 2, n_vec).astype(np.float32) for c in costs}
    phi = {c: 1.0 + 0.1 * i for i, c in enumerate(costs)}
    return dict(
        clip="n.wav",
        machine="fan",
        model="fcn40-small",
        rare=[(0.2, 0.4)],
        spec=spec,
        fcfg=fcfg,
        frames=frames,
        phi=phi,
    )


def test_figures_take_results_or_mappings():
    """The figure functions draw from plain mappings: one bar per cost and ANR, one panel per cost."""
    fig = plot_auc_bars(_metrics())
    (ax,) = fig.axes
    assert len(ax.patches) == 3 * 2 and ax.get_title() == "fan / fcn40-small"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["RE", "SNP", "BU"]
    fig = plot_rare_normal(_example())
    assert len(fig.axes) == 3 and fig.axes[1].get_ylabel().startswith("RE")
    ex = {**_example(), "fcfg": FeatureConfig.preset("paper").to_dict()}  # as stored in run.json
    assert len(plot_rare_normal(ex).axes) == 3


def test_example_round_trip_through_run_folders(tmp_path):
    """save_example (one per single-cost run) -> load_example joins the costs of the lowest seed -> the figure."""
    full = _example(("re", "bu"))
    results = []
    for seed in (3, 1):
        for cost in ("bu", "re"):
            folder = tmp_path / f"{cost}{seed}"
            folder.mkdir()
            one = {**full, "frames": {cost: full["frames"][cost]}, "phi": {cost: full["phi"][cost]}}
            stored = json.loads(json.dumps(save_example(one, folder)))
            labels = {"machine": "fan", "model": "fcn40-small", "cost": cost.upper(), "seed": seed}
            results.append({"labels": labels, "example": stored, "_folder": str(folder)})
    ex = load_example(results, ["RE", "SNP", "BU"])
    assert list(ex["frames"]) == ["re", "bu"] and ex["model"] == "fcn40-small, seed 1"
    np.testing.assert_array_equal(ex["frames"]["bu"], full["frames"]["bu"])
    assert ex["phi"] == full["phi"] and ex["fcfg"] == full["fcfg"]
    files = sound_figures(results, tmp_path)
    assert files["sound_rare"].stat().st_size > 1000
    assert sound_figures([{**r, "example": None} for r in results], tmp_path) == {}


@pytest.mark.slow
def test_quick_synthetic_run(tmp_path):
    """The quick experiment on the synthetic default: every output written, frame AUC above 0.65 at -10 dB.

    Seed check 2026-11-29 (SoundConfig.seed 0-5: data, split and detectors; 2 models x 3 costs each): frame
    AUC at -10 dB min 0.711, mean 0.770; floor 0.65 (chance 0.5). The paper's orderings are only checked to
    be reported, not to hold: over those seeds "BU >= SNP" held on 1 of 6, "SNP > RE" on none, "RE fires more
    than BU on the rare-normal process" on 3 (see SoundConfig: SNP and BU score like RE on synthetic data).
    """
    res = run_sound(SoundConfig.quick(device="cpu"), progress=False)
    plot_rare_normal(res.example).savefig(tmp_path / "rare.png")
    assert (tmp_path / "rare.png").stat().st_size > 1000
    for by_cost in res.metrics["fan"].values():
        for cost in by_cost.values():
            assert cost["-10"]["frame_auc"] > 0.65
    assert set(res.pattern()) == {
        "clip AUC: BU >= SNP everywhere",
        "clip AUC: SNP > RE everywhere",
        "rare-normal: RE fires more than BU",
    }
