"""Figures: each function takes ``ax=`` (or builds its own figure) and returns the Figure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use(matplotlib.get_backend())  # respect the caller's backend (Agg in tests, inline in notebooks)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .audio.features import FeatureConfig, frame_times  # noqa: E402

__all__ = [
    "plot_auc_bars",
    "plot_bu_weights",
    "plot_cells",
    "plot_comparisons",
    "plot_frame_scores",
    "plot_grid_maps",
    "plot_np_diagnostics",
    "plot_rare_normal",
    "plot_rarity_curves",
    "plot_roc",
    "plot_roc_per_snr",
]


def plot_grid_maps(maps: Mapping[str, np.ndarray], lim: float, title: str = "", kind: str = "q", axes=None):
    """One image per method of a value on the [-lim, lim]^2 grid (rows = y). ``kind`` "q" or "A".

    q maps share one colour scale; A maps are drawn on log1p scale so that both the flat normal region and
    the high anomalous ring stay visible. The normal region's rim (||x|| = 2) is drawn as a circle.
    """
    names = list(maps)
    if axes is None:
        fig, axes = plt.subplots(1, len(names), figsize=(4.2 * len(names), 3.6), squeeze=False, layout="constrained")
        axes = axes[0]
    else:
        fig = np.ravel(axes)[0].figure
    vmax = max(float(np.max(m)) for m in maps.values()) if kind == "q" else None
    for ax, name in zip(axes, names, strict=True):
        data = maps[name] if kind == "q" else np.log1p(np.maximum(maps[name], 0))
        im = ax.imshow(data, origin="lower", extent=(-lim, lim, -lim, lim), cmap="viridis", vmin=0, vmax=vmax)
        t = np.linspace(0, 2 * np.pi, 200)
        ax.plot(2 * np.cos(t), 2 * np.sin(t), "w--", lw=0.8)
        ax.set_title(name)
        ax.set_xticks([-lim, 0, lim])
        ax.set_yticks([-lim, 0, lim])
        fig.colorbar(im, ax=ax, fraction=0.046, label="q(x)" if kind == "q" else "log(1 + A(x))")
    if title:
        fig.suptitle(title)
    return fig


def plot_bu_weights(x: np.ndarray, w: np.ndarray, ax=None, title: str = ""):
    """Scatter 2-D points coloured and sized by their BU weights (rare points large and bright)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 3.8))
    else:
        fig = ax.figure
    x = np.asarray(x)
    w = np.asarray(w)
    rel = w * w.size  # 1 = the uniform weight
    sc = ax.scatter(x[:, 0], x[:, 1], c=rel, s=6 + 18 * rel / rel.max(), cmap="magma", vmin=0)
    fig.colorbar(sc, ax=ax, label="weight x batch size (1 = uniform)")
    ax.set_aspect("equal")
    ax.set_title(title or "BU weights")
    return fig


