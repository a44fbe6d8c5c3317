"""The bandwidth panel: how the KDE bandwidth h and the BU regulariser eps shape the weights of one batch.

:func:`bandwidth_explorer` draws the BU weights of a batch of normal vectors (on a 2-D PCA projection when
D > 2), the Gram diagnostics of :func:`adskit.kde.gram_diagnostics` over a grid of h, and the warning zones of
:func:`adskit.kde.bu_weights` (weights degenerate to uniform, or onto a few points). Every number comes from
:mod:`adskit.kde`'s squared-distance entry points: the pairwise distances are computed once, and a slider move
only exponentiates them. :func:`bandwidth_state` is the pure computation behind it, which tests call directly.
"""

from __future__ import annotations

import time
from typing import Any

import ipywidgets as widgets
import matplotlib as mpl
import numpy as np
import torch
from threadpoolctl import threadpool_limits

from .._utils import check_positive
from ..kde import (
    ESS_COLLAPSED_BELOW,
    ESS_UNIFORM_ABOVE,
    IDENTITY_BELOW,
    ILL_ABOVE,
    bu_weights_from_density,
    gaussian_kde_from_sq_dists,
    gram_diagnostics_from_sq_dists,
    median_heuristic,
    pairwise_sq_dists,
    standardize_with,
    weights_status,
)
from ._blit import _BlitFigure
from ._panel import _Panel
from ._ranges import log_exponents

__all__ = ["EPS_RANGE", "BandwidthExplorer", "bandwidth_explorer", "bandwidth_state", "pca_2d"]

#: default range of the eps slider (logarithmic); an eps outside widens it
EPS_RANGE = (1e-9, 1.0)


def bandwidth_state(d2: np.ndarray, h: float, eps: float = 1e-6, condition: bool = True) -> dict[str, Any]:
    """BU weights and Gram diagnostics of a batch from its cached squared distances.

    The numbers of :func:`adskit.kde.bu_weights` and :func:`adskit.kde.gram_diagnostics`, through their
    squared-distance entry points, without recomputing the distances.

    Parameters
    ----------
    d2 : np.ndarray [shape=(B, B)], squared pairwise distances (see :func:`adskit.kde.pairwise_sq_dists`)
    h : float > 0, bandwidth; eps : float >= 0, regulariser of eq 16
    condition : bool, also compute cond(K) (one symmetric eigen-decomposition, the costly part)

    Returns
    -------
    dict
        ``weights`` (B,) summing to 1 (higher = rarer sample), ``p_hat`` (B,), ``mean_offdiag``,
        ``condition_number`` (nan if not computed), ``weight_ratio`` (max/min w), ``ess_fraction``
        (1 = uniform), ``status`` ("ok" | "identity" | "ill-conditioned", the Gram rule) and ``weights_status``
        ("ok" | "uniform" | "collapsed", the BandwidthWarning rule).

    Raises
    ------
    ValueError
        If ``h`` is not > 0, ``eps`` is negative or ``d2`` is not a finite, non-negative square matrix.
    """
    g = gram_diagnostics_from_sq_dists(d2, h, eps, condition=condition)
    p = gaussian_kde_from_sq_dists(d2, h)
    return {
        "h": g.h,
        "eps": float(eps),
        "weights": bu_weights_from_density(p, eps),
        "p_hat": p,
        "mean_offdiag": g.mean_offdiag,
        "condition_number": g.condition_number,
        "weight_ratio": g.weight_ratio,
        "ess_fraction": g.ess_fraction,
        "status": g.status,
        "weights_status": weights_status(g.ess_fraction),
    }


