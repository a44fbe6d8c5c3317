"""The interactive panels, tested as objects: set a widget's ``.value``, assert on the returned state."""

from __future__ import annotations

import gc
import sys
import warnings
import weakref

import numpy as np
import pytest

from adskit.experiments.verification import make_ring_data
from adskit.kde import BandwidthWarning, bu_weights, gram_diagnostics
from adskit.threshold import NeymanPearsonThreshold
from adskit.widgets import (
    ScoreSet,
    ThresholdExplorer,
    bandwidth_explorer,
    bandwidth_state,
    demo_scoreset,
    pairwise_sq_dists,
    pca_2d,
    scores_from_detectors,
    threshold_explorer,
    threshold_state,
)


@pytest.fixture(scope="module")
def ss() -> ScoreSet:
    return demo_scoreset(seed=0)


def _brute_counts(ss: ScoreSet, method: str, thr: float) -> dict[str, int]:
    out = {"fp_rare": 0, "fp_frequent": 0, "tp": 0}
    for frames, p in zip(ss.scores[method], ss.process, strict=True):
        if frames.max() > thr:
            out["tp" if p == "anomaly" else f"fp_{p}"] += 1
    return out


def test_threshold_state_counts_match_brute_force(ss):
    for method in ss.methods:
        for q in (0.1, 0.5, 0.9):
            thr = float(np.quantile(ss.clip_scores(method), q))
            st = threshold_state(ss, method, thr, clip=3)
            assert {k: st[k] for k in ("fp_rare", "fp_frequent", "tp")} == _brute_counts(ss, method, thr)
            assert st["n_rare"] == 10 and st["n_frequent"] == 40 and st["n_anomaly"] == 30
            assert st["fpr"] == pytest.approx((st["fp_rare"] + st["fp_frequent"]) / 50)
            assert st["tpr"] == pytest.approx(st["tp"] / 30)
            np.testing.assert_array_equal(st["highlighted"], np.flatnonzero(ss.scores[method][3] > thr))


def test_threshold_state_extremes(ss):
    st = threshold_state(ss, "RE", threshold=np.inf)
    assert st["fp"] == st["tp"] == 0 and st["fpr"] == 0.0
    st = threshold_state(ss, "RE", threshold=-np.inf)
    assert st["fp"] == 50 and st["tp"] == 30 and st["tpr"] == 1.0


def test_panel_rho_slider_refits_phi_rho_and_recounts(ss):
    panel = threshold_explorer(ss, rho=0.05)
    assert panel.state["mode"] == "rho"
    fps = []
    for rho in (0.05, 0.2, 0.4):
        panel.rho.value = rho
        st = panel.state
        assert st["rho"] == pytest.approx(rho)
        for m in ss.methods:
            expected = NeymanPearsonThreshold(rho).fit(ss.train_scores[m]).threshold_
            assert st["thresholds"][m] == pytest.approx(expected)
            assert st["methods"][m]["fp_rare"] == threshold_state(ss, m, expected)["fp_rare"]
        fps.append(sum(st["methods"][m]["fp"] for m in ss.methods))
        # the labels a browser reads show the same numbers
        for m in ss.methods:
            s = st["methods"][m]
            assert f"{m} {s['fp_rare']}/{s['fp_frequent']}" in panel.summary.value
            assert f"data-method='{m}'>{s['fp_rare']} / {s['n_rare']}<" in panel.counts.value
        assert panel.image.value[:8] == b"\x89PNG\r\n\x1a\n"
    assert fps == sorted(fps)  # a higher target rate never lowers the false alarms
    assert fps[0] < fps[-1]


def test_demo_scores_show_the_lecture_pattern(ss):
    # the demo (no training) imitates the paper: RE alarms on the rare process more than BU
    panel = threshold_explorer(ss, rho=0.1)
    per = panel.state["methods"]
    assert per["RE"]["fp_rare"] > per["BU"]["fp_rare"]
    assert "DEMO SCORES" in panel.children[0].value


