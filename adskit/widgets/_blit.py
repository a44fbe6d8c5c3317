"""The panels' renderer: a matplotlib Figure on an Agg canvas, static parts drawn once, animated artists blitted.

The PNG goes to the browser through an ``ipywidgets.Image``, which keeps an update well under 100 ms and works
the same in JupyterLab, Voila and a headless test. Also the method colours and the span shapes both panels use.
The figure is not managed by pyplot: :meth:`_BlitFigure.close` drops it (a panel's ``close()`` calls it).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

_COLORS = {"RE": "tab:red", "SNP": "tab:blue", "BU": "tab:green", "NP": "tab:purple"}
_FALLBACK = ("tab:orange", "tab:brown", "tab:pink", "tab:gray", "tab:olive", "tab:cyan")


def _color(method: str, i: int) -> str:
    """The colour of a method: fixed for RE, SNP, BU and NP, else the ``i``-th fallback."""
    return _COLORS.get(method.upper(), _FALLBACK[i % len(_FALLBACK)])


def _release_figure(fig: Figure) -> None:
    """Release a matplotlib Figure: ``plt.close`` it if pyplot manages it, else only clear it."""
    from matplotlib._pylab_helpers import Gcf  # pyplot's registry of figures (no pyplot import)

    for manager in Gcf.get_all_fig_managers():
        if manager.canvas.figure is fig:
            Gcf.destroy(manager)
    fig.clear()


def _spans(segs: Sequence[tuple[float, float]], y0: float, y1: float) -> list[np.ndarray]:
    """Rectangles (4, 2) covering ``[a, b] x [y0, y1]`` for each time segment ``(a, b)``."""
    return [np.array([[a, y0], [b, y0], [b, y1], [a, y1]]) for a, b in segs]


class _BlitFigure:
    """A matplotlib Figure on an Agg canvas: static parts drawn once, animated artists blitted, PNG out."""

    def __init__(self, figsize: tuple[float, float], dpi: int = 80) -> None:
        self.fig = Figure(figsize=figsize, dpi=dpi)
        self.canvas = FigureCanvasAgg(self.fig)
        self.animated: list[Any] = []
        self._bg = None

    def animate(self, artist: Any) -> Any:
        """Mark ``artist`` as redrawn on every render (not part of the cached background); returns it."""
        artist.set_animated(True)
        self.animated.append(artist)
        return artist

    def invalidate(self) -> None:
        """Redraw the static background on the next render (after axes limits or static artists changed)."""
        self._bg = None

    def close(self) -> None:
        """Drop the figure, its canvas, the cached background and the animated artists; render() then gives b""."""
        if self.fig is not None:
            _release_figure(self.fig)
        self.fig = self.canvas = self._bg = None
        self.animated = []

    def render(self) -> bytes:
        """PNG bytes of the figure: the cached background plus the animated artists (b"" once closed)."""
        if self.fig is None:
            return b""
        if self._bg is None:
            self.canvas.draw()
            self._bg = self.canvas.copy_from_bbox(self.fig.bbox)
        else:
            self.canvas.restore_region(self._bg)
        for a in self.animated:
            if a.get_visible():
                a.axes.draw_artist(a)
        buf = io.BytesIO()
        Image.fromarray(np.asarray(self.canvas.buffer_rgba())).save(buf, format="PNG", compress_level=1)
        return buf.getvalue()