def plot_roc(curves: Mapping[str, tuple[np.ndarray, np.ndarray]], ax=None, title: str = "ROC", max_fpr=None):
    """ROC curves ``{label: (fpr, tpr)}`` with the chance diagonal; ``max_fpr`` shades the pAUC region."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(4.2, 4.0))
    else:
        fig = ax.figure
    for label, (fpr, tpr) in curves.items():
        ax.plot(fpr, tpr, label=label)
    ax.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls=":")
    if max_fpr is not None:
        ax.axvspan(0, max_fpr, color="0.9", zorder=0, label=f"pAUC region (FPR <= {max_fpr:g})")
    ax.set_xlabel("false-positive rate")
    ax.set_ylabel("true-positive rate")
    ax.set_title(title)
    ax.legend(loc="lower right", fontsize=8)
    return fig


def plot_roc_per_snr(metrics: Mapping[str, Mapping[str, Mapping]], rho: float | None = None, axes=None):
    """ROC curves of each method, one panel per SNR (EUSIPCO 2017 Fig. 3); a dotted line marks FPR = rho.

    Parameters
    ----------
    metrics : mapping
        ``metrics[method][snr]`` with ``"auc"`` and ``"roc"`` = ``{"fpr": [...], "tpr": [...]}``; every method
        has the same SNR keys (strings such as ``"-5"``, drawn as panel titles in dB).
    rho : float, optional
        False-positive rate of phi_rho, drawn as a vertical line.
    axes : sequence of matplotlib Axes, optional
        One per SNR.

    Returns
    -------
    matplotlib.figure.Figure
    """
    snrs = list(next(iter(metrics.values())))
    if axes is None:
        fig, axes = plt.subplots(1, len(snrs), figsize=(3.6 * len(snrs), 3.6), squeeze=False)
        axes = axes[0]
    fig = np.ravel(axes)[0].figure
    for ax, snr in zip(np.ravel(axes), snrs, strict=False):
        curves = {
            f"{m} (AUC {metrics[m][snr]['auc']:.2f})": (
                np.asarray(metrics[m][snr]["roc"]["fpr"]),
                np.asarray(metrics[m][snr]["roc"]["tpr"]),
            )
            for m in metrics
        }
        plot_roc(curves, ax=ax, title=f"{snr} dB")
        if rho is not None:
            ax.axvline(float(rho), color="0.5", ls=":", lw=0.8)
    fig.tight_layout()
    return fig


def plot_auc_bars(metrics: Mapping[str, Mapping], key: str = "clip_auc", axes=None):
    """Grouped bars of ``key`` per (machine, model) panel x condition (groups) x cost (bars), like the BU paper's Fig. 4.

    Parameters
    ----------
    metrics : mapping
        ``metrics[machine][model][cost][condition][key]``, e.g. the sound experiment's clip AUC per ANR
        (conditions ``"-10"``, ... drawn as dB; ``"test"`` as it is); costs are drawn upper-case.
    key : str
        Which number to draw.
    axes : sequence of matplotlib Axes, optional
        One per (machine, model).

    Returns
    -------
    matplotlib.figure.Figure
    """
    panels = [(m, model) for m, by in metrics.items() for model in by]
    if axes is None:
        fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.2), squeeze=False)
        axes = axes[0]
    else:
        fig = np.ravel(axes)[0].figure
    for ax, (mach, model) in zip(axes, panels, strict=True):
        by_cost = metrics[mach][model]
        anrs = list(next(iter(by_cost.values())))
        costs = list(by_cost)
        width = 0.8 / len(costs)
        for k, cost in enumerate(costs):
            vals = [by_cost[cost][a][key] for a in anrs]
            ax.bar(np.arange(len(anrs)) + (k - (len(costs) - 1) / 2) * width, vals, width, label=str(cost).upper())
        ax.set_xticks(np.arange(len(anrs)), [f"{a} dB" if a != "test" else a for a in anrs])
        lo = min(by_cost[c][a][key] for c in costs for a in anrs)
        ax.set_ylim(max(0.0, lo - 0.1), 1.0)
        ax.set_title(f"{mach} / {model}", fontsize=9)
        ax.set_ylabel(key.replace("_", " "))
    axes[0].legend(fontsize=8)
    return fig


def plot_frame_scores(
    spec: np.ndarray,
    frames: Mapping[str, np.ndarray],
    phi: Mapping[str, float],
    times: np.ndarray,
    duration: float,
    spans: Sequence[tuple[float, float]] = (),
    title: str = "",
    span_label: str = "rare-normal process",
    axes=None,
):
    """A clip's log-mel spectrogram over each detector's frame scores relative to its threshold phi_rho.

    Top: the spectrogram, with ``spans`` (e.g. the rare-normal process) shaded in every panel. Below, one panel
    per detector: its frame scores divided by its threshold (1 = the threshold; above it, the frame-wise rule
    calls the frame anomalous, shaded red).

    Parameters
    ----------
    spec : np.ndarray [shape=(T, n_mels)]
        Log-mel spectrogram of the clip.
    frames : mapping of str -> np.ndarray [shape=(n_vectors,)]
        Anomaly scores (higher = more anomalous) of the clip's context vectors, per detector (drawn upper-case).
    phi : mapping of str -> float
        Threshold of each detector (> 0).
    times : np.ndarray [shape=(n_vectors,)]
        Centre time of each context vector, seconds (:func:`adskit.audio.frame_times`).
    duration : float
        Seconds covered by ``spec`` (its x extent).
    spans : sequence of (start, end)
        Seconds to shade.
    title : str
    span_label : str
        What the shaded spans are (in the x label).
    axes : sequence of 1 + len(frames) matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    costs = list(frames)
    if axes is None:
        fig, axes = plt.subplots(1 + len(costs), 1, figsize=(7.5, 1.6 * (1 + len(costs)) + 0.6), sharex=True)
    else:
        fig = np.ravel(axes)[0].figure
    S = np.asarray(spec)
    axes[0].imshow(S.T, origin="lower", aspect="auto", extent=(0, duration, 0, S.shape[1]), cmap="magma")
    axes[0].set_ylabel("mel bin")
    axes[0].set_title(title)
    for a, b in spans:
        for ax in axes:
            ax.axvspan(a, b, color="tab:cyan", alpha=0.25, lw=0)
    for ax, cost in zip(axes[1:], costs, strict=True):
        f = np.asarray(frames[cost])
        t = np.asarray(times)
        rel = f / phi[cost]
        ax.plot(t, rel, lw=0.9, color="k")
        ax.fill_between(t, 1, rel, where=rel > 1, color="tab:red", alpha=0.6, lw=0)
        ax.axhline(1.0, color="tab:red", lw=0.8, ls="--")
        ax.set_ylabel(f"{str(cost).upper()}\nA / phi")
    axes[-1].set_xlabel(f"time (s); shaded: {span_label}; red: frames above phi_rho")
    return fig