def pca_2d(x: np.ndarray) -> np.ndarray:
    """First two principal components of ``x`` (B, D) as (B, 2); ``x`` itself when D <= 2 (padded to 2)."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] == 2:
        return x
    if x.shape[1] == 1:
        return np.column_stack([x[:, 0], np.zeros(x.shape[0])])
    z = x - x.mean(0)
    _, _, vt = np.linalg.svd(z, full_matrices=False)
    return z @ vt[:2].T


class BandwidthExplorer(_Panel, widgets.VBox):
    """Bandwidth panel over one batch of normal vectors (build it with :func:`bandwidth_explorer`).

    Widgets: ``h`` and ``eps`` (log sliders), ``status`` (HTML, CSS class ``adskit-bw-status``), ``image``.
    ``state`` is the :func:`bandwidth_state` dict of the current (h, eps) plus ``update_ms``. Both sliders start
    at the value given: h's spans 1/100 to 100 times it, eps's :data:`EPS_RANGE` widened to hold it.

    ``close()`` closes every widget of the panel (sliders, status, image, their layouts and styles), removes its
    observers, drops its matplotlib figure and empties the image; the closed panel keeps ``state`` and its arrays
    (``x``, ``d2``, ``xy``) but no longer updates. Re-creating the panel does not keep the old one alive: its
    sliders hold it weakly, it registers with ipywidgets only once displayed, and displaying a new one in a
    notebook cell closes the one an earlier run of that cell displayed (see :mod:`adskit.widgets._panel`).

    Raises
    ------
    ValueError
        If ``x`` is not a (B, D) batch with B >= 3, ``standardize`` does not fit it, or (without ``h``) all its
        vectors are identical; if ``h`` or ``eps`` is not a finite number > 0 (a log slider cannot show 0: pass a
        tiny eps such as 1e-12 instead).
    """

    def __init__(
        self,
        x: Any,
        h: float | None = None,
        eps: float = 1e-6,
        standardize: Any = None,
        max_points: int = 400,
        random_state: int = 0,
        dpi: int = 80,
    ) -> None:
        eps_lo, eps_hi = log_exponents(eps, *EPS_RANGE, name="eps")
        if h is not None:
            check_positive(h, "h")  # its log slider spans 1/100 to 100 times it: any h > 0 fits
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 2 or x.shape[0] < 3:
            raise ValueError(f"x: expected a (B, D) batch with B >= 3, got shape {x.shape}")
        if x.shape[0] > max_points:
            x = x[np.random.default_rng(random_state).choice(x.shape[0], max_points, replace=False)]
        z = standardize_with(torch.as_tensor(x), standardize).numpy()
        self.x = x
        with threadpool_limits(1):
            self.d2 = pairwise_sq_dists(z)
        self.xy = pca_2d(z)
        self.projected = x.shape[1] > 2
        h0 = float(h) if h is not None else median_heuristic(z)
        self.h0 = h0
        self.state: dict[str, Any] = {}
        # eps-independent curves over an h grid, computed once: p_hat (G, B) and the mean off-diagonal
        lg = np.log10(h0)
        self._hgrid = np.logspace(lg - 2, lg + 2, 49)
        B = self.d2.shape[0]
        self._pgrid = np.stack([gaussian_kde_from_sq_dists(self.d2, g) for g in self._hgrid])
        self._offgrid = (self._pgrid.sum(1) * B - B) / (B * (B - 1))  # sum of K = B * sum of p_hat
        style = {"description_width": "initial"}
        self.h = widgets.FloatLogSlider(
            value=h0, base=10, min=lg - 2, max=lg + 2, step=0.02, description="bandwidth h",
            continuous_update=False, readout_format=".3g", style=style, layout=widgets.Layout(width="460px"),
        )  # fmt: skip
        self.h.add_class("adskit-h-slider")
        self.eps = widgets.FloatLogSlider(
            value=float(eps), base=10, min=eps_lo, max=eps_hi, step=0.25, description="eps",
            continuous_update=False, readout_format=".1e", style=style, layout=widgets.Layout(width="460px"),
        )  # fmt: skip
        self.eps.add_class("adskit-eps-slider")
        self.status = widgets.HTML()
        self.status.add_class("adskit-bw-status")
        self.image = widgets.Image(format="png")
        self.image.add_class("adskit-figure")
        self._build_figure(dpi)
        head = f"<b>Bandwidth explorer</b> &mdash; batch of {B} vectors of dimension {x.shape[1]}"
        if self.projected:
            head += " (drawn on its first two principal components)"
        super().__init__([widgets.HTML(head), widgets.HBox([self.h, self.eps]), self.status, self.image])
        self.add_class("adskit-bandwidth-explorer")
        self._observe(self.h, self._on_change)
        self._observe(self.eps, self._on_change)
        self.update()

    def _build_figure(self, dpi: int) -> None:
        self._fig = bf = _BlitFigure((10.0, 3.6), dpi=dpi)
        ax, ax2 = bf.fig.subplots(
            1, 2, gridspec_kw={"left": 0.06, "right": 0.93, "bottom": 0.15, "top": 0.9, "wspace": 0.3}
        )
        B = self.d2.shape[0]
        self._norm = mpl.colors.LogNorm(vmin=0.1, vmax=float(min(B, 30)))
        self._sc = bf.animate(
            ax.scatter(self.xy[:, 0], self.xy[:, 1], c=np.ones(B), s=8, cmap="magma", norm=self._norm)
        )
        bf.fig.colorbar(self._sc, ax=ax, label="weight × B (1 = uniform)")
        ax.set_title("BU weights" + (" (PCA projection)" if self.projected else ""), fontsize=9)
        ax.set_aspect("equal", adjustable="datalim")
        ax.tick_params(labelsize=7)
        ax2.set_xscale("log")
        ax2.plot(self._hgrid, self._offgrid, color="tab:blue", label="mean off-diagonal K")
        lo_ok = self._hgrid[self._offgrid >= IDENTITY_BELOW]
        hi_ok = self._hgrid[self._offgrid <= ILL_ABOVE]
        g0, g1 = self._hgrid[0], self._hgrid[-1]
        if lo_ok.size and lo_ok[0] > g0:
            ax2.axvspan(g0, lo_ok[0], color="0.85", label="K ≈ identity")
        if hi_ok.size and hi_ok[-1] < g1:
            ax2.axvspan(hi_ok[-1], g1, color="0.7", label="K ill-conditioned")
        for yv in (ESS_UNIFORM_ABOVE, ESS_COLLAPSED_BELOW):
            ax2.axhline(yv, color="tab:orange", ls=":", lw=0.8)
        (self._ess_line,) = ax2.plot([], [], color="tab:orange", label="ESS / B of the weights")
        (self._warn_pts,) = ax2.plot([], [], "x", color="tab:red", ms=4, label="BandwidthWarning")
        self._vline = ax2.axvline(self.h0, color="k", lw=1.0)
        for a in (self._ess_line, self._warn_pts, self._vline):
            bf.animate(a)
        ax2.set_xlim(g0, g1)
        ax2.set_ylim(-0.03, 1.03)
        ax2.set_xlabel("h", fontsize=8)
        ax2.tick_params(labelsize=7)
        ax2.set_title("Gram diagnostics and warning zones", fontsize=9)
        ax2.legend(loc="center left", fontsize=7)

    def _on_change(self, change: dict) -> None:
        self.update()

    def update(self) -> dict[str, Any]:
        """Recompute the weights and diagnostics from the cached distances and redraw; returns ``state``.

        A closed panel does nothing and returns its last ``state``.
        """
        if self._panel_closed:
            return self.state
        t0 = time.perf_counter()
        h, eps = float(self.h.value), float(self.eps.value)
        with threadpool_limits(1):  # small matrices: BLAS threads on a busy machine only add waiting
            st = bandwidth_state(self.d2, h, eps)
        B = st["weights"].size
        rel = st["weights"] * B
        self._sc.set_array(rel)
        self._sc.set_sizes(6.0 + 40.0 * np.clip(rel / max(rel.max(), 1e-12), 0, 1))
        _, ess = bu_weights_from_density(self._pgrid, eps, return_ess=True)
        bad = np.array([weights_status(e) != "ok" for e in ess])
        self._ess_line.set_data(self._hgrid, ess)
        self._warn_pts.set_data(self._hgrid[bad], ess[bad])
        self._vline.set_xdata([h, h])
        self.image.value = self._fig.render()
        ok = st["status"] == "ok" and st["weights_status"] == "ok"
        colour = "#080" if ok else "#b00"
        self.status.value = (
            f"h = {h:.3g}, eps = {eps:.1e} &nbsp;|&nbsp; mean off-diagonal K = {st['mean_offdiag']:.3g} "
            f"(ok in [{IDENTITY_BELOW}, {ILL_ABOVE}]) &nbsp;|&nbsp; cond(K) = {st['condition_number']:.3g} "
            f"&nbsp;|&nbsp; max/min weight = {st['weight_ratio']:.3g} &nbsp;|&nbsp; ESS = {st['ess_fraction']:.1%} "
            f"&nbsp;|&nbsp; <b style='color:{colour}'>Gram: {st['status']}, weights: {st['weights_status']}</b>"
        )
        st["update_ms"] = 1000.0 * (time.perf_counter() - t0)
        self.state = st
        return st


def bandwidth_explorer(
    x: Any, h: float | None = None, eps: float = 1e-6, standardize: Any = None, **kwargs: Any
) -> BandwidthExplorer:
    """Build the bandwidth panel (see :class:`BandwidthExplorer`).

    Parameters
    ----------
    x : array-like [shape=(B, D)], one batch of normal vectors (2-D points or feature vectors; at most
        ``max_points`` are kept, drawn with ``random_state``)
    h : float > 0 or None, initial bandwidth (None: :func:`adskit.kde.median_heuristic`); the slider spans
        1/100 to 100 times it
    eps : float > 0, initial regulariser of the BU weights (eq 16); the log slider spans :data:`EPS_RANGE`,
        widened to hold it
    standardize : None, (mean, std) or fitted scaler, applied before the KDE (as in ``bu_weights``)
    **kwargs : max_points (400), random_state (0), dpi (80)

    Returns
    -------
    BandwidthExplorer (an ``ipywidgets.VBox``) to display; its ``.state`` holds the numbers. ``close()`` frees
    its widgets, observers, figure and image (see :class:`BandwidthExplorer`); re-running the cell that displayed
    it closes it when the new panel is displayed there.

    Raises
    ------
    ValueError
        If ``x`` has fewer than 3 rows or is not 2-D, ``standardize`` does not fit it, or ``h`` or ``eps`` is not
        a finite number > 0.

    Examples
    --------
    >>> from adskit.experiments.verification import make_ring_data
    >>> panel = bandwidth_explorer(make_ring_data(300, 0.0, 2.0, random_state=0))
    >>> panel.h.value = panel.h0 / 100
    >>> panel.state["status"]
    'identity'
    """
    return BandwidthExplorer(x, h=h, eps=eps, standardize=standardize, **kwargs)
