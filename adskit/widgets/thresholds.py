"""The threshold panel: cached anomaly scores of several detectors, re-thresholded by a slider.

:func:`threshold_explorer` shows the scores of a :class:`adskit.scores.ScoreSet` (RE, SNP, BU, NP, ...) on normal
clips (frequent and rare-normal processes marked) and anomalous clips. One slider sets the target false-alarm
rate rho (each method's threshold is then its own phi_rho, :class:`adskit.threshold.NeymanPearsonThreshold`
fitted on its normal training clip scores) or the raw threshold of one method. Per method: false alarms on
rare-normal and frequent-normal clips, detections, the ROC point, and the selected clip's score over time with
the frames above threshold highlighted; an audio player for the clip. Nothing retrains: a slider re-thresholds
stored arrays. :func:`threshold_state` is the pure computation behind it, which tests call directly.

Directions: every score is an anomaly score, **higher = more anomalous**; the rule is
``anomalous = score > threshold`` (as in :mod:`adskit.threshold`).
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.collections import PolyCollection

from ..metrics import roc
from ..scores import ScoreSet, frame_decisions
from ._blit import _BlitFigure, _color, _spans
from ._panel import _Panel
from ._ranges import linear_span, log_exponents

__all__ = ["RHO_RANGE", "ThresholdExplorer", "threshold_explorer", "threshold_state"]

#: default range of the rho slider (logarithmic: one false alarm in 1,000 to one in 2); a rho outside widens it
RHO_RANGE = (1e-3, 0.5)


def threshold_state(scoreset: ScoreSet, method: str, threshold: float, clip: int | None = None) -> dict[str, Any]:
    """Counts and rates of the rule ``clip score > threshold`` for one method.

    Parameters
    ----------
    scoreset : ScoreSet
    method : str
    threshold : float, on the method's anomaly-score scale (higher = more anomalous)
    clip : int or None, a clip whose above-threshold frames to list

    Returns
    -------
    dict
        ``threshold``; ``fp_rare`` / ``n_rare`` (false alarms on rare-normal clips), ``fp_frequent`` /
        ``n_frequent``, ``fp`` / ``n_normal``; ``tp`` / ``n_anomaly``, ``fn``; ``fpr`` = fp / n_normal and
        ``tpr`` = tp / n_anomaly (the ROC point; lower fpr and higher tpr are better), ``fpr_rare``,
        ``fpr_frequent``; ``alarms_unlabelled`` / ``n_unlabelled`` (alarms on clips without a label: in no rate);
        with ``clip``: ``highlighted`` (int array of frame indices above threshold) and
        ``clip_alarm`` (bool).

    Raises
    ------
    ValueError
        If ``method`` is not in the ScoreSet or ``threshold`` is NaN (with ``clip``).
    """
    s = scoreset.clip_scores(method)
    thr = float(threshold)
    alarm = s > thr
    proc = np.asarray(scoreset.process)
    rare, freq, anom = proc == "rare", proc == "frequent", proc == "anomaly"
    out: dict[str, Any] = {"method": method, "threshold": thr}
    out["fp_rare"], out["n_rare"] = int((alarm & rare).sum()), int(rare.sum())
    out["fp_frequent"], out["n_frequent"] = int((alarm & freq).sum()), int(freq.sum())
    out["fp"], out["n_normal"] = out["fp_rare"] + out["fp_frequent"], out["n_rare"] + out["n_frequent"]
    out["tp"], out["n_anomaly"] = int((alarm & anom).sum()), int(anom.sum())
    out["fn"] = out["n_anomaly"] - out["tp"]
    unl = proc == "unlabelled"
    out["alarms_unlabelled"], out["n_unlabelled"] = int((alarm & unl).sum()), int(unl.sum())

    def rate(k: int, n: int) -> float:
        return k / n if n else float("nan")

    out["fpr"], out["tpr"] = rate(out["fp"], out["n_normal"]), rate(out["tp"], out["n_anomaly"])
    out["fpr_rare"], out["fpr_frequent"] = (
        rate(out["fp_rare"], out["n_rare"]),
        rate(out["fp_frequent"], out["n_frequent"]),
    )
    if clip is not None:
        frames = scoreset.scores[method][int(clip)]
        out["highlighted"] = np.flatnonzero(frame_decisions(frames, thr))
        out["clip_alarm"] = bool(alarm[int(clip)])
    return out


def _slider(description: str, value: float, span: tuple[float, float, float], fmt: str, css: str) -> Any:
    """A FloatSlider (``span`` = min, max, step) that reports only on release, with a CSS class for browser tests."""
    lo, hi, step = span
    s = widgets.FloatSlider(
        value=value, min=lo, max=hi, step=step, description=description, continuous_update=False,
        readout_format=fmt, style={"description_width": "initial"}, layout=widgets.Layout(width="480px"),
    )  # fmt: skip
    s.add_class(css)
    return s


def _rho_slider(rho: float) -> Any:
    """The log slider of rho: :data:`RHO_RANGE`, widened to hold ``rho`` (ValueError unless 0 < rho < 1)."""
    lo, hi = log_exponents(rho, *RHO_RANGE, name="rho")
    if not float(rho) < 1.0:
        raise ValueError(f"rho: expected a false-alarm rate in (0, 1) (the slider spans {RHO_RANGE}), got {rho!r}")
    s = widgets.FloatLogSlider(
        value=float(rho), base=10, min=lo, max=hi, step=0.01, description="ρ (false-alarm rate)",
        continuous_update=False, readout_format=".3g", style={"description_width": "initial"},
        layout=widgets.Layout(width="480px"),
    )  # fmt: skip
    s.add_class("adskit-rho-slider")
    return s


class ThresholdExplorer(_Panel, widgets.VBox):
    """Threshold panel over a :class:`ScoreSet` (build it with :func:`threshold_explorer`).

    Widgets (all public attributes): ``mode`` (ToggleButtons "rho" | "threshold"), ``rho`` (slider of the
    target false-alarm rate), ``threshold`` (slider of the raw threshold of ``method``), ``method``
    (Dropdown), ``clip`` (Dropdown of clip indices), ``counts`` (HTML table), ``summary`` (Label, CSS class
    ``adskit-fp-count``), ``image`` (the figure), ``audio``.

    ``state`` holds, after every update: ``mode``, ``rho``, ``thresholds`` {method: float}, ``methods``
    {method: :func:`threshold_state` dict, including ``highlighted`` frames of the selected clip}, ``clip``,
    ``update_ms`` (wall time of the last update, figure included).

    Every slider starts at the value in use: the rho slider is logarithmic over :data:`RHO_RANGE`, widened to hold
    a smaller or larger ``rho``; the threshold slider spans the method's clip scores and its current threshold.

    ``close()`` closes every widget of the panel (sliders, dropdowns, tables, image, audio, their layouts and
    styles), removes its observers, drops its matplotlib figure and empties the image and audio; the closed panel
    keeps ``state`` but no longer updates. Re-creating the panel does not keep the old one alive: its widgets hold
    it weakly, it registers with ipywidgets only once displayed, and displaying a new one in a notebook cell
    closes the one an earlier run of that cell displayed (see :mod:`adskit.widgets._panel`).

    Raises
    ------
    ValueError
        If ``mode`` is not "rho" or "threshold", or is "rho" for a ScoreSet without ``train_scores``; if ``rho``
        is not in (0, 1); if ``clip`` is not a clip index of the ScoreSet.
    """

    def __init__(
        self,
        scoreset: ScoreSet,
        rho: float = 0.05,
        mode: str | None = None,
        clip: int | None = None,
        figsize: tuple[float, float] | None = None,
        dpi: int = 80,
    ) -> None:
        self.scoreset = ss = scoreset
        self.state: dict[str, Any] = {}
        self._syncing = False
        has_train = ss.train_scores is not None
        mode = mode or ("rho" if has_train else "threshold")
        if mode not in ("rho", "threshold"):
            raise ValueError(f"mode: expected 'rho' or 'threshold', got {mode!r}")
        if mode == "rho" and not has_train:
            raise ValueError("mode: 'rho' needs a ScoreSet with train_scores")
        if clip is not None and not (isinstance(clip, (int, np.integer)) and 0 <= clip < ss.n_clips):
            raise ValueError(f"clip: expected a clip index in [0, {ss.n_clips}), got {clip!r}")
        self.rho = _rho_slider(rho)
        m0 = ss.methods[0]
        self._thresholds = (
            {m: ss.phi_rho(m, rho) for m in ss.methods}
            if has_train
            else {m: float(np.quantile(ss.clip_scores(m), 0.9)) for m in ss.methods}
        )
        style = {"description_width": "initial"}
        self.mode = widgets.ToggleButtons(
            options=[("target false-alarm rate ρ", "rho"), ("raw threshold", "threshold")]
            if has_train
            else [("raw threshold", "threshold")],
            value=mode,
            description="slider sets:",
            style={"description_width": "initial", "button_width": "190px"},
        )
        self.method = widgets.Dropdown(options=ss.methods, value=m0, description="method:", style=style)
        lo, hi = self._range(m0)
        start = self._thresholds[m0]
        self.threshold = _slider("threshold φ", start, (lo, hi, (hi - lo) / 200), ".4g", "adskit-threshold-slider")
        if clip is None:  # start on a rare-normal clip: the lecture's point
            rare = [i for i, p in enumerate(ss.process) if p == "rare"]
            clip = rare[0] if rare else 0
        self.clip = widgets.Dropdown(
            options=[(f"{i}: [{p}] {nm}", i) for i, (p, nm) in enumerate(zip(ss.process, ss.names, strict=True))],
            value=int(clip),
            description="clip:",
            style=style,
            layout=widgets.Layout(width="480px"),
        )
        self.clip.add_class("adskit-clip")
        self.counts = widgets.HTML()
        self.counts.add_class("adskit-counts")
        self.summary = widgets.Label()
        self.summary.add_class("adskit-fp-count")
        self.image = widgets.Image(format="png")
        self.image.add_class("adskit-figure")
        self.audio = widgets.Audio(format="wav", autoplay=False, loop=False)
        self.audio.add_class("adskit-audio")
        self._audio_note = widgets.HTML()
        title = ss.info.get("title", "")
        head = f"<b>Thresholds</b> &mdash; {len(ss.methods)} methods, {ss.n_clips} clips"
        if ss.info.get("kind") == "demo":
            head += " &mdash; <span style='color:#b00'>DEMO SCORES: no detector was trained</span>"
        elif title:
            head += f" &mdash; {title}"
        self._build_figure(figsize, dpi)
        super().__init__(
            [
                widgets.HTML(head),
                self.mode,
                widgets.HBox([self.rho, self.threshold, self.method]),
                self.summary,
                self.counts,
                self.clip,
                self.image,
                widgets.HBox([self.audio, self._audio_note]),
            ]
        )
        self.add_class("adskit-threshold-explorer")
        self._observe(self.mode, self._on_mode)
        self._observe(self.rho, self._on_rho)
        self._observe(self.threshold, self._on_threshold)
        self._observe(self.method, self._on_method)
        self._observe(self.clip, self._on_clip)
        self._show_mode(mode)
        self._load_audio(int(clip))
        self.update()

    # ---- figure ----
    def _range(self, method: str) -> tuple[float, float]:
        """Threshold slider range: the method's clip scores and its current threshold (phi_rho may lie outside
        the clip scores: it is fitted on the training scores), padded by 2 %."""
        s = self.scoreset.clip_scores(method)
        return linear_span([float(s.min()), float(s.max())], float(self._thresholds[method]))

    def _build_figure(self, figsize: tuple[float, float] | None, dpi: int) -> None:
        ss = self.scoreset
        n = len(ss.methods)
        self._fig = bf = _BlitFigure(figsize or (10.0, 1.1 + 1.15 * n), dpi=dpi)
        gs = bf.fig.add_gridspec(
            n, 2, width_ratios=(1.0, 2.4), left=0.07, right=0.98, bottom=0.12, top=0.9, wspace=0.22, hspace=0.35
        )
        ax_roc = bf.fig.add_subplot(gs[:, 0])
        self._roc_pts = {}
        self._lines, self._above, self._hlines, self._spans, self._span_y = {}, {}, {}, {}, {}
        tmax = max(float(ss.frame_times(i)[-1]) for i in range(ss.n_clips))
        for k, m in enumerate(ss.methods):
            c = _color(m, k)
            known = ss.labels >= 0  # the ROC of the labelled clips only
            if 0 < ss.labels[known].sum() < known.sum():
                fpr, tpr, _ = roc(ss.labels[known], ss.clip_scores(m)[known])
                ax_roc.plot(fpr, tpr, color=c, lw=1.2, label=m)
            (self._roc_pts[m],) = ax_roc.plot([], [], "o", color=c, ms=8, mec="k")
            bf.animate(self._roc_pts[m])
            ax = bf.fig.add_subplot(gs[k, 1])
            allv = np.concatenate(ss.scores[m])
            lo, hi = float(allv.min()), float(allv.max())
            pos = lo > 0 and hi / lo > 50
            if pos:
                ax.set_yscale("log")
                ax.set_ylim(lo / 1.3, hi * 1.3)
            else:
                pad = (hi - lo) or max(abs(lo), 1.0)  # one score (a single clip of one frame): pad around it
                ax.set_ylim(lo - 0.05 * pad, hi + 0.1 * pad)
            ax.set_xlim(0, tmax)
            ax.set_ylabel(m, color=c, fontsize=9)
            ax.tick_params(labelsize=7)
            if k < n - 1:
                ax.tick_params(labelbottom=False)
            y0, y1 = ax.get_ylim()
            self._spans[m] = bf.animate(ax.add_collection(PolyCollection([], facecolors=[], alpha=0.25, lw=0)))
            self._span_y[m] = (y0, y1)
            (self._lines[m],) = ax.plot([], [], color=c, lw=1.0)
            (self._above[m],) = ax.plot([], [], "o", color="k", ms=2.5, mfc="gold")
            self._hlines[m] = ax.axhline(y0, color="k", ls="--", lw=0.8)
            for a in (self._lines[m], self._above[m], self._hlines[m]):
                bf.animate(a)
        ax.set_xlabel("time (s)" if ss.times is not None else "frame", fontsize=8)
        ax_roc.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls=":")
        ax_roc.set_xlim(-0.02, 1.02)
        ax_roc.set_ylim(-0.02, 1.02)
        ax_roc.set_xlabel("false-positive rate (normal clips)", fontsize=8)
        ax_roc.set_ylabel("true-positive rate", fontsize=8)
        ax_roc.tick_params(labelsize=7)
        ax_roc.set_title("ROC, dots = current thresholds", fontsize=9)
        if ax_roc.get_legend_handles_labels()[0]:
            ax_roc.legend(loc="lower right", fontsize=7)
        else:
            ax_roc.text(0.5, 0.5, "no ROC: needs normal and\nanomalous labelled clips", ha="center", va="center",
                        fontsize=8, color="0.4")  # fmt: skip
        bf.fig.text(
            0.36,
            0.955,
            "selected clip: frame scores (dots above φ; shaded orange = rare-normal, red = anomaly)",
            fontsize=8,
        )

    # ---- callbacks (read only their argument and the panel itself) ----
    def _on_mode(self, change: dict) -> None:
        self._show_mode(change["new"])
        if change["new"] == "rho":
            self._set_rho_thresholds(self.rho.value)
        else:  # the threshold slider shows the threshold in use (phi_rho, if rho moved since)
            self._sync_threshold_slider()
        self.update()

    def _on_rho(self, change: dict) -> None:
        if self._syncing:
            return
        self._set_rho_thresholds(change["new"])
        self.update()

    def _on_threshold(self, change: dict) -> None:
        if self._syncing:
            return
        self._thresholds[self.method.value] = float(change["new"])
        self.update()

    def _on_method(self, change: dict) -> None:
        self._sync_threshold_slider()
        self.update()

    def _on_clip(self, change: dict) -> None:
        self._load_audio(int(change["new"]))
        self.update()

    # ---- helpers ----
    def _sync_threshold_slider(self) -> None:
        """Put the threshold slider on the selected method's threshold, its range widened to hold it."""
        m = self.method.value
        lo, hi = self._range(m)
        self._syncing = True
        try:
            with self.threshold.hold_trait_notifications():
                self.threshold.max = max(hi, self.threshold.min)
                self.threshold.min = lo
                self.threshold.max = hi
                self.threshold.step = (hi - lo) / 200
                self.threshold.value = float(self._thresholds[m])
        finally:
            self._syncing = False

    def _show_mode(self, mode: str) -> None:
        self.rho.layout.display = None if mode == "rho" else "none"
        self.threshold.layout.display = "none" if mode == "rho" else None
        self.method.layout.display = "none" if mode == "rho" else None

    def _set_rho_thresholds(self, rho: float) -> None:
        for m in self.scoreset.methods:
            self._thresholds[m] = self.scoreset.phi_rho(m, rho)

    def _load_audio(self, clip: int) -> None:
        data = self.scoreset.audio_bytes(clip)
        self.audio.value = data or b""
        self.audio.layout.display = None if data else "none"
        self._audio_note.value = "" if data else "<i>no audio for this clip</i>"

    def update(self) -> dict[str, Any]:
        """Recompute every count from the cached scores and redraw; returns ``state``.

        A closed panel does nothing and returns its last ``state``.
        """
        if self._panel_closed:
            return self.state
        t0 = time.perf_counter()
        ss, clip = self.scoreset, int(self.clip.value)
        per = {m: threshold_state(ss, m, self._thresholds[m], clip=clip) for m in ss.methods}
        self.state = {
            "mode": self.mode.value,
            "rho": float(self.rho.value),
            "thresholds": dict(self._thresholds),
            "methods": per,
            "clip": clip,
            "process": ss.process[clip],
        }
        self.counts.value = self._table(per)
        self.summary.value = "false alarms (rare-normal / frequent-normal): " + " · ".join(
            f"{m} {s['fp_rare']}/{s['fp_frequent']}" for m, s in per.items()
        )
        if any(s["n_unlabelled"] for s in per.values()):
            self.summary.value += " · alarms on unlabelled clips: " + " · ".join(
                f"{m} {s['alarms_unlabelled']}/{s['n_unlabelled']}" for m, s in per.items()
            )
        self._draw(per, clip)
        self.state["update_ms"] = 1000.0 * (time.perf_counter() - t0)
        return self.state

    def _table(self, per: dict[str, dict[str, Any]]) -> str:
        rho_col = self.mode.value == "rho"
        unl = any(s["n_unlabelled"] for s in per.values())
        head = (
            "<tr><th>method</th><th>threshold φ</th><th>false alarms, rare-normal</th>"
            "<th>false alarms, frequent-normal</th><th>detections (TP)</th><th>ROC point (FPR, TPR)</th>"
            + ("<th>alarms, unlabelled</th>" if unl else "")
            + "<th>selected clip: frames &gt; φ</th></tr>"
        )
        rows = []

        def alarm(s: dict[str, Any]) -> str:
            return " &rarr; <b>alarm</b>" if s["clip_alarm"] else ""

        for m, s in per.items():
            rows.append(
                f"<tr><td><b>{m}</b></td><td>{s['threshold']:.4g}{' (φ<sub>ρ</sub>)' if rho_col else ''}</td>"
                f"<td class='adskit-fp-rare' data-method='{m}'>{s['fp_rare']} / {s['n_rare']}</td>"
                f"<td class='adskit-fp-frequent' data-method='{m}'>{s['fp_frequent']} / {s['n_frequent']}</td>"
                f"<td class='adskit-tp' data-method='{m}'>{s['tp']} / {s['n_anomaly']}</td>"
                f"<td class='adskit-roc' data-method='{m}'>({s['fpr']:.2f}, {s['tpr']:.2f})</td>"
                + (
                    f"<td class='adskit-unlabelled' data-method='{m}'>{s['alarms_unlabelled']} / {s['n_unlabelled']}</td>"
                    if unl
                    else ""
                )
                + f"<td class='adskit-frames' data-method='{m}'>{s['highlighted'].size} of "
                f"{self.scoreset.scores[m][self.state['clip']].size}{alarm(s)}</td></tr>"
            )
        style = "border-collapse:collapse;font-size:13px"
        return f"<table style='{style}' cellpadding='4' border='1'>{head}{''.join(rows)}</table>"

    def _draw(self, per: dict[str, dict[str, Any]], clip: int) -> None:
        ss = self.scoreset
        t = ss.frame_times(clip)
        seg = ss.segments[clip] if ss.segments is not None else {}
        for m, s in per.items():
            self._roc_pts[m].set_data([s["fpr"]], [s["tpr"]])
            y = ss.scores[m][clip]
            self._lines[m].set_data(t, y)
            h = s["highlighted"]
            self._above[m].set_data(t[h], y[h])
            self._hlines[m].set_ydata([s["threshold"], s["threshold"]])
            y0, y1 = self._span_y[m]
            verts = _spans(seg.get("rare", []), y0, y1) + _spans(seg.get("anomaly", []), y0, y1)
            colors = ["orange"] * len(seg.get("rare", [])) + ["red"] * len(seg.get("anomaly", []))
            self._spans[m].set_verts(verts)
            self._spans[m].set_facecolors(colors)
        self.image.value = self._fig.render()


