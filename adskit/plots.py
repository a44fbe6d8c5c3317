"""Figures: each function takes ``ax=`` (or builds its own figure) and returns the Figure."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use(matplotlib.get_backend())  # respect the caller's backend (Agg in tests, inline in notebooks)
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

__all__ = ["plot_bu_weights", "plot_grid_maps", "plot_roc"]


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
