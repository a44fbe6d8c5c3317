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