def plot_rare_normal(example: Mapping, axes=None):
    """Where each detector fires on a normal clip with the rare-normal process (:func:`plot_frame_scores`).

    Parameters
    ----------
    example : mapping
        The sound experiment's example clip (``SoundResult.example``,
        :func:`adskit.experiments.sound_data.keep_example`): ``spec`` (T, n_mels), ``frames`` and ``phi`` per
        cost, ``rare`` segments (seconds), ``fcfg`` (a FeatureConfig or its dict), ``clip``, ``machine``,
        ``model``.
    axes : sequence of matplotlib Axes, optional
        1 + number of costs.

    Returns
    -------
    matplotlib.figure.Figure
        Top: the log-mel spectrogram; below: each cost's frame scores divided by its phi_rho.
    """
    fcfg = example["fcfg"]
    fcfg = FeatureConfig(**fcfg) if isinstance(fcfg, Mapping) else fcfg
    spec = np.asarray(example["spec"])
    n_vec = np.asarray(next(iter(example["frames"].values()))).size
    return plot_frame_scores(
        spec,
        example["frames"],
        example["phi"],
        frame_times(n_vec, fcfg),
        spec.shape[0] * fcfg.hop_length / fcfg.sr,
        spans=example["rare"],
        title=f"{example['clip']} ({example['machine']}, {example['model']}): normal, with the rare process",
        axes=axes,
    )