def test_panel_threshold_mode_moves_one_method(ss):
    panel = threshold_explorer(ss, rho=0.05)
    before = dict(panel.state["thresholds"])
    panel.mode.value = "threshold"
    panel.method.value = "BU"
    assert panel.threshold.value == pytest.approx(before["BU"], abs=panel.threshold.step)
    lo = float(np.quantile(ss.clip_scores("BU"), 0.3))
    panel.threshold.value = lo
    st = panel.state
    assert st["thresholds"]["BU"] == pytest.approx(panel.threshold.value)
    assert st["thresholds"]["RE"] == before["RE"]
    assert st["methods"]["BU"]["fp"] == threshold_state(ss, "BU", panel.threshold.value)["fp"]
    panel.method.value = "RE"  # the slider takes RE's range and threshold
    assert panel.threshold.value == pytest.approx(before["RE"], abs=panel.threshold.step)
    assert panel.state["thresholds"]["BU"] == pytest.approx(st["thresholds"]["BU"])
    panel.mode.value = "rho"  # back to phi_rho for every method
    assert panel.state["thresholds"] == pytest.approx(before)


def test_panel_clip_selection_highlights_frames_and_loads_audio(ss):
    panel = threshold_explorer(ss, rho=0.3)
    first = panel.state["clip"]
    assert ss.process[first] == "rare"  # the panel opens on a rare-normal clip
    target = ss.process.index("anomaly")
    panel.clip.value = target
    st = panel.state
    assert st["clip"] == target and st["process"] == "anomaly"
    for m in ss.methods:
        thr = st["thresholds"][m]
        np.testing.assert_array_equal(st["methods"][m]["highlighted"], np.flatnonzero(ss.scores[m][target] > thr))
    assert panel.audio.value[:4] == b"RIFF"


def test_threshold_only_panel_without_training_scores(ss):
    bare = ScoreSet(ss.scores, ss.labels, ss.process)
    panel = threshold_explorer(bare)
    assert panel.state["mode"] == "threshold"
    assert [v for _, v in panel.mode.options] == ["threshold"]
    assert panel.audio.layout.display == "none"
    with pytest.raises(ValueError, match="train_scores"):
        threshold_explorer(bare, mode="rho")


def _far_training_scores() -> ScoreSet:
    """Scores whose training scores lie above every clip score, so that phi_rho is outside the clip-score range."""
    rng = np.random.default_rng(0)
    labels = np.r_[np.zeros(30, int), np.ones(10, int)]
    scores = {"RE": [rng.gamma(4, 0.25, size=20) + 2 * lab for lab in labels]}
    train = {"RE": 10.0 + rng.gamma(4, 0.25, size=2000)}
    return ScoreSet(scores, labels, ["frequent" if lab == 0 else "anomaly" for lab in labels], train_scores=train)


@pytest.mark.parametrize("rho", [2e-4, 0.001, 0.05, 0.7])  # below, at the edge of, inside and above the default
def test_rho_slider_shows_the_rho_its_thresholds_are_computed_for(ss, rho):
    """Case 09: rho = 0.001 was shown as 0.01 (clamped by the slider) beside thresholds fitted for 0.001."""
    panel = threshold_explorer(ss, rho=rho)
    assert panel.rho.value == rho and panel.state["rho"] == rho
    assert 10**panel.rho.min <= rho <= 10**panel.rho.max
    assert panel.state["thresholds"] == {m: ss.phi_rho(m, rho) for m in ss.methods}
    assert f"{rho:.3g}" == format(panel.rho.value, panel.rho.readout_format)  # the readout shows it too
    for bad in (0.0, 1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"^rho: .*slider"):
            threshold_explorer(ss, rho=bad)


def test_threshold_slider_shows_the_threshold_in_use():
    """phi_rho fitted on training scores above every clip score: the slider widens to it instead of clamping."""
    far = _far_training_scores()
    panel = threshold_explorer(far, rho=0.05, mode="threshold")
    phi = far.phi_rho("RE", 0.05)
    assert phi > max(far.clip_scores("RE"))
    assert panel.threshold.value == phi == panel.state["thresholds"]["RE"]
    assert panel.threshold.min <= phi <= panel.threshold.max
    panel.mode.value = "rho"
    panel.rho.value = 0.5  # phi_rho moves while the threshold slider is hidden
    panel.mode.value = "threshold"  # shown again, it shows the threshold in use, not the old one
    assert panel.threshold.value == far.phi_rho("RE", 0.5) == panel.state["thresholds"]["RE"]
    with pytest.raises(ValueError, match=r"^clip: expected a clip index in \[0, 40\), got 40"):
        threshold_explorer(far, clip=40)


