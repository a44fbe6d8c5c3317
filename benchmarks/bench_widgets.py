"""Slider updates of the interactive panels against their 100 ms target (issue 5).

Each case sets a slider's ``.value`` programmatically and measures until the callback has recomputed the counts
and re-rendered the figure (the PNG the browser shows), alternating between two values so that every set is a
real change. The reference column is what a panel would pay without cached arrays, measured in the same run:

* threshold slider: re-scoring every test frame with an autoencoder detector of the default (lecture-size)
  architecture, then recounting, without drawing anything: the cheapest "re-run the detector" UI;
* h slider: :func:`adskit.kde.gram_diagnostics` plus :func:`adskit.kde.bu_weights` from the raw vectors (the
  library called naively on every move), without drawing.

``ratio`` = adskit / reference: below 1 the cached panel, figure included, is faster than the bare
recomputation. The target is on the absolute time: an update under 100 ms.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
from run import Case, Result, time_pair

TARGET_S = 0.100


def _threshold_case(quick: bool) -> Result:
    from adskit.detectors import AEDetector
    from adskit.scores import demo_scoreset
    from adskit.widgets import threshold_explorer, threshold_state

    ss = demo_scoreset(seed=0, n_frequent=40, n_rare=10, n_anomaly=30)  # 80 clips x 100 frames
    panel = threshold_explorer(ss, rho=0.05)
    values = itertools.cycle([0.05, 0.2])
    n_frames = sum(c.size for c in ss.scores["RE"])
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_frames, 640)).astype(np.float32)
    det = AEDetector(cost="re", n_updates=1, batch_size=256, device="cpu").fit(X[:512])

    def adskit() -> None:
        panel.rho.value = next(values)

    def reference() -> None:
        scores = det.anomaly_score(X)
        thr = float(np.quantile(scores, 0.9))
        threshold_state(ss, "RE", thr)

    a, r = time_pair(adskit, reference, repeats=5 if quick else 15)
    return Result(
        name="widgets: threshold (rho) slider update",
        adskit=a * 1e3,
        reference=r * 1e3,
        unit="ms",
        ratio=a / r,
        ratio_label="adskit/ref",
        target=f"< {TARGET_S * 1e3:.0f} ms",
        meets=a < TARGET_S,
        notes=(
            f"{len(ss.methods)} methods, {ss.n_clips} clips, {n_frames} frames; ref = re-scoring {n_frames} "
            "640-D vectors with the default AE (no drawing). Last panel update "
            f"{panel.state['update_ms']:.1f} ms."
        ),
    )


def _bandwidth_case(quick: bool) -> Result:
    from adskit.experiments.verification import make_ring_data
    from adskit.kde import bu_weights, gram_diagnostics
    from adskit.widgets import bandwidth_explorer

    x = make_ring_data(400, 0.0, 2.0, random_state=0).astype(np.float64)
    panel = bandwidth_explorer(x, h=0.2)
    values = itertools.cycle([0.2, 0.5])
    hs = itertools.cycle([0.2, 0.5])

    def adskit() -> None:
        panel.h.value = next(values)

    def reference() -> None:
        h = next(hs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            gram_diagnostics(x, h)
            bu_weights(x, h)

    a, r = time_pair(adskit, reference, repeats=5 if quick else 15)
    return Result(
        name="widgets: bandwidth (h) slider update",
        adskit=a * 1e3,
        reference=r * 1e3,
        unit="ms",
        ratio=a / r,
        ratio_label="adskit/ref",
        target=f"< {TARGET_S * 1e3:.0f} ms",
        meets=a < TARGET_S,
        notes=(
            "400 2-D points; ref = gram_diagnostics + bu_weights from the raw points (no drawing). "
            f"Last panel update {panel.state['update_ms']:.1f} ms."
        ),
    )


def cases(quick: bool) -> list[Case]:
    return [
        Case("widgets: threshold (rho) slider update", lambda: _threshold_case(quick)),
        Case("widgets: bandwidth (h) slider update", lambda: _bandwidth_case(quick)),
    ]