def plot_rarity_curves(
    cells: Sequence[Mapping], metric: str, target: float | None = None, title: str = "", ax=None, legend: bool = True
):
    """A metric of the rare-normal experiment against rarity (log x): per cost, the mean over seeds as a line and its
    95 % interval as a band (:func:`adskit.experiments.rare.rare_tables` cells).

    Parameters
    ----------
    cells : sequence of mapping
        ``rarity`` (share), ``label`` (or ``cost``), ``metric`` mean under the metric's name and ``<metric>_ci``
        ([low, high] or None).
    metric : str
        E.g. ``"fa_rare_frames"`` or ``"tpr_anomaly"``.
    target : float, optional
        A rate to mark with a dashed line (the 5 % the thresholds were set for).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
    else:
        fig = ax.figure
    labels = list(dict.fromkeys(c.get("label", c.get("cost")) for c in cells if c.get(metric) is not None))
    for k, lab in enumerate(labels):
        sel = sorted(
            (c for c in cells if c.get("label", c.get("cost")) == lab and c.get(metric) is not None),
            key=lambda c: c["rarity"],
        )
        x = 100 * np.array([c["rarity"] for c in sel])
        y = np.array([c[metric] for c in sel], dtype=float)
        ax.plot(x, y, "o-", color=f"C{k}", label=lab, lw=1.6, ms=4)
        ci = [c.get(f"{metric}_ci") for c in sel]
        if all(v is not None for v in ci) and len(sel) > 0:
            lo, hi = np.clip(np.array(ci, dtype=float).T, 0.0, 1.0)  # a rate's interval drawn within [0, 1]
            ax.fill_between(x, lo, hi, color=f"C{k}", alpha=0.12, lw=0)
    if target is not None:
        ax.axhline(target, color="k", ls="--", lw=1, label=f"{target:.0%} (the thresholds' target)")
    ax.set_xscale("log")
    ticks = sorted({100 * c["rarity"] for c in cells})
    ax.set_xticks(ticks, [f"{t:g}" for t in ticks])
    ax.minorticks_off()
    ax.set_xlabel("rarity: share of the training seconds holding the rare process (%)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_ylim(0, 1.0 if max((c.get(metric) or 0) for c in cells) > 0.5 else None)
    ax.set_title(title or metric, fontsize=10)
    if legend:
        ax.legend(fontsize=8)
    return fig


_VERDICT_COLOURS = {"reproduced": "tab:green", "reversed": "tab:red", "no difference detected": "0.45"}


def plot_cells(cells: list[Mapping], experiment: str, metrics: list[str] | None = None, max_panels: int = 12):
    """Mean and 95 % interval over seeds per cost and condition, each seed as a dot (one panel per metric and model).

    Parameters
    ----------
    cells : list of mapping
        ``summary.json`` cells (``experiment``, ``machine``, ``model``, ``cost``, ``condition``, ``metric``, ``mean``,
        ``ci_low``, ``ci_high``, ``values``).
    experiment : str
        Which experiment's cells to draw.
    metrics : list of str, optional
        Metrics to draw (default: every metric of the experiment, at most ``max_panels`` panels).

    Returns
    -------
    matplotlib.figure.Figure
    """
    rows = [c for c in cells if c["experiment"] == experiment]
    metrics = metrics or list(dict.fromkeys(c["metric"] for c in rows))
    panels = [
        (m, mm, md)
        for m in metrics
        for (mm, md) in dict.fromkeys((c["machine"], c["model"]) for c in rows if c["metric"] == m)
    ]
    panels = panels[:max_panels]
    ncol = min(3, max(1, len(panels)))
    nrow = int(np.ceil(len(panels) / ncol)) or 1
    fig, axes = plt.subplots(nrow, ncol, figsize=(4.3 * ncol, 3.0 * nrow), squeeze=False, layout="constrained")
    for ax, (metric, machine, model) in zip(axes.ravel(), panels, strict=False):
        sel = [c for c in rows if (c["metric"], c["machine"], c["model"]) == (metric, machine, model)]
        conds = list(dict.fromkeys(c["condition"] for c in sel))
        costs = list(dict.fromkeys(c["cost"] for c in sel))
        width = 0.8 / max(1, len(costs))
        for k, cost in enumerate(costs):
            x0 = np.arange(len(conds)) + (k - (len(costs) - 1) / 2) * width
            for i, cond in enumerate(conds):
                c = next((c for c in sel if c["cost"] == cost and c["condition"] == cond), None)
                if c is None:
                    continue
                colour = f"C{k}"
                if c["ci_low"] is not None:
                    ax.errorbar(
                        x0[i],
                        c["mean"],
                        yerr=[[c["mean"] - c["ci_low"]], [c["ci_high"] - c["mean"]]],
                        fmt="none",
                        ecolor=colour,
                        capsize=3,
                        lw=1.2,
                    )
                ax.plot(x0[i], c["mean"], "s", color=colour, ms=5, label=cost if i == 0 else None)
                vals = np.asarray(c["values"], dtype=float)
                ax.plot(
                    np.full(vals.size, x0[i]) + np.linspace(-0.03, 0.03, vals.size),
                    vals,
                    ".",
                    color=colour,
                    alpha=0.5,
                    ms=4,
                )
        ax.set_xticks(np.arange(len(conds)), conds, fontsize=8)
        ax.set_title(f"{metric} ({machine}, {model})", fontsize=9)
        ax.legend(fontsize=7)
    for ax in axes.ravel()[len(panels) :]:
        ax.axis("off")
    fig.suptitle(f"{experiment}: mean and 95 % interval over seeds (dots: single seeds)", fontsize=10)
    return fig


def plot_comparisons(comparisons: list[Mapping], title: str = "", max_rows: int = 40):
    """Forest plot of paired differences a - b with their 95 % intervals, coloured by verdict.

    Parameters
    ----------
    comparisons : list of mapping
        ``summary.json`` comparisons (``a``, ``b``, ``metric``, ``condition``, ``model``, ``mean_diff``,
        ``ci_low``, ``ci_high``, ``verdict``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    comps = list(comparisons)[:max_rows]
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(comps) + 1.2), layout="constrained")
    y = np.arange(len(comps))[::-1]
    for yi, c in zip(y, comps, strict=True):
        colour = _VERDICT_COLOURS.get(c["verdict"], "k")
        if c["ci_low"] is not None:
            ax.plot([c["ci_low"], c["ci_high"]], [yi, yi], color=colour, lw=2)
        ax.plot(c["mean_diff"], yi, "o", color=colour, ms=4)
    ax.axvline(0.0, color="k", lw=0.8)
    ax.set_yticks(y, [f"{c['a']}-{c['b']} {c['metric']} {c['condition']} ({c['model']})" for c in comps], fontsize=7)
    ax.set_xlabel("a - b (paired over seeds); green: reproduced, red: reversed, grey: no difference detected")
    ax.set_title(title, fontsize=10)
    return fig