def test_face_reexports_the_scores_stage_and_the_kde_names():
    """``adskit.widgets`` was one module holding the ScoreSet and a numpy KDE; its names keep working."""
    import adskit.kde
    import adskit.scores
    import adskit.widgets

    assert adskit.widgets.ScoreSet is adskit.scores.ScoreSet and demo_scoreset is adskit.scores.demo_scoreset
    assert scores_from_detectors is adskit.scores.scores_from_detectors
    assert adskit.widgets.PROCESSES == adskit.scores.PROCESSES == ("frequent", "rare", "anomaly", "unlabelled")
    assert pairwise_sq_dists is adskit.kde.pairwise_sq_dists
    assert (adskit.widgets.ESS_UNIFORM_ABOVE, adskit.widgets.ESS_COLLAPSED_BELOW) == (0.995, 0.02)
    assert all(hasattr(adskit.widgets, name) for name in adskit.widgets.__all__)


# ---- bandwidth explorer ----


@pytest.mark.parametrize("h", [0.02, 0.2, 3.0])
def test_bandwidth_state_matches_kde_oracles(h):
    """The panel computes with adskit.kde from cached distances: the same numbers, to rounding."""
    x = make_ring_data(120, 0.0, 2.0, random_state=1).astype(np.float64)
    st = bandwidth_state(pairwise_sq_dists(x), h, eps=1e-3)
    g = gram_diagnostics(x, h, eps=1e-3)
    # the same quantities by two routes (the panel's distances, the batch's own Gram): equal to rounding, not bits
    assert st["mean_offdiag"] == pytest.approx(g.mean_offdiag, rel=1e-6, abs=1e-12)
    assert st["condition_number"] == pytest.approx(g.condition_number, rel=1e-5)
    assert st["ess_fraction"] == pytest.approx(g.ess_fraction, rel=1e-6)
    assert st["weight_ratio"] == pytest.approx(g.weight_ratio, rel=1e-5)
    assert st["status"] == g.status
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        w = bu_weights(x, h, eps=1e-3)
    np.testing.assert_allclose(st["weights"], w, rtol=1e-6, atol=1e-12)
    warned = any(issubclass(r.category, BandwidthWarning) for r in rec)
    assert warned == (st["weights_status"] != "ok")
    assert not bandwidth_state(pairwise_sq_dists(x), h, condition=False)["condition_number"] > 0  # nan