def threshold_explorer(
    scoreset: ScoreSet, rho: float = 0.05, mode: str | None = None, **kwargs: Any
) -> ThresholdExplorer:
    """Build the threshold panel (see :class:`ThresholdExplorer`).

    Parameters
    ----------
    scoreset : ScoreSet, cached scores (see :func:`adskit.scores.scores_from_detectors`)
    rho : float in (0, 1), initial target false-alarm rate (the log slider spans :data:`RHO_RANGE`, widened to
        hold it)
    mode : "rho" | "threshold" | None (rho when the ScoreSet has training scores)
    **kwargs : clip (initial clip index), figsize, dpi

    Returns
    -------
    ThresholdExplorer (an ``ipywidgets.VBox``); display it, read ``.state``. ``close()`` frees its widgets,
    observers, figure, image and audio (see :class:`ThresholdExplorer`); re-running the cell that displayed it
    closes it when the new panel is displayed there.

    Raises
    ------
    ValueError
        For an unknown ``mode``, ``mode="rho"`` on a ScoreSet without training scores, ``rho`` not in (0, 1), or
        ``clip`` not a clip index.

    Examples
    --------
    >>> from adskit.scores import demo_scoreset
    >>> panel = threshold_explorer(demo_scoreset(0))
    >>> panel.rho.value = 0.2
    >>> panel.state["rho"]
    0.2
    """
    return ThresholdExplorer(scoreset, rho=rho, mode=mode, **kwargs)