def plot_np_diagnostics(
    diagnostics: Mapping[str, np.ndarray],
    collapse_spread: float = 0.01,
    collapse_saturation: float = 0.9,
    axes=None,
    title: str = "",
):
    """What PROP's training did, per NP step: ``NPDetector.diagnostics_`` in six panels.

    Algorithm 2's acceptance rate; the spread of the normal features (tr Cov[F(D)] over its start, log scale,
    with the collapse line ``collapse_spread``); the GMM's smallest variance and its floor; the share of
    saturated sigmoids (< 0.01 or > 0.99) in each term of (12), with the line ``collapse_saturation``; the two
    terms of (12), their difference (the objective, higher = better) and the held-out TPR / FPR at phi_rho
    when recorded; phi_rho (higher L = more anomalous).

    Parameters
    ----------
    diagnostics : mapping of str to np.ndarray [shape=(n_np_steps,)]
        ``NPDetector.diagnostics_`` (keys :data:`adskit.detectors.np_algorithm.DIAGNOSTICS`).
    collapse_spread, collapse_saturation : float
        The warning lines drawn (the detector's defaults: 1 % and 90 %).
    axes : array of 6 Axes or None

    Returns
    -------
    matplotlib.figure.Figure
    """
    d = {k: np.asarray(v, dtype=float) for k, v in diagnostics.items()}
    if axes is None:
        fig, axes = plt.subplots(2, 3, figsize=(12, 6), layout="constrained")
    else:
        fig = np.ravel(axes)[0].figure
    axes = np.ravel(axes)
    step = d["step"]
    if step.size == 0:
        for ax in axes:
            ax.text(0.5, 0.5, "no NP step recorded", ha="center", va="center", transform=ax.transAxes)
        return fig
    ax = axes[0]
    ax.plot(step, d["acceptance_rate"], color="C0")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Algorithm 2 acceptance rate", fontsize=9)
    ax = axes[1]
    start = d["feature_trace"][0]
    ax.semilogy(step, d["feature_trace"] / start if start > 0 else d["feature_trace"], color="C1")
    ax.axhline(collapse_spread, color="r", ls="--", lw=0.8, label=f"collapse ({collapse_spread:.0%})")
    ax.set_title(f"tr Cov[F(D)] / start ({start:.3g})", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[2]
    ax.semilogy(step, d["gmm_min_var"], color="C2", label="smallest variance")
    ax.semilogy(step, np.maximum(d["gmm_floor"], np.finfo(float).tiny), "k--", lw=0.8, label="floor reg_covar")
    ax.set_title("GMM: smallest variance against its floor", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[3]
    ax.plot(step, d["saturated_anomalous"], color="C3", label="TPR term (decoded anomalies)")
    ax.plot(step, d["saturated_normal"], color="C0", label="FPR term (normal)")
    ax.axhline(collapse_saturation, color="r", ls="--", lw=0.8, label=f"warning ({collapse_saturation:.0%})")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("share of saturated sigmoids (< 0.01 or > 0.99)", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[4]
    ax.plot(step, d["tpr_term"], color="C3", label="TPR term")
    ax.plot(step, d["fpr_term"], color="C0", label="FPR term")
    ax.plot(step, d["tpr_term"] - d["fpr_term"], color="k", lw=0.8, label="objective (12)")
    for key, colour, name in (("valid_tpr", "C3", "held-out TPR"), ("valid_fpr", "C0", "held-out FPR")):
        if key in d and np.isfinite(d[key]).any():
            ax.plot(step, d[key], color=colour, ls=":", label=name)
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("terms of (12) and held-out rates at phi_rho", fontsize=9)
    ax.legend(fontsize=7)
    ax = axes[5]
    ax.plot(step, d["phi"], color="C4")
    ax.set_title("phi_rho (L = -ln p(f | z=0))", fontsize=9)
    for ax in axes[3:]:
        ax.set_xlabel("training step")
    if title:
        fig.suptitle(title, fontsize=10)
    return fig