def test_bandwidth_panel_sliders_move_through_the_zones():
    panel = bandwidth_explorer(make_ring_data(300, 0.0, 2.0, random_state=0))
    assert panel.state["status"] == "ok" and not panel.projected
    panel.h.value = panel.h0 / 100
    assert panel.state["status"] == "identity"
    panel.h.value = panel.h0 * 100
    assert panel.state["status"] == "ill-conditioned" and panel.state["weights_status"] == "uniform"
    assert "ill-conditioned" in panel.status.value
    panel.h.value = panel.h0
    ess_small_eps = panel.state["ess_fraction"]
    panel.eps.value = 1.0  # a large eps flattens the weights towards uniform (SNP)
    assert panel.state["ess_fraction"] > ess_small_eps
    assert panel.image.value[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("eps", [1e-12, 1e-6, 10.0])  # below, inside and above the default range 1e-9 .. 1
def test_bandwidth_sliders_show_the_values_in_use(eps):
    x = make_ring_data(60, 0.0, 2.0, random_state=0)
    panel = bandwidth_explorer(x, h=0.3, eps=eps)
    assert panel.eps.value == eps and panel.state["eps"] == eps
    assert 10**panel.eps.min <= eps <= 10**panel.eps.max
    assert panel.h.value == 0.3 and panel.state["h"] == 0.3
    np.testing.assert_array_equal(panel.state["weights"], bandwidth_state(panel.d2, 0.3, eps)["weights"])
    with pytest.raises(ValueError, match=r"^eps: .*logarithmic"):
        bandwidth_explorer(x, eps=0.0)  # was shown and used as 1e-9 without a word
    with pytest.raises(ValueError, match=r"^h: "):
        bandwidth_explorer(x, h=-1.0)


def test_bandwidth_panel_projects_feature_vectors():
    x = np.random.default_rng(0).standard_normal((600, 40))
    panel = bandwidth_explorer(x, max_points=200)
    assert panel.projected and panel.xy.shape == (200, 2) and panel.d2.shape == (200, 200)
    assert "principal components" in panel.children[0].value
    # distances are those of the full 40-D vectors, not of the projection
    np.testing.assert_allclose(panel.d2[0, 1], ((panel.x[0] - panel.x[1]) ** 2).sum(), rtol=1e-9)


def test_pca_2d_keeps_variance_order():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((300, 5)) * np.array([5.0, 1.0, 3.0, 0.1, 0.1])
    y = pca_2d(x)
    assert y.shape == (300, 2) and y[:, 0].var() > y[:, 1].var() > 0.5 * 9


def test_presentation_mode_voila_cli():
    """The lecturer's presentation mode: ``voila notebooks/04_interactive_thresholds.ipynb``."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    exe = shutil.which("voila", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("voila is not installed (the ui extra: pip install -e '.[ui]')")
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "voila" in r.stdout.lower()


# ---- life cycle: close() frees a panel, re-creating one does not keep the old one alive ----

PANEL_KINDS = {
    "threshold_explorer": lambda: threshold_explorer(demo_scoreset(seed=0), rho=0.1),
    "bandwidth_explorer": lambda: bandwidth_explorer(make_ring_data(120, 0.0, 2.0, random_state=0), h=0.2),
}


def _live_widgets() -> int:
    import ipywidgets

    gc.collect()
    return len(ipywidgets.widgets.widget._instances)


def _alive(cls: type) -> int:
    gc.collect()
    return sum(1 for o in gc.get_objects() if type(o) is cls)


class _Cell:
    """A stand-in for the ipykernel shell: ``get_parent()`` gives the execute_request of one run of a cell."""

    def __init__(self) -> None:
        self.parent: dict = {}

    def run(self, cell: str, run: str) -> None:
        self.parent = {"header": {"msg_type": "execute_request", "msg_id": run}, "metadata": {"cellId": cell}}

    def get_parent(self) -> dict:
        return self.parent


@pytest.fixture
def cell(monkeypatch) -> _Cell:
    import IPython

    fake = _Cell()
    monkeypatch.setattr(IPython, "get_ipython", lambda: fake)
    return fake


def test_every_panel_class_has_the_panel_life_cycle():
    """Every panel class of adskit.widgets (present and future) closes and releases through ``_Panel``."""
    import inspect

    import ipywidgets

    import adskit.widgets
    from adskit.widgets._panel import _Panel

    panels = [
        obj
        for mod in (adskit.widgets.thresholds, adskit.widgets.bandwidth)
        for _, obj in inspect.getmembers(mod, inspect.isclass)
        if issubclass(obj, ipywidgets.Widget) and obj.__module__.startswith("adskit.widgets")
    ]
    assert {c.__name__ for c in panels} >= {"ThresholdExplorer", "BandwidthExplorer"}
    assert all(issubclass(c, _Panel) and c.__mro__.index(_Panel) < c.__mro__.index(ipywidgets.Widget) for c in panels)


@pytest.mark.parametrize("kind", sorted(PANEL_KINDS))
def test_close_frees_every_widget_and_the_panel(kind):
    make = PANEL_KINDS[kind]
    cls = type(make())
    gc.collect()
    w0, p0 = _live_widgets(), _alive(cls)
    refs = []
    for _ in range(5):  # the cell re-run five times, the old panel closed first
        panel = make()
        panel._repr_mimebundle_()  # displayed: registered with ipywidgets
        assert _live_widgets() > w0 and panel.comm is not None
        assert panel.image.value[:8] == b"\x89PNG\r\n\x1a\n"
        panel.close()
        assert panel.image.value == b"" and panel._fig is None
        assert all(w.comm is None for w in (panel.image, panel.layout, panel.children[1].layout))
        panel.close()  # twice: harmless
        refs.append(weakref.ref(panel))
        del panel
    assert _live_widgets() == w0
    assert _alive(cls) == p0 and [r() for r in refs] == [None] * 5


def test_closed_panel_keeps_its_state_and_is_inert(ss):
    panel = threshold_explorer(ss, rho=0.1)
    state = panel.state
    panel.close()
    panel.rho.value = 0.3  # its observers are gone: no update, no error
    assert panel.state is state and panel.update() is state and panel.state["rho"] == pytest.approx(0.1)
    assert panel.audio.value == b""


@pytest.mark.parametrize("kind", sorted(PANEL_KINDS))
def test_rerun_without_close_keeps_no_panel_alive(kind):
    """Re-creating a panel without close() and dropping it (never displayed): collected, its widgets closed."""
    make = PANEL_KINDS[kind]
    cls = type(make())
    w0, p0 = _live_widgets(), _alive(cls)
    refs = []
    for _ in range(5):
        panel = make()
        slider = panel.rho if isinstance(panel, ThresholdExplorer) else panel.h
        before = panel.state
        slider.value = slider.value * 1.5  # its observers are live and update it
        assert panel.state is not before
        refs.append(weakref.ref(panel))
        del panel, slider, before
    assert _alive(cls) == p0 and _live_widgets() == w0
    assert [r() for r in refs] == [None] * 5


def test_collecting_a_closed_or_dropped_panel_raises_nothing(ss):
    seen = []
    old, sys.unraisablehook = sys.unraisablehook, seen.append
    try:
        a, b = threshold_explorer(ss), threshold_explorer(ss)
        a.close()
        del a, b
        gc.collect()
    finally:
        sys.unraisablehook = old
    assert seen == []


@pytest.mark.parametrize("kind", sorted(PANEL_KINDS))
def test_rerun_of_a_notebook_cell_closes_the_panel_it_displayed(kind, cell):
    """The notebook case: each run of a cell displays a new panel; the one of the earlier run is closed."""
    make = PANEL_KINDS[kind]
    cls = type(make())
    w0, p0 = _live_widgets(), _alive(cls)
    refs = []
    for i in range(5):
        cell.run("cell-A", f"run-{i}")
        panel = make()
        panel._repr_mimebundle_()  # the cell's output
        refs.append(weakref.ref(panel))
        del panel
    gc.collect()  # a closed panel may sit in a reference cycle until the collector runs (it did in the full suite)
    assert [r() is None for r in refs] == [True] * 4 + [False]  # only the last one is displayed and open
    last = refs[-1]()
    assert last.comm is not None and _alive(cls) == p0 + 1
    last.close()
    del last
    assert _alive(cls) == p0 and _live_widgets() == w0


def test_rerun_closes_only_what_the_same_cell_displayed_earlier(ss, cell):
    cell.run("cell-A", "run-1")
    a1, a2 = threshold_explorer(ss), threshold_explorer(ss)
    a1._repr_mimebundle_()
    a2._repr_mimebundle_()  # two panels of one run: both stay
    cell.run("cell-B", "run-2")
    b = threshold_explorer(ss)
    b._repr_mimebundle_()
    a1._repr_mimebundle_()  # a1 is shown in cell B too
    bw = bandwidth_explorer(make_ring_data(60, 0.0, 2.0, random_state=0))
    cell.run("cell-A", "run-3")
    bw._repr_mimebundle_()  # another kind in cell A: closes no threshold panel
    assert all(p.comm is not None for p in (a1, a2, b, bw))
    new = threshold_explorer(ss)
    new._repr_mimebundle_()  # cell A re-run: a2 goes, a1 stays for cell B, b (cell B) stays
    assert a2.comm is None and a1.comm is not None and b.comm is not None and bw.comm is not None
    cell.run("cell-B", "run-4")
    new._repr_mimebundle_()  # cell B re-run showing the new panel: a1 and b are shown nowhere now
    assert a1.comm is None and b.comm is None and new.comm is not None
    cell.parent = {"header": {"msg_type": "comm_msg", "msg_id": "m"}, "metadata": {}}  # a widget callback
    other = threshold_explorer(ss)
    other._repr_mimebundle_()
    assert new.comm is not None  # no cell known: nothing closed automatically
    for p in (new, other, bw):
        p.close()


def test_panel_in_a_container_opens_when_the_container_is_built(ss):
    import ipywidgets

    panel = threshold_explorer(ss)
    assert panel.comm is None  # not displayed yet: not registered with ipywidgets
    box = ipywidgets.HBox([panel])
    assert panel.comm is not None and box.get_state()["children"] == [f"IPY_MODEL_{panel.model_id}"]
    assert panel._repr_mimebundle_()["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.model_id
    panel.close()
    box.close()


def test_threshold_explorer_cache_key_includes_the_kit_version(tmp_path, monkeypatch):
    """The panel keeps no cache of its own (it re-thresholds the ScoreSet it is given); the scores it opens in
    notebook 04 are cached by :func:`adskit.experiments.thresholds.build_scoreset` in a folder named by a digest
    that includes the adskit version: another version never opens this version's scores."""
    from adskit import __version__
    from adskit.audio.io import save_audio
    from adskit.experiments import thresholds

    f = tmp_path / "normal_000.wav"
    save_audio(f, np.zeros(1600, np.float32) + 0.1, 16000)
    source = thresholds._Source("x", [f], [f], ["frequent"], [{}], None)
    _, key = thresholds._run_folder(source, True, 0)
    assert thresholds.version("adskit") == __version__
    assert thresholds._run_folder(source, True, 0)[1] == key  # stable
    monkeypatch.setattr(thresholds, "version", lambda name: __version__ + ".post1")
    assert thresholds._run_folder(source, True, 0)[1] != key
